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

import contextlib
import logging
import math
import os
import re
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
from recordings.safety import check_file_layout

__all__ = ["DamagedRange", "Recording", "StreamData", "ValidatedLayout", "open_recording"]

log = logging.getLogger(__name__)

#: Samples of ``t`` read at once while validating or searching.
_T_CHUNK = 1 << 18
#: Samples either side of the predicted index read by ``Recording._index_near``.
_NEAR = 512
#: Plausible nominal sample rates, Hz (IMUs stream 12.5 to a few kHz).
RATE_RANGE_HZ = (1.0, 20_000.0)
#: The rate ``t`` shows (median sample interval) may differ from ``sample_rate_hz`` by this factor
#: (device clocks drift by a few percent; a wrong attribute or a scaled ``t`` is off by far more).
RATE_TOLERANCE = 1.5
#: Plausible full-scale ranges: accelerometers up to 400 g (high-g parts), gyroscopes 10^5 deg/s.
ACC_RANGE_G = (0.5, 1000.0)
GYR_RANGE_DPS = (10.0, 100_000.0)
#: Most values a dataset that is read whole (gaps, markers, streams) may hold.
MAX_WHOLE_READ = 20_000_000
#: Errors h5py raises for damaged or unexpected content.
_H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError)


def _attr_str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _h5_reason(exc: BaseException) -> str:
    """The useful part of an HDF5 error message, short."""
    msg = str(exc).strip() or type(exc).__name__
    return msg.split("\n")[0][:200]


def _kind(v: object) -> str:
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    if isinstance(v, (bytes, str)):
        return "text"
    if isinstance(v, (bool, np.bool_)):
        return "a boolean"
    if isinstance(v, (float, np.floating)):
        return "a non-integer number" if not float(v).is_integer() else "a float"
    if isinstance(v, (int, np.integer)):
        return "an integer"
    return "missing" if v is None else type(v).__name__


def _short(v: object) -> str:
    text = repr(v.item() if isinstance(v, np.generic) else v)
    return text if len(text) <= 40 else text[:37] + "..."


