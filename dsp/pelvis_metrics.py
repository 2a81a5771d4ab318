"""Per-step pelvis metrics over a window of aligned data, and the stance side of each step.

:func:`analyse_span` takes body-frame data (``ap, ml, vt``) of one contiguous window and returns,
for every contact found in it (:func:`dsp.pelvis_events.detect_stances`):

* **pelvic obliquity** (elevation of the right-to-left axis ``ml``, deg) from the attitude of
  :func:`dsp.pelvis_orientation.stride_gravity_attitude`: its maximum and minimum over the
  contact (IC to TO), its value at IC and its mean over the contact; the pelvic drop of the
  spec is the maximum (left stance) or minus the minimum (right stance) against the baseline;
* **vertical oscillation**: the world-vertical acceleration from this contact to the next is
  integrated twice; the mean acceleration over the step is removed (the vertical velocity is
  the same at consecutive contacts in steady running) and the linear trend of the position
  (the height is the same at consecutive contacts), peak to peak in cm;
* **side cues**: the mean obliquity over the contact (positive in a left stance: the right,
  swing, side drops) and the mean sideways (world ``ml``) acceleration over the contact, which
  points away from the stance foot: the foot is planted beside the centre of mass, so the
  ground reaction force pushes the pelvis back toward the midline (negative in a left stance).

:func:`assign_sides` resolves the left/right labels: steps alternate, so inside a run of
regular steps only the phase of the alternation is unknown; it is chosen by a vote of both cues
over the neighbouring steps, which makes a single step's noisy cue irrelevant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.pelvis_events import StanceEvents, detect_stances
from dsp.pelvis_orientation import (
    quat_rotate,
    segment_medians,
    stride_corrections,
    stride_gravity_attitude,
    world_rows,
)

__all__ = [
    "SpanSteps",
    "analyse_epochs",
    "analyse_span",
    "assign_sides",
    "obliquity_at_rest_deg",
    "pelvic_drop",
    "running_baseline",
]


def pelvic_drop(
    side: str,
    obl_max_deg: float,
    obl_min_deg: float,
    *,
    baseline_deg: float,
    max_drop_deg: float,
) -> float | None:
    """Contralateral pelvic drop of one stance, deg (the one formula of the step rows and the
    early rows).

    The obliquity (elevation of the right-to-left axis) rises when the right, swing, side
    drops: a left stance's drop is its maximum over the contact against the baseline, a right
    stance's minus its minimum. ``None`` when the drop is larger than ``max_drop_deg`` (the
    step was misread: rejected).
    """
    drop = (obl_max_deg - baseline_deg) if side == "left" else -(obl_min_deg - baseline_deg)
    return None if abs(drop) > max_drop_deg else drop


@dataclass
class SpanSteps:
    """Contacts of one window and their raw metrics (arrays of length K).

    ``nan`` where a value could not be measured. Angles in deg, ``vo_cm`` in cm.
    """

    ev: StanceEvents
    next_ic: np.ndarray  # t_ic of the next contact (either foot), nan if none/irregular
    next2_ic: np.ndarray  # t_ic of the contact after that (same foot), nan if none/irregular
    obl_max: np.ndarray
    obl_min: np.ndarray
    obl_ic: np.ndarray
    obl_mean: np.ndarray
    lat_mean: np.ndarray  # m/s², world sideways (left +) mean specific force over the contact
    vo_cm: np.ndarray
    obl: np.ndarray | None = None  # per-sample obliquity of the window, deg (None: no attitude)
    obl_t: np.ndarray | None = None  # times of ``obl`` when it covers part of the window, s


def obliquity_at_rest_deg(acc_body: np.ndarray) -> np.ndarray:
    """Pelvic obliquity (deg) of a still pelvis from its specific force in the body frame.

    At rest the specific force points up, so the elevation of ``ml`` is
    ``asin(ml . f / |f|)``: positive when the left hip is higher (right side down).

    Parameters
    ----------
    acc_body : ndarray, shape (3,) or (N, 3)
        Specific force in the pelvis body frame (``ap, ml, vt``), m/s².
    """
    a = np.asarray(acc_body, dtype=np.float64)
    return np.degrees(np.arcsin(np.clip(a[..., 1] / np.linalg.norm(a, axis=-1), -1.0, 1.0)))


def analyse_span(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    *,
    sampling_rate_hz: float,
    max_step_ratio: float = 1.5,
    gravity: float = STANDARD_GRAVITY,
) -> SpanSteps:
    """Contacts and raw per-step metrics of a window of body-frame data.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Regular sample times, s.
    acc : ndarray, shape (N, 3)
        Specific force, pelvis body frame (``ap, ml, vt``), m/s².
    gyr : ndarray, shape (N, 3)
        Angular rate, body frame, deg/s.
    sampling_rate_hz : float
    max_step_ratio : float
        A step (contact to next contact) longer than this times the window's median step
        means a contact was missed: no next contact for it.
    gravity : float
        m/s².

    Returns
    -------
    SpanSteps
    """
    fs = float(sampling_rate_hz)
    ev = detect_stances(t, acc[:, 2], sampling_rate_hz=fs, gravity=gravity)
    k = len(ev)
    nan = np.full(k, np.nan)
    out = SpanSteps(
        ev,
        nan.copy(),
        nan.copy(),
        nan.copy(),
        nan.copy(),
        nan.copy(),
        nan.copy(),
        nan.copy(),
        nan.copy(),
    )
    if k == 0:
        return out
    run = ev.flight
    out.next_ic, out.next2_ic = _next_contacts(ev, max_step_ratio)
    good = np.flatnonzero(run)
    rot = stride_gravity_attitude(t, acc, gyr, ev.i_ic[good]) if good.size >= 3 else None
    if rot is None:
        return out
    ml_w = rot.apply(np.array([0.0, 1.0, 0.0]))  # body ml in the world, (N, 3)
    obl = np.degrees(np.arcsin(np.clip(ml_w[:, 2], -1.0, 1.0)))
    out.obl = obl
    f_w = rot.apply(acc)
    a_z = f_w[:, 2] - gravity
    h = ml_w[:, :2]
    hn = np.linalg.norm(h, axis=1)
    lat = np.einsum("ij,ij->i", f_w[:, :2], h) / np.maximum(hn, 1e-9)
    n = t.shape[0]
    # stance statistics: all contacts' samples concatenated, reduced per contact
    a = ev.i_ic.astype(np.int64)
    b = np.maximum(ev.i_to.astype(np.int64), a)
    idx, off = _ranges(a, b)
    seg_obl = obl[idx]
    out.obl_max = np.maximum.reduceat(seg_obl, off)
    out.obl_min = np.minimum.reduceat(seg_obl, off)
    ln = (b - a + 1).astype(np.float64)
    out.obl_mean = np.add.reduceat(seg_obl, off) / ln
    out.lat_mean = np.add.reduceat(lat[idx], off) / ln
    # obliquity at IC: linear interpolation between the samples around it
    i1 = a
    i0 = np.maximum(0, i1 - 1)
    span = t[i1] - t[i0]
    w = np.where(span > 0, (ev.t_ic - t[i0]) / np.where(span > 0, span, 1.0), 1.0)
    out.obl_ic = obl[i0] + np.clip(w, 0.0, 1.0) * (obl[i1] - obl[i0])
    # vertical oscillation, contact to next contact
    has_next = np.isfinite(out.next_ic[:-1])
    js = np.flatnonzero(has_next)
    if js.size:
        a2 = a[js]
        c2 = np.minimum(ev.i_ic[js + 1].astype(np.int64), n - 1)
        okc = c2 - a2 >= 4
        js, a2, c2 = js[okc], a2[okc], c2[okc]
    if js.size:
        out.vo_cm[js] = _step_ptp_cm(t, a_z, a2, c2)
    return out


def _next_contacts(ev: StanceEvents, max_step_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """``t_ic`` of each contact's next contact and of the one after (nan where a step is
    longer than ``max_step_ratio`` times the median step between flight contacts)."""
    k = len(ev)
    next_ic, next2_ic = np.full(k, np.nan), np.full(k, np.nan)
    if k > 1:
        run = ev.flight
        st = np.diff(ev.t_ic)
        pair = run[:-1] & run[1:]
        med = _median(st[pair]) if pair.any() else np.inf
        reg = st <= max_step_ratio * med
        next_ic[:-1] = np.where(reg, ev.t_ic[1:], np.nan)
        next2_ic[:-2] = np.where(reg[:-1] & reg[1:], ev.t_ic[2:], np.nan)
    return next_ic, next2_ic


def _median(x: np.ndarray) -> float:
    """``np.median`` of a short non-empty 1-D array (same value, less call overhead)."""
    v = np.sort(x)
    m = v.size // 2
    return float(v[m]) if v.size % 2 else float((v[m - 1] + v[m]) / 2.0)


def _ranges(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated indices ``a[j] .. b[j]`` (inclusive) and the offset of each range."""
    ln = b - a + 1
    off = np.concatenate(([0], np.cumsum(ln)[:-1]))
    idx = np.arange(int(ln.sum())) - np.repeat(off - a, ln)
    return idx, off


