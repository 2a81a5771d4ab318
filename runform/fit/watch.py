"""A watch's FIT activity merged into a recording: read, align, check speed.

- :func:`read_watch_fit` reads the watch's per-second records (GPS position, altitude, heart
  rate, speed, distance, cadence) with ``fitdecode``.
- :func:`align_by_cadence` places them on the recording's time base: first by wall clock (the
  watch's UTC timestamps against the recording's start time), then refined by cross-correlating
  the watch's cadence with runform's per-stride cadence over ``±search_s`` (the lag of highest
  Pearson correlation, on a 0.25 s grid, then 0.01 s around it). A run at a steady cadence has
  nothing to correlate: the wall-clock alignment is kept and the result says so.
- :func:`speed_check` compares runform's speed with the GPS speed (from the positions, or the
  watch's own speed field when the file has no positions) second by second.

Clock offset convention: ``offset_s`` = watch clock - recording clock, so a watch record
stamped ``u`` (Unix s) happened at recording time ``u - offset_s - start_unix_s``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runform.errors import UsageError
from runform.fit.profile import SEMICIRCLES_PER_DEG
from runform.fit.timeline import Timeline, per_second, stride_cadence

if TYPE_CHECKING:
    from runform.analysis_run import AnalysisResult

__all__ = [
    "Alignment",
    "WatchData",
    "WatchMerge",
    "WatchTrack",
    "align_by_cadence",
    "elevation_change",
    "merge_watch",
    "read_watch_fit",
    "speed_check",
    "timeline_table",
]

log = logging.getLogger(__name__)

#: Smallest Pearson correlation of the cadence curves that refines the wall-clock alignment.
MIN_CORRELATION = 0.5
#: Smallest cadence spread (standard deviation, steps/min) worth correlating.
MIN_CADENCE_SD_SPM = 1.0
#: Runner speeds below this are not compared (standing, walking to the start), m/s.
MIN_CHECK_SPEED_MPS = 1.5
#: Fewest records read before the damage for a damaged or cut-short file to be used.
MIN_RECORDS_DAMAGED = 30
#: Watch samples further apart than this are not interpolated across, s.
MAX_GAP_S = 5.0
EARTH_RADIUS_M = 6371008.8

_COLUMNS = (
    "lat_deg",
    "lon_deg",
    "altitude_m",
    "heart_rate_bpm",
    "speed_mps",
    "distance_m",
    "cadence_spm",
)


@dataclass
class WatchData:
    """A watch's records on its own clock: ``unix_s`` (s) and one array per column of
    :data:`_COLUMNS` (NaN where the record had no value); ``note`` says when the file was
    damaged or cut short and only its first records were read."""

    path: str
    unix_s: np.ndarray
    values: dict[str, np.ndarray]
    note: str = ""

    def __len__(self) -> int:
        return len(self.unix_s)


def read_watch_fit(path: str | Path) -> WatchData:
    """The per-second records of a watch's FIT activity.

    Running cadence in FIT is strides per minute (``cadence`` + ``fractional_cadence``); it is
    doubled to steps/min. A file whose cadence is already in steps/min (median above 120) is
    taken as it is.

    A file damaged or cut short (a watch whose battery died: no CRC at the end) after at least
    :data:`MIN_RECORDS_DAMAGED` records gives those records, with a warning and ``note``.

    Raises
    ------
    UsageError
        The file is missing, not a FIT file, damaged before its first records, or has no
        records (one line).
    """
    import fitdecode

    p = Path(path)
    if p.is_dir():
        raise UsageError(f"--watch {p}: is a folder, expected the watch's FIT file")
    if not p.is_file():
        raise UsageError(f"--watch {p}: no such file")
    if p.stat().st_size == 0:  # "no record messages" would suggest another kind of FIT file
        raise UsageError(f"--watch {p}: the file is empty (0 bytes), expected a FIT activity")
    rows: list[tuple[float, ...]] = []
    damaged = ""
    try:
        with fitdecode.FitReader(str(p), check_crc=fitdecode.CrcCheck.RAISE) as fr:
            for fm in fr:
                if not isinstance(fm, fitdecode.FitDataMessage) or fm.name != "record":
                    continue
                ts = _get(fm, "timestamp")
                if ts is None or not hasattr(ts, "timestamp"):
                    continue
                cad = _num(_get(fm, "cadence"))
                frac = _num(_get(fm, "fractional_cadence"))
                if math.isfinite(cad) and math.isfinite(frac):
                    cad += frac
                rows.append(
                    (
                        ts.timestamp(),
                        _num(_get(fm, "position_lat")) / SEMICIRCLES_PER_DEG,
                        _num(_get(fm, "position_long")) / SEMICIRCLES_PER_DEG,
                        _first(fm, "enhanced_altitude", "altitude"),
                        _num(_get(fm, "heart_rate")),
                        _first(fm, "enhanced_speed", "speed"),
                        _num(_get(fm, "distance")),
                        cad,
                    )
                )
    except OSError as exc:
        raise UsageError(f"--watch {p}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # fitdecode on a damaged file: FitError, but also struct.error etc.
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if len(rows) < MIN_RECORDS_DAMAGED:
            raise UsageError(f"--watch {p}: not a readable FIT file ({why})") from None
        # a watch whose battery died mid-run leaves a file cut short (no CRC at the end): its
        # records up to there are still the run
        damaged = f"damaged or cut short after {len(rows)} records ({why}): those are used"
        log.warning("--watch %s: %s", p, damaged)
    if not rows:
        raise UsageError(f"--watch {p}: no record messages (is it an activity file?)")
    arr = np.array(rows, dtype=np.float64)
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    keep = np.concatenate([[True], np.diff(arr[:, 0]) > 0])  # one record per timestamp
    arr = arr[keep]
    values = {c: arr[:, i + 1] for i, c in enumerate(_COLUMNS)}
    cad = values["cadence_spm"]
    finite = cad[np.isfinite(cad) & (cad > 0)]
    if finite.size and np.median(finite) <= 120.0:
        values["cadence_spm"] = 2.0 * cad
    values["cadence_spm"] = np.where(values["cadence_spm"] > 0, values["cadence_spm"], np.nan)
    return WatchData(path=str(p), unix_s=arr[:, 0], values=values, note=damaged)


def _get(fm: Any, name: str) -> Any:
    try:
        return fm.get_value(name, fallback=None)
    except (KeyError, ValueError, TypeError):
        return None


def _num(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return math.nan


def _first(fm: Any, *names: str) -> float:
    for n in names:
        v = _num(_get(fm, n))
        if math.isfinite(v):
            return v
    return math.nan


@dataclass
class Alignment:
    """How the watch was placed on the recording's time base.

    Attributes
    ----------
    offset_s : float
        Watch clock - recording clock, s (0 = the wall clocks agree).
    method : str
        ``"cadence"`` (refined by cross-correlation) or ``"wall_clock"``.
    correlation : float
        Pearson correlation of the cadence curves at ``offset_s`` (NaN when not computed).
    note : str
        Why the wall clock was kept, when it was.
    """

    offset_s: float
    method: str
    correlation: float = math.nan
    note: str = ""


def _runform_cadence(t: np.ndarray, cad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(t) & np.isfinite(cad)
    order = np.argsort(t[ok], kind="stable")
    return t[ok][order], cad[ok][order]


def _corr_at(
    lags: np.ndarray, w_t: np.ndarray, w_c: np.ndarray, r_t: np.ndarray, r_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of the watch cadence with runform's, for each lag (and the count of
    overlapping samples)."""
    out = np.full(lags.shape, np.nan)
    n_out = np.zeros(lags.shape, dtype=int)
    for i, lag in enumerate(lags):
        tt = w_t - lag
        inside = (tt >= r_t[0]) & (tt <= r_t[-1])
        n = int(inside.sum())
        n_out[i] = n
        if n < 10:
            continue
        a = w_c[inside]
        b = np.interp(tt[inside], r_t, r_c)
        sa, sb = a.std(), b.std()
        if sa <= 0 or sb <= 0:
            continue
        out[i] = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    return out, n_out


