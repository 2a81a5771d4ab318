"""Stride rows -> one value per second: the records of a FIT export and the runform side of a
watch merge. Pure numpy over the STRIDES.csv table (no I/O).

Each per-second value is the mean of the strides (or contacts) whose time falls in a window
centred on that second (``window_s``, default 3 s: about four contacts of each foot while
running); a second with none in its window has no value (NaN). A contact's own quantities
(contact time, strike angle, pronation, pelvic drop, vertical oscillation) are placed at its
initial contact; a stride's (cadence, speed, stride length) at the middle of the stride, the
time they describe.

Distance is the stride lengths added up per foot sensor, spread linearly over each stride,
averaged over the foot sensors present; a stride without a length (rejected) covers
``stride_time`` at the speed of its neighbours; a pause longer than :data:`MAX_STRIDE_S` adds
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_STRIDE_S",
    "STRIKE_TYPES",
    "Timeline",
    "distance_curve",
    "per_second",
    "stride_cadence",
]

#: Longest time between two contacts of one foot still counted as one stride, s.
MAX_STRIDE_S = 2.5
STRIKE_TYPES = ("rearfoot", "midfoot", "forefoot")


@dataclass
class Timeline:
    """Per-second values on the recording's time base.

    Attributes
    ----------
    t : ndarray
        Times, s (recording time base).
    values : dict
        Column -> float array (NaN = no value): ``cadence_spm``, ``speed_mps``, ``distance_m``,
        ``stride_length_m``, ``contact_time_s``, ``contact_time_left_pct``,
        ``vertical_oscillation_cm``, ``vertical_ratio_pct``, ``foot_strike_angle_deg``,
        ``pronation_excursion_deg``, ``max_pronation_velocity_dps``, ``pelvic_drop_left_deg``,
        ``pelvic_drop_right_deg``.
    strike_type : ndarray of str
        The most frequent strike type in the window, ``""`` when none.
    """

    t: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    strike_type: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="U8"))


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(dtype=np.float64) if name in df else np.full(len(df), np.nan)


def _window_mean(tv: np.ndarray, v: np.ndarray, t: np.ndarray, window_s: float) -> np.ndarray:
    """Mean of the finite ``v`` with ``t - w/2 < tv <= t + w/2`` for each ``t`` (NaN if none)."""
    ok = np.isfinite(tv) & np.isfinite(v)
    tv, v = tv[ok], v[ok]
    order = np.argsort(tv, kind="stable")
    tv, v = tv[order], v[order]
    lo = np.searchsorted(tv, t - window_s / 2, side="right")
    hi = np.searchsorted(tv, t + window_s / 2, side="right")
    csum = np.concatenate([[0.0], np.cumsum(v)])
    n = hi - lo
    out = np.full(t.shape, np.nan)
    has = n > 0
    out[has] = (csum[hi[has]] - csum[lo[has]]) / n[has]
    return out


def distance_curve(strides: pd.DataFrame, foot_ids: list[str], t: np.ndarray) -> np.ndarray:
    """Distance covered at times ``t``, m (NaN everywhere without a foot sensor)."""
    curves = []
    for sid in foot_ids:
        rows = strides[strides["sensor_id"] == sid]
        if len(rows) < 2:
            continue
        t_ic = _col(rows, "t_ic")
        order = np.argsort(t_ic, kind="stable")
        t_ic = t_ic[order]
        sl = _col(rows, "stride_length")[order]
        st = _col(rows, "stride_time")[order][:-1]
        sp = _col(rows, "speed")[order]
        dt = np.diff(t_ic)
        good = np.isfinite(sp)
        fill_speed = np.interp(t_ic[:-1], t_ic[good], sp[good]) if good.any() else np.zeros(dt.size)
        # a stride's own time: up to the next row, or its stride_time when the next row comes
        # after a pause (the stride ended, then the runner stood)
        paused = (dt > MAX_STRIDE_S) & np.isfinite(st) & (st < dt)
        own = np.where(paused, st, dt)
        seg = sl[:-1].copy()
        missing = ~np.isfinite(seg)
        seg[missing] = np.where(
            own[missing] <= MAX_STRIDE_S, fill_speed[missing] * own[missing], 0.0
        )
        seg = np.where(np.isfinite(seg), np.maximum(seg, 0.0), 0.0)
        d_at = np.concatenate([[0.0], np.cumsum(seg)])
        # knots: each contact, and the end of its stride (flat from there to the next contact)
        kt = np.empty(2 * dt.size + 1)
        kd = np.empty_like(kt)
        kt[0:-1:2], kd[0:-1:2] = t_ic[:-1], d_at[:-1]
        kt[1::2], kd[1::2] = t_ic[:-1] + own, d_at[1:]
        kt[-1], kd[-1] = t_ic[-1], d_at[-1]
        curves.append(np.interp(t, kt, kd, left=0.0, right=float(d_at[-1])))
    if not curves:
        return np.full(t.shape, np.nan)
    return np.mean(curves, axis=0)


def per_second(
    strides: pd.DataFrame,
    placements: dict[str, str],
    t: np.ndarray,
    *,
    window_s: float = 3.0,
) -> Timeline:
    """The per-second values at times ``t`` (s, recording time base).

    Parameters
    ----------
    strides : DataFrame
        STRIDES.csv rows (:attr:`runform.analysis_run.AnalysisResult.strides`).
    placements : dict
        sensor_id -> placement (``left_foot``, ``right_foot``, ``pelvis``).
    t : ndarray
        Times to evaluate, s.
    window_s : float
        Width of the centred averaging window, s.
    """
    t = np.asarray(t, dtype=np.float64)
    sid = strides["sensor_id"].astype(str).to_numpy() if len(strides) else np.zeros(0, "U1")
    place = np.array([placements.get(s, "") for s in sid], dtype=object)
    is_foot = np.isin(place, ["left_foot", "right_foot"])
    is_pelvis = place == "pelvis"
    side = strides["side"].astype(str).to_numpy() if len(strides) else np.zeros(0, "U1")
    t_ic = _col(strides, "t_ic")
    t_mid = t_ic + 0.5 * _col(strides, "stride_time")

    def mean(name: str, sel: np.ndarray, at: np.ndarray) -> np.ndarray:
        return _window_mean(at[sel], _col(strides, name)[sel], t, window_s)

    out: dict[str, np.ndarray] = {}
    cad_rows = is_foot if is_foot.any() else is_pelvis
    out["cadence_spm"] = mean("cadence", cad_rows, t_mid)
    out["speed_mps"] = mean("speed", is_foot, t_mid)
    out["stride_length_m"] = mean("stride_length", is_foot, t_mid)
    out["contact_time_s"] = mean("contact_time", is_foot, t_ic)
    ct_l = mean("contact_time", is_foot & (side == "left"), t_ic)
    ct_r = mean("contact_time", is_foot & (side == "right"), t_ic)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["contact_time_left_pct"] = 100.0 * ct_l / (ct_l + ct_r)
    out["vertical_oscillation_cm"] = mean("vertical_oscillation", is_pelvis, t_ic)
    with np.errstate(invalid="ignore", divide="ignore"):
        # vertical ratio: oscillation over step length (half a stride), %
        out["vertical_ratio_pct"] = out["vertical_oscillation_cm"] / (0.5 * out["stride_length_m"])
    out["foot_strike_angle_deg"] = mean("foot_strike_angle", is_foot, t_ic)
    out["pronation_excursion_deg"] = mean("pronation_excursion", is_foot, t_ic)
    out["max_pronation_velocity_dps"] = mean("max_pronation_velocity", is_foot, t_ic)
    out["pelvic_drop_left_deg"] = mean("pelvic_drop", is_pelvis & (side == "left"), t_ic)
    out["pelvic_drop_right_deg"] = mean("pelvic_drop", is_pelvis & (side == "right"), t_ic)
    foot_ids = sorted({s for s, p in placements.items() if p in ("left_foot", "right_foot")})
    out["distance_m"] = distance_curve(strides, foot_ids, t)

    # most frequent strike type in the window
    st = strides["strike_type"].astype(str).to_numpy() if len(strides) else np.zeros(0, "U1")
    counts = _type_counts(t_ic[is_foot], st[is_foot], t, window_s)
    best = np.argmax(counts, axis=0)
    kinds = np.where(counts.max(axis=0) > 0, np.array(STRIKE_TYPES)[best], "")
    return Timeline(t=t, values=out, strike_type=kinds.astype("U8"))


def _type_counts(tv: np.ndarray, kind: np.ndarray, t: np.ndarray, window_s: float) -> np.ndarray:
    """Counts of each strike type in the window of each ``t``, shape (3, len(t))."""
    rows = []
    for k in STRIKE_TYPES:
        tk = np.sort(tv[(kind == k) & np.isfinite(tv)])
        lo = np.searchsorted(tk, t - window_s / 2, side="right")
        hi = np.searchsorted(tk, t + window_s / 2, side="right")
        rows.append(hi - lo)
    return np.array(rows)


def stride_cadence(
    strides: pd.DataFrame, placements: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Every stride's cadence at the middle of the stride, time-sorted: ``(t_mid, cadence_spm)``.

    From the foot sensors when there are any (both feet interleaved), else from the pelvis.
    """
    if not len(strides):
        return np.zeros(0), np.zeros(0)
    place = strides["sensor_id"].astype(str).map(lambda s: placements.get(s, "")).to_numpy()
    sel = np.isin(place, ["left_foot", "right_foot"])
    if not sel.any():
        sel = place == "pelvis"
    t_mid = (_col(strides, "t_ic") + 0.5 * _col(strides, "stride_time"))[sel]
    cad = _col(strides, "cadence")[sel]
    ok = np.isfinite(t_mid) & np.isfinite(cad)
    order = np.argsort(t_mid[ok], kind="stable")
    return t_mid[ok][order], cad[ok][order]
