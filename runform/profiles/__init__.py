"""Alert profiles: TOML files read here, validated by the pure rule engine in :mod:`dsp.alerts`.

Two profiles ship with runform as package data: ``default`` and ``chirunning``. ``--profile``
takes either one of those names or a path to a TOML file (see ``docs/viewer.md``).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path

from dsp.alerts import AlertError, Profile, load_profile

__all__ = ["BUILTIN_PROFILES", "load_profile_file", "profile_text", "resolve_profile"]

#: Profiles shipped with runform (file stem -> description).
BUILTIN_PROFILES = ("default", "chirunning")


def profile_text(name: str) -> str:
    """The TOML text of a built-in profile."""
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def _parse(text: str, source: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertError(f"profile {source}: not valid TOML ({exc})") from None
    return load_profile(data, source=source)


def load_profile_file(path: str | os.PathLike[str]) -> Profile:
    """Read and validate a profile file; one-line :class:`~dsp.alerts.AlertError` if bad."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlertError(f"profile {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertError(f"profile {p}: cannot read it ({exc})") from None
    return _parse(text, str(p))


def resolve_profile(name_or_path: str | os.PathLike[str] | None) -> Profile:
    """A built-in profile by name (``None`` = ``default``) or a profile file by path."""
    if name_or_path is None:
        name_or_path = "default"
    s = os.fspath(name_or_path)
    if s in BUILTIN_PROFILES:
        return _parse(profile_text(s), f"{s} (built in)")
    if not s.endswith(".toml") and not Path(s).exists():
        raise AlertError(
            f"profile {s}: no such file, and not a built-in profile "
            f"(expected a .toml file or one of {', '.join(BUILTIN_PROFILES)})"
        )
    return load_profile_file(s)