def damaged_ranges(ds: h5py.Dataset, where: str, start: int = 0, stop: int | None = None):
    """Yield a :class:`DamagedRange` for every HDF5 chunk of ``ds[start:stop]`` that cannot be
    read (adjacent bad chunks merged), reading one chunk at a time."""
    n = ds.shape[0] if ds.ndim else 1
    stop = n if stop is None else min(stop, n)
    step = ds.chunks[0] if ds.chunks else max(1, stop - start)
    bad_from: int | None = None
    reason = ""
    first = (start // step) * step
    for a in range(first, stop, step):
        b = min(stop, a + step)
        lo = max(a, start)
        try:
            ds[lo:b]
            ok = True
        except _H5_ERRORS as exc:
            ok = False
            if bad_from is None:
                bad_from, reason = lo, _h5_reason(exc)
        if ok and bad_from is not None:
            yield DamagedRange(where, bad_from, lo, reason)
            bad_from = None
    if bad_from is not None:
        yield DamagedRange(where, bad_from, stop, reason)


@dataclass(frozen=True)
class _TimeHole:
    """Samples ``start:stop`` of a sensor whose time axis cannot be read, with the last
    readable time before them (-inf if none) and the first after them (+inf if none)."""

    start: int
    stop: int
    t_before: float
    t_after: float


@dataclass(frozen=True)
class DamagedRange:
    """Samples of one dataset that HDF5 cannot read (a damaged compressed chunk)."""

    dataset: str
    start: int
    stop: int
    reason: str

    def __str__(self) -> str:
        return f"{self.dataset}: samples {self.start}-{self.stop - 1} unreadable ({self.reason})"


@dataclass
class StreamData:
    """A non-IMU stream (``/streams/<id>``): times in s and one array per quantity."""

    stream_id: str
    device_model: str
    placement: str
    t: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class ValidatedLayout:
    """What validating a recording found (:meth:`Recording.validated`), for opening the same,
    unchanged file again without reading its time axes again (:func:`open_recording`'s
    ``validated``): the analysis opens a file once per process."""

    path: str
    stat: tuple[int, int, int, int]  # (device, inode, size, mtime ns) when it was validated
    sensors: tuple[SensorInfo, ...]
    n: dict[str, int]
    t_range: dict[str, tuple[float, float]]
    t_holes: dict[str, list[_TimeHole]]


def _file_stat(path: str) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Recording:
    """An open, validated recording. Create with :func:`open_recording`."""

    def __init__(
        self, path: str, file: h5py.File, validated: ValidatedLayout | None = None
    ) -> None:
        self.path = path
        self._file = file
        self.sensors: list[SensorInfo] = []
        self._n: dict[str, int] = {}
        self._t_range: dict[str, tuple[float, float]] = {}
        #: Damaged (unreadable) parts of each sensor's time axis ``t``: those samples of every
        #: dataset of the sensor are left out and read as a gap.
        self._t_holes: dict[str, list[_TimeHole]] = {}
        self._stat = _file_stat(path)
        #: the datasets of each sensor (``t``, ``acc``, ``gyr``, ``seq`` when present), looked
        #: up once: an h5py lookup by name costs ~0.1 ms, several per block read
        self._datasets: dict[str, dict[str, h5py.Dataset]] = {}
        if validated is not None and validated.stat == self._stat and validated.path == path:
            self.sensors = list(validated.sensors)
            self._n = dict(validated.n)
            self._t_range = dict(validated.t_range)
            self._t_holes = {k: list(v) for k, v in validated.t_holes.items()}
        else:
            self._validate()

    def validated(self) -> ValidatedLayout:
        """What the validation of this file found (see :class:`ValidatedLayout`)."""
        return ValidatedLayout(
            self.path,
            self._stat,
            tuple(self.sensors),
            dict(self._n),
            dict(self._t_range),
            {k: list(v) for k, v in self._t_holes.items()},
        )

    # -- validation -----------------------------------------------------------------------
    def _fail(self, msg: str) -> RecordingError:
        return RecordingError(f"{self.path}: {msg}")

    @contextlib.contextmanager
    def _guard(self, where: str, start: int | None = None, stop: int | None = None):
        """Turn an HDF5 error into one line naming the file, the dataset and the samples."""
        try:
            yield
        except RecordingError:
            raise
        except _H5_ERRORS as exc:
            rng = f" samples {start}-{max(start, (stop or start) - 1)}" if start is not None else ""
            raise self._fail(
                f"{where}:{rng} cannot be read ({_h5_reason(exc)}); the file is damaged "
                "(`runform info --check` lists every damaged part)"
            ) from None

    def _text_attr(self, obj: h5py.HLObject, name: str, where: str, default: str = "") -> str:
        """A text attribute: a scalar string, or a one-line error naming it."""
        if name not in obj.attrs:
            return default
        v = obj.attrs[name]
        if isinstance(v, (bytes, str)):
            return _attr_str(v)
        if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "OSU":
            return _attr_str(v.item())
        raise self._fail(f"{where}: attribute {name!r} is {_kind(v)}, expected text")

    def _number_attr(self, obj: h5py.HLObject, name: str, where: str) -> float | None:
        """A numeric attribute as float (None if absent); text, arrays and booleans refused."""
        if name not in obj.attrs:
            return None
        v = obj.attrs[name]
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v[()]
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (int, float, np.integer, np.floating)
        ):
            raise self._fail(f"{where}: attribute {name!r} is {_kind(v)}, expected a number")
        return float(v)

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
        if isinstance(ver, np.ndarray) and ver.ndim == 0:
            ver = ver[()]
        if isinstance(ver, (bool, np.bool_)) or not isinstance(ver, (int, np.integer)):
            raise self._fail(
                f"root attribute 'format_version' is {_kind(ver)} {_short(ver)}, "
                "expected the integer 1"
            )
        ver_i = int(ver)
        if ver_i > FORMAT_VERSION:
            raise self._fail(
                f"format_version {ver_i} is newer than this runform reads "
                f"(up to {FORMAT_VERSION}); update runform"
            )
        if ver_i < 1:
            raise self._fail(f"format_version {ver_i} is not valid, expected 1")
        for name in ("notes", "created_utc", "software"):
            self._text_attr(f, name, "root")
        if SENSORS_GROUP not in f or not isinstance(f[SENSORS_GROUP], h5py.Group):
            raise self._fail("group '/sensors' is missing")
        for name in (MARKERS_GROUP, STREAMS_GROUP):
            if name in f and not isinstance(f[name], h5py.Group):
                raise self._fail(f"/{name} is a dataset, expected a group")
        for sid in f[SENSORS_GROUP]:
            self._validate_sensor(sid)
        self._validate_markers()
        self._validate_streams()

    def _validate_sensor(self, sid: str) -> None:
        where = f"/sensors/{sid}"
        g = self._file[SENSORS_GROUP][sid]
        if not isinstance(g, h5py.Group):
            raise self._fail(f"{where} is not a group")
        if not SENSOR_ID_PATTERN.match(sid):
            raise self._fail(f"{where}: sensor id must be 1-32 characters of [a-z0-9_]")
        placement = self._text_attr(g, "placement", where)
        if placement not in PLACEMENTS:
            raise self._fail(
                f"{where}: attribute 'placement' is {placement!r}, expected one of "
                + ", ".join(PLACEMENTS)
            )
        rate = self._number_attr(g, "sample_rate_hz", where)
        if rate is None:
            raise self._fail(f"{where}: attribute 'sample_rate_hz' is missing")
        if not (math.isfinite(rate) and rate > 0):
            raise self._fail(f"{where}: sample_rate_hz is {rate:g}, expected a positive number")
        ranges = {}
        for name, (lo, hi), unit in (
            ("acc_range_g", ACC_RANGE_G, "g"),
            ("gyr_range_dps", GYR_RANGE_DPS, "deg/s"),
        ):
            v = self._number_attr(g, name, where)
            if v is not None and not (math.isfinite(v) and lo <= v <= hi):
                raise self._fail(f"{where}: {name} is {v:g}, expected {lo:g} to {hi:g} {unit}")
            ranges[name] = v
        firmware = self._text_attr(g, "firmware", where)
        info = SensorInfo(
            sensor_id=sid,
            placement=placement,
            device_model=self._text_attr(g, "device_model", where, "unknown"),
            sample_rate_hz=rate,
            acc_range_g=ranges["acc_range_g"],
            gyr_range_dps=ranges["gyr_range_dps"],
            firmware=firmware or None,
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
        for name in ("seq", "gaps"):
            if name in g and not isinstance(g[name], h5py.Dataset):
                raise self._fail(f"{where}/{name}: expected a dataset")
        if "gaps" in g:
            self._validate_gaps(where, g["gaps"])
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
        n, t0, t1, holes = self._check_time_axis(where, t, n)
        self._t_holes[sid] = holes
        self._check_rate(where, t, n, rate)
        self._n[sid] = n
        self._t_range[sid] = (t0, t1)
        self.sensors.append(info)

    def _check_rate(self, where: str, t: h5py.Dataset, n: int, rate: float) -> None:
        """The rate ``t`` shows (median interval of the first samples) must match the attribute."""
        lo, hi = RATE_RANGE_HZ
        plausible = lo <= rate <= hi
        if n < 3:
            if not plausible:
                raise self._fail(
                    f"{where}: sample_rate_hz is {rate:g} Hz, expected {lo:g} to {hi:g} Hz"
                )
            return
        head, _ = self._read_t_parts(where, t, 0, min(n, _T_CHUNK))
        steps = np.diff(head)
        steps = steps[np.isfinite(steps)]  # not across a damaged part of t
        if not steps.size:
            if not plausible:
                raise self._fail(
                    f"{where}: sample_rate_hz is {rate:g} Hz, expected {lo:g} to {hi:g} Hz"
                )
            return
        dt = float(np.median(steps))
        shown = 1.0 / dt if dt > 0 else math.inf
        if not plausible:
            raise self._fail(
                f"{where}: sample_rate_hz is {rate:g} Hz, expected {lo:g} to {hi:g} Hz "
                f"(its times 't' show {shown:.4g} Hz)"
            )
        if not (rate / RATE_TOLERANCE <= shown <= rate * RATE_TOLERANCE):
            raise self._fail(
                f"{where}: sample_rate_hz is {rate:g} Hz but its times 't' show {shown:.4g} Hz "
                f"(median interval {dt:.6g} s); one of them is wrong"
            )

    def _read_whole(self, ds: h5py.Dataset, where: str) -> np.ndarray:
        if ds.size > MAX_WHOLE_READ:
            raise self._fail(f"{where}: {ds.size} values, more than a recording holds")
        with self._guard(where, 0, ds.shape[0] if ds.ndim else 1):
            return np.asarray(ds[()])

    def _validate_gaps(self, where: str, ds: h5py.Dataset) -> None:
        if ds.ndim != 2 or ds.shape[1] != 2:
            raise self._fail(f"{where}/gaps: shape {ds.shape}, expected (M, 2)")
        if not np.issubdtype(ds.dtype, np.number):
            raise self._fail(f"{where}/gaps: dtype {ds.dtype}, expected float64")
        gaps = np.asarray(self._read_whole(ds, f"{where}/gaps"), dtype=np.float64)
        bad = ~np.all(np.isfinite(gaps), axis=1) | (gaps[:, 1] < gaps[:, 0])
        if bad.any():
            k = int(np.argmax(bad))
            raise self._fail(
                f"{where}/gaps: row {k} is [{gaps[k, 0]}, {gaps[k, 1]}], expected finite "
                "[t_start, t_end] with t_end >= t_start"
            )

    def _validate_markers(self) -> None:
        if MARKERS_GROUP not in self._file:
            return
        g = self._file[MARKERS_GROUP]
        for name in ("t", "label", "kind"):
            if name in g and (not isinstance(g[name], h5py.Dataset) or g[name].ndim != 1):
                raise self._fail(f"/markers/{name}: expected a one-dimensional dataset")
        for name in ("t", "label"):
            if name not in g:
                raise self._fail(f"/markers/{name}: dataset is missing")
        if not np.issubdtype(g["t"].dtype, np.number):
            raise self._fail(f"/markers/t: dtype {g['t'].dtype}, expected float64")
        for name in ("label", "kind"):
            if name in g and g[name].dtype.kind not in "OSU":
                raise self._fail(f"/markers/{name}: dtype {g[name].dtype}, expected text")
        t = np.asarray(self._read_whole(g["t"], "/markers/t"), dtype=np.float64)
        for name in ("label", "kind"):
            if name in g:
                self._read_whole(g[name], f"/markers/{name}")
        n_bad = int(np.sum(~np.isfinite(t)))
        if n_bad:
            log.warning(
                "%s: /markers: %d of %d markers have no valid time (NaN or infinite) and are "
                "left out",
                self.path,
                n_bad,
                t.size,
            )

    def _validate_streams(self) -> None:
        if STREAMS_GROUP not in self._file:
            return
        for sid, g in self._file[STREAMS_GROUP].items():
            where = f"/streams/{sid}"
            if not isinstance(g, h5py.Group):
                raise self._fail(f"{where}: expected a group")
            for name in ("device_model", "placement"):
                self._text_attr(g, name, where)
            for name, ds in g.items():
                if not isinstance(ds, h5py.Dataset):
                    raise self._fail(f"{where}/{name}: expected a dataset")
                if ds.ndim != 1 or not np.issubdtype(ds.dtype, np.number):
                    raise self._fail(
                        f"{where}/{name}: shape {ds.shape} dtype {ds.dtype}, expected (N,) numbers"
                    )

    def _check_time_axis(
        self, where: str, t: h5py.Dataset, n: int
    ) -> tuple[int, float, float, list[_TimeHole]]:
        """Strictly increasing, finite ``t``; drop an unwritten (NaN) tail. Reads in chunks.

        A damaged (unreadable) HDF5 chunk of ``t`` does not stop the reading: its samples are
        skipped (the check goes on across them) and returned as holes.
        """
        prev = -math.inf
        first = math.nan
        valid = n
        damaged: list[DamagedRange] = []
        for start in range(0, n, _T_CHUNK):
            stop = min(n, start + _T_CHUNK)
            chunk, dmg = self._read_t_parts(where, t, start, stop)
            for r in dmg:
                if damaged and damaged[-1].stop == r.start:  # across two reads: one part
                    damaged[-1] = DamagedRange(r.dataset, damaged[-1].start, r.stop, r.reason)
                else:
                    damaged.append(r)
            readable = np.ones(chunk.size, dtype=bool)
            for r in dmg:
                readable[r.start - start : r.stop - start] = False
            idx = np.flatnonzero(readable)
            vals = chunk[idx]
            bad = ~np.isfinite(vals)
            if bad.any():
                k = int(np.argmax(bad))
                rest_nan = np.all(np.isnan(vals[k:])) and all(
                    np.all(np.isnan(self._read_t(where, t, s, min(n, s + _T_CHUNK))))
                    for s in range(stop, n, _T_CHUNK)
                )
                if not rest_nan:
                    raise self._fail(
                        f"{where}/t: NaN or infinite time at sample {start + int(idx[k])}"
                    )
                valid = start + int(idx[k])
                log.warning(
                    "%s: %s: %d samples at the end were never written (the recorder was "
                    "stopped during a flush); reading the %d before them",
                    self.path,
                    where,
                    n - valid,
                    valid,
                )
                idx, vals = idx[:k], vals[:k]
            if vals.size:
                d = np.diff(np.concatenate(([prev], vals)))
                if not np.all(d > 0):
                    k = int(np.argmax(~(d > 0)))
                    raise self._fail(
                        f"{where}/t: not strictly increasing at sample {start + int(idx[k])} "
                        f"(t={vals[k]:.6f} s after {prev if k == 0 else vals[k - 1]:.6f} s)"
                    )
                if math.isnan(first):
                    first = float(vals[0])
                prev = float(vals[-1])
            if valid < n:
                break
        holes = []
        for r in damaged:
            a, b = r.start, min(r.stop, valid)
            if a >= b:
                continue
            with self._guard(f"{where}/t"):
                before = float(t[a - 1]) if a > 0 else -math.inf
                after = float(t[b]) if b < valid else math.inf
            holes.append(_TimeHole(a, b, before, after))
            if math.isinf(before):
                span = f"the sensor's data start at t {after:.3f} s"
            elif math.isinf(after):
                span = f"the sensor's data end at t {before:.3f} s"
            else:
                span = f"analysed as a gap from t {before:.3f} to {after:.3f} s"
            log.warning(
                "%s: %s; those samples of every dataset of the sensor are left out (%s)",
                self.path,
                DamagedRange(r.dataset, a, b, r.reason),
                span,
            )
        return valid, first, prev, holes

    def _read_t(self, where: str, t: h5py.Dataset, start: int, stop: int) -> np.ndarray:
        """``t[start:stop]``; a damaged part is named down to its HDF5 chunk."""
        try:
            return np.asarray(t[start:stop], dtype=np.float64)
        except _H5_ERRORS:
            pass
        for rng in damaged_ranges(t, f"{where}/t", start, stop):
            raise self._fail(
                f"{rng}; the time axis is needed to read the file "
                "(`runform info --check` lists every damaged part)"
            )
        with self._guard(f"{where}/t", start, stop):
            return np.asarray(t[start:stop], dtype=np.float64)

    def _read_t_parts(
        self, where: str, t: h5py.Dataset, start: int, stop: int
    ) -> tuple[np.ndarray, list[DamagedRange]]:
        """``t[start:stop]`` with NaN where HDF5 cannot read it, and those damaged parts."""
        try:
            return np.asarray(t[start:stop], dtype=np.float64), []
        except _H5_ERRORS:
            pass
        bad = list(damaged_ranges(t, f"{where}/t", start, stop))
        if not bad:  # the whole read failed but no chunk alone does
            with self._guard(f"{where}/t", start, stop):
                return np.asarray(t[start:stop], dtype=np.float64), []
        out = np.full(stop - start, np.nan)
        bounds = [start, *[x for r in bad for x in (r.start, r.stop)], stop]
        for a, b in zip(bounds[::2], bounds[1::2], strict=True):
            if b > a:
                with self._guard(f"{where}/t", a, b):
                    out[a - start : b - start] = t[a:b]
        return out, bad

    def _sensor_datasets(self, sensor_id: str) -> dict[str, h5py.Dataset]:
        """``t``, ``acc``, ``gyr`` and (if present) ``seq`` of a validated sensor."""
        got = self._datasets.get(sensor_id)
        if got is None:
            g = self._file[SENSORS_GROUP][sensor_id]
            got = {name: g[name] for name in ("t", "acc", "gyr", "seq") if name in g}
            self._datasets[sensor_id] = got
        return got

    def _t_filled(
        self, sensor_id: str, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``t[start:stop]`` of a sensor around its damaged parts (:attr:`_t_holes`).

        Returns ``(t_lo, t_hi, readable)``: a sample in a damaged part has the last readable
        time before the part in ``t_lo`` (-inf at the start: ``t_lo`` stays sorted, so a
        search never lands inside a part) and the first readable time after it in ``t_hi``
        (+inf at the end); ``readable`` is False there.
        """
        ds = self._sensor_datasets(sensor_id)["t"]
        holes = [h for h in self._t_holes.get(sensor_id, ()) if h.start < stop and h.stop > start]
        readable = np.ones(max(0, stop - start), dtype=bool)
        if not holes:
            with self._guard(f"/sensors/{sensor_id}/t", start, stop):
                t = np.asarray(ds[start:stop], dtype=np.float64)
            return t, t, readable
        t_lo = np.empty(readable.size)
        t_hi = np.empty(readable.size)
        pos = start
        for h in [*holes, None]:
            a = stop if h is None else max(start, h.start)
            if a > pos:
                with self._guard(f"/sensors/{sensor_id}/t", pos, a):
                    t_lo[pos - start : a - start] = ds[pos:a]
                t_hi[pos - start : a - start] = t_lo[pos - start : a - start]
            if h is None:
                break
            b = min(stop, h.stop)
            t_lo[a - start : b - start] = h.t_before
            t_hi[a - start : b - start] = h.t_after
            readable[a - start : b - start] = False
            pos = b
        return t_lo, t_hi, readable

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
        where = f"/sensors/{sensor_id}/gaps"
        return np.asarray(self._read_whole(g["gaps"], where), dtype=np.float64).reshape(-1, 2)

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
            stop = min(n, start + _T_CHUNK)
            with self._guard(f"/sensors/{sensor_id}/seq", start, stop):
                seq = np.asarray(g["seq"][start:stop], dtype=np.int64)
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
        t = np.asarray(self._read_whole(g["t"], "/markers/t"), dtype=np.float64)
        labels = [_attr_str(x) for x in self._read_whole(g["label"], "/markers/label")]
        kinds = (
            [_attr_str(x) for x in self._read_whole(g["kind"], "/markers/kind")]
            if "kind" in g
            else ["user"] * len(labels)
        )
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
            where = f"/streams/{sid}"
            cols = {k: self._read_whole(ds, f"{where}/{k}") for k, ds in g.items()}
            n = min(c.shape[0] for c in cols.values())
            if any(c.shape[0] != n for c in cols.values()):
                log.warning(
                    "%s: %s: datasets have different lengths %s (not closed cleanly?); "
                    "reading the first %d samples",
                    self.path,
                    where,
                    sorted({c.shape[0] for c in cols.values()}),
                    n,
                )
            t = np.asarray(cols.pop("t")[:n], dtype=np.float64)
            ok = np.isfinite(t)
            values = {k: np.asarray(c[:n], dtype=np.float64)[ok] for k, c in cols.items()}
            out.append(
                StreamData(
                    stream_id=sid,
                    device_model=self._text_attr(g, "device_model", where),
                    placement=self._text_attr(g, "placement", where),
                    t=t[ok],
                    values=values,
                )
            )
        return out

    # -- samples --------------------------------------------------------------------------
    def _index_of(self, sensor_id: str, t: float, side: str = "left") -> int:
        """Index of the first sample at or after ``t`` (``side='left'``), reading ``t`` in chunks."""
        with self._guard(f"/sensors/{sensor_id}/t"):
            return self._index_of_unguarded(sensor_id, t, side)

    def _index_of_unguarded(self, sensor_id: str, t: float, side: str) -> int:
        ds = self._sensor_datasets(sensor_id)["t"]
        n = self._n[sensor_id]
        lo, hi = 0, n
        filled = bool(self._t_holes.get(sensor_id))
        # binary search down to one HDF5 chunk of t (reading an element decompresses its
        # chunk only), then inside it
        step = min(_T_CHUNK, ds.chunks[0]) if ds.chunks else _T_CHUNK
        while hi - lo > step:
            mid = (lo + hi) // 2
            t_mid = float(self._t_filled(sensor_id, mid, mid + 1)[0][0] if filled else ds[mid])
            if t_mid < t if side == "left" else t_mid <= t:
                lo = mid
            else:
                hi = mid
        chunk = self._t_filled(sensor_id, lo, hi)[0]
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
            seg = self._t_filled(sensor_id, a, b)[0]
            if (a == lo or seg[0] < t) and (b == n or seg[-1] >= t):
                return a + int(np.searchsorted(seg, t, side="left"))
        return self._index_of(sensor_id, t)

    def read_range(self, sensor_id: str, start: int, stop: int) -> SampleBlock:
        """Samples ``start:stop`` of one sensor, validated (no NaN/inf values).

        Samples in a damaged HDF5 chunk of ``acc``, ``gyr`` or ``seq`` are left out and the
        block's ``gaps`` cover them (a warning names the dataset and the samples). Samples in a
        damaged chunk of ``t`` (found, and warned about, when the file is opened) are left out
        of every dataset, with a gap from the last readable time before them to the first after.
        """
        self.sensor(sensor_id)
        n = self._n[sensor_id]
        start, stop = max(0, start), min(n, stop)
        stop = max(start, stop)
        g = self._sensor_datasets(sensor_id)
        where = f"/sensors/{sensor_id}"
        t, t_after, keep = self._t_filled(sensor_id, start, stop)
        t_readable = keep.copy()  # outside the damaged parts of t (keep loses acc/gyr/seq's)
        cols: dict[str, np.ndarray] = {}
        for name in ("acc", "gyr", "seq"):
            if name not in g:  # (seq is optional)
                continue
            ds = g[name]
            try:
                cols[name] = np.asarray(ds[start:stop])
                continue
            except _H5_ERRORS:
                pass
            width = ds.shape[1:]
            arr = np.zeros((stop - start, *width), dtype=ds.dtype)
            bad_ranges = list(damaged_ranges(ds, f"{where}/{name}", start, stop))
            for rng in bad_ranges:
                part = slice(rng.start - start, rng.stop - start)
                keep[part] = False
                known = t[part][t_readable[part]]
                log.warning(
                    "%s: %s; %s",
                    self.path,
                    rng,
                    f"those samples (t {known[0]:.3f} to {known[-1]:.3f} s) are analysed as a gap"
                    if known.size
                    else f"they are all in the damaged part of {where}/t (left out)",
                )
            bounds = [start, *[x for r in bad_ranges for x in (r.start, r.stop)], stop]
            for a, b in zip(bounds[::2], bounds[1::2], strict=True):
                if b > a:
                    with self._guard(f"{where}/{name}", a, b):
                        arr[a - start : b - start] = ds[a:b]
            cols[name] = arr
        acc = np.asarray(cols["acc"], dtype=np.float64)
        gyr = np.asarray(cols["gyr"], dtype=np.float64)
        for name, arr in (("acc", acc), ("gyr", gyr)):
            finite = np.isfinite(arr)
            if finite.all():
                continue
            bad = ~finite & keep[:, None]
            if bad.any():
                k = int(np.argmax(bad.any(axis=1)))
                raise self._fail(
                    f"/sensors/{sensor_id}/{name}: NaN or infinite value at sample {start + k} "
                    f"(t={t[k]:.3f} s)"
                )
        seq = np.asarray(cols["seq"], dtype=np.uint32) if "seq" in cols else None
        damage = np.empty((0, 2))
        if not keep.all():
            damage = _gaps_of(t, keep, t_after)
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
            seq = seq[keep] if seq is not None else None
        return SampleBlock(sensor_id=sensor_id, t=t, acc=acc, gyr=gyr, seq=seq, gaps=damage)

    def check_readable(self) -> list[DamagedRange]:
        """Read every chunk of every dataset; the parts HDF5 cannot read (empty if none)."""
        out: list[DamagedRange] = []

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and obj.shape:
                out.extend(damaged_ranges(obj, "/" + name))
            elif isinstance(obj, h5py.Dataset):
                try:
                    obj[()]
                except _H5_ERRORS as exc:
                    out.append(DamagedRange("/" + name, 0, 1, _h5_reason(exc)))

        with self._guard("/"):
            self._file.visititems(visit)
        return out

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
        sel = _merge_gaps(sel, block.gaps)
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
                gsel = _merge_gaps(gsel, b.gaps)
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


def _gaps_of(t: np.ndarray, keep: np.ndarray, t_after: np.ndarray | None = None) -> np.ndarray:
    """``[t_start, t_end]`` of each run of left-out samples: from the last kept sample before the
    run (or the run's first sample) to the first kept sample after it (or its last).

    ``t_after``: times to end a run with, where they differ from ``t`` (a damaged part of the
    time axis: ``t`` holds the last readable time before it, ``t_after`` the first after it).
    """
    t_end = t if t_after is None else t_after
    out = []
    n = keep.size
    i = 0
    while i < n:
        if keep[i]:
            i += 1
            continue
        j = i
        while j < n and not keep[j]:
            j += 1
        a, b = float(t[i - 1] if i > 0 else t[i]), float(t_end[j] if j < n else t_end[j - 1])
        # a damaged start or end of the time axis (-inf, +inf): nothing to bridge, the
        # sensor's data just start later or end earlier
        if math.isfinite(a) and math.isfinite(b):
            out.append((a, b))
        i = j
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _merge_gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(b):
        return a
    if not len(a):
        return b
    m = np.concatenate([a, b])
    return m[np.argsort(m[:, 0], kind="stable")]


#: Most memory (bytes) HDF5 may keep for the file's metadata (chunk index nodes) while reading.
METADATA_CACHE_BYTES = 256 << 10


#: HDF5's cache of decompressed chunks per open dataset, bytes (h5py's default is 8 MB). The
#: reader keeps each sensor's datasets open (:meth:`Recording._sensor_datasets`) and reads
#: them in time order, so a few chunks (48 kB each) are enough: the one a window boundary cuts
#: is decompressed once, and memory does not grow by up to 8 MB per dataset during a pass.
CHUNK_CACHE_BYTES = 256 << 10


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


def open_recording(
    path: str | os.PathLike[str], *, validated: ValidatedLayout | None = None
) -> Recording:
    """Open and validate a recording (format v1).

    ``validated``: what an earlier :func:`open_recording` of the same file found
    (:meth:`Recording.validated`); when the file is unchanged since (same device, inode, size
    and modification time) its validation is not repeated (reading every time axis: about
    0.1 s per hour of three 400 Hz sensors, once per process of a parallel analysis).

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
        empty = not is_h5 and os.path.getsize(p) == 0
    except OSError as exc:
        # the system's reason ("Permission denied"), not HDF5's paragraph around it
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise RecordingError(f"{p}: cannot read the file ({why})") from None
    if empty:  # "not an HDF5 file" would send the user looking for another format
        raise RecordingError(
            f"{p}: the file is empty (0 bytes; expected a runform recording .h5: an "
            "interrupted copy or download?)"
        )
    if not is_h5:
        raise RecordingError(f"{p}: not an HDF5 file (expected a runform recording .h5)")
    try:
        f = h5py.File(p, "r", rdcc_nbytes=CHUNK_CACHE_BYTES)
    except OSError as exc:
        cut = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if cut:  # the end of the file is missing: say so in words
            raise RecordingError(
                f"{p}: the file is cut short ({int(cut[1])} of {int(cut[2])} bytes; an "
                "interrupted copy or download?)"
            ) from None
        if "unable to lock file" in str(exc):  # HDF5's lock: a writer has the file open
            raise RecordingError(
                f"{p}: the file is open for writing by another program (a recording still "
                "running?); open it once that has ended"
            ) from None
        raise RecordingError(f"{p}: HDF5 cannot open the file ({exc})") from None
    try:
        _small_metadata_cache(f)
        check_file_layout(f, p)
        return Recording(p, f, validated)
    except RecordingError:
        f.close()
        raise
    except _H5_ERRORS as exc:
        f.close()
        raise RecordingError(f"{p}: damaged or unexpected layout ({_h5_reason(exc)})") from None
