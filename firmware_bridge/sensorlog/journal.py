"""An append-only file of the raw packets of one sensor's log download.

Every packet a download receives is appended (length-prefixed) before the device is asked for
more of its log, and the file is flushed and fsynced in batches and before any step that lets
the device forget data (a page confirmation, an erase). After a dropped connection, or a killed
process, the next ``runform sensors download`` reads the journal back and asks the device only
for what is missing. A torn last record (the process was killed mid-write) is ignored.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

__all__ = ["Journal"]

log = logging.getLogger(__name__)

_LEN = struct.Struct("<H")


class Journal:
    """Raw download packets of one sensor, on disk.

    Parameters
    ----------
    path : path-like
        The journal file (created if missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._packets: list[bytes] = self._read()
        self._fh = open(self.path, "ab")
        self._unsynced = 0
        #: Packets read back from disk when the journal was opened (a resumed download).
        self.resumed = len(self._packets)

    def _read(self) -> list[bytes]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        out: list[bytes] = []
        i = 0
        while i + _LEN.size <= len(data):
            (n,) = _LEN.unpack_from(data, i)
            if i + _LEN.size + n > len(data):
                break
            out.append(data[i + _LEN.size : i + _LEN.size + n])
            i += _LEN.size + n
        if i < len(data):  # a torn tail (killed mid-write): drop it so appends stay parseable
            log.warning("%s: torn last packet (%d bytes) dropped", self.path, len(data) - i)
            with open(self.path, "r+b") as fh:
                fh.truncate(i)
        return out

    @property
    def packets(self) -> list[bytes]:
        """Every packet, in arrival order (read back ones first)."""
        return self._packets

    def __len__(self) -> int:
        return len(self._packets)

    def append(self, packet: bytes) -> None:
        """Append one raw packet (written now, fsynced by :meth:`sync`)."""
        b = bytes(packet)
        self._fh.write(_LEN.pack(len(b)) + b)
        self._packets.append(b)
        self._unsynced += 1

    def sync(self) -> None:
        """Flush and fsync what was appended."""
        if self._unsynced:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._unsynced = 0

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()

    def remove(self) -> None:
        """Delete the journal (after the recording was written and the log erased)."""
        self.close()
        self.path.unlink(missing_ok=True)
