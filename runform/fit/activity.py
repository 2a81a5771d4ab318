"""An analysed recording as a FIT activity file (what watches write, what Garmin Connect,
Strava, GoldenCheetah, Runalyze and intervals.icu import).

Layout (FIT "activity" file): file_id, file_creator, device_info (runform, then one per
sensor), developer_data_id and field_description (runform's developer fields), a timer start
event, one record per second, laps, a timer stop event, session, activity. The mapping of
runform's metrics to FIT fields is in ``docs/fit.md``.

Laps start at the recording's user and note markers (alerts are not laps) and, when the
analysis provides activity bouts (``bouts`` in SUMMARY.json), where the activity changes.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from runform.errors import UsageError
from runform.fit import profile as P
from runform.fit.encoder import DevField, FitEncoder
from runform.fit.timeline import Timeline, distance_curve, per_second

if TYPE_CHECKING:
    from runform.analysis_run import AnalysisResult
    from runform.fit.watch import WatchTrack

__all__ = [
    "APPLICATION_ID",
    "DEV_FIELDS",
    "FitActivity",
    "Lap",
    "activity_fit",
    "lap_bounds",
    "parse_utc",
    "recording_start_unix",
]

log = logging.getLogger(__name__)

#: Wall-clock times a FIT ``date_time`` holds, Unix s: 32-bit seconds since 1989-12-31, and
#: values below 0x10000000 mean seconds since the device started, not a date (FIT SDK).
FIT_DATES_UNIX_S = (P.FIT_EPOCH_UNIX_S + 0x10000000, P.FIT_EPOCH_UNIX_S + 0xFFFFFFFE)

#: runform's developer application ID (a fixed UUID, the same in every file runform writes).
APPLICATION_ID = bytes.fromhex("6b0e3c1a9f2d4e57b8a1c0d3e5f70921")

#: runform's developer fields: (number, name, base type, units, string size).
DEV_FIELDS: tuple[DevField, ...] = (
    DevField(0, 0, "foot_strike_angle", "float32", "deg"),
    DevField(0, 1, "strike_type", "string", "", size=9),
    DevField(0, 2, "pronation_excursion", "float32", "deg"),
    DevField(0, 3, "max_pronation_velocity", "float32", "deg/s"),
    DevField(0, 4, "pelvic_drop_left", "float32", "deg"),
    DevField(0, 5, "pelvic_drop_right", "float32", "deg"),
)
_DEV_SOURCE = {
    "foot_strike_angle": "foot_strike_angle_deg",
    "pronation_excursion": "pronation_excursion_deg",
    "max_pronation_velocity": "max_pronation_velocity_dps",
    "pelvic_drop_left": "pelvic_drop_left_deg",
    "pelvic_drop_right": "pelvic_drop_right_deg",
}
_SPORT_OF_ACTIVITY = {"run": P.SPORT_RUNNING, "walk": P.SPORT_WALKING}


def parse_utc(text: str) -> float:
    """An ISO 8601 UTC time (``2026-11-24T21:50:31Z``, fractions allowed) as Unix seconds."""
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def recording_start_unix(attrs: dict, override: str | None, where: str) -> float:
    """Wall-clock time (Unix s) of a recording's ``t = 0``.

    In order: ``override`` (``--start``); the root attribute ``start_utc`` when a writer sets
    it (ISO 8601, fractions allowed: the wall clock of ``t = 0``, e.g. the arm time of a
    recording downloaded from on-sensor logs); else ``created_utc`` (format v1: set when the
    recorder opened the file, to the second, which is ``t = 0`` of a live recording).

    Raises
    ------
    UsageError
        None is there, or the text is not an ISO 8601 time (one line).
    """
    if override is not None:
        label, text = "--start", override
    elif attrs.get("start_utc"):
        label, text = f"{where}: attribute start_utc", attrs["start_utc"]
    else:
        label, text = f"{where}: attribute created_utc", attrs.get("created_utc", "")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text and override is None:
        raise UsageError(
            f"{where}: no created_utc attribute: give the start time with --start "
            "(e.g. 2026-11-24T21:50:31Z)"
        )
    try:
        return parse_utc(str(text))
    except ValueError:
        raise UsageError(
            f"{label} {text!r}: expected an ISO 8601 UTC time like 2026-11-24T21:50:31Z"
        ) from None


@dataclass
class Lap:
    """One lap: its time span (s, recording time base), how it started, its sport."""

    t0: float
    t1: float
    trigger: int
    sport: int
    label: str = ""
    #: the activity bout it lies in (SUMMARY ``bouts``: ``stand``, ``walk``, ...), ``None``
    #: without bouts
    activity: str | None = None


@dataclass
class FitActivity:
    """What :func:`activity_fit` wrote."""

    data: bytes
    start_unix_s: float
    timeline: Timeline
    laps: list[Lap] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.timeline.t)


def lap_bounds(
    t0: float,
    t1: float,
    markers: list[tuple[float, str, str]],
    bouts: list[dict[str, Any]] | None,
    *,
    min_lap_s: float = 1.0,
) -> list[Lap]:
    """Laps covering ``[t0, t1]``: split at user/note markers and at activity changes.

    A boundary closer than ``min_lap_s`` to another (or to either end) is dropped.
    """
    cuts: list[tuple[float, int, str]] = []
    for t, label, kind in markers:
        if kind in ("user", "note") and t0 < t < t1:
            cuts.append((float(t), P.LAP_TRIGGER_MANUAL, str(label)))
    bouts = [b for b in (bouts or []) if "t0" in b and "t1" in b]
    for prev, b in itertools.pairwise(bouts):
        if b.get("activity") != prev.get("activity") and t0 < float(b["t0"]) < t1:
            cuts.append((float(b["t0"]), P.LAP_TRIGGER_MANUAL, str(b.get("activity", ""))))
    cuts.sort()
    kept: list[tuple[float, int, str]] = []
    for c in cuts:
        if c[0] - t0 < min_lap_s or t1 - c[0] < min_lap_s:
            continue
        if kept and c[0] - kept[-1][0] < min_lap_s:
            continue
        kept.append(c)
    starts = [t0, *(c[0] for c in kept)]
    ends = [*(c[0] for c in kept), t1]
    labels = ["", *(c[2] for c in kept)]
    laps = []
    for i, (a, e) in enumerate(zip(starts, ends, strict=True)):
        sport = P.SPORT_RUNNING
        act = None
        if bouts:
            mid = 0.5 * (a + e)
            act = next(
                (b.get("activity") for b in bouts if float(b["t0"]) <= mid < float(b["t1"])), None
            )
            sport = _SPORT_OF_ACTIVITY.get(str(act), P.SPORT_GENERIC) if act else P.SPORT_RUNNING
        trigger = P.LAP_TRIGGER_SESSION_END if i == len(starts) - 1 else P.LAP_TRIGGER_MANUAL
        laps.append(Lap(a, e, trigger, sport, labels[i], None if act is None else str(act)))
    return laps


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else math.nan


def _nanmax(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.max(x)) if x.size else math.nan


def _cadence_fields(spm: float) -> tuple[int | None, float | None]:
    """FIT running cadence: strides (of one foot) per minute, whole part + 1/128 fraction."""
    if not math.isfinite(spm):
        return None, None
    rpm = spm / 2.0
    whole = math.floor(rpm)
    return whole, rpm - whole


def _record_values(
    cols: dict[str, list[float]], i: int, t: float, ts: int, watch: WatchTrack | None
) -> dict[str, Any]:
    v = {k: c[i] for k, c in cols.items()}
    cad, frac = _cadence_fields(v["cadence_spm"])
    rec: dict[str, Any] = {
        "timestamp": ts,
        "distance": v["distance_m"],
        "speed": v["speed_mps"],
        "enhanced_speed": v["speed_mps"],
        "cadence": cad,
        "fractional_cadence": frac,
        "step_length": 500.0 * v["stride_length_m"],  # one step = half a stride, mm
        "stance_time": 1000.0 * v["contact_time_s"],
        "stance_time_balance": v["contact_time_left_pct"],
        "vertical_oscillation": 10.0 * v["vertical_oscillation_cm"],
        "vertical_ratio": v["vertical_ratio_pct"],
    }
    if watch is not None:
        w = watch.at(t)
        hr = w["heart_rate_bpm"]
        rec["position_lat"] = _semicircles(w["lat_deg"])
        rec["position_long"] = _semicircles(w["lon_deg"])
        rec["enhanced_altitude"] = w["altitude_m"]
        rec["heart_rate"] = round(hr) if math.isfinite(hr) else None
    return rec


def _semicircles(deg: float) -> int | None:
    return None if not math.isfinite(deg) else round(deg * P.SEMICIRCLES_PER_DEG)


def _dev_values(
    tl: Timeline, sel: np.ndarray | int, fields: dict[str, DevField]
) -> dict[DevField, Any]:
    out: dict[DevField, Any] = {}
    for name, f in fields.items():
        if name == "strike_type":
            kinds = np.atleast_1d(tl.strike_type[sel])
            kinds = kinds[kinds != ""]
            if kinds.size:
                vals, counts = np.unique(kinds, return_counts=True)
                out[f] = str(vals[int(np.argmax(counts))])
            else:
                out[f] = None
        else:
            out[f] = _nanmean(np.atleast_1d(tl.values[_DEV_SOURCE[name]][sel]))
    return out


def _summary_values(
    tl: Timeline, sel: np.ndarray, watch: WatchTrack | None, *, gait: bool = True
) -> dict[str, Any]:
    """The ``avg_*``/``max_*`` of the records ``sel``; ``gait=False`` (a standing lap): none of
    the gait's (the records near its edges average the neighbouring walk's contacts)."""
    v = {k: a[sel if gait else np.zeros_like(sel)] for k, a in tl.values.items()}
    cad, frac = _cadence_fields(_nanmean(v["cadence_spm"]))
    out = {
        "avg_cadence": cad,
        "avg_fractional_cadence": frac,
        "max_speed": _nanmax(v["speed_mps"]),
        "enhanced_max_speed": _nanmax(v["speed_mps"]),
        "avg_step_length": 500.0 * _nanmean(v["stride_length_m"]),
        "avg_stance_time": 1000.0 * _nanmean(v["contact_time_s"]),
        "avg_stance_time_balance": _nanmean(v["contact_time_left_pct"]),
        "avg_vertical_oscillation": 10.0 * _nanmean(v["vertical_oscillation_cm"]),
        "avg_vertical_ratio": _nanmean(v["vertical_ratio_pct"]),
    }
    if watch is not None:
        hr = np.array([watch.at(float(t))["heart_rate_bpm"] for t in tl.t[sel]])
        m = _nanmean(hr)
        out["avg_heart_rate"] = None if not math.isfinite(m) else round(m)
    return out


def _serial(result: AnalysisResult) -> int:
    h = hashlib.sha256(f"{result.attrs.get('created_utc', '')}|{result.recording}".encode())
    return int.from_bytes(h.digest()[:4], "little") or 1


def activity_fit(
    result: AnalysisResult,
    *,
    start_unix_s: float,
    window_s: float = 3.0,
    watch: WatchTrack | None = None,
    software_version: str = "",
) -> FitActivity:
    """The FIT activity of one analysed recording.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`runform.analysis_run.analyse_recording` (rows kept).
    start_unix_s : float
        Wall-clock time of the recording's ``t = 0``, Unix s (FIT times are whole seconds:
        records fall on whole seconds of UTC).
    window_s : float
        Averaging window of the per-second records (:func:`runform.fit.timeline.per_second`).
    watch : WatchTrack, optional
        A watch's track aligned to the recording (:mod:`runform.fit.watch`): its position,
        altitude and heart rate are added to the records.
    software_version : str
        runform's version (``"0.1.0"``), written to file_creator.
    """
    strides = result.strides
    placements = {s.sensor_id: s.placement for s in result.sensors}
    t_lo = result.t_start
    t_hi = result.t_start + result.duration_s
    # records on whole UTC seconds inside the recording
    u0 = math.ceil(start_unix_s + t_lo)
    u1 = math.floor(start_unix_s + t_hi)
    if u1 < u0:
        u1 = u0
    lo, hi = FIT_DATES_UNIX_S
    if not (lo <= u0 and u1 <= hi):  # else the times are written as "invalid"

        def iso(u: float) -> str:
            try:
                return datetime.fromtimestamp(u, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            except (OverflowError, ValueError, OSError):
                return f"{u:g} s after 1970"

        raise UsageError(
            f"start time {iso(u0)}: a FIT file holds dates from {iso(lo)[:10]} to "
            f"{iso(hi)[:10]} (give the run's real start with --start)"
        )
    unix = np.arange(u0, u1 + 1, dtype=np.int64)
    t = unix - start_unix_s
    tl = per_second(strides, placements, t, window_s=window_s)
    # laps and session cover the analysed span, not only the whole seconds of the records in
    # it (which lost up to 2 s of the session's elapsed time)
    laps = lap_bounds(t_lo, t_hi, result.markers, result.summary.get("bouts"))

    def fit_ts(tt: float) -> int:
        return round(start_unix_s + tt) - P.FIT_EPOCH_UNIX_S

    enc = FitEncoder()
    ts0, ts_end = fit_ts(t_lo), max(fit_ts(t_hi), fit_ts(float(t[-1])))
    enc.write(
        "file_id",
        {
            "type": P.FILE_ACTIVITY,
            "manufacturer": P.MANUFACTURER_DEVELOPMENT,
            "product": 0,
            "serial_number": _serial(result),
            "time_created": ts0,
            "product_name": "runform",
        },
    )
    ver = _version_number(software_version)
    enc.write("file_creator", {"software_version": ver})
    enc.write(
        "device_info",
        {
            "timestamp": ts0,
            "device_index": 0,  # the creator
            "manufacturer": P.MANUFACTURER_DEVELOPMENT,
            "product": 0,
            "software_version": ver / 100.0 if ver is not None else None,
            "source_type": P.SOURCE_LOCAL,
            "product_name": "runform",
        },
    )
    for i, s in enumerate(result.sensors, start=1):
        enc.write(
            "device_info",
            {
                "timestamp": ts0,
                "device_index": i,
                "manufacturer": P.MANUFACTURER_DEVELOPMENT,
                "source_type": P.SOURCE_BLE,
                "product_name": f"{s.device_model} {s.placement}"[:31],
            },
        )
    dev = enc.add_developer(APPLICATION_ID, application_version=ver or 1)
    fields = {}
    for f in DEV_FIELDS:
        if not _has_values(tl, f.name):
            continue  # (the foot fields of a pelvis-only recording): no field, as on a watch
        fields[f.name] = enc.add_dev_field(
            DevField(dev, f.number, f.name, f.base, f.units, f.native_mesg, f.size)
        )
    enc.write(
        "event",
        {
            "timestamp": ts0,
            "event": P.EVENT_TIMER,
            "event_type": P.EVENT_TYPE_START,
            "event_group": 0,
        },
    )
    cols = {k: a.tolist() for k, a in tl.values.items()}
    kinds = tl.strike_type.tolist()
    dev_cols = [(fields[name], cols[src]) for name, src in _DEV_SOURCE.items() if name in fields]
    for i, ti in enumerate(t.tolist()):
        dev_vals: dict[DevField, Any] = {f: c[i] for f, c in dev_cols}
        if "strike_type" in fields:
            dev_vals[fields["strike_type"]] = kinds[i] or None
        enc.write("record", _record_values(cols, i, ti, fit_ts(ti), watch), dev_vals)
    enc.write(
        "event",
        {
            "timestamp": ts_end,
            "event": P.EVENT_TIMER,
            "event_type": P.EVENT_TYPE_STOP_ALL,
            "event_group": 0,
        },
    )

    foot_ids = sorted({s for s, p in placements.items() if p in ("left_foot", "right_foot")})

    def span(a: float, b: float, last: bool) -> np.ndarray:
        return (t >= a) & ((t <= b) if last else (t < b))

    def dist_over(a: float, b: float) -> float:  # as the records' distance (NaN: no foot)
        da, db = distance_curve(strides, foot_ids, np.array([a, b], dtype=np.float64))
        return float(db - da)

    n_feet_strides = _strides_in(strides, placements)
    for k, lap in enumerate(laps):
        sel = span(lap.t0, lap.t1, k == len(laps) - 1)
        elapsed = lap.t1 - lap.t0
        d = dist_over(lap.t0, lap.t1)
        vals: dict[str, Any] = {
            "message_index": k,
            "timestamp": fit_ts(lap.t1),
            "event": P.EVENT_LAP,
            "event_type": P.EVENT_TYPE_STOP,
            "start_time": fit_ts(lap.t0),
            "total_elapsed_time": elapsed,
            "total_timer_time": elapsed,
            "total_distance": d,
            "total_cycles": n_feet_strides(lap.t0, lap.t1),
            "avg_speed": d / elapsed if elapsed > 0 else None,
            "enhanced_avg_speed": d / elapsed if elapsed > 0 else None,
            "lap_trigger": lap.trigger,
            "sport": lap.sport,
            "sub_sport": P.SUB_SPORT_GENERIC,
        }
        # standing has no cadence, contact time, ...: only what the window of its edge records
        # took from the neighbouring walk or run
        gait = lap.activity != "stand"
        vals.update(_summary_values(tl, sel, watch, gait=gait))
        enc.write("lap", vals, _dev_values(tl, sel if gait else np.zeros_like(sel), fields))
    elapsed = t_hi - t_lo
    d = dist_over(t_lo, t_hi)
    sport = _session_sport(laps) if result.summary.get("bouts") else P.SPORT_RUNNING
    sess: dict[str, Any] = {
        "message_index": 0,
        "timestamp": ts_end,
        "event": P.EVENT_SESSION,
        "event_type": P.EVENT_TYPE_STOP,
        "start_time": ts0,
        "sport": sport,
        "sub_sport": P.SUB_SPORT_GENERIC,
        "total_elapsed_time": elapsed,
        "total_timer_time": elapsed,
        "total_distance": d,
        "total_cycles": n_feet_strides(t_lo, t_hi + 1e-9),
        "avg_speed": d / elapsed if elapsed > 0 else None,
        "enhanced_avg_speed": d / elapsed if elapsed > 0 else None,
        "first_lap_index": 0,
        "num_laps": len(laps),
        "trigger": P.SESSION_TRIGGER_ACTIVITY_END,
    }
    sess.update(_summary_values(tl, np.ones(len(t), bool), watch))
    enc.write("session", sess, _dev_values(tl, np.ones(len(t), bool), fields))
    local_offset = datetime.fromtimestamp(start_unix_s).astimezone().utcoffset()
    lo_s = int(local_offset.total_seconds()) if local_offset is not None else 0
    enc.write(
        "activity",
        {
            "timestamp": ts_end,
            "total_timer_time": elapsed,
            "num_sessions": 1,
            "type": P.ACTIVITY_MANUAL,
            "event": P.EVENT_ACTIVITY,
            "event_type": P.EVENT_TYPE_STOP,
            "local_timestamp": ts_end + lo_s,
        },
    )
    return FitActivity(data=enc.getvalue(), start_unix_s=start_unix_s, timeline=tl, laps=laps)


def _session_sport(laps: list[Lap]) -> int:
    """Running when any lap is (a run with walking breaks is a run), else walking when any lap
    is (a walk that began standing is a walk), else the laps' one sport."""
    sports = {lap.sport for lap in laps}
    for sport in (P.SPORT_RUNNING, P.SPORT_WALKING):
        if sport in sports:
            return sport
    return sports.pop() if len(sports) == 1 else P.SPORT_RUNNING


