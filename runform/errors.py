"""Errors that the command line reports as one clear line (no traceback)."""

from __future__ import annotations

__all__ = ["UsageError", "user_error_types"]


class UsageError(Exception):
    """A command was called with arguments that cannot work (message names what is wrong)."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception classes whose message is meant for the user, from every package.

    Imported lazily so that ``runform --help`` stays fast.
    """
    types: list[type[BaseException]] = [UsageError]
    for mod, name in (
        ("recordings.errors", "RecordingError"),
        ("dsp.errors", "AnalysisError"),
        ("firmware_bridge.errors", "DeviceError"),
        ("viewer.errors", "ViewerError"),
    ):
        try:
            module = __import__(mod, fromlist=[name])
            types.append(getattr(module, name))
        except (ImportError, AttributeError):
            continue
    return tuple(types)
