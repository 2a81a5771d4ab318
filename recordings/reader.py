"""Reader and validator for recording format v1, reading in chunks.

:func:`open_recording` checks the structure of the file and the time axis of every sensor and
raises :class:`~recordings.errors.RecordingError` with one line naming the file and the problem.
Sample values (NaN checks) are validated chunk by chunk as they are read, so opening a
multi-hour recording never reads all of it at once.

A recording whose writer was killed may end with a tail that HDF5 allocated but the writer never
filled (``t`` is NaN there, its fill value); the reader drops that tail with a warning and keeps
every sample before it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import h5py
import numpy as np

from dsp.block import PLACEMENTS, SENSOR_ID_PATTERN, SampleBlock, SensorInfo
from recordings.errors import RecordingError
from recordings.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MARKERS_GROUP,
    SENSORS_GROUP,
    STREAMS_GROUP,
)

__all__ = ["Recording", "StreamData", "open_recording"]

log = logging.getLogger(__name__)

#: Samples of ``t`` read at once while validating or searching.
_T_CHUNK = 1 << 18
#: Samples either side of the predicted index read by ``Recording._index_near``.
_NEAR = 512


def _attr_str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass
class StreamData:
    """A non-IMU stream (``/streams/<id>``): times in s and one array per quantity."""

    stream_id: str
    device_model: str
    placement: str
    t: np.ndarray
    values: dict[str, np.ndarray]


class Recording:
    """An open, validated recording. Create with :func:`open_recording`."""

    def __init__(self, path: str, file: h5py.File) -> None:
        self.path = path
        self._file = file
        self.sensors: list[SensorInfo] = []
        self._n: dict[str, int] = {}
        self._t_range: dict[str, tuple[float, float]] = {}
        self._validate()

    # -- validation -----------------------------------------------------------------------
    def _fail(self, msg: str) -> RecordingError:
        return RecordingError(f"{self.path}: {msg}")

    def _validate(self) -> None:
        f = self._file
        fmt = f.attrs.get("format")
        if fmt is None or _attr_str(fmt) != FORMAT_NAME:
            shown = "missing" if fmt is None else repr(_attr_str(fmt))
            raise self._fail(
                f"not a runform recording (root attribute 'format' is {shown}, "
                f"expected '{FORMAT_NAME}')"
            )
        ver = f.attrs.get("format_version")
        try:
            ver_i = int(ver)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self._fail(
                f"root attribute 'format_version' is {ver!r}, expected an integer"
            ) from None
        if ver_i > FORMAT_VERSION:
            raise self._fail(
                f"format_version {ver_i} is newer than this runform reads "
                f"(up to {FORMAT_VERSION}); update runform"
            )
        if ver_i < 1:
            raise self._fail(f"format_version {ver_i} is not valid, expected 1")
        if SENSORS_GROUP not in f or not isinstance(f[SENSORS_GROUP], h5py.Group):
            raise self._fail("group '/sensors' is missing")
        for sid in f[SENSORS_GROUP]:
            self._validate_sensor(sid)

    def _validate_sensor(self, sid: str) -> None:
        where = f"/sensors/{sid}"
        g = self._file[SENSORS_GROUP][sid]
        if not isinstance(g, h5py.Group):
            raise self._fail(f"{where} is not a group")
        if not SENSOR_ID_PATTERN.match(sid):
            raise self._fail(f"{where}: sensor id must be 1-32 characters of [a-z0-9_]")
        placement = _attr_str(g.attrs.get("placement", ""))
        if placement not in PLACEMENTS:
            raise self._fail(
                f"{where}: attribute 'placement' is {placement!r}, expected one of "
                + ", ".join(PLACEMENTS)
            )
        try:
            rate = float(g.attrs["sample_rate_hz"])
        except (KeyError, TypeError, ValueError):
            raise self._fail(
                f"{where}: attribute 'sample_rate_hz' is missing or not a number"
            ) from None
        if not (math.isfinite(rate) and rate > 0):
            raise self._fail(f"{where}: sample_rate_hz is {rate}, expected a positive number")

        def opt_float(name: str) -> float | None:
            if name not in g.attrs:
                return None
            try:
                return float(g.attrs[name])
            except (TypeError, ValueError):
                raise self._fail(f"{where}: attribute '{name}' is not a number") from None

        info = SensorInfo(
            sensor_id=sid,
            placement=placement,
            device_model=_attr_str(g.attrs.get("device_model", "unknown")),
            sample_rate_hz=rate,
            acc_range_g=opt_float("acc_range_g"),
            gyr_range_dps=opt_float("gyr_range_dps"),
            firmware=_attr_str(g.attrs["firmware"]) if "firmware" in g.attrs else None,
        )
        for name in ("t", "acc", "gyr"):
            if name not in g or not isinstance(g[name], h5py.Dataset):
                raise self._fail(f"{where}/{name}: dataset is missing")
        t, acc, gyr = g["t"], g["acc"], g["gyr"]
        if t.ndim != 1:
            raise self._fail(f"{where}/t: shape {t.shape}, expected (N,)")
        for name, ds in (("acc", acc), ("gyr", gyr)):
            if ds.ndim != 2 or ds.shape[1] != 3:
                raise self._fail(f"{where}/{name}: shape {ds.shape}, expected (N, 3)")
            if not np.issubdtype(ds.dtype, np.floating):
                raise self._fail(f"{where}/{name}: dtype {ds.dtype}, expected float")
        if not np.issubdtype(t.dtype, np.floating):
            raise self._fail(f"{where}/t: dtype {t.dtype}, expected float64")
        n = min(t.shape[0], acc.shape[0], gyr.shape[0])
        if "seq" in g:
            if g["seq"].ndim != 1:
                raise self._fail(f"{where}/seq: shape {g['seq'].shape}, expected (N,)")
            n = min(n, g["seq"].shape[0])
        if "gaps" in g and (g["gaps"].ndim != 2 or g["gaps"].shape[1] != 2):
            raise self._fail(f"{where}/gaps: shape {g['gaps'].shape}, expected (M, 2)")
        lengths = {t.shape[0], acc.shape[0], gyr.shape[0]}
        if len(lengths) > 1:
            log.warning(
                "%s: %s: datasets have different lengths %s (not closed cleanly?); "
                "reading the first %d samples",
                self.path,
                where,
                sorted(lengths),
                n,
            )
        n, t0, t1 = self._check_time_axis(where, t, n)
        self._n[sid] = n
        self._t_range[sid] = (t0, t1)
        self.sensors.append(info)

    def _check_time_axis(self, where: str, t: h5py.Dataset, n: int) -> tuple[int, float, float]:
        """Strictly increasing, finite ``t``; drop an unwritten (NaN) tail. Reads in chunks."""
        prev = -math.inf
        first = math.nan
        valid = n
        for start in range(0, n, _T_CHUNK):
            chunk = np.asarray(t[start : min(n, start + _T_CHUNK)], dtype=np.float64)
            bad = ~np.isfinite(chunk)
            if bad.any():
                k = int(np.argmax(bad))
                rest_nan = np.all(np.isnan(chunk[k:])) and all(
                    np.all(np.isnan(t[s : min(n, s + _T_CHUNK)]))
                    for s in range(start + _T_CHUNK, n, _T_CHUNK)
                )
                if not rest_nan:
                    raise self._fail(f"{where}/t: NaN or infinite time at sample {start + k}")
                valid = start + k
                log.warning(
                    "%s: %s: %d samples at the end were never written (the recorder was "
                    "stopped during a flush); reading the %d before them",
                    self.path,
                    where,
                    n - valid,
                    valid,
                )
                chunk = chunk[:k]
            if chunk.size:
                d = np.diff(np.concatenate(([prev], chunk)))
                if not np.all(d > 0):
                    k = int(np.argmax(~(d > 0)))
                    raise self._fail(
                        f"{where}/t: not strictly increasing at sample {start + k} "
                        f"(t={chunk[k]:.6f} s after {prev if k == 0 else chunk[k - 1]:.6f} s)"
                    )
                if math.isnan(first):
                    first = float(chunk[0])
                prev = float(chunk[-1])
            if valid < n:
                break
        return valid, first, prev

    # -- metadata -------------------------------------------------------------------------
    def sensor(self, sensor_id: str) -> SensorInfo:
        for s in self.sensors:
            if s.sensor_id == sensor_id:
                return s
        raise self._fail(f"no sensor {sensor_id!r} (has: {', '.join(self.sensor_ids) or 'none'})")

    @property
    def sensor_ids(self) -> list[str]:
        return [s.sensor_id for s in self.sensors]

    @property
    def attrs(self) -> dict[str, object]:
        """Root attributes as Python values."""
        out: dict[str, object] = {}
        for k, v in self._file.attrs.items():
            out[k] = (
                _attr_str(v)
                if isinstance(v, (bytes, str))
                else (v.item() if hasattr(v, "item") else v)
            )
        return out

    @property
    def notes(self) -> str:
        return _attr_str(self._file.attrs.get("notes", ""))

    @property
    def created_utc(self) -> str:
        return _attr_str(self._file.attrs.get("created_utc", ""))

    @property
    def software(self) -> str:
        return _attr_str(self._file.attrs.get("software", ""))

    def n_samples(self, sensor_id: str) -> int:
        self.sensor(sensor_id)
        return self._n[sensor_id]

    def time_range(self, sensor_id: str) -> tuple[float, float]:
        """First and last sample time of one sensor in s (NaN, NaN if it has none)."""
        self.sensor(sensor_id)
        return self._t_range[sensor_id]

    @property
    def t_start(self) -> float:
        starts = [a for a, _ in self._t_range.values() if math.isfinite(a)]
        return min(starts) if starts else 0.0

    @property
    def t_end(self) -> float:
        ends = [b for _, b in self._t_range.values() if math.isfinite(b)]
        return max(ends) if ends else 0.0

    @property
    def duration_s(self) -> float:
        """From the first to the last sample of any sensor, in s."""
        return max(0.0, self.t_end - self.t_start) if self._t_range else 0.0

    def gaps(self, sensor_id: str) -> np.ndarray:
        """``(M, 2)`` gap intervals in s of one sensor."""
        self.sensor(sensor_id)
        g = self._file[SENSORS_GROUP][sensor_id]
        if "gaps" not in g:
            return np.empty((0, 2))
        return np.asarray(g["gaps"][()], dtype=np.float64).reshape(-1, 2)

    def lost_samples(self, sensor_id: str) -> int | None:
        """Samples missing according to the device counter ``seq`` (None without ``seq``)."""
        self.sensor(sensor_id)
        g = self._file[SENSORS_GROUP][sensor_id]
        n = self._n[sensor_id]
        if "seq" not in g or n < 2:
            return None
        lost = 0
        prev: int | None = None
        for start in range(0, n, _T_CHUNK):
            seq = np.asarray(g["seq"][start : min(n, start + _T_CHUNK)], dtype=np.int64)
            if prev is not None:
                seq = np.concatenate(([prev], seq))
            d = np.diff(seq) % (1 << 32)
            lost += int(np.sum(d[d > 1] - 1))
            prev = int(seq[-1])
        return lost

    @property
    def markers(self) -> list[tuple[float, str, str]]:
        """``(t, label, kind)`` of every marker, in time order."""
        if MARKERS_GROUP not in self._file:
            return []
        g = self._file[MARKERS_GROUP]
        try:
            t = np.asarray(g["t"][()], dtype=np.float64)
            labels = [_attr_str(x) for x in g["label"][()]]
            kinds = [_attr_str(x) for x in g["kind"][()]] if "kind" in g else ["user"] * len(labels)
        except KeyError as exc:
            raise self._fail(f"/markers: dataset {exc} is missing") from None
        n = min(len(t), len(labels), len(kinds))
        out = [(float(t[i]), labels[i], kinds[i]) for i in range(n) if math.isfinite(t[i])]
        out.sort(key=lambda m: m[0])
        return out

    def streams(self) -> list[StreamData]:
        """Every ``/streams/<id>`` (footpods and the like)."""
        if STREAMS_GROUP not in self._file:
            return []
        out = []
        for sid, g in self._file[STREAMS_GROUP].items():
            if not isinstance(g, h5py.Group) or "t" not in g:
                continue
            t = np.asarray(g["t"][()], dtype=np.float64)
            ok = np.isfinite(t)
            values = {
                k: np.asarray(ds[()], dtype=np.float64)[: len(t)][ok[: len(ds)]]
                for k, ds in g.items()
                if k != "t" and isinstance(ds, h5py.Dataset) and ds.ndim == 1
            }
            out.append(
                StreamData(
                    stream_id=sid,
                    device_model=_attr_str(g.attrs.get("device_model", "")),
                    placement=_attr_str(g.attrs.get("placement", "")),
                    t=t[ok],
                    values=values,
                )
            )
        return out

    # -- samples --------------------------------------------------------------------------
    def _index_of(self, sensor_id: str, t: float, side: str = "left") -> int:
        """Index of the first sample at or after ``t`` (``side='left'``), reading ``t`` in chunks."""
        ds = self._file[SENSORS_GROUP][sensor_id]["t"]
        n = self._n[sensor_id]
        lo, hi = 0, n
        # binary search down to one HDF5 chunk of t (reading an element decompresses its
        # chunk only), then inside it
        step = min(_T_CHUNK, ds.chunks[0]) if ds.chunks else _T_CHUNK
        while hi - lo > step:
            mid = (lo + hi) // 2
            if float(ds[mid]) < t if side == "left" else float(ds[mid]) <= t:
                lo = mid
            else:
                hi = mid
        chunk = np.asarray(ds[lo:hi], dtype=np.float64)
        return lo + int(np.searchsorted(chunk, t, side=side))  # type: ignore[call-overload]

    def _index_near(self, sensor_id: str, t: float, lo: int, t_lo: float) -> int:
        """:meth:`_index_of` (``side='left'``) knowing that the answer is at least ``lo`` and
        that sample ``lo - 1`` (or the recording's start) is at ``t_lo``: one short read around
        the index the nominal rate predicts; the full search when the guess misses (a gap)."""
        n = self._n[sensor_id]
        fs = float(self.sensor(sensor_id).sample_rate_hz)
        est = lo + round((t - t_lo) * fs)
        a, b = max(lo, est - _NEAR), min(n, est + _NEAR)
        if a < b:
            seg = np.asarray(self._file[SENSORS_GROUP][sensor_id]["t"][a:b], dtype=np.float64)
            if (a == lo or seg[0] < t) and (b == n or seg[-1] >= t):
                return a + int(np.searchsorted(seg, t, side="left"))
        return self._index_of(sensor_id, t)

    def read_range(self, sensor_id: str, start: int, stop: int) -> SampleBlock:
        """Samples ``start:stop`` of one sensor, validated (no NaN/inf values)."""
        self.sensor(sensor_id)
        n = self._n[sensor_id]
        start, stop = max(0, start), min(n, stop)
        stop = max(start, stop)
        g = self._file[SENSORS_GROUP][sensor_id]
        t = np.asarray(g["t"][start:stop], dtype=np.float64)
        acc = np.asarray(g["acc"][start:stop], dtype=np.float64)
        gyr = np.asarray(g["gyr"][start:stop], dtype=np.float64)
        for name, arr in (("acc", acc), ("gyr", gyr)):
            bad = ~np.isfinite(arr)
            if bad.any():
                k = int(np.argmax(bad.any(axis=1)))
                raise self._fail(
                    f"/sensors/{sensor_id}/{name}: NaN or infinite value at sample {start + k} "
                    f"(t={t[k]:.3f} s)"
                )
        seq = np.asarray(g["seq"][start:stop], dtype=np.uint32) if "seq" in g else None
        return SampleBlock(sensor_id=sensor_id, t=t, acc=acc, gyr=gyr, seq=seq)

    def read(self, sensor_id: str, t0: float | None = None, t1: float | None = None) -> SampleBlock:
        """Samples of one sensor with ``t0 <= t < t1`` (whole sensor by default).

        Gaps overlapping the window are attached to the block.
        """
        self.sensor(sensor_id)
        start = 0 if t0 is None else self._index_of(sensor_id, t0)
        stop = self._n[sensor_id] if t1 is None else self._index_of(sensor_id, t1)
        block = self.read_range(sensor_id, start, stop)
        gaps = self.gaps(sensor_id)
        lo = -math.inf if t0 is None else t0
        hi = math.inf if t1 is None else t1
        sel = gaps[(gaps[:, 1] >= lo) & (gaps[:, 0] < hi)] if len(gaps) else gaps
        return SampleBlock(
            sensor_id=block.sensor_id,
            t=block.t,
            acc=block.acc,
            gyr=block.gyr,
            seq=block.seq,
            gaps=sel,
        )

    def iter_blocks(
        self,
        chunk_s: float = 30.0,
        *,
        sensor_ids: list[str] | None = None,
        t0: float | None = None,
        t1: float | None = None,
    ) -> Iterator[SampleBlock]:
        """Blocks of every sensor, window by window in time order, never the whole file.

        Parameters
        ----------
        chunk_s : float
            Window length in s. Each window yields one block per sensor that has samples in it
            (sensors in file order). Gaps are attached to the block of the window in which they
            start.
        sensor_ids : list of str, optional
            Only these sensors.
        t0, t1 : float, optional
            Only samples with ``t0 <= t < t1``.
        """
        if not (chunk_s > 0):
            raise self._fail(f"chunk_s {chunk_s}, expected > 0")
        ids = sensor_ids if sensor_ids is not None else self.sensor_ids
        for sid in ids:
            self.sensor(sid)
        start_t = self.t_start if t0 is None else t0
        end_t = self.t_end if t1 is None else t1
        cursor = {sid: (0 if t0 is None else self._index_of(sid, t0)) for sid in ids}
        stop_at = {sid: (self._n[sid] if t1 is None else self._index_of(sid, t1)) for sid in ids}
        all_gaps = {sid: self.gaps(sid) for sid in ids}
        last_t: dict[str, float] = {}  # time of the sample before each sensor's cursor
        k = 0
        while True:
            w0 = start_t + k * chunk_s
            w1 = w0 + chunk_s
            if w0 > end_t and k > 0:
                break
            last = w1 > end_t
            for sid in ids:
                i0 = cursor[sid]
                if i0 >= stop_at[sid]:
                    continue
                i1 = (
                    stop_at[sid]
                    if last
                    else min(stop_at[sid], self._index_near(sid, w1, i0, last_t.get(sid, w0)))
                )
                gaps = all_gaps[sid]
                if len(gaps):
                    lo = -math.inf if k == 0 else w0
                    hi = math.inf if last else w1
                    gsel = gaps[(gaps[:, 0] >= lo) & (gaps[:, 0] < hi)]
                else:
                    gsel = gaps
                if i1 <= i0 and not len(gsel):
                    continue
                b = self.read_range(sid, i0, i1)
                cursor[sid] = i1
                if len(b):
                    last_t[sid] = float(b.t[-1])
                yield SampleBlock(sensor_id=sid, t=b.t, acc=b.acc, gyr=b.gyr, seq=b.seq, gaps=gsel)
            if last:
                break
            k += 1

    # -- closing --------------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Most memory (bytes) HDF5 may keep for the file's metadata (chunk index nodes) while reading.
METADATA_CACHE_BYTES = 256 << 10


def _small_metadata_cache(f: h5py.File) -> None:
    """Bound HDF5's metadata cache of a file opened for reading.

    HDF5 keeps every chunk-index node it has read until its metadata cache reaches 32 MB, so a
    pass over a long recording grows by about 1 MB of memory per hour of data (three sensors at
    400 Hz), which is what made ``runform analyze`` on 4 h need more memory than on 1 h. The
    analysis reads each chunk once, in time order: a cache of :data:`METADATA_CACHE_BYTES`
    holds the nodes in use, and memory stays flat (``benchmarks/bench_analyze.py``).
    """
    cfg = f.id.get_mdc_config()
    cfg.set_initial_size = True
    cfg.initial_size = METADATA_CACHE_BYTES
    cfg.max_size = METADATA_CACHE_BYTES
    cfg.min_size = min(cfg.min_size, METADATA_CACHE_BYTES // 2)
    f.id.set_mdc_config(cfg)


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Open and validate a recording (format v1).

    Raises
    ------
    RecordingError
        One line naming the file and what is wrong: not found, not HDF5, not a runform
        recording, a newer format version, a missing dataset, a wrong shape, a time axis that is
        not strictly increasing, NaN times.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise RecordingError(f"{p}: no such file")
    if os.path.isdir(p):
        raise RecordingError(f"{p}: is a folder, expected a recording file (.h5)")
    try:
        is_h5 = h5py.is_hdf5(p)
    except OSError as exc:
        raise RecordingError(f"{p}: cannot read the file ({exc})") from None
    if not is_h5:
        raise RecordingError(f"{p}: not an HDF5 file (expected a runform recording .h5)")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise RecordingError(f"{p}: HDF5 cannot open the file ({exc})") from None
    _small_metadata_cache(f)
    try:
        return Recording(p, f)
    except RecordingError:
        f.close()
        raise
    except (KeyError, OSError, TypeError, ValueError) as exc:
        f.close()
        raise RecordingError(f"{p}: damaged or unexpected layout ({exc})") from None