def _has_values(tl: Timeline, name: str) -> bool:
    """Whether developer field ``name`` has a value in any record of ``tl``."""
    if name == "strike_type":
        return bool((tl.strike_type != "").any())
    return bool(np.isfinite(tl.values[_DEV_SOURCE[name]]).any())


def _strides_in(strides: Any, placements: dict[str, str]):
    """A function (t0, t1) -> strides (of one foot) begun in [t0, t1): FIT's running cycles."""
    feet = [s for s, p in placements.items() if p in ("left_foot", "right_foot")]
    if not feet:
        return lambda a, b: None
    t_ic = {
        s: np.sort(strides.loc[strides["sensor_id"] == s, "t_ic"].to_numpy(dtype=float))
        for s in feet
    }

    def count(a: float, b: float) -> int:
        n = [int(np.sum((x >= a) & (x < b))) for x in t_ic.values()]
        return round(float(np.mean(n)))

    return count


def _version_number(text: str) -> int | None:
    """``"0.1.0"`` -> 10 (major * 100 + minor * 10 + patch, FIT's version/100 convention)."""
    try:
        parts = [int(p) for p in text.split(".")[:3]]
    except ValueError:
        return None
    while len(parts) < 3:
        parts.append(0)
    return parts[0] * 100 + parts[1] * 10 + parts[2] if parts else None
