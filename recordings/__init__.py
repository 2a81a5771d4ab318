"""runform recordings: HDF5 format v1 writer, validating chunked reader, replay source.

The only package of runform that imports h5py. The format is specified in
``shared/spec/recording-format.md``.
"""

from recordings.errors import RecordingError
from recordings.format import FORMAT_NAME, FORMAT_VERSION
from recordings.reader import Recording, StreamData, open_recording
from recordings.replay import ReplaySource
from recordings.writer import RecordingWriter

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
