"""Scoring analysis rows against reference events (real recordings and simulations).

Used by ``scripts/real_data_check.py`` (real recordings with force-plate, motion-capture or
instrumented references, see ``/work/shared/realdata/README.md``) and usable by tests and other
accuracy scripts: it reads STRIDES tables (:func:`runform.analysis_run.rows_to_frame`) and plain
reference dictionaries, never the simulator.

* :func:`match_events`: one-to-one matching of detected to reference event times.
* :func:`match_flats`: one-to-one matching of reference foot-flats to the detected contacts
  that hold them.
* :func:`score_foot`: contacts found / false, IC and TO errors, foot strike angle, strike type
  and stride length of one foot sensor against reference ``contacts``.
* :func:`score_pelvis_steps`: pelvis steps found / precision, side and IC error against
  reference ``pelvis_steps``.
* :func:`plausibility`: checks without a reference (every swing followed by one contact,
  cadence, no holes in the contact sequence).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from dsp.block import SampleBlock
    from dsp.contact import ContactRow
    from dsp.pelvis_analyzer import PelvisAnalyzer

__all__ = [
    "FootScore",
    "PelvisStepScore",
    "Plausibility",
    "match_events",
    "match_flats",
    "plausibility",
    "score_foot",
    "score_pelvis_steps",
]


def analyse_pelvis_alone(path: Path) -> tuple[PelvisAnalyzer, SampleBlock, list[ContactRow]]:
    """The pelvis sensor of a recording analysed alone, without the feet (``runform
    analyze`` fuses the feet's events into the walking rows): its finished analyzer (e.g.
    ``alignment_``), its samples and its rows."""
    from dsp.pelvis_analyzer import PelvisAnalyzer
    from recordings import open_recording

    with open_recording(path) as rec:
        info = rec.sensor("pelvis")
        block = rec.read("pelvis")
    pa = PelvisAnalyzer(info)
    rows = [*pa.feed(block).rows, *pa.finish().rows]
    return pa, block, rows


def match_events(
    t_ref: np.ndarray, t_det: np.ndarray, *, tol_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected to reference event times.

    Pairs are taken in order of increasing time difference (closest first); a pair needs
    ``|t_det - t_ref| <= tol_s`` and neither event may be in another pair.

    Returns
    -------
    (i_ref, j_det) : ndarray of int
        Indices of the matched pairs, sorted by reference time.
    """
    t_ref = np.asarray(t_ref, dtype=np.float64)
    t_det = np.asarray(t_det, dtype=np.float64)
    if t_ref.size == 0 or t_det.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    d = np.abs(t_ref[:, None] - t_det[None, :])
    ii, jj = np.nonzero(d <= tol_s)
    return _closest_pairs(ii, jj, d[ii, jj])