def align_by_cadence(
    watch_t: np.ndarray,
    watch_cadence_spm: np.ndarray,
    runform_t: np.ndarray,
    runform_cadence_spm: np.ndarray,
    *,
    search_s: float = 30.0,
) -> Alignment:
    """Refine the wall-clock alignment by cross-correlating cadence.

    Parameters
    ----------
    watch_t : ndarray
        Watch record times on the recording's time base by wall clock, s.
    watch_cadence_spm : ndarray
        The watch's cadence, steps/min (NaN = none).
    runform_t, runform_cadence_spm : ndarray
        runform's per-stride cadence at the stride middles (:func:`stride_cadence`), s and
        steps/min; linear in between.
    search_s : float
        Largest clock offset searched, s.

    Returns
    -------
    Alignment
        ``offset_s`` to subtract from ``watch_t``.
    """
    ok = np.isfinite(watch_cadence_spm)
    w_t, w_c = watch_t[ok], watch_cadence_spm[ok]
    r_t, r_c = _runform_cadence(
        np.asarray(runform_t, float), np.asarray(runform_cadence_spm, float)
    )
    if r_t.size < 10 or w_t.size < 10:
        return Alignment(0.0, "wall_clock", note="too few cadence values to correlate")
    if float(np.std(r_c)) < MIN_CADENCE_SD_SPM:
        return Alignment(
            0.0,
            "wall_clock",
            note=f"cadence too steady to correlate (sd {np.std(r_c):.2f} steps/min)",
        )
    coarse = np.arange(-search_s, search_s + 1e-9, 0.25)
    c, _ = _corr_at(coarse, w_t, w_c, r_t, r_c)
    if not np.isfinite(c).any():
        return Alignment(0.0, "wall_clock", note="the watch and the recording do not overlap")
    best = float(coarse[int(np.nanargmax(c))])
    fine = best + np.arange(-0.5, 0.5 + 1e-9, 0.01)
    cf, _ = _corr_at(fine, w_t, w_c, r_t, r_c)
    k = int(np.nanargmax(cf))
    offset, corr = float(fine[k]), float(cf[k])
    if corr < MIN_CORRELATION:
        return Alignment(
            0.0,
            "wall_clock",
            corr,
            note=f"cadence correlation {corr:.2f} below {MIN_CORRELATION} at the best lag",
        )
    if abs(offset) >= search_s - 0.25:
        return Alignment(
            0.0,
            "wall_clock",
            corr,
            note=f"best lag at the edge of the ±{search_s:g} s search",
        )
    return Alignment(round(offset, 3), "cadence", corr)


