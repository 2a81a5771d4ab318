"""Causal pelvic obliquity of one stance: the pelvic drop as soon as the stance has ended.

The attitude of :mod:`dsp.pelvis_orientation` corrects the gyroscope's drift with the
stride-mean gravity direction of the strides around a sample (their centres on both sides of
it), so a stance's obliquity needs the same foot's next contact (about a stride later). Here
only strides that ended at or before the stance's initial contact are used:

1. the contacts before this one (up to ``n_strides + 1`` of the same segment with a flight
   phase, not more than ``history_s`` before it) and this one give up to ``n_strides``
   strides ``[IC_j, IC_{j+2})``; each stride's mean specific force, in the frame of the
   gyroscope chain, gives the tilt correction at the stride's centre
   (:func:`dsp.pelvis_orientation.stride_corrections`, strides off the median dropped);
2. a least-squares line through those corrections (rotation vectors, per component) is
   extrapolated over the stance: a gyroscope bias makes the attitude error grow linearly in
   time, which the line follows; with a single usable stride its correction is held;
3. the obliquity (elevation of the body ``ml`` axis) over IC..TO gives the stance's maximum,
   minimum and mean, and the mean world sideways specific force (the side cues of
   :func:`dsp.pelvis_metrics.assign_sides`).

On the simulator the drops equal the two-sided attitude's within a few hundredths of a degree
on average (``docs/dsp_pelvis.md``). Everything depends on the samples from the first of those
contacts to this toe-off only, so the values do not depend on how the data were cut into blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp.contact import ContactRow
from dsp.orientation import quat_multiply
from dsp.pelvis_orientation import quat_from_rotvec, quat_rotate, row_norm, stride_corrections

__all__ = ["CausalStance", "EarlyRecord", "causal_stance", "causal_stances"]

_CONJ = np.array([-1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class CausalStance:
    """Obliquity statistics of one stance from the causal attitude (deg; m/s² for ``lat_mean``)."""

    obl_max: float
    obl_min: float
    obl_mean: float
    lat_mean: float
    n_strides: int  # strides the correction rests on


def causal_stance(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    cs: np.ndarray,
    i_ics: np.ndarray,
    i_to: int,
    *,
    i_ic: int | None = None,
    gap: np.ndarray | None = None,
    max_stride_change: float = 0.25,
) -> CausalStance | None:
    """Obliquity of the stance starting at ``i_ics[-1]`` from strides that ended by then.

    (Or of the stance starting at ``i_ic``, which may lie before the last contact given: the
    fallback after lost packets, when a stride after them is needed.) One contact of
    :func:`causal_stances`, with the same values.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s.
    acc : ndarray, shape (N, 3)
        Specific force, pelvis body frame (``ap, ml, vt``), m/s².
    q : ndarray, shape (N, 4)
        Body frame at each sample to one fixed frame (scipy order), gyroscope chained.
    cs : ndarray, shape (N, 3)
        ``cs[i]``: sum of the specific force in that fixed frame over the samples before ``i``.
    i_ics : ndarray of int, shape (M,)
        Sample indices of consecutive initial contacts (with a flight phase), increasing; the
        last one is the stance's. Strides ``i_ics[j] .. i_ics[j + 2]`` are used.
    i_to : int
        Sample index of the stance's toe-off.
    i_ic : int, optional
        Sample index of the stance's initial contact, one of ``i_ics`` (default the last).
    gap : ndarray of bool, shape (N,), optional
        Samples bridged by interpolation (lost packets). The gyroscope chain misses part of
        the rotation over them, so only strides after the last such sample before the
        contact are used.
    max_stride_change : float
        Largest relative difference between a stride and the median of the strides given.

    Returns
    -------
    CausalStance or None
        ``None`` with fewer than three contacts or no usable stride.
    """
    i_ics = np.asarray(i_ics, dtype=np.int64)
    if i_ics.size < 3:
        return None
    ic = int(i_ics[-1]) if i_ic is None else int(i_ic)
    if gap is not None:
        g = np.flatnonzero(gap[i_ics[0] : ic + 1])
        if g.size:
            i_ics = i_ics[i_ics > i_ics[0] + g[-1]]
            if ic not in i_ics:
                return None
            if i_ics.size < 3:
                return None
    job = (i_ics.tolist(), int(i_to), ic)
    return causal_stances(t, acc, q, cs, [job], max_stride_change=max_stride_change)[0]


def causal_stances(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    cs: np.ndarray,
    jobs: Sequence[tuple[Sequence[int], int, int]],
    *,
    max_stride_change: float = 0.25,
) -> list[CausalStance | None]:
    """:func:`causal_stance` of several contacts in one vectorised pass.

    Every contact's values depend on its own strides and samples only (elementwise arithmetic,
    reductions over its own sample range, sums over its strides in their order), so they do
    not depend on which other contacts are computed with it.

    Parameters
    ----------
    t, acc, q, cs : ndarray
        As in :func:`causal_stance`.
    jobs : sequence of (i_ics, i_to, i_ic)
        Per contact: the sample indices of its consecutive initial contacts (increasing; the
        strides ``i_ics[j] .. i_ics[j + 2]`` are used, after any lost-packet selection), its
        toe-off and its initial contact (one of ``i_ics``).
    max_stride_change : float
        Largest relative difference between a stride and the median of a contact's strides.

    Returns
    -------
    list of CausalStance or None
        Per job; ``None`` with fewer than three contacts or no usable stride.
    """
    out: list[CausalStance | None] = [None] * len(jobs)
    live = [k for k, jb in enumerate(jobs) if len(jb[0]) >= 3]
    if not live:
        return out
    a_l: list[int] = []
    b_l: list[int] = []
    w_l: list[int] = []
    ic_l: list[int] = []
    to_l: list[int] = []
    for n, k in enumerate(live):
        ics, i_to, ic = jobs[k]
        a_l += ics[:-2]
        b_l += ics[2:]
        w_l += [n] * (len(ics) - 2)
        ic_l.append(ic)
        to_l.append(max(i_to, ic))
    K = len(live)
    a = np.asarray(a_l, dtype=np.int64)
    b = np.asarray(b_l, dtype=np.int64)
    win = np.asarray(w_l, dtype=np.int64)
    ics0 = np.asarray(ic_l, dtype=np.int64)
    # Q(IC)^-1 per contact: its corrections in the frame of the body at its contact
    qref = q[ics0] * _CONJ
    sums = quat_rotate(qref[win], cs[b] - cs[a])
    corr = stride_corrections(t, sums, a, b, window=win, max_stride_change=max_stride_change)
    if corr is None:
        return out
    centres, rv, wk = corr
    cnt = np.bincount(wk, minlength=K)
    pos = np.arange(wk.size) - np.searchsorted(wk, wk, side="left")
    S = int(cnt.max())
    # the usable strides of each contact first, in order; padding exact zeros after them
    C = np.zeros((K, S))
    C[wk, pos] = centres
    R = np.zeros((K, S, 3))
    R[wk, pos] = rv
    M = np.zeros((K, S))
    M[wk, pos] = 1.0
    has = cnt > 0
    nn = np.maximum(cnt, 1).astype(np.float64)
    c_last = C[np.arange(K), np.maximum(cnt - 1, 0)]
    X = (C - c_last[:, None]) * M
    sx = X[:, 0].copy()
    sr = R[:, 0].copy()
    for s in range(1, S):
        sx += X[:, s]
        sr += R[:, s]
    xm = sx / nn
    rm = sr / nn[:, None]
    D = (X - xm[:, None]) * M
    num = D[:, 0, None] * (R[:, 0] - rm)
    den = D[:, 0] * D[:, 0]
    for s in range(1, S):
        num += D[:, s, None] * (R[:, s] - rm)
        den += D[:, s] * D[:, s]
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((cnt >= 2)[:, None], num / np.where(den > 0, den, 1.0)[:, None], 0.0)
    # every contact's samples IC..TO, one after the other
    lens = np.asarray(to_l, dtype=np.int64) - ics0 + 1
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    r = np.arange(int(lens.sum())) + np.repeat(ics0 - starts, lens)
    dt = (t[r] - np.repeat(c_last, lens)) - np.repeat(xm, lens)  # from the strides' mean time
    erv = np.repeat(rm, lens, axis=0) + dt[:, None] * np.repeat(slope, lens, axis=0)
    qr = quat_multiply(np.repeat(qref, lens, axis=0), q[r])
    qr /= row_norm(qr)[:, None]
    rw = quat_multiply(quat_from_rotvec(erv), qr)  # body -> world
    x_, y_, z_, w_ = rw[:, 0], rw[:, 1], rw[:, 2], rw[:, 3]
    mx = 2.0 * (x_ * y_ - w_ * z_)
    my = 1.0 - 2.0 * (x_ * x_ + z_ * z_)
    mz = 2.0 * (y_ * z_ + w_ * x_)
    obl = np.degrees(np.arcsin(np.clip(mz, -1.0, 1.0)))
    f_w = quat_rotate(rw, acc[r])
    lat = (f_w[:, 0] * mx + f_w[:, 1] * my) / np.maximum(np.sqrt(mx * mx + my * my), 1e-9)
    o_max = np.maximum.reduceat(obl, starts)
    o_min = np.minimum.reduceat(obl, starts)
    o_mean = np.add.reduceat(obl, starts) / lens
    l_mean = np.add.reduceat(lat, starts) / lens
    vals = zip(
        live,
        has.tolist(),
        o_max.tolist(),
        o_min.tolist(),
        o_mean.tolist(),
        l_mean.tolist(),
        cnt.tolist(),
        strict=True,
    )
    for k, h, hi, lo, mean, lat_m, ns in vals:
        if h:
            out[k] = CausalStance(
                obl_max=hi, obl_min=lo, obl_mean=mean, lat_mean=lat_m, n_strides=ns
            )
    return out


@dataclass
class EarlyRecord:
    """A contact as the pelvis analyzer knows it once its stance has ended
    (:mod:`dsp.pelvis_analyzer`, step 9): its causal obliquity, its place in the alternation,
    the foot contact that gives its side, and its early row once released."""

    t_ic: float
    t_to: float
    i_ic: int  # segment index
    i_to: int  # segment index
    flight: bool
    segment: int
    obl_max: float = math.nan
    obl_min: float = math.nan
    obl_mean: float = math.nan
    lat_mean: float = math.nan
    run: int = 0
    step_no: int = 0
    left: bool | None = None  # the side vote over the early records
    #: the foot contact that gives the side and events: (sensor id, side, t_ic, t_to)
    foot: tuple[str, str, float, float] | None = None
    foot_known: bool = False  # ``foot`` is decided (None: no foot contact near it)
    gap_end: int = -1  # last sample of a long gap before it (its drop waits for later strides)
    row: ContactRow | None = None  # the early row, once released