def _closest_pairs(ii: np.ndarray, jj: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs among the candidates ``(ii[k], jj[k])``, closest (``d``) first; the
    pairs sorted by ``ii``."""
    used_r: set[int] = set()
    used_d: set[int] = set()
    pairs = []
    for k in np.argsort(d, kind="stable"):
        i, j = int(ii[k]), int(jj[k])
        if i in used_r or j in used_d:
            continue
        used_r.add(i)
        used_d.add(j)
        pairs.append((i, j))
    pairs.sort()
    if not pairs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    arr = np.asarray(pairs, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def match_flats(
    t_flat_ref: np.ndarray,
    t_ic_det: np.ndarray,
    t_to_det: np.ndarray,
    *,
    open_contact_s: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of reference foot-flat times to detected contacts that hold them.

    A detected contact holds a foot-flat when ``t_ic <= t_flat <= t_to``; a contact without
    toe-off (it ended in standing) holds it up to the next detected IC, or for
    ``open_contact_s`` when it is the last. Pairs are taken closest first (foot-flat to the
    contact's middle, the IC for an open contact); NaN foot-flats match nothing.

    Returns
    -------
    (i_ref, j_det) : ndarray of int
        Indices of the matched pairs, sorted by reference time.
    """
    f = np.asarray(t_flat_ref, dtype=np.float64)
    a = np.asarray(t_ic_det, dtype=np.float64)
    b = np.asarray(t_to_det, dtype=np.float64)
    if f.size == 0 or a.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    srt = np.sort(a)
    k = np.searchsorted(srt, a, side="right")
    nxt = np.where(k < srt.size, srt[np.minimum(k, srt.size - 1)], a + open_contact_s)
    mid = np.where(np.isfinite(b), 0.5 * (a + b), a)
    b = np.where(np.isfinite(b), b, nxt)
    inside = (f[:, None] >= a[None, :]) & (f[:, None] <= b[None, :])
    ii, jj = np.nonzero(inside)
    return _closest_pairs(ii, jj, np.abs(f[ii] - mid[jj]))


def _nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """``df[name]`` as floats, NaN when the table has no such column."""
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return df[name].to_numpy(dtype=np.float64)


def _median_abs(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(np.abs(x))) if x.size else float("nan")


@dataclass
class FootScore:
    """One foot sensor against reference contacts (times in ms, angles in deg)."""

    sensor_id: str
    n_ref: int
    found: int
    false: int
    ic_median_ms: float  # median |error|
    ic_bias_ms: float  # median signed error (detected - reference)
    ic_max_ms: float
    to_median_ms: float
    to_bias_ms: float
    fsa_mae_deg: float
    fsa_bias_deg: float
    n_fsa: int
    strike_agree: float
    n_fsa_unusable: (
        int  # reference contacts whose foot-flat came too soon after IC (see score_foot)
    )
    fsa_mae_all_deg: float  # FSA MAE over every matched reference angle, unusable ones included
    stride_length_err_pct: float  # mean |relative error|
    n_stride_length: int
    # pronation against references that carry it (NaN / 0 otherwise)
    exc_mae_deg: float = float("nan")  # pronation excursion MAE
    exc_bias_deg: float = float("nan")
    mpv_err_pct: float = float("nan")  # max pronation velocity, mean |relative error|
    mpv_bias_pct: float = float("nan")
    n_pronation: int = 0
    # per matched stride with a reference stride length, in reference order (for pooling over
    # recordings): signed relative error, % (NaN where the row has no stride length)
    stride_length_errors_pct: list[float] = field(default_factory=list)
    # per matched stride with a reference stride time: detected minus reference, ms
    stride_time_errors_ms: list[float] = field(default_factory=list)
    # per matched contact: IC detected minus reference, ms (for pooled outlier counts)
    ic_errors_ms: list[float] = field(default_factory=list)

    @property
    def found_frac(self) -> float:
        return self.found / self.n_ref if self.n_ref else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["found_frac"] = self.found_frac
        return d


def score_foot(
    rows: pd.DataFrame,
    contacts: list[dict[str, Any]],
    *,
    sensor_id: str,
    cover: tuple[float, float] | None = None,
    tol_s: float = 0.1,
    min_ref_flat_after_ic_s: float | None = None,
    match_on_flat: bool = False,
) -> FootScore:
    """Score one foot sensor's rows against reference contacts.

    Parameters
    ----------
    rows : DataFrame
        STRIDES table (any sensors; those of ``sensor_id`` are used).
    contacts : list of dict
        Reference contacts (``sensor_id``, ``t_ic``, ``t_to``, optional ``foot_strike_angle``,
        ``strike_type``, ``stride_length``, ``pronation_excursion``,
        ``max_pronation_velocity``).
    cover : (t0, t1), optional
        Span in which the reference lists every contact: rows outside it are neither found nor
        false (contacts there are unknown, not absent), and reference contacts outside it are
        not scored either (they cannot be found by a row that is not scored).
    tol_s : float
        Largest IC difference of a match, s.
    min_ref_flat_after_ic_s : float, optional
        A reference strike angle (and strike type) is scored only when the reference's own
        foot-flat (``t_ms``) comes at least this long after its IC; others are counted in
        ``n_fsa_unusable`` (and kept in ``fsa_mae_all_deg``). The angle is "pitch at IC minus
        pitch at foot-flat": a foot-flat placed on the landing itself makes it ~0 whatever the
        landing was. On the treadmill runner of the real-data folder the marker foot-flat came
        2-30 ms after IC on 2 of 38 left and 13 of 37 right contacts while the shoe still
        rotated 16-23 deg toes-down over the next 140 ms (its virtual gyroscope), as on every
        other contact: reference angles near 0 deg on a runner whose others are 16-25 deg.
    match_on_flat : bool
        Match a reference contact to the row whose contact (``t_ic`` to ``t_to``) holds the
        reference's foot-flat ``t_ms`` (:func:`match_flats`) instead of by IC within
        ``tol_s``: for references that know the foot-flat well and the IC only roughly
        (motion capture of one point on the shoe).
    """
    ref = sorted((c for c in contacts if c["sensor_id"] == sensor_id), key=lambda c: c["t_ic"])
    mine = rows[rows["sensor_id"] == sensor_id]
    t_det = mine["t_ic"].to_numpy(dtype=np.float64)
    if cover is not None:
        ref = [c for c in ref if cover[0] <= c["t_ic"] <= cover[1]]
        keep = (t_det >= cover[0] - tol_s) & (t_det <= cover[1] + tol_s)
        mine = mine[keep]
        t_det = t_det[keep]
    t_ref = np.array([c["t_ic"] for c in ref], dtype=np.float64)
    if match_on_flat:
        t_ms = np.array([_nan(c.get("t_ms")) for c in ref])
        i, j = match_flats(t_ms, t_det, mine["t_to"].to_numpy(dtype=np.float64))
    else:
        i, j = match_events(t_ref, t_det, tol_s=tol_s)
    m = mine.iloc[j]
    r = [ref[k] for k in i]
    ic_err = (t_det[j] - t_ref[i]) * 1e3
    to_ref = np.array([_nan(c.get("t_to")) for c in r])
    to_err = (m["t_to"].to_numpy(dtype=np.float64) - to_ref) * 1e3
    fsa_ref = np.array([_nan(c.get("foot_strike_angle")) for c in r])
    fsa_err = m["foot_strike_angle"].to_numpy(dtype=np.float64) - fsa_ref
    ok_all = np.isfinite(fsa_err)
    usable = np.ones(len(r), dtype=bool)
    if min_ref_flat_after_ic_s is not None:
        t_ms_ref = np.array([_nan(c.get("t_ms")) for c in r])
        usable = ~(t_ms_ref - t_ref[i] < min_ref_flat_after_ic_s)  # (unknown t_ms: usable)
    ok_f = ok_all & usable
    st_ref = [c.get("strike_type") if u else None for c, u in zip(r, usable, strict=True)]
    st_det = m["strike_type"].tolist()
    both = [(a, b) for a, b in zip(st_ref, st_det, strict=True) if a and b]
    sl_ref = np.array([_nan(c.get("stride_length")) for c in r])
    sl_signed = (m["stride_length"].to_numpy(dtype=np.float64) - sl_ref) / sl_ref * 100.0
    sl_err = np.abs(sl_signed)
    ok_s = np.isfinite(sl_err)
    stime_ref = np.array([_nan(c.get("stride_time")) for c in r])
    st_err = (_column(m, "stride_time") - stime_ref) * 1e3
    exc_ref = np.array([_nan(c.get("pronation_excursion")) for c in r])
    exc_err = _column(m, "pronation_excursion") - exc_ref
    mpv_ref = np.array([_nan(c.get("max_pronation_velocity")) for c in r])
    mpv_err = (_column(m, "max_pronation_velocity") - mpv_ref) / mpv_ref * 100.0
    ok_p = np.isfinite(exc_err) & np.isfinite(mpv_err)
    return FootScore(
        sensor_id=sensor_id,
        n_ref=len(ref),
        found=int(i.size),
        false=int(t_det.size - j.size),
        ic_median_ms=_median_abs(ic_err),
        ic_bias_ms=float(np.median(ic_err)) if ic_err.size else float("nan"),
        ic_max_ms=float(np.max(np.abs(ic_err))) if ic_err.size else float("nan"),
        to_median_ms=_median_abs(to_err),
        to_bias_ms=float(np.nanmedian(to_err)) if np.isfinite(to_err).any() else float("nan"),
        fsa_mae_deg=float(np.mean(np.abs(fsa_err[ok_f]))) if ok_f.any() else float("nan"),
        fsa_bias_deg=float(np.mean(fsa_err[ok_f])) if ok_f.any() else float("nan"),
        n_fsa=int(ok_f.sum()),
        strike_agree=float(np.mean([a == b for a, b in both])) if both else float("nan"),
        n_fsa_unusable=int((ok_all & ~usable).sum()),
        fsa_mae_all_deg=float(np.mean(np.abs(fsa_err[ok_all]))) if ok_all.any() else float("nan"),
        stride_length_err_pct=float(np.mean(sl_err[ok_s])) if ok_s.any() else float("nan"),
        n_stride_length=int(ok_s.sum()),
        exc_mae_deg=float(np.mean(np.abs(exc_err[ok_p]))) if ok_p.any() else float("nan"),
        exc_bias_deg=float(np.mean(exc_err[ok_p])) if ok_p.any() else float("nan"),
        mpv_err_pct=float(np.mean(np.abs(mpv_err[ok_p]))) if ok_p.any() else float("nan"),
        mpv_bias_pct=float(np.mean(mpv_err[ok_p])) if ok_p.any() else float("nan"),
        n_pronation=int(ok_p.sum()),
        stride_length_errors_pct=[float(x) for x in sl_signed[np.isfinite(sl_ref)]],
        stride_time_errors_ms=[float(x) for x in st_err[np.isfinite(stime_ref)]],
        ic_errors_ms=[float(x) for x in ic_err],
    )


@dataclass
class PelvisStepScore:
    """Pelvis steps (one row per initial contact) against reference steps."""

    sensor_id: str
    n_ref: int
    n_rows: int
    found: int
    false: int
    side_agree: float
    ic_median_ms: float
    ic_bias_ms: float

    @property
    def found_frac(self) -> float:
        return self.found / self.n_ref if self.n_ref else float("nan")

    @property
    def precision(self) -> float:
        return self.found / self.n_rows if self.n_rows else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["found_frac"] = self.found_frac
        d["precision"] = self.precision
        return d


def score_pelvis_steps(
    rows: pd.DataFrame,
    steps: list[dict[str, Any]],
    *,
    sensor_id: str,
    bouts: list[list[float]] | None = None,
    tol_s: float = 0.25,
) -> PelvisStepScore:
    """Score a pelvis sensor's step rows against reference steps (``{side, t_ic}``).

    Only rows and reference steps inside the reference ``bouts`` (widened by ``tol_s``) count
    when bouts are given: outside them the reference is not checked (a data set may list a few
    steps there, e.g. Voisard et al.'s walking away after the trial, which no row can match).
    ``tol_s`` is less than half a walking step.
    """
    ref = sorted((s for s in steps if s["sensor_id"] == sensor_id), key=lambda s: s["t_ic"])
    if bouts:
        ref = [s for s in ref if any(t0 - tol_s <= s["t_ic"] <= t1 + tol_s for t0, t1 in bouts)]
    mine = rows[rows["sensor_id"] == sensor_id]
    t_det = mine["t_ic"].to_numpy(dtype=np.float64)
    if bouts:
        keep = np.zeros(t_det.shape, bool)
        for t0, t1 in bouts:
            keep |= (t_det >= t0 - tol_s) & (t_det <= t1 + tol_s)
        mine = mine[keep]
        t_det = t_det[keep]
    t_ref = np.array([s["t_ic"] for s in ref], dtype=np.float64)
    i, j = match_events(t_ref, t_det, tol_s=tol_s)
    ic_err = (t_det[j] - t_ref[i]) * 1e3
    sides = mine["side"].to_numpy()[j]
    side_ok = [str(a) == str(ref[k]["side"]) for a, k in zip(sides, i, strict=True)]
    return PelvisStepScore(
        sensor_id=sensor_id,
        n_ref=len(ref),
        n_rows=int(t_det.size),
        found=int(i.size),
        false=int(t_det.size - j.size),
        side_agree=float(np.mean(side_ok)) if side_ok else float("nan"),
        ic_median_ms=_median_abs(ic_err),
        ic_bias_ms=float(np.median(ic_err)) if ic_err.size else float("nan"),
    )


@dataclass
class Plausibility:
    """Checks of one foot sensor without an event reference."""

    sensor_id: str
    duration_s: float
    swings: int  # mid-swings seen in the raw angular rate (orientation-free)
    contacts: int
    swings_without_contact: int
    extra_contacts: int
    cadence_median: float  # steps/min
    holes: int  # contact intervals longer than 1.6 x the median stride time

    @property
    def ok(self) -> bool:
        return (
            self.swings_without_contact == 0
            and self.extra_contacts == 0
            and self.holes == 0
            and (self.contacts == 0 or 40.0 <= self.cadence_median <= 240.0)
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def swing_peaks(t: np.ndarray, gyr: np.ndarray, *, sampling_rate_hz: float) -> np.ndarray:
    """Times of the mid-swings of a foot, from the angular-rate norm alone (any mounting).

    A mid-swing is a peak of the 5 Hz low-passed norm above 150 deg/s and above 0.4 times the
    median of such peaks, at least 0.5 s from the next larger one: an independent, deliberately
    simple detector that the analysis does not use. (0.4, not 0.5: the gentle last step down a
    stair into standing, 187 deg/s against a median of 404 on gaitmap's stair descent, is a
    swing followed by a real landing.)
    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    g = np.linalg.norm(np.nan_to_num(gyr), axis=1)
    if g.shape[0] < 30:
        return np.empty(0)
    sos = butter(2, min(5.0, 0.4 * sampling_rate_hz) / (sampling_rate_hz / 2.0), output="sos")
    gs = sosfiltfilt(sos, g)
    pk, _ = find_peaks(gs, height=150.0, distance=max(1, int(0.5 * sampling_rate_hz)))
    if pk.size:
        pk = pk[gs[pk] >= 0.4 * np.median(gs[pk])]
    return np.asarray(t[pk], dtype=np.float64)


def plausibility(
    rows: pd.DataFrame,
    *,
    sensor_id: str,
    t: np.ndarray,
    gyr: np.ndarray,
    sampling_rate_hz: float,
) -> Plausibility:
    """Every swing of the foot followed by exactly one contact, cadence, no holes.

    A swing needs one contact between it and the next swing (or the data's end, when the
    landing after the last swing lies at least 0.3 s before it); a contact before the first
    swing (the data start in stance) is neither required nor counted as extra.
    """
    mine = rows[rows["sensor_id"] == sensor_id]
    tic = np.sort(mine["t_ic"].to_numpy(dtype=np.float64))
    sw = swing_peaks(t, gyr, sampling_rate_hz=sampling_rate_hz)
    t_end = float(t[-1]) if t.size else 0.0
    missing = extra = 0
    for k, s in enumerate(sw):
        nxt = sw[k + 1] if k + 1 < sw.size else t_end
        n = int(np.sum((tic > s) & (tic <= nxt)))
        if n == 0 and (k + 1 < sw.size or t_end - s > 0.8):
            missing += 1
        extra += max(0, n - 1)
    st = np.diff(tic)
    med = float(np.median(st)) if st.size else float("nan")
    holes = int(np.sum(st > 1.6 * med)) if st.size >= 3 else 0
    # (a pause between two walks is not a hole: a swing-free stretch)
    if holes:
        holes = 0
        for a, b in itertools.pairwise(tic):
            if b - a > 1.6 * med and np.sum((sw > a) & (sw < b)) >= 2:
                holes += 1
    cad = mine["cadence"].to_numpy(dtype=np.float64)
    cad = cad[np.isfinite(cad)]
    return Plausibility(
        sensor_id=sensor_id,
        duration_s=float(t_end - (t[0] if t.size else 0.0)),
        swings=int(sw.size),
        contacts=int(tic.size),
        swings_without_contact=missing,
        extra_contacts=extra,
        cadence_median=float(np.median(cad)) if cad.size else float("nan"),
        holes=holes,
    )
