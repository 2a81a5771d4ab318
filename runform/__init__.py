"""runform: open running-form analysis from wearable IMUs (command line and wiring)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("runform")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
