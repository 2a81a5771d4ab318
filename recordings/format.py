"""Names and constants of the recording format, version 1 (``shared/spec/recording-format.md``)."""

from __future__ import annotations

import functools

__all__ = [
    "COMPRESSION",
    "COMPRESSION_OPTS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MARKER_KINDS",
    "SAMPLE_CHUNK",
    "SENSORS_GROUP",
    "software_string",
]

FORMAT_NAME = "runform-recording"
#: The version this writer writes; readers accept every version up to this one.
FORMAT_VERSION = 1
SENSORS_GROUP = "sensors"
MARKERS_GROUP = "markers"
STREAMS_GROUP = "streams"
ANALYSIS_GROUP = "analysis"
MARKER_KINDS = ("user", "alert", "note")

#: Samples per HDF5 chunk for the per-sample datasets (about 10 s at 400 Hz).
SAMPLE_CHUNK = 4096
#: gzip is in every HDF5 build (lzf only in h5py's); level 4 with shuffle is a good size/speed mix.
COMPRESSION = "gzip"
COMPRESSION_OPTS = 4


@functools.cache
def software_string() -> str:
    """``runform <version>`` for the ``software`` root attribute (looked up when a file is
    written: importlib.metadata costs a tenth of the start-up of commands that only read)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"runform {version('runform')}"
    except PackageNotFoundError:
        return "runform (source tree)"
