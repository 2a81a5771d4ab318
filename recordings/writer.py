"""Append-while-recording writer for recording format v1, safe against SIGKILL.

How the file survives a kill (checked by killing writer processes in ``tests/recordings/test_recordings.py``):

* The file uses the oldest file-format version (``libver="earliest"``): its superblock has no
  "open for writing" flag, so after a kill a plain ``h5py.File(path, "r")`` opens it without
  ``h5clear``. Files written with ``libver="latest"`` or in SWMR mode do not open that way.
* While recording (``live=True``) every compressed chunk is written exactly once, when it is full:
  samples wait in memory until they fill a chunk of about 0.25 s, and a flush (``H5Fflush``, which
  writes raw data before the metadata that points to it) runs every ``flush_interval_s``. A
  compressed chunk that was rewritten in place or moved as it grew could be torn by a kill; that
  is what broke files in our kill tests before this design. Samples wait at most about
  0.25 s + ``flush_interval_s`` (0.75 s by default) before they are on disk.
* ``t`` has NaN as its fill value, so a reader can recognise a tail that was allocated but not
  written (see :mod:`recordings.reader`).
* On a clean close, a live recording is rewritten once with large chunks (faster to read) into a
  temporary file that atomically replaces the original; if that fails, the original stays.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType

import h5py
import numpy as np

from dsp.block import SampleBlock, SensorInfo
from recordings.errors import RecordingError, RecordingWriteError
from recordings.format import (
    COMPRESSION,
    COMPRESSION_OPTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MARKER_KINDS,
    MARKERS_GROUP,
    SAMPLE_CHUNK,
    SENSORS_GROUP,
    STREAMS_GROUP,
    software_string,
)

__all__ = ["RecordingWriter"]

log = logging.getLogger(__name__)

_STR = h5py.string_dtype(encoding="utf-8")


def _create_appendable(
    group: h5py.Group,
    name: str,
    dtype: object,
    width: int | None,
    fillvalue: object = None,
    chunk: int = SAMPLE_CHUNK,
) -> h5py.Dataset:
    shape: tuple[int, ...] = (0,) if width is None else (0, width)
    maxshape: tuple[int | None, ...] = (None,) if width is None else (None, width)
    chunks: tuple[int, ...] = (chunk,) if width is None else (chunk, width)
    kwargs: dict[str, object] = {}
    if dtype is not _STR:
        kwargs.update(compression=COMPRESSION, compression_opts=COMPRESSION_OPTS, shuffle=True)
    if fillvalue is not None:
        kwargs["fillvalue"] = fillvalue
    return group.create_dataset(
        name, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype, **kwargs
    )


def _append(ds: h5py.Dataset, data: np.ndarray) -> None:
    n0 = ds.shape[0]
    ds.resize(n0 + data.shape[0], axis=0)
    ds[n0:] = data


class _SensorBuffer:
    """Samples of one sensor waiting for the next flush."""

    def __init__(self) -> None:
        self.t: list[np.ndarray] = []
        self.acc: list[np.ndarray] = []
        self.gyr: list[np.ndarray] = []
        self.seq: list[np.ndarray] = []
        self.gaps: list[np.ndarray] = []
        self.last_t = -math.inf
        self.has_seq: bool | None = None
        self.last_append = time.monotonic()

    def take(self, multiple_of: int = 1) -> dict[str, np.ndarray]:
        """Pending data; samples only in whole multiples of ``multiple_of`` (rest stays)."""
        out: dict[str, np.ndarray] = {}
        if self.t:
            t = np.concatenate(self.t)
            n = (t.size // multiple_of) * multiple_of
            cols = {"t": t, "acc": np.concatenate(self.acc), "gyr": np.concatenate(self.gyr)}
            if self.seq:
                cols["seq"] = np.concatenate(self.seq)
            for name, arr in cols.items():
                if n:
                    out[name] = arr[:n]
                getattr(self, name)[:] = [arr[n:]] if n < t.size else []
        if self.gaps:
            out["gaps"] = np.concatenate(self.gaps)
        self.gaps = []
        return out


class RecordingWriter:
    """Write a recording (format v1) while it is being recorded.

    Parameters
    ----------
    path : str or os.PathLike
        File to create (overwritten if it exists).
    sensors : sequence of SensorInfo
        The sensor groups of the session; more can be added with :meth:`add_sensor`.
    notes : str, optional
        Free text stored in the root attribute ``notes``.
    flush_interval_s : float
        Time in s between flushes (at most 1 s). A background thread flushes even when no new
        data arrive.
    live : bool
        ``True`` (recording from sensors): crash-safe write-once chunks of about 0.25 s, and a
        rewrite with large chunks on close. ``False`` (writing a finished session, e.g. the
        simulator): large chunks straight away; a kill may then lose the file's tail chunks.
    software : str, optional
        Value of the ``software`` root attribute (default ``runform <version>``).
    created_utc : str, optional
        Value of the ``created_utc`` root attribute (``YYYY-MM-DDTHH:MM:SSZ``; default now).
    start_utc : str, optional
        Root attribute ``start_utc`` (ISO 8601 UTC): the wall clock of ``t = 0`` when it is not
        the file's creation (a run downloaded from on-sensor logs: the arm time).

    Notes
    -----
    Thread-safe: one lock guards the file, so a recorder may append from one thread while the
    flush thread runs. Use as a context manager, or call :meth:`close`.

    When the disk refuses a write (full, quota, file size limit), the writer stops writing for
    good: :meth:`append` and :meth:`flush` raise :class:`RecordingWriteError` (``reason`` =
    ``"disk full"``...), the flush thread ends, and :meth:`close` closes the file without the
    large-chunk rewrite, so it keeps every sample of the flushes before the failure.
    """

    #: Raised by :meth:`append` and :meth:`flush` once a write has failed.
    WriteFailed = RecordingWriteError

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensors: Sequence[SensorInfo] = (),
        *,
        notes: str | None = None,
        flush_interval_s: float = 0.5,
        software: str | None = None,
        live: bool = True,
        created_utc: str | None = None,
        start_utc: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if flush_interval_s <= 0 or flush_interval_s > 1.0:
            raise RecordingError(
                f"{self.path}: flush_interval_s {flush_interval_s} s, expected 0 < interval <= 1 s"
            )
        self.flush_interval_s = float(flush_interval_s)
        self.live = live
        self._chunk: dict[str, int] = {}
        self._lock = threading.RLock()
        self._reserve_path = os.path.join(
            os.path.dirname(os.path.abspath(self.path)),
            f".{os.path.basename(self.path)}.runform-reserve",
        )
        #: this process's file-size limit (``ulimit -f``), read once; None: none
        self._size_limit = file_size_limit()
        try:
            self._file = h5py.File(self.path, "w", libver="earliest")
        except OSError as exc:
            raise RecordingError(
                f"{self.path}: cannot create the recording ({_write_error_reason(exc)})"
            ) from None
        if live:
            self._make_reserve()
        f = self._file
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["created_utc"] = created_utc or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        f.attrs["software"] = software or software_string()
        if notes:
            f.attrs["notes"] = notes
        if start_utc:  # wall clock of t = 0 when it is not the creation (a downloaded log)
            f.attrs["start_utc"] = start_utc
        f.create_group(SENSORS_GROUP)
        self._buffers: dict[str, _SensorBuffer] = {}
        self._markers: list[tuple[float, str, str]] = []
        self._streams: dict[str, list[tuple[np.ndarray, dict[str, np.ndarray]]]] = {}
        self._stream_meta: dict[str, tuple[str, str]] = {}
        self._closed = False
        self._failed: RecordingWriteError | None = None
        self._open: dict[str, h5py.Dataset] = {}
        self._last_flush = time.monotonic()
        for info in sensors:
            self.add_sensor(info)
        self._file.flush()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._flush_loop, name="recording-flush", daemon=True
        )
        self._thread.start()

    # -- structure ------------------------------------------------------------------------
    @property
    def sensor_ids(self) -> list[str]:
        return list(self._buffers)

    def add_sensor(self, info: SensorInfo) -> None:
        """Create the group of one sensor (``/sensors/<sensor_id>``)."""
        with self._lock:
            if info.sensor_id in self._buffers:
                raise RecordingError(f"{self.path}: sensor {info.sensor_id!r} added twice")
            g = self._file[SENSORS_GROUP].create_group(info.sensor_id)
            g.attrs["placement"] = info.placement
            g.attrs["device_model"] = info.device_model
            g.attrs["sample_rate_hz"] = float(info.sample_rate_hz)
            if info.acc_range_g is not None:
                g.attrs["acc_range_g"] = float(info.acc_range_g)
            if info.gyr_range_dps is not None:
                g.attrs["gyr_range_dps"] = float(info.gyr_range_dps)
            if info.firmware:
                g.attrs["firmware"] = info.firmware
            chunk = (
                int(min(SAMPLE_CHUNK, max(8, round(info.sample_rate_hz * 0.25))))
                if self.live
                else SAMPLE_CHUNK
            )
            self._chunk[info.sensor_id] = chunk
            _create_appendable(g, "t", np.float64, None, fillvalue=np.nan, chunk=chunk)
            _create_appendable(g, "acc", np.float32, 3, chunk=chunk)
            _create_appendable(g, "gyr", np.float32, 3, chunk=chunk)
            g.create_dataset(
                "gaps", shape=(0, 2), maxshape=(None, 2), chunks=(256, 2), dtype=np.float64
            )
            self._buffers[info.sensor_id] = _SensorBuffer()

    # -- appending ------------------------------------------------------------------------
    def append(self, block: SampleBlock) -> None:
        """Queue one block of samples (and the gaps it reports) for the next flush.

        Raises
        ------
        RecordingError
            Unknown sensor, times not strictly increasing (within the block or against what was
            already written), or non-finite values.
        """
        with self._lock:
            self._check_open()
            if self._failed is not None:
                raise self._failed
            buf = self._buffers.get(block.sensor_id)
            if buf is None:
                raise RecordingError(
                    f"{self.path}: block of unknown sensor {block.sensor_id!r} "
                    f"(known: {', '.join(self._buffers) or 'none'})"
                )
            if len(block.gaps):
                buf.gaps.append(np.asarray(block.gaps, dtype=np.float64))
            if len(block):
                t = np.asarray(block.t, dtype=np.float64)
                if not (np.all(np.isfinite(t)) and t[0] > buf.last_t and np.all(np.diff(t) > 0)):
                    raise RecordingError(
                        f"{self.path}: sensor {block.sensor_id}: block times are not strictly "
                        f"increasing after t={buf.last_t:.6f} s"
                    )
                acc = np.asarray(block.acc, dtype=np.float32)
                gyr = np.asarray(block.gyr, dtype=np.float32)
                if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(gyr))):
                    raise RecordingError(
                        f"{self.path}: sensor {block.sensor_id}: NaN or infinite acc/gyr values "
                        f"near t={t[0]:.3f} s"
                    )
                has_seq = block.seq is not None
                if buf.has_seq is None:
                    buf.has_seq = has_seq
                    if has_seq:
                        g = self._file[SENSORS_GROUP][block.sensor_id]
                        _create_appendable(
                            g, "seq", np.uint32, None, chunk=self._chunk[block.sensor_id]
                        )
                elif buf.has_seq != has_seq:
                    raise RecordingError(
                        f"{self.path}: sensor {block.sensor_id}: some blocks have a seq counter "
                        "and some do not"
                    )
                buf.t.append(t)
                buf.acc.append(acc)
                buf.gyr.append(gyr)
                if has_seq:
                    buf.seq.append(np.asarray(block.seq, dtype=np.uint32))
                buf.last_t = float(t[-1])
                buf.last_append = time.monotonic()
            if time.monotonic() - self._last_flush >= self.flush_interval_s:
                self.flush()

    def add_gap(self, sensor_id: str, t_start: float, t_end: float) -> None:
        """Record that ``sensor_id`` lost data between ``t_start`` and ``t_end`` (s)."""
        if not (t_end >= t_start):
            raise RecordingError(
                f"{self.path}: sensor {sensor_id}: gap [{t_start}, {t_end}] ends before it starts"
            )
        with self._lock:
            self._check_open()
            if sensor_id not in self._buffers:
                raise RecordingError(f"{self.path}: gap for unknown sensor {sensor_id!r}")
            self._buffers[sensor_id].gaps.append(np.array([[t_start, t_end]], dtype=np.float64))

    def add_marker(self, t: float, label: str, kind: str = "user") -> None:
        """Add a bookmark/alert/note at time ``t`` (s) to ``/markers``."""
        if kind not in MARKER_KINDS:
            raise RecordingError(
                f"{self.path}: marker kind {kind!r}, expected one of {', '.join(MARKER_KINDS)}"
            )
        with self._lock:
            self._check_open()
            self._markers.append((float(t), str(label), kind))

    def append_stream(
        self,
        stream_id: str,
        t: np.ndarray,
        values: Mapping[str, np.ndarray],
        *,
        device_model: str = "",
        placement: str = "",
    ) -> None:
        """Append samples of a non-IMU stream (e.g. a footpod) to ``/streams/<stream_id>``.

        Parameters
        ----------
        t : ndarray, shape (N,)
            Times in s on the recording's time base.
        values : mapping of str to ndarray, shape (N,)
            One float array per quantity; the unit is in the name (``speed_mps``).
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        vals = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in values.items()}
        for k, v in vals.items():
            if v.shape != t.shape:
                raise RecordingError(
                    f"{self.path}: stream {stream_id}: {k} has shape {v.shape}, expected {t.shape}"
                )
        with self._lock:
            self._check_open()
            known = self._stream_meta.get(stream_id)
            if known is None:
                self._stream_meta[stream_id] = (device_model, placement)
                self._streams[stream_id] = []
            self._streams[stream_id].append((t, vals))

    # -- flushing -------------------------------------------------------------------------
    def flush(self, *, final: bool = False) -> None:
        """Write what is queued and flush the file to disk.

        In live mode only whole chunks are written (each chunk once); ``final=True`` (done by
        :meth:`close`) or a sensor that sent nothing for ``flush_interval_s`` also gets its last
        partial chunk written.
        """
        with self._lock:
            if self._closed:
                return
            if self._failed is not None:
                raise self._failed
            try:
                self._flush_unlocked(final)
            except (OSError, RuntimeError) as exc:  # h5py raises either for a failed write
                # give HDF5 the reserved space back so that it can finish the writes it has
                # started and close the file cleanly (without it HDF5 fails every later
                # metadata write and, at exit, may crash)
                if self._release_reserve():
                    with contextlib.suppress(OSError, RuntimeError):
                        self._file.flush()
                reason = _write_error_reason(exc)
                self._failed = RecordingWriteError(
                    f"{self.path}: cannot write ({reason}); the recording stopped", reason
                )
                log.info("%s: write failed (%s); no more writes", self.path, exc)
                raise self._failed from None

    def _flush_unlocked(self, final: bool) -> None:
        sensors = self._file[SENSORS_GROUP]
        now = time.monotonic()
        pending: list[tuple[str, dict[str, np.ndarray]]] = []
        for sid, buf in self._buffers.items():
            # a sensor that went quiet (disconnect) gets its partial chunk written too
            idle = now - buf.last_append >= self.flush_interval_s
            whole = final or idle or not self.live
            data = buf.take(1 if whole else self._chunk[sid])
            if data:
                pending.append((sid, data))
        self._check_size_limit(pending)
        for sid, data in pending:
            g = sensors[sid]
            for name in ("acc", "gyr", "seq", "gaps"):
                if name in data:
                    _append(self._dataset(g, name), data[name])
            if "t" in data:  # t last: a reader trusts t up to its last finite value
                _append(self._dataset(g, "t"), data["t"])
        self._flush_markers()
        self._flush_streams()
        self._file.flush()
        self._last_flush = time.monotonic()

    def _check_size_limit(self, pending: list[tuple[str, dict[str, np.ndarray]]]) -> None:
        """Refuse (``EFBIG``, before writing any of it) a flush that could take the file past
        this process's file-size limit (``ulimit -f``).

        HDF5 cannot close a file whose write failed at that limit (the file is left truncated
        and unreadable, and the process may crash at exit), and, unlike a full disk, no reserve
        can be given back there; so the bound is pessimistic: the file's size after the last
        flush, plus each array uncompressed and one more chunk of each dataset (a partial chunk
        rewritten), plus :data:`CLOSE_ROOM_BYTES` for what closing writes.
        """
        if self._size_limit is None:
            return
        need = CLOSE_ROOM_BYTES + 2048 * (
            len(self._markers) + sum(map(len, self._streams.values()))
        )
        for sid, data in pending:
            chunk = self._chunk[sid]
            for arr in data.values():
                need += arr.nbytes + chunk * (arr.nbytes // max(1, arr.shape[0]))
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size + need > self._size_limit:
            raise OSError(
                errno.EFBIG, f"file too large: {size} + {need} bytes would pass the limit"
            )

    def _dataset(self, group: h5py.Group, name: str) -> h5py.Dataset:
        """An open dataset, kept open until the file closes.

        A dataset object that is dropped is closed by HDF5 at once, and closing writes its
        cached chunks: on a full disk that write fails inside a destructor, where the error
        cannot be caught (h5py prints it and HDF5 may crash later). Kept open, every write
        happens in :meth:`flush`, whose errors stop the recording cleanly.
        """
        key = f"{group.name}/{name}"
        ds = self._open.get(key)
        if ds is None:
            ds = self._open[key] = group[name]
        return ds

    def _flush_markers(self) -> None:
        if not self._markers:
            return
        f = self._file
        if MARKERS_GROUP not in f:
            g = f.create_group(MARKERS_GROUP)
            g.create_dataset("t", shape=(0,), maxshape=(None,), chunks=(256,), dtype=np.float64)
            g.create_dataset("label", shape=(0,), maxshape=(None,), chunks=(256,), dtype=_STR)
            g.create_dataset("kind", shape=(0,), maxshape=(None,), chunks=(256,), dtype=_STR)
        g = f[MARKERS_GROUP]
        ts, labels, kinds = zip(*self._markers, strict=True)
        _append(self._dataset(g, "label"), np.array(labels, dtype=object))
        _append(self._dataset(g, "kind"), np.array(kinds, dtype=object))
        _append(self._dataset(g, "t"), np.array(ts, dtype=np.float64))
        self._markers = []

    def _flush_streams(self) -> None:
        for sid, pieces in self._streams.items():
            if not pieces:
                continue
            root = self._file.require_group(STREAMS_GROUP)
            if sid not in root:
                g = root.create_group(sid)
                model, placement = self._stream_meta[sid]
                g.attrs["device_model"] = model
                g.attrs["placement"] = placement
                _create_appendable(g, "t", np.float64, None, fillvalue=np.nan)
            g = root[sid]
            t = np.concatenate([p[0] for p in pieces])
            n_before = self._dataset(g, "t").shape[0]
            names = sorted({k for p in pieces for k in p[1]})
            for name in names:
                if name not in g:
                    _create_appendable(g, name, np.float64, None, fillvalue=np.nan)
                    self._dataset(g, name).resize(n_before, axis=0)
                col = np.concatenate([p[1].get(name, np.full(p[0].shape, np.nan)) for p in pieces])
                _append(self._dataset(g, name), col)
            _append(self._dataset(g, "t"), t)
            self._streams[sid] = []

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval_s / 4):
            with self._lock:
                if self._closed:
                    return
                if self._failed is not None:
                    return  # the disk refused a write: the recorder stops; nothing to retry
                if time.monotonic() - self._last_flush >= self.flush_interval_s:
                    try:
                        self.flush()
                    except RecordingWriteError:
                        return
                    except Exception:  # keep recording; the next flush will try again
                        log.exception("flushing %s failed", self.path)

    # -- closing --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"{self.path}: the recording is already closed")

    def close(self) -> None:
        """Flush and close the file (idempotent).

        Raises
        ------
        RecordingWriteError
            A write failed (now, or earlier in the background flush): the file keeps what was
            flushed before it, and the caller must not take the recording for complete.
        """
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            try:
                if self._failed is None:
                    self.flush(final=True)
            except RecordingWriteError:
                pass  # raised below, once the file is closed
            finally:
                self._closed = True
                self._close_file()
                self._release_reserve()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._failed is not None:
            # (a failure of the background flush after the last append was not raised to
            # anyone: without this, `simulate` reported a file of 0 samples as written)
            raise self._failed
        if self.live:
            self._compact()

    def _make_reserve(self) -> None:
        """Set aside :data:`RESERVE_BYTES` beside the file (at most a quarter of the free space)
        for HDF5 to finish and close the file if the disk fills up anyway."""
        try:
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(self.path))).free
            size = int(min(RESERVE_BYTES, free // 4, (self._size_limit or free) // 4))
            if size <= 0:
                return
            fd = os.open(self._reserve_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, size)
                except (AttributeError, OSError):
                    os.write(fd, b"\0" * size)
            finally:
                os.close(fd)
        except OSError as exc:
            log.info("%s: no reserve space set aside (%s)", self.path, exc)
            self._release_reserve()

    def _release_reserve(self) -> bool:
        try:
            os.remove(self._reserve_path)
            return True
        except OSError:
            return False

    @property
    def failed(self) -> RecordingWriteError | None:
        """The write error that stopped this writer, or None."""
        return self._failed

    def _close_file(self) -> None:
        self._open.clear()
        try:
            self._file.close()
        except Exception as exc:
            if self._failed is None:
                reason = _write_error_reason(exc)
                self._failed = RecordingWriteError(f"{self.path}: cannot close ({reason})", reason)
            log.info("%s: closing after a failed write: %s", self.path, exc)

    def _compact(self) -> None:
        """Rewrite the closed file with large chunks; keep the original if anything fails."""
        tmp = self.path + ".compact.tmp"
        try:
            size = os.path.getsize(self.path)
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(self.path))).free
        except OSError:
            return
        limit = self._size_limit
        if limit is not None and size * 1.2 > limit:
            # the copy could outgrow the file-size limit (ulimit -f) and fail half-written
            log.info("%s: kept as recorded (near the file size limit)", self.path)
            return
        if free < size * 1.2 + COMPACT_SPARE_BYTES:
            log.info(
                "%s: not enough free space to rewrite with large chunks (%.0f MB free); kept "
                "as recorded",
                self.path,
                free / 1e6,
            )
            return
        try:
            with h5py.File(self.path, "r") as src, h5py.File(tmp, "w", libver="earliest") as dst:
                _copy_compact(src, dst)
            os.replace(tmp, self.path)
        except Exception as exc:  # the original is complete and valid; only slower to read
            log.warning(
                "%s: could not rewrite with large chunks (%s); kept as recorded", self.path, exc
            )
        finally:
            if os.path.exists(tmp):
                try:
                    os.remove(tmp)
                except OSError as exc:
                    log.warning("%s: could not remove %s (%s)", self.path, tmp, exc)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Space a live recording sets aside in a hidden file beside it (``.NAME.runform-reserve``) and
