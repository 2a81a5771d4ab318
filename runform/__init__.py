"""runform: open running-form analysis from wearable IMUs (command line and wiring)."""

from __future__ import annotations

__all__ = ["__version__"]

#: The installed distribution's version (looked up on first use: importlib.metadata costs
#: about a tenth of ``runform analyze``'s start-up, and most commands never print it).
__version__: str


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'runform' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("runform")
    except PackageNotFoundError:  # running from a source tree that is not installed
        v = "0.0.0+src"
    globals()["__version__"] = v
    return v
