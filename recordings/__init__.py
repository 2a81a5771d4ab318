"""runform recordings: HDF5 format v1 writer, validating chunked reader, replay source.

The only package of runform that imports h5py. The format is specified in
``shared/spec/recording-format.md``.
"""

from typing import TYPE_CHECKING

from recordings.errors import RecordingError
from recordings.format import FORMAT_NAME, FORMAT_VERSION
from recordings.reader import Recording, StreamData, open_recording
from recordings.writer import RecordingWriter

if TYPE_CHECKING:
    from recordings.replay import ReplaySource

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "ReplaySource",
    "StreamData",
    "open_recording",
]


def __getattr__(name: str) -> object:
    # the replay source is imported on first use: it brings asyncio (about 5 % of the start-up
    # of `runform analyze`, which only reads)
    if name == "ReplaySource":
        from recordings.replay import ReplaySource

        return ReplaySource
    raise AttributeError(f"module 'recordings' has no attribute {name!r}")
