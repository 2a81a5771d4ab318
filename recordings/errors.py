"""Errors of reading and writing recordings (one clear line naming the file and the problem)."""

__all__ = ["RecordingError"]


class RecordingError(ValueError):
    """A recording cannot be read or written; the message names the file and what was expected."""