#: gives back to HDF5 when a write fails, so the file can still be finished and closed, bytes.
RESERVE_BYTES = 4 << 20
#: Free space kept beyond the rewritten copy's size when compacting, bytes.
COMPACT_SPARE_BYTES = 16 << 20
#: Under a file-size limit, room kept for what closing a recording writes, bytes
#: (:meth:`RecordingWriter._check_size_limit`).
CLOSE_ROOM_BYTES = 64 << 10


def file_size_limit() -> int | None:
    """This process's limit on the size of a file it writes (``ulimit -f``, ``RLIMIT_FSIZE``),
    bytes; None when there is none (or the platform has no such limit).

    Unlike a full disk, no reserve can be given back at this limit: a recording must stop
    below it with room for HDF5 to close the file (:func:`recordings.recorder.size_limit_room`).
    """
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    except (OSError, ValueError, AttributeError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    return int(soft)


def _write_error_reason(exc: BaseException) -> str:
    """``disk full`` and the like for an OS error (HDF5 passes errno through)."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if (
        code in (errno.ENOSPC, errno.EDQUOT)
        or "errno = 28" in text
        or "no space" in text
        or "quota" in text
    ):
        return "disk full"
    if code == errno.EFBIG or "file too large" in text:
        return "file size limit reached"
    if code == errno.EROFS or "read-only" in text or "errno = 30" in text:
        return "read-only file system"
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in text or "errno = 13" in text:
        return "permission denied"
    if code == errno.ENOENT or "errno = 2," in text:
        return "folder does not exist"
    return f"write error: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}"


def _copy_compact(src: h5py.Group, dst: h5py.Group) -> None:
    """Copy a recording group by group; per-sample datasets get :data:`SAMPLE_CHUNK` chunks."""
    for k, v in src.attrs.items():
        dst.attrs[k] = v
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            _copy_compact(obj, dst.create_group(name))
            continue
        chunked = obj.chunks is not None and obj.compression is not None
        if not chunked:
            src.copy(obj, dst, name=name)
            continue
        width = obj.shape[1:]
        ds = dst.create_dataset(
            name,
            shape=obj.shape,
            maxshape=(None, *width),
            chunks=(SAMPLE_CHUNK, *width),
            dtype=obj.dtype,
            compression=COMPRESSION,
            compression_opts=COMPRESSION_OPTS,
            shuffle=True,
            fillvalue=obj.fillvalue,
        )
        step = SAMPLE_CHUNK * 64
        for i in range(0, obj.shape[0], step):
            ds[i : i + step] = obj[i : i + step]
        for k, v in obj.attrs.items():
            ds.attrs[k] = v
