"""The trust boundary of a recording file: what HDF5 features a recording may use.

A recording is untrusted input (runners share files). HDF5 can make a file read data from
elsewhere: an *external link* opens another HDF5 file, *external raw storage* reads a dataset's
bytes from any file (a crafted recording read ``/etc/passwd`` as pelvis acceleration), a
*virtual dataset* maps other files in, and a *soft link* can point anywhere in the file (loops
included). A runform recording needs none of them, so :func:`check_file_layout` refuses every one
before any object is opened by name, together with filters HDF5 would have to load as plugins
and datasets whose size on disk cannot hold what their shape claims (a few bytes declaring a
trillion samples would make a reader run for hours on fill values).

Called by :func:`recordings.reader.open_recording` on every file.
"""

from __future__ import annotations

import h5py
import numpy as np
from h5py import h5d, h5l, h5o, h5z

from recordings.errors import RecordingError

__all__ = ["ALLOWED_FILTERS", "MAX_OBJECTS", "check_file_layout"]

#: Filters a recording may use: deflate (gzip), shuffle, Fletcher-32, n-bit, scale-offset, LZF.
ALLOWED_FILTERS = {
    h5z.FILTER_DEFLATE: "gzip",
    h5z.FILTER_SHUFFLE: "shuffle",
    h5z.FILTER_FLETCHER32: "fletcher32",
    h5z.FILTER_NBIT: "nbit",
    h5z.FILTER_SCALEOFFSET: "scaleoffset",
    32000: "lzf",
}
#: Most links a recording may hold (a three-sensor recording with streams has about 30).
MAX_OBJECTS = 10_000
#: Chunks of fill value a dataset may claim beyond those stored (a killed writer leaves a few).
SPARE_CHUNKS = 16


def _describe(kind: int) -> str:
    return {
        h5l.TYPE_SOFT: "a soft link",
        h5l.TYPE_EXTERNAL: "an external link (to another file)",
    }.get(kind, f"a link of type {kind}")


def check_file_layout(f: h5py.File, path: str) -> None:
    """Refuse links, external storage, virtual datasets, unknown filters and hollow datasets.

    Raises
    ------
    RecordingError
        ``PATH: /sensors/pelvis/acc: external raw storage (data from another file) is not
        allowed in a recording`` and the like.
    """
    links: list[tuple[str, int]] = []

    def visit(name: bytes, info: h5l.LinkInfo) -> int | None:
        links.append((name.decode("utf-8", "replace"), info.type))
        return 1 if len(links) > MAX_OBJECTS else None

    if f.id.links.visit(visit, info=True):
        raise RecordingError(f"{path}: more than {MAX_OBJECTS} objects, not a runform recording")
    for name, kind in links:
        where = "/" + name
        if kind != h5l.TYPE_HARD:
            raise RecordingError(
                f"{path}: {where} is {_describe(kind)}; links are not allowed in a recording "
                "(a shared file must not make runform read other files)"
            )
    for name, _kind in links:  # hard links only, so opening by name stays inside the file
        obj = h5o.open(f.id, name.encode("utf-8"))
        if isinstance(obj, h5d.DatasetID):
            _check_dataset(obj, path, "/" + name)


def _check_dataset(ds: h5d.DatasetID, path: str, where: str) -> None:
    dcpl = ds.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5d.VIRTUAL:
        raise RecordingError(
            f"{path}: {where} is a virtual dataset (data mapped from other files); "
            "not allowed in a recording"
        )
    if dcpl.get_external_count() > 0:
        raise RecordingError(
            f"{path}: {where} keeps its data in external raw storage (another file); "
            "not allowed in a recording"
        )
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in ALLOWED_FILTERS:
            raise RecordingError(
                f"{path}: {where} uses HDF5 filter {code}, expected only "
                + ", ".join(sorted(ALLOWED_FILTERS.values()))
            )
    shape = ds.shape
    if not shape or 0 in shape:
        return
    n_items = int(np.prod(shape, dtype=np.float64))
    if layout == h5d.CHUNKED:
        chunk = dcpl.get_chunk()
        per_chunk = int(np.prod(chunk, dtype=np.float64))
        try:
            stored = ds.get_num_chunks()
        except Exception:
            raise RecordingError(
                f"{path}: {where}: cannot read the chunk index (damaged)"
            ) from None
        if n_items > (stored + SPARE_CHUNKS) * per_chunk:
            raise RecordingError(
                f"{path}: {where}: shape {shape} claims {n_items} values but only {stored} "
                f"chunks of {per_chunk} are stored (a damaged or hollow dataset)"
            )