def _step_ptp_cm(t: np.ndarray, a_z: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Peak-to-peak height (cm) from ``a[j]`` to ``c[j]`` by double integration (vectorised).

    The mean acceleration of each step is removed (equal vertical velocity at both contacts)
    and the linear trend of the height (equal height at both contacts).
    """
    idx, off = _ranges(a, c)
    tt = t[idx]
    az = a_z[idx]
    first = np.zeros(idx.size, dtype=bool)
    first[off] = True
    seg = np.cumsum(first) - 1
    dt = np.empty(idx.size)  # np.diff with a leading 0 (slicing: fewer numpy calls)
    dt[0] = 0.0
    np.subtract(tt[1:], tt[:-1], out=dt[1:])
    dt[first] = 0.0
    t0 = tt[off][seg]
    dur = (t[c] - t[a])[seg]
    prev = np.empty(idx.size, dtype=np.intp)  # np.roll(y, 1) as an index
    prev[0] = idx.size - 1
    prev[1:] = np.arange(idx.size - 1)

    def seg_cumtrapz(y: np.ndarray) -> np.ndarray:
        inc = 0.5 * (y + y[prev]) * dt
        inc[first] = 0.0
        cs = np.cumsum(inc)
        return cs - (cs[off] - inc[off])[seg]

    v = seg_cumtrapz(az)
    last = np.concatenate((off[1:] - 1, [idx.size - 1]))
    mean_a = v[last] / (t[c] - t[a])
    v = v - mean_a[seg] * (tt - t0)
    z = seg_cumtrapz(v)
    z = z - (tt - t0) / dur * z[last][seg]
    return (np.maximum.reduceat(z, off) - np.minimum.reduceat(z, off)) * 100.0


def _one_step_ptp_cm(t: np.ndarray, a_z: np.ndarray, a: int, c: int) -> float:
    """:func:`_step_ptp_cm` of one step (samples ``a`` to ``c``): the same operations on one
    range, without the bookkeeping of many (the same value, bit for bit; a walking step's
    oscillation, :mod:`dsp.pelvis_walk`)."""
    tt = t[a : c + 1]
    az = a_z[a : c + 1]
    dt = np.empty(tt.size)
    dt[0] = 0.0
    np.subtract(tt[1:], tt[:-1], out=dt[1:])
    dur = t[c] - t[a]
    t_rel = tt - tt[0]

    def cumtrapz(y: np.ndarray) -> np.ndarray:
        inc = np.empty(y.size)
        inc[0] = 0.0
        inc[1:] = 0.5 * (y[1:] + y[:-1]) * dt[1:]
        return np.cumsum(inc) - 0.0  # (the batch's start offset, 0.0: -0.0 stays -0.0)

    v = cumtrapz(az)
    v = v - v[-1] / dur * t_rel
    z = cumtrapz(v)
    z = z - t_rel / dur * z[-1]
    return float((z.max() - z.min()) * 100.0)


def assign_sides(
    obl_mean: np.ndarray,
    lat_mean: np.ndarray,
    run_id: np.ndarray,
    *,
    step_no: np.ndarray | None = None,
    half_window: int = 8,
    after: int | None = None,
    yaw_rate: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Left/right label of each step by a vote over its run of alternating steps.

    For each cue and step ``j``, the vote is the mean of the cue over the steps of ``j``'s
    parity minus its mean over the other parity (within ``half_window`` steps and the same run),
    divided by the mean absolute step-to-step change of the cue there, so each cue votes about
    +-1 when it alternates cleanly and about 0 when it is noise. Vectorised (cumulative sums).

    Parameters
    ----------
    obl_mean : ndarray, shape (K,)
        Mean obliquity over each contact, deg (higher in a left stance); nan allowed.
    lat_mean : ndarray, shape (K,)
        Mean world sideways specific force over each contact, m/s² (lower in a left stance).
    run_id : ndarray of int, shape (K,)
        Steps with the same id alternate sides (no contact missed between them); non-decreasing.
    step_no : ndarray of int, shape (K,), optional
        Running step number (increasing; a jump of 2 means one contact was missed but the run
        continues); the alternation follows its parity. Default: the position.
    half_window : int
        Steps on each side of a step that vote on its label.
    yaw_rate : ndarray, shape (K,), optional
        Walking: mean rate of turn about the vertical just before each contact, deg/s (lower
        before a left contact: the left hip swings forward with the left leg).
    after : int, optional
        Steps after a step that vote on its label (default ``half_window``). With fewer, a
        step is decided sooner in a stream; the window then still spans at least the first
        ``2 * half_window + 1`` steps of its run (the first steps of a run wait for them).

    Returns
    -------
    left : ndarray of bool, shape (K,)
        True for a left stance.
    margin : ndarray, shape (K,)
        Strength of the vote, 0 (undecided) to about 2 (both cues clean).
    """
    k = obl_mean.shape[0]
    if k == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    run_id = np.asarray(run_id)
    idx = np.arange(k)
    new = np.concatenate(([True], run_id[1:] != run_id[:-1]))
    starts = np.maximum.accumulate(np.where(new, idx, 0))
    ends_rev = np.where(np.concatenate((run_id[1:] != run_id[:-1], [True])), idx, k)
    ends = np.minimum.accumulate(ends_rev[::-1])[::-1]
    lo = np.maximum(idx - half_window, starts)
    if after is None:
        hi = np.minimum(idx + half_window, ends)  # inclusive
    else:
        ahead = min(after, half_window)
        hi = np.minimum(np.maximum(idx + ahead, starts + 2 * half_window), ends)
    par = (idx if step_no is None else np.asarray(step_no, dtype=np.int64)) % 2
    total = np.zeros(k)
    cues = [np.asarray(obl_mean, float), -np.asarray(lat_mean, float)]
    if yaw_rate is not None:
        cues.append(-np.asarray(yaw_rate, float))
    for cue in cues:
        ok = np.isfinite(cue)
        x = np.where(ok, cue, 0.0)
        sums, cnts = [], []
        for p in (0, 1):
            m = ok & (par == p)
            sums.append(np.concatenate(([0.0], np.cumsum(np.where(m, x, 0.0)))))
            cnts.append(np.concatenate(([0], np.cumsum(m))))
        dif_ok = np.concatenate(([False], ok[1:] & ok[:-1] & ~new[1:]))
        dif = np.where(dif_ok, np.abs(np.diff(x, prepend=0.0)), 0.0)
        cd = np.concatenate(([0.0], np.cumsum(dif)))
        cn = np.concatenate(([0], np.cumsum(dif_ok)))

        def wsum(c: np.ndarray) -> np.ndarray:
            return c[hi + 1] - c[lo]

        s_same = np.where(par == 0, wsum(sums[0]), wsum(sums[1]))
        n_same = np.where(par == 0, wsum(cnts[0]), wsum(cnts[1]))
        s_oth = np.where(par == 0, wsum(sums[1]), wsum(sums[0]))
        n_oth = np.where(par == 0, wsum(cnts[1]), wsum(cnts[0]))
        # differences inside the window: between lo+1 .. hi
        d_sum = cd[hi + 1] - cd[lo + 1]
        d_n = cn[hi + 1] - cn[lo + 1]
        good = (n_same > 0) & (n_oth > 0) & (d_n > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = (s_same / n_same - s_oth / n_oth) / (d_sum / d_n)
        total += np.where(good & np.isfinite(v), v, 0.0)
    return total > 0, np.abs(total)


def analyse_epochs(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    cs: np.ndarray,
    jobs: list[tuple[StanceEvents, int, int, np.ndarray]],
    *,
    max_step_ratio: float = 1.5,
    max_stride_change: float = 0.25,
    gravity: float = STANDARD_GRAVITY,
    traces: bool = True,
) -> list[SpanSteps]:
    """:func:`analyse_span` of windows ``lo:hi`` for their contacts ``own``, from streamed state.

    The per-sample work (contact detection, gyroscope chaining, the specific force in a fixed
    frame and its running sum) is done once per sample by the caller; here only each window's
    stride corrections (a few per window) and the attitude of the samples its ``own``
    contacts need are computed, for all the windows at once. The result equals that of
    :func:`analyse_span` on ``t[lo:hi]`` up to rounding: ``Q_window(t) = Q(lo)^-1 Q(t)``, and
    the stride sums of the window frame are the fixed-frame sums rotated by ``Q(lo)^-1``.
    Each window's values are computed element by element or by reductions over its own
    samples, so they do not depend on which other windows are analysed with it.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times of the buffer, s.
    acc : ndarray, shape (N, 3)
        Specific force, body frame, m/s².
    q : ndarray, shape (N, 4)
        Body frame at each sample to one fixed frame (scipy order), gyroscope chained.
    cs : ndarray, shape (N, 3)
        ``cs[i]``: sum of the specific force in that fixed frame over the samples before ``i``.
    jobs : list of (StanceEvents, int, int, ndarray of bool)
        Per window: its contacts (indices into the buffer, ``flight`` as the window sees it),
        ``lo``, ``hi`` (the window ``lo:hi`` of the buffer) and the contacts wanted (``own``).
    max_step_ratio, max_stride_change, gravity
        As in :func:`analyse_span` and :func:`dsp.pelvis_orientation.stride_gravity_attitude`.
    traces : bool
        Also the obliquity for the traces (``obl``, ``obl_t``); without them the attitude is
        computed up to the contact after the last ``own`` one only (the same metrics).

    Returns
    -------
    list of SpanSteps
        Per window, arrays of its ``own`` contacts only (``ev`` of them too); with ``traces``,
        ``obl`` and ``obl_t`` hold the obliquity over the samples from the first ``own``
        contact to the contact two steps after the last one (else they are None).
    """
    nx_all, nx2_all = _next_contacts_of_windows(jobs, max_step_ratio)
    outs, blocks, ois, strides = _own_contacts(jobs, q, nx_all, nx2_all)
    if not strides:
        return outs
    att = _window_corrections(t, cs, jobs, ois, strides, max_stride_change, 2 if traces else 1)
    if not att:
        return outs
    _own_metrics(t, acc, q, jobs, ois, outs, blocks, att, gravity, traces)
    return outs


#: per window with strides: job index, a, b (stride start / end contacts), Q(lo)^-1
_Strides = list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]
#: per window with usable strides: job index, r0, r1 (its samples), Q(lo)^-1, corrections
#: (rotation vectors, components first: (3, r1 - r0 + 1))
_Attitudes = list[tuple[int, int, int, np.ndarray, np.ndarray]]
_CONJ = np.array([-1.0, -1.0, -1.0, 1.0])


def _next_contacts_of_windows(
    jobs: list[tuple[StanceEvents, int, int, np.ndarray]], max_step_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """The next and next-but-one contact time of every contact of every window (nan when the
    step is irregular: longer than ``max_step_ratio`` median steps of its window), all at once
    (as :func:`_next_contacts` per window)."""
    k_j = np.array([len(x[0]) for x in jobs])
    t_all = np.concatenate([x[0].t_ic for x in jobs])
    f_all = np.concatenate([x[0].flight for x in jobs])
    w_all = np.repeat(np.arange(len(jobs)), k_j)
    nx_all, nx2_all = np.full(t_all.size, np.nan), np.full(t_all.size, np.nan)
    if t_all.size > 1:
        same = w_all[1:] == w_all[:-1]
        st = np.diff(t_all)
        pair = f_all[:-1] & f_all[1:] & same
        med = segment_medians(st[pair], w_all[:-1][pair], len(jobs))[w_all[:-1]]
        reg = same & (st <= max_step_ratio * med)
        nx_all[:-1] = np.where(reg, t_all[1:], np.nan)
        nx2_all[:-2] = np.where(reg[:-1] & reg[1:], t_all[2:], np.nan)
    return nx_all, nx2_all


def _own_contacts(
    jobs: list[tuple[StanceEvents, int, int, np.ndarray]],
    q: np.ndarray,
    nx_all: np.ndarray,
    nx2_all: np.ndarray,
) -> tuple[list[SpanSteps], list[np.ndarray], list[np.ndarray], _Strides]:
    """Per window: its result for its own contacts (metrics nan, filled later through
    ``blocks``, one (6, K_own) array each), the own contacts' positions, and the strides
    between its flight contacts (windows with at least three and an own contact)."""
    k_j = np.array([len(x[0]) for x in jobs])
    e_off = np.concatenate(([0], np.cumsum(k_j)))
    outs: list[SpanSteps] = []
    strides: _Strides = []
    ois = [np.flatnonzero(x[3]) for x in jobs]  # the own contacts of each window
    blocks: list[np.ndarray] = []  # per window: its metrics obl_max .. vo_cm, (6, K_own)
    for jn, (ev, lo, hi, _) in enumerate(jobs):
        oi = ois[jn]
        run = ev.flight
        next_ic = nx_all[e_off[jn] : e_off[jn + 1]]
        next2_ic = nx2_all[e_off[jn] : e_off[jn + 1]]
        ko = oi.size
        nano = np.full((6, ko), np.nan)  # one row per metric (views in SpanSteps)
        blocks.append(nano)
        sub = StanceEvents(
            ev.i_peak[oi],
            ev.t_ic[oi],
            ev.t_to[oi],
            ev.i_ic[oi],
            ev.i_to[oi],
            ev.peak_g[oi],
            run[oi],
        )
        outs.append(SpanSteps(sub, next_ic[oi], next2_ic[oi], *nano))
        good = np.flatnonzero(run)
        if ko == 0 or hi - lo < 4 or good.size < 3:
            continue
        ig = ev.i_ic[good]
        strides.append((jn, ig[:-2], ig[2:], q[lo] * _CONJ))  # Q(lo)^-1
    return outs, blocks, ois, strides


def _window_corrections(
    t: np.ndarray,
    cs: np.ndarray,
    jobs: list[tuple[StanceEvents, int, int, np.ndarray]],
    ois: list[np.ndarray],
    strides: _Strides,
    max_stride_change: float,
    steps_on: int,
) -> _Attitudes:
    """Every window's stride corrections, in the window's frame (as
    :func:`dsp.pelvis_orientation.stride_gravity_attitude`), interpolated over the samples its
    own contacts need: IC - 1 .. the contact ``steps_on`` steps after the last one (1: the
    metrics, 2: the traces too)."""
    att: _Attitudes = []
    sa = np.concatenate([x[1] for x in strides])
    sb = np.concatenate([x[2] for x in strides])
    n_s = np.array([x[1].size for x in strides])
    qlo_s = np.repeat(np.stack([x[3] for x in strides]), n_s, axis=0)
    sums = quat_rotate(qlo_s, cs[sb] - cs[sa])
    win = np.repeat(np.arange(len(strides)), n_s)
    corr = stride_corrections(t, sums, sa, sb, window=win, max_stride_change=max_stride_change)
    if corr is None:
        return att
    centres_all, rv_all, win_ok = corr
    cut = np.searchsorted(win_ok, np.arange(len(strides) + 1))
    for m, (jn, _, _, qlo) in enumerate(strides):
        if cut[m] == cut[m + 1]:
            continue  # no usable stride in this window
        centres, rv = centres_all[cut[m] : cut[m + 1]], rv_all[cut[m] : cut[m + 1]]
        ev, lo, hi, _ = jobs[jn]
        oi = ois[jn]
        # the samples the own contacts need: IC - 1 .. the contact steps_on steps on
        ia = ev.i_ic
        r0 = max(lo, int(ia[oi[0]]) - 1)
        j_end = min(len(ev) - 1, int(oi[-1]) + steps_on)
        r1 = min(hi - 1, max(int(np.maximum(ev.i_to[oi], ia[oi]).max()), int(ia[j_end])) + 1)
        tr = t[r0 : r1 + 1]
        erv = np.empty((3, tr.shape[0]))  # components first (contiguous for world_rows)
        for c in range(3):
            erv[c] = np.interp(tr, centres, rv[:, c])
        att.append((jn, r0, r1, qlo, erv))
    return att


def _own_metrics(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    jobs: list[tuple[StanceEvents, int, int, np.ndarray]],
    ois: list[np.ndarray],
    outs: list[SpanSteps],
    blocks: list[np.ndarray],
    att: _Attitudes,
    gravity: float,
    traces: bool,
) -> None:
    """The attitude of the samples of every window in ``att`` at once (element by element),
    then each own contact's obliquity statistics, side cue and vertical oscillation, written
    into ``blocks`` (and ``obl``/``obl_t`` of ``outs``)."""
    r0s = np.array([x[1] for x in att], dtype=np.int64)
    r1s = np.array([x[2] for x in att], dtype=np.int64)
    idx, base = _ranges(r0s, r1s)  # concatenated sample indices, start of each window's part
    lens = r1s - r0s + 1
    obl, lat, a_z = world_rows(
        np.stack([x[3] for x in att]),
        lens,
        q,
        list(np.concatenate([x[4] for x in att], axis=1)),
        acc,
        gravity,
        rows=idx,
    )
    assert a_z is not None
    tc = t[idx]
    # per contact (the own contacts of every window in ``att``, in order): positions in the
    # concatenation of the windows' samples
    jns = [x[0] for x in att]
    for m, jn in enumerate(jns if traces else ()):
        outs[jn].obl = obl[base[m] : base[m] + lens[m]]
        outs[jn].obl_t = tc[base[m] : base[m] + lens[m]]
    kos = np.array([ois[jn].size for jn in jns], dtype=np.int64)
    rep = np.repeat(np.arange(len(jns)), kos)  # window (position in att) of each contact
    off = (base - r0s)[rep]  # buffer index -> concatenation index
    ia = np.concatenate([outs[jn].ev.i_ic for jn in jns]).astype(np.int64)
    ito = np.concatenate([outs[jn].ev.i_to for jn in jns]).astype(np.int64)
    los = np.array([jobs[jn][1] for jn in jns], dtype=np.int64)[rep]
    ao = ia + off
    bo = np.maximum(ito, ia) + off
    i1, i0 = ao, np.maximum(los, ia - 1) + off
    cidx, coff = _ranges(ao, bo)
    seg_obl = obl[cidx]
    ln = (bo - ao + 1).astype(np.float64)
    vals = np.full((6, ia.size), np.nan)  # rows as SpanSteps: obl_max .. lat_mean, vo_cm
    vals[0] = np.maximum.reduceat(seg_obl, coff)
    vals[1] = np.minimum.reduceat(seg_obl, coff)
    vals[3] = np.add.reduceat(seg_obl, coff) / ln
    vals[4] = np.add.reduceat(lat[cidx], coff) / ln
    t_ic = np.concatenate([outs[jn].ev.t_ic for jn in jns])
    span = tc[i1] - tc[i0]
    wgt = np.where(span > 0, (t_ic - tc[i0]) / np.where(span > 0, span, 1.0), 1.0)
    vals[2] = obl[i0] + np.clip(wgt, 0.0, 1.0) * (obl[i1] - obl[i0])
    # vertical oscillation, contact to next contact (either foot) of the same window
    n_ev = np.array([len(jobs[jn][0]) for jn in jns], dtype=np.int64)
    ev_off = np.concatenate(([0], np.cumsum(n_ev)[:-1]))
    ic_all = np.concatenate([jobs[jn][0].i_ic for jn in jns]).astype(np.int64)
    oi_all = np.concatenate([ois[jn] for jn in jns])
    nxt = np.concatenate([outs[jn].next_ic for jn in jns])
    has = np.isfinite(nxt) & (oi_all + 1 < n_ev[rep])
    js = np.flatnonzero(has)
    if js.size:
        his = np.array([jobs[jn][2] for jn in jns], dtype=np.int64)[rep[js]]
        c2 = np.minimum(ic_all[ev_off[rep[js]] + oi_all[js] + 1], his - 1)
        okc = c2 - ia[js] >= 4
        js, c2 = js[okc], c2[okc]
        if js.size:
            vals[5, js] = _step_ptp_rows_cm(tc, a_z, ao[js], c2 + off[js])
    ends = np.cumsum(kos)
    for m, jn in enumerate(jns):
        blocks[jn][:] = vals[:, ends[m] - kos[m] : ends[m]]


def _step_ptp_rows_cm(t: np.ndarray, a_z: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """:func:`_step_ptp_cm` with one row per step (padded), so that each step's value depends
    on its own samples only (sequential sums per row), whatever other steps it comes with."""
    ln = c - a + 1
    cols = np.arange(int(ln.max()))
    j = np.minimum(a[:, None] + cols[None, :], c[:, None])  # pad with the last sample
    tt = t[j]
    az = a_z[j]
    dt = np.zeros_like(tt)
    np.subtract(tt[:, 1:], tt[:, :-1], out=dt[:, 1:])
    t0 = tt[:, :1]
    dur = (t[c] - t[a])[:, None]
    last = ln - 1
    rows = np.arange(a.size)

    def cumtrapz(y: np.ndarray) -> np.ndarray:
        inc = np.zeros_like(y)
        inc[:, 1:] = 0.5 * (y[:, 1:] + y[:, :-1]) * dt[:, 1:]
        return np.cumsum(inc, axis=1)

    v = cumtrapz(az)
    mean_a = v[rows, last] / (t[c] - t[a])
    v = v - mean_a[:, None] * (tt - t0)
    z = cumtrapz(v)
    z = z - (tt - t0) / dur * z[rows, last][:, None]
    return (z.max(axis=1) - z.min(axis=1)) * 100.0


def running_baseline(
    obl_ic_left: np.ndarray,
    obl_ic_right: np.ndarray,
    obl_max_left: np.ndarray,
    obl_min_right: np.ndarray,
) -> float:
    """Standing obliquity estimated from running steps alone, deg.

    Assumes the obliquity waveform of a left and of a right stance have the same shape, scaled
    by each side's drop (a weak side drops further, along the same pattern): with ``b`` the
    level, ``(IC_L - b) / (peak_L - b) = (IC_R - b) / (trough_R - b)``, solved for ``b`` with
    the medians of the obliquity at initial contact and of the stance peak (left) and trough
    (right). This is exact when the pelvis is level at contact, and when it is not level but
    tilted in proportion to the drop; the plain midpoint of the IC values is used when the
    equation is degenerate.
    """
    il, ir = float(np.median(obl_ic_left)), float(np.median(obl_ic_right))
    pl, mr = float(np.median(obl_max_left)), float(np.median(obl_min_right))
    mid = 0.5 * (il + ir)
    den = ir + pl - il - mr
    if abs(den) < 0.5:
        return mid
    b = (ir * pl - il * mr) / den
    if not math.isfinite(b) or abs(b - mid) > 3.0 or not (mr < b < pl):
        return mid
    return b
