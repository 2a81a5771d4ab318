"""Errors of reading and writing recordings (one clear line naming the file and the problem)."""

__all__ = ["EmptyRecordingError", "RecordingError", "RecordingWriteError"]


class RecordingError(ValueError):
    """A recording cannot be read or written; the message names the file and what was expected."""


class EmptyRecordingError(RecordingError):
    """A valid recording whose sensors hold no sample (started and stopped at once)."""


class RecordingWriteError(RecordingError):
    """The disk refused a write while recording (full, quota, file size limit, I/O error).

    ``reason`` is short (``disk full``); every sample flushed before it is in the file.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