@dataclass
class WatchTrack:
    """The watch's records on the recording's time base (``t``, s)."""

    t: np.ndarray
    values: dict[str, np.ndarray]

    def at(self, t: float) -> dict[str, float]:
        """Every column at time ``t`` (linear between records; NaN outside them or in a gap)."""
        out = {}
        i = int(np.searchsorted(self.t, t))
        lo, hi = max(i - 1, 0), min(i, len(self.t) - 1)
        inside = len(self.t) > 0 and self.t[0] <= t <= self.t[-1]
        gap = inside and (self.t[hi] - self.t[lo]) > MAX_GAP_S
        for k, v in self.values.items():
            if not inside or gap:
                out[k] = math.nan
            elif hi == lo or not (np.isfinite(v[lo]) and np.isfinite(v[hi])):
                out[k] = float(v[lo] if abs(self.t[lo] - t) <= abs(self.t[hi] - t) else v[hi])
            else:
                f = (t - self.t[lo]) / (self.t[hi] - self.t[lo])
                out[k] = float(v[lo] + f * (v[hi] - v[lo]))
        return out

    def column_at(self, name: str, t: np.ndarray) -> np.ndarray:
        """One column at many times (NaN outside the track, across gaps or missing values)."""
        v = self.values[name]
        ok = np.isfinite(v)
        if ok.sum() < 2:
            return np.full(np.shape(t), np.nan)
        tv, vv = self.t[ok], v[ok]
        out = np.interp(t, tv, vv, left=np.nan, right=np.nan)
        i = np.clip(np.searchsorted(tv, t), 1, len(tv) - 1)
        out[(tv[i] - tv[i - 1]) > MAX_GAP_S] = np.nan
        return out


def gps_speed(track: WatchTrack, *, window_s: float = 5.0) -> tuple[np.ndarray, str]:
    """Speed from the GPS positions (great-circle distance over a centred window), m/s, and
    its source; the watch's own speed field when the file has no positions."""
    lat, lon = track.values["lat_deg"], track.values["lon_deg"]
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.sum() >= 3:
        t = track.t[ok]
        la, lo = np.radians(lat[ok]), np.radians(lon[ok])
        dla, dlo = np.diff(la), np.diff(lo)
        h = np.sin(dla / 2) ** 2 + np.cos(la[:-1]) * np.cos(la[1:]) * np.sin(dlo / 2) ** 2
        step = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
        cum = np.concatenate([[0.0], np.cumsum(step)])
        a = np.interp(t - window_s / 2, t, cum)
        b = np.interp(t + window_s / 2, t, cum)
        span = np.minimum(t + window_s / 2, t[-1]) - np.maximum(t - window_s / 2, t[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            sp = np.where(span > 0, (b - a) / span, np.nan)
        return np.interp(track.t, t, sp), "gps positions"
    return track.values["speed_mps"].copy(), "watch speed field"


def speed_check(tl: Timeline, track: WatchTrack) -> dict[str, Any] | None:
    """runform's per-second speed against the GPS speed over the seconds both have while
    running (GPS speed above :data:`MIN_CHECK_SPEED_MPS`). ``None`` when there is none."""
    ref, source = gps_speed(track)
    ref_at = np.interp(tl.t, track.t, ref, left=np.nan, right=np.nan)
    mine = tl.values["speed_mps"]
    ok = np.isfinite(ref_at) & np.isfinite(mine) & (ref_at > MIN_CHECK_SPEED_MPS)
    if ok.sum() < 5:
        return None
    rel = 100.0 * (mine[ok] - ref_at[ok]) / ref_at[ok]
    d_mine = tl.values["distance_m"]
    t_ok = tl.t[ok]
    dist_w = track.column_at("distance_m", np.array([t_ok[0], t_ok[-1]]))
    out: dict[str, Any] = {
        "speed_source": source,
        "seconds_compared": int(ok.sum()),
        "speed_gps_median": round(float(np.median(ref_at[ok])), 3),
        "speed_runform_median": round(float(np.median(mine[ok])), 3),
        "speed_bias_pct": round(float(np.median(rel)), 2),
        "speed_abs_diff_median_pct": round(float(np.median(np.abs(rel))), 2),
        "speed_within_5pct_fraction": round(float(np.mean(np.abs(rel) <= 5.0)), 3),
    }
    if np.isfinite(d_mine).all():
        out["distance_runform_m"] = round(
            float(np.interp(t_ok[-1], tl.t, d_mine) - np.interp(t_ok[0], tl.t, d_mine)), 1
        )
    if np.isfinite(dist_w).all():
        out["distance_watch_m"] = round(float(dist_w[1] - dist_w[0]), 1)
    return out


def elevation_change(
    alt_m: np.ndarray, *, despike: int = 9, step_m: float = 1.0
) -> tuple[float, float]:
    """Total ascent and descent of an altitude track, m.

    The per-second altitude of a watch carries spikes and sub-metre noise that a plain sum of
    rises multiplies (a real 47-minute run: 257 m summed against 64 m by the watch itself); a
    median filter of ``despike`` samples removes the spikes, and a rise or fall counts only
    once it reaches ``step_m`` from the last turning level (hysteresis): 67 m on that run.
    """
    from scipy.ndimage import median_filter

    x = median_filter(np.asarray(alt_m, dtype=np.float64), size=despike, mode="nearest")
    gain = loss = 0.0
    ref = float(x[0])
    for v in x[1:].tolist():
        if v - ref >= step_m:
            gain += v - ref
            ref = v
        elif ref - v >= step_m:
            loss += ref - v
            ref = v
    return gain, loss


@dataclass
class WatchMerge:
    """A watch merged into an analysis: the aligned track, the alignment, the summary key."""

    track: WatchTrack
    alignment: Alignment
    timeline: Timeline
    summary: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the terminal."""
        a = self.alignment
        s = self.summary
        how = (
            f"clock offset {a.offset_s:+.2f} s found by cadence (r = {a.correlation:.2f})"
            if a.method == "cadence"
            else f"aligned by wall clock only ({a.note})"
        )
        msg = f"watch {Path(s['file']).name}: {s['records']} records, {how}"
        chk = s.get("speed_check")
        if chk:
            msg += (
                f"; speed vs {chk['speed_source']}: median difference "
                f"{chk['speed_bias_pct']:+.1f} %, {100 * chk['speed_within_5pct_fraction']:.0f} % "
                "of seconds within 5 %"
            )
        return msg


def timeline_table(tl: Timeline, track: WatchTrack | None, *, start_unix_s: float) -> Any:
    """The per-second table of ``--timeline``: time, UTC, runform's per-second values and,
    with a watch, its aligned position, altitude, heart rate, GPS speed and distance.

    Returns a pandas DataFrame (columns with units in their names).
    """
    import pandas as pd

    cols: dict[str, Any] = {
        "t": tl.t,
        "utc": [_utc(start_unix_s + float(x)) for x in tl.t],
    }
    for k, v in tl.values.items():
        cols[k] = np.round(v, 4)
    cols["strike_type"] = tl.strike_type
    if track is not None:
        ref, _ = gps_speed(track)
        cols["watch_lat_deg"] = np.round(track.column_at("lat_deg", tl.t), 7)
        cols["watch_lon_deg"] = np.round(track.column_at("lon_deg", tl.t), 7)
        cols["watch_altitude_m"] = np.round(track.column_at("altitude_m", tl.t), 2)
        cols["watch_heart_rate_bpm"] = np.round(track.column_at("heart_rate_bpm", tl.t), 1)
        cols["watch_cadence_spm"] = np.round(track.column_at("cadence_spm", tl.t), 2)
        cols["watch_distance_m"] = np.round(track.column_at("distance_m", tl.t), 2)
        cols["gps_speed_mps"] = np.round(
            np.interp(tl.t, track.t, ref, left=np.nan, right=np.nan), 3
        )
    return pd.DataFrame(cols)


def _utc(unix_s: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_watch(
    result: AnalysisResult,
    path: str | Path,
    *,
    start_unix_s: float,
    search_s: float = 30.0,
    window_s: float = 3.0,
) -> WatchMerge:
    """Read a watch's FIT activity and place it on an analysed recording's time base.

    Parameters
    ----------
    result : AnalysisResult
        With rows kept (:func:`runform.analysis_run.analyse_recording`).
    path : str or Path
        The watch's FIT activity file.
    start_unix_s : float
        Wall-clock time of the recording's ``t = 0``, Unix s.
    search_s : float
        Largest clock offset the cadence correlation searches, s.
    window_s : float
        Averaging window of runform's per-second values, s.
    """
    wd = read_watch_fit(path)
    t_wall = wd.unix_s - start_unix_s
    rec_t0, rec_t1 = result.t_start, result.t_start + result.duration_s
    if t_wall[-1] < rec_t0 - search_s or t_wall[0] > rec_t1 + search_s:
        raise UsageError(
            f"--watch {path}: its records ({_utc(wd.unix_s[0])} to {_utc(wd.unix_s[-1])}) are not "
            f"within {search_s:g} s of the recording ({_utc(start_unix_s + rec_t0)} to "
            f"{_utc(start_unix_s + rec_t1)}): not the same run?"
        )
    placements = {s.sensor_id: s.placement for s in result.sensors}
    lo = math.floor(result.t_start)
    hi = math.ceil(result.t_start + result.duration_s)
    # runform's per-stride cadence, linear between stride middles: no smoothing, which would
    # bias the lag where the window meets the cadence changes
    r_t, r_c = stride_cadence(result.strides, placements)
    al = align_by_cadence(t_wall, wd.values["cadence_spm"], r_t, r_c, search_s=search_s)
    track = WatchTrack(t=t_wall - al.offset_s, values=wd.values)
    tl = per_second(result.strides, placements, np.arange(lo, hi + 1.0), window_s=window_s)
    inside = (track.t >= result.t_start) & (track.t <= result.t_start + result.duration_s)
    summary: dict[str, Any] = {
        "file": str(path),
        "records": len(wd),
        "records_in_recording": int(inside.sum()),
        "clock_offset_s": al.offset_s,
        "alignment": al.method,
    }
    if math.isfinite(al.correlation):
        summary["cadence_correlation"] = round(al.correlation, 3)
    if al.note:
        summary["alignment_note"] = al.note
    if wd.note:
        summary["file_note"] = wd.note
    hr = wd.values["heart_rate_bpm"][inside]
    hr = hr[np.isfinite(hr)]
    if hr.size:
        summary["heart_rate_median"] = round(float(np.median(hr)), 1)
    alt = wd.values["altitude_m"][inside]
    alt = alt[np.isfinite(alt)]
    if alt.size > 1:
        gain, loss = elevation_change(alt)
        summary["elevation_gain_m"] = round(gain, 1)
        summary["elevation_loss_m"] = round(loss, 1)
    chk = speed_check(tl, track)
    if chk is not None:
        summary["speed_check"] = chk
    return WatchMerge(track=track, alignment=al, timeline=tl, summary=summary)
