"""Ground contacts (initial contact, toe-off) from the vertical specific force at the pelvis.

While running, the pelvis (close to the centre of mass) is in free fall during the flight phase:
its accelerometer reads about 0 g along the vertical. During a contact the vertical ground
reaction force (GRF) lifts the reading to a single hump of 2-3 g. The spring-mass model of
running approximates the vertical GRF in stance by a half-sine wave (Morin et al. 2005, "A
simple method for measuring stiffness during running", J Appl Biomech 21(2)); the contact
starts and ends where the half-sine starts and ends.

The hump's edges are blurred by soft-tissue transients and sensor noise near 0 g, so the
contact is not taken where the reading leaves 0 g. Instead, for each hump with peak ``P``
(smoothed), the two instants where it crosses ``P/2`` are found (sub-sample, linear
interpolation). For a half-sine of duration ``Tc`` they lie ``Tc/6`` after initial contact and
``Tc/6`` before toe-off, so ``Tc = 1.5 (t_down - t_up)``, ``IC = t_up - Tc/6``,
``TO = t_down + Tc/6``. Patoz et al. (2022, "A single sacral-mounted inertial measurement
unit to estimate peak vertical ground reaction force, contact time, and flight time in
running", Sensors 22(3):784) report 20 ms RMSE for sacral contact and flight times against an
instrumented treadmill (with a threshold method), the order of agreement to expect on real data.

A contact needs a flight phase on both sides (the reading must fall below ``flight_max_g``
between two humps); without one (walking, or a sensor that is not on the trunk) the humps are
reported with ``flight=False`` so the caller can reject them.

Every operation is local (moving averages of fixed width, searches inside one hump), so a hump
gives bit-identical events in any window that contains it with ``margin_samples`` to spare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.filters import centered_moving_average, samples_for

__all__ = ["StanceEvents", "detect_stances", "event_margin_samples"]


@dataclass
class StanceEvents:
    """Contacts found in a window (arrays of length K, in time order).

    Attributes
    ----------
    i_peak : ndarray of int, shape (K,)
        Index of the hump's peak.
    t_ic, t_to : ndarray, shape (K,)
        Initial contact and toe-off, s (sub-sample).
    i_ic, i_to : ndarray of int, shape (K,)
        Sample indices at or just after ``t_ic`` / ``t_to`` (clipped to the window).
    peak_g : ndarray, shape (K,)
        Peak of the smoothed vertical specific force, g.
    flight : ndarray of bool, shape (K,)
        The reading fell below the flight level before and after the hump.
    i_pre, i_post : ndarray of int, shape (K,)
        Last sample before (first after) the hump where the reading is below the flight
        level, within one contact time; ``-1`` (``N + 10**9``) if none. A window that
        starts after ``i_pre`` (ends before ``i_post``) sees no flight on that side.
    i_dep : ndarray of int, shape (K,)
        Last sample the contact's values depend on, smoothing included: a window or stream
        holding data past it finds the contact identically.
    i_up, i_dn, reach : ndarray of int, shape (K,)
        Samples before the rising and the falling ``P/2`` crossing, and the samples searched
        for flight on either side.
    """

    i_peak: np.ndarray
    t_ic: np.ndarray
    t_to: np.ndarray
    i_ic: np.ndarray
    i_to: np.ndarray
    peak_g: np.ndarray
    flight: np.ndarray
    i_pre: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    i_post: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    i_dep: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    i_up: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    i_dn: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    reach: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))

    def __len__(self) -> int:
        return int(self.i_peak.shape[0])


def event_margin_samples(
    *, sampling_rate_hz: float, smooth_ms: float = 50.0, max_hump_s: float = 0.9
) -> int:
    """Samples a window must extend beyond a hump for its events to be exact, see module."""
    return samples_for(max_hump_s + smooth_ms / 1000.0, sampling_rate_hz=sampling_rate_hz) + 4


def _crossings(t: np.ndarray, x: np.ndarray, i: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Times where ``x`` crosses ``level`` between samples ``i`` and ``i + 1`` (linear), one
    per element of ``i`` and ``level``."""
    x0, x1 = x[i], x[i + 1]
    t0, t1 = t[i], t[i + 1]
    flat = x1 == x0
    f = (level - x0) / np.where(flat, 1.0, x1 - x0)
    return np.where(flat, t0, t0 + np.minimum(1.0, np.maximum(0.0, f)) * (t1 - t0))


#: Defaults of :func:`detect_stances` that its streaming caller needs too (the context a
#: contact's detection depends on): the smoothing width, ms, and the flight level, g. The
#: flight level is also the walking detection's (:func:`detect_walk_steps`): a reading below
#: it is a running flight phase, never a walking step. 0.4 g (was 0.6): in walking the pelvis
#: vaults over the stance leg and reads 1 - v²/(g L) in single support, down to about 0.5 g
#: at the walk-run transition (Froude number 0.5); on the real Voisard et al. walks (110
#: trials, L5) the smoothed reading falls below 0.6 g in 8 % of the steps and most steps of
#: some walkers (down to 0.44 g), which then lost their steps or became "running"; the
#: shallowest smoothed flight of the simulator's runs is 0.32 g (forefoot), real running
#: flights read about 0 g.
SMOOTH_MS = 50.0
FLIGHT_MAX_G = 0.4


def detect_stances(
    t: np.ndarray,
    f_vt: np.ndarray,
    *,
    sampling_rate_hz: float,
    smooth_ms: float = SMOOTH_MS,
    stance_min_g: float = 1.4,
    flight_max_g: float = FLIGHT_MAX_G,
    min_hump_s: float = 0.06,
    max_hump_s: float = 0.9,
    gravity: float = STANDARD_GRAVITY,
) -> StanceEvents:
    """Find the contacts in a window of vertical specific force.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s (regular).
    f_vt : ndarray, shape (N,)
        Specific force along the pelvis' vertical axis, m/s² (about +9.81 at rest).
    sampling_rate_hz : float
    smooth_ms : float
        Width of the centred moving average, ms (50 ms also nulls 20 Hz soft-tissue ringing).
    stance_min_g : float
        A hump must peak above this, g (a running contact peaks at 2-3 g).
    flight_max_g : float
        Between two contacts of a run the reading falls below this, g.
    min_hump_s, max_hump_s : float
        Accepted durations of the part of a hump above ``P/2``, s.
    gravity : float
        m/s².

    Returns
    -------
    StanceEvents
    """
    fs = float(sampling_rate_hz)
    n = t.shape[0]
    g = float(gravity)
    ei, ef = np.empty(0, dtype=int), np.empty(0)
    empty = StanceEvents(ei, ef, ef, ei, ei, ef, np.empty(0, dtype=bool))
    if n < 8:
        return empty
    w = samples_for(smooth_ms / 1000.0, sampling_rate_hz=fs, minimum=1)
    x = centered_moving_average(np.asarray(f_vt, dtype=np.float64), window=w) / g
    above = x > stance_min_g
    d = np.diff(np.concatenate(([0], above.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    if starts.size == 0:
        return empty
    # merge humps split by a short dip (soft-tissue ringing): dips shorter than min_hump_s
    gap_ok = starts[1:] - stops[:-1] > samples_for(min_hump_s, sampling_rate_hz=fs)
    keep_start = np.concatenate(([True], gap_ok))
    keep_stop = np.concatenate((gap_ok, [True]))
    starts, stops = starts[keep_start], stops[keep_stop]
    # all humps at once (each search below is the per-hump search of the docstring's rules, done
    # for every hump by one sorted search: the ranges searched for different humps never overlap)
    merge = samples_for(min_hump_s, sampling_rate_hz=fs)
    k_all = starts.size
    idx = np.arange(n)
    # the peak: the first maximum of each hump (the humps are separated by dips)
    edges = np.empty(2 * k_all, dtype=np.intp)
    edges[0::2], edges[1::2] = starts, stops
    top = np.maximum.reduceat(np.append(x, -np.inf), edges)[0::2]
    mark = np.zeros(n + 1, dtype=np.intp)
    mark[starts] = 1
    lab = np.cumsum(mark[:n]) - 1  # the hump whose start is the last one at or before i
    inside = np.zeros(n + 1, dtype=np.intp)
    inside[starts] += 1
    inside[stops] -= 1
    in_hump = np.cumsum(inside[:n]) > 0
    at_top = np.flatnonzero(in_hump & (x == top[lab]))
    ip = at_top[np.searchsorted(at_top, starts)]
    half = 0.5 * x[ip]
    # walk out from the peak to the P/2 crossings (not beyond the neighbouring humps): the
    # last sample below P/2 from the previous hump's end to the peak, the first from the peak
    # to the next hump's start
    left_lim = np.concatenate(([0], stops[:-1]))
    right_lim = np.concatenate((starts[1:], [n]))
    mark[:] = 0
    mark[stops] = 1
    lab_r = np.minimum(np.cumsum(mark[:n]), k_all - 1)  # (stops before or at i, last hump)
    below = np.flatnonzero((x < half[lab_r]) & (idx < ip[lab_r]) & (idx < stops[-1]))
    j = np.searchsorted(below, ip) - 1
    ok = j >= 0
    iu = np.where(ok, below[np.maximum(j, 0)] if below.size else 0, 0)
    ok &= iu >= left_lim
    after = np.flatnonzero((lab >= 0) & (x < half[lab]) & (idx >= ip[lab]))
    j = np.searchsorted(after, ip)
    ok &= j < after.size
    idn = np.where(ok, after[np.minimum(j, after.size - 1)] if after.size else 0, 0) - 1
    ok &= idn + 1 < right_lim
    k = np.flatnonzero(ok)  # (the others are cut by the window's edge)
    ip, half, iu, idn, b = ip[k], half[k], iu[k], idn[k], stops[k]
    t_up = _crossings(t, x, iu, half)
    t_dn = _crossings(t, x, idn, half)
    dur = t_dn - t_up
    k = np.flatnonzero((min_hump_s <= dur) & (dur <= max_hump_s))
    ip, iu, idn, b, t_up, t_dn, dur = ip[k], iu[k], idn[k], b[k], t_up[k], t_dn[k], dur[k]
    tc = 1.5 * dur
    k = np.flatnonzero(~((t_up - tc / 6.0 < t[0]) | (t_dn + tc / 6.0 > t[-1])))
    if k.size == 0:  # (no contact wholly inside the window)
        return empty
    ip, iu, idn, b, t_up, t_dn, tc = ip[k], iu[k], idn[k], b[k], t_up[k], t_dn[k], tc[k]
    # flight on both sides: the reading drops below flight_max_g within one contact time
    reach = np.maximum(np.rint(tc * fs).astype(np.int64), 2)  # samples_for(tc, minimum=2)
    low = np.flatnonzero(x < flight_max_g)
    lo_pre = np.maximum(iu - reach, 0)
    j = np.searchsorted(low, iu, side="right") - 1
    got = low[np.maximum(j, 0)] if low.size else np.zeros_like(iu)
    any_pre = (j >= 0) & (got >= lo_pre)
    j_pre = np.where(any_pre, got, -1)
    j = np.searchsorted(low, idn)
    got = low[np.minimum(j, low.size - 1)] if low.size else np.zeros_like(idn)
    any_post = (j < low.size) & (got < np.minimum(n, idn + reach + 1))
    j_post = np.where(any_post, got, n + 10**9)
    dep = np.maximum(np.where(any_post, j_post, idn + reach), b + merge) + w // 2 + 1
    t_ic = t_up - tc / 6.0
    t_to = t_dn + tc / 6.0
    i_ic = np.clip(np.searchsorted(t, t_ic, side="left"), 0, n - 1)
    i_to = np.clip(np.searchsorted(t, t_to, side="left"), 0, n - 1)
    return StanceEvents(
        i_peak=ip,
        t_ic=t_ic,
        t_to=t_to,
        i_ic=i_ic,
        i_to=i_to,
        peak_g=x[ip],
        flight=any_pre & any_post,
        i_pre=j_pre,
        i_post=j_post,
        i_dep=dep,
        i_up=iu,
        i_dn=idn,
        reach=reach,
    )


# ---------------------------------------------------------------------------------- walking
@dataclass
class WalkSteps:
    """Walking steps found in a window (arrays of length K, in time order).

    Attributes
    ----------
    i_peak : ndarray of int
        Sample of the step's vertical specific-force peak (the double-support push-up).
    t_ic : ndarray
        Initial contact, s (sub-sample): the steepest rise of the vertical specific force
        before the peak (the heel's loading).
    i_ic : ndarray of int
        Sample at or just after ``t_ic``.
    peak_g : ndarray
        Smoothed vertical specific force at the peak, g.
    i_dep : ndarray of int
        Last sample the step (its existence and times) depends on.
    edge : ndarray of int
        ``+1``: a weak last step of a walk (found by the lower threshold after a run of
        steps), ``+2``: a walk's closing contact by timing (the body at rest after it),
        ``0``: a step of the run itself.
    """

    i_peak: np.ndarray
    t_ic: np.ndarray
    i_ic: np.ndarray
    peak_g: np.ndarray
    i_dep: np.ndarray
    edge: np.ndarray

    def __len__(self) -> int:
        return int(self.i_peak.shape[0])


def _box(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over an odd window (shrunk at the edges), by a cumulative sum:
    O(N) for the long windows of walking. Its rounding depends on where the array starts,
    so it serves analyses of fixed windows (:mod:`dsp.pelvis_walk`), whose every value comes
    from one window."""
    h = int(window) // 2
    n = x.shape[0]
    if h <= 0 or n == 0:
        return x.copy()
    c = np.concatenate(([0.0], np.cumsum(x)))
    if n <= 2 * h:
        i = np.arange(n)
        lo = np.maximum(0, i - h)
        hi = np.minimum(n, i + h + 1)
        return (c[hi] - c[lo]) / (hi - lo)
    # the same sums and divisions as ``(c[hi] - c[lo]) / (hi - lo)`` with ``lo = max(0, i - h)``,
    # ``hi = min(n, i + h + 1)``: by slices inside, shrunk windows over the first and last h
    out = np.empty(n)
    np.divide(c[2 * h + 1 :] - c[: n - 2 * h], float(2 * h + 1), out=out[h : n - h])
    k = np.arange(h)
    out[:h] = c[h + 1 : 2 * h + 1] / (k + h + 1)
    out[n - h :] = (c[n] - c[n - 2 * h : n - h]) / (2 * h - k)
    return out


#: Defaults of :func:`detect_walk_steps` that its streaming caller needs too: the smoothing
#: of the step peaks and the longest step of a walk, s.
WALK_SMOOTH_S = 0.15
WALK_MAX_STEP_S = 1.2
#: Least peak of the first and last step of a walk, g (:func:`detect_walk_steps`).
WALK_EDGE_MIN_PEAK_G = 0.01


def _longest_false(mask: np.ndarray) -> int:
    """Length of the longest stretch of False in a boolean array."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return int(mask.shape[0])
    gaps = np.diff(np.concatenate(([-1], idx, [mask.shape[0]]))) - 1
    return int(gaps.max())


def _max_around(x: np.ndarray, idx: np.ndarray, half: int) -> np.ndarray:
    """``running_max(x, size=2 * half + 1)[idx]``: the largest sample within ``half`` of
    each of the samples ``idx`` (fewer at the edges), for a few samples without the whole
    running maximum (a maximum is exact, NaN propagates: the same values)."""
    n = x.shape[0]
    if idx.size == 0:
        return np.empty(0)
    edges = np.empty(2 * idx.size, dtype=np.intp)
    edges[0::2] = np.maximum(idx - half, 0)
    edges[1::2] = np.minimum(idx + half + 1, n)
    return np.maximum.reduceat(np.append(x, -np.inf), edges)[0::2]


def walk_flight_level(
    *, flight_max_g: float = FLIGHT_MAX_G, gravity: float = STANDARD_GRAVITY
) -> float:
    """Specific-force magnitude below which a raw sample counts as flight for
    :func:`may_hold_walk`, m/s² (a hair under :func:`detect_walk_steps`' level: a safe bound)."""
    return (float(flight_max_g) - 1e-6) * float(gravity)


def may_hold_walk(
    flight: np.ndarray,
    *,
    sampling_rate_hz: float,
    edge_s: float = 0.05,
    min_step_s: float = 0.35,
    min_run: int = 3,
) -> bool:
    """False when :func:`detect_walk_steps` (same settings) surely finds no step in a window.

    ``flight``: per sample, the raw specific-force magnitude is below
    :func:`walk_flight_level`. A cheap, exact bound for running: a sample whose every
    neighbour within the support of the flight smoothing (two ``edge_s`` moving averages)
    is flight is a flight sample of that smoothing too (an average is at most its largest
    term); when such samples leave no stretch of ``(min_run - 1) min_step_s`` free, no run of
    steps exists (the link rule of :func:`detect_walk_steps`). A few array operations on
    booleans instead of the detection's five moving averages, which matters on long runs.
    """
    n = flight.shape[0]
    if n < (min_run - 1) * min_step_s * float(sampling_rate_hz) - 2.0:
        return False  # (before finding the runs)
    starts, ends = flight_runs(flight)
    return may_hold_walk_runs(
        starts,
        ends,
        n,
        sampling_rate_hz=sampling_rate_hz,
        edge_s=edge_s,
        min_step_s=min_step_s,
        min_run=min_run,
    )


def flight_runs(flight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of True in a boolean array: first index and index after the last, each."""
    # (the padding concatenated: np.diff's prepend and append cost more than the diff)
    d = np.diff(np.concatenate(([0], flight.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def may_hold_walk_runs(
    starts: np.ndarray,
    ends: np.ndarray,
    n: int,
    *,
    sampling_rate_hz: float,
    edge_s: float = 0.05,
    min_step_s: float = 0.35,
    min_run: int = 3,
) -> bool:
    """:func:`may_hold_walk` of a window of ``n`` samples from its runs of flight samples
    (:func:`flight_runs` of the window: runs cut by its edges end there), so that a stream
    finds the runs once on its new data and each window only takes those it overlaps."""
    fs = float(sampling_rate_hz)
    r = 2 * (samples_for(edge_s, sampling_rate_hz=fs, minimum=1) // 2)
    need = (min_run - 1) * min_step_s * fs - 2.0
    if n < need:
        return False  # too short for a walk whatever it holds
    starts = starts + r  # runs of flight, shrunk by r at both ends
    ends = ends - r
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return n >= need
    free = np.concatenate(([starts[0]], starts[1:] - ends[:-1], [n - ends[-1]]))
    return bool(free.max() >= need)


def walk_context_s(
    *,
    smooth_s: float = WALK_SMOOTH_S,
    max_step_s: float = WALK_MAX_STEP_S,
    level_s: float = 1.2,
    before: bool = False,
) -> float:
    """Data a walking step depends on beyond its peak, s: after it, two steps and the
    smoothing; ``before`` it, three steps (a walk's weak last step exists by the two steps of
    the run before the run's last peak)."""
    return (3.0 if before else 2.0) * max_step_s + 2.0 * smooth_s + 0.5 * level_s + 0.1


#: Where a walk's closing contact found by timing lies after the last step's contact, in
#: the run's last step times (:func:`detect_walk_steps`, ``closing_rest_s``): the median of
#: the real Voisard closing contacts (subjects 1-10: 0.6-0.95, median 0.82; the foot set
#: beside the other is a short step).
WALK_CLOSING_AT_STEP = 0.82


def _edge_steps(
    t: np.ndarray,
    xs: np.ndarray,
    xf: np.ndarray,
    pk: np.ndarray,
    ok: np.ndarray,
    run_id: np.ndarray,
    *,
    half: int,
    edge: int,
    min_peak_g: float,
    window: tuple[float, float],
    min_step_s: float,
    max_step_s: float,
    flight_level: float,
    closing_rest_s: float = 0.0,
    rest_max_g: float = 0.03,
    fs: float = 100.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weak last steps of walks (see :func:`detect_walk_steps`): for each run of steps,
    the largest peak of ``xs`` above ``min_peak_g`` (the largest within ``half`` samples)
    lying ``window`` step times (the run's last step) after its last peak, between
    ``min_step_s`` and ``max_step_s`` from it, with a dip below the level and no flight
    between. Without one, when ``closing_rest_s`` > 0 and the body is at rest from half a
    step after the last peak on for ``closing_rest_s`` (``xs`` below ``rest_max_g``, no
    flight), a closing contact by timing, ``WALK_CLOSING_AT_STEP`` steps after the last
    peak. Returns the peaks with these added, their ``ok`` and their kind (``+1`` a weak
    last step, ``+2`` a closing contact by timing, ``0`` the run's own)."""
    n = xs.shape[0]
    kind = np.zeros(pk.shape[0], dtype=int)
    inner = xs[1:-1]
    weak = np.flatnonzero((inner >= xs[:-2]) & (inner > xs[2:]) & (inner > min_peak_g)) + 1
    if weak.size == 0:
        return pk, ok, kind
    weak = weak[(xs[weak] >= _max_around(xs, weak, half)) & (weak >= edge) & (weak < n - edge)]
    t_weak = t[weak]
    add: dict[int, int] = {}
    # the ok peaks of each run (in time order), as ``np.flatnonzero((run_id == r) & ok)``
    okp = np.flatnonzero(ok)
    runs_ok = run_id[okp]
    cut = np.flatnonzero(np.diff(runs_ok)) + 1
    for idx in np.split(okp, cut) if okp.size else []:
        if idx.size < 2:
            continue
        # the last step only: before a walk's first step the body sways (the anticipatory
        # shift of weight onto the stance leg), which makes weak bumps of the same size that
        # are no step (simulated run/walk intervals: a bump 0.8 s before the first step)
        p = int(pk[idx[-1]])
        step = float(t[p] - t[int(pk[idx[-2]])])
        lo = max(window[0] * step, min_step_s)
        hi = min(window[1] * step, max_step_s)
        dt = t_weak - t[p]
        c = weak[(dt >= lo) & (dt <= hi)]
        if c.size:
            q = int(c[np.argmax(xs[c])])
            if xs[p:q].min() < 0.0 and xf[p:q].min() >= flight_level:
                add.setdefault(q, 1)
                continue
        if closing_rest_s > 0.0:
            # no weak step, and the body comes to rest: the closing contact by timing
            q = p + round(WALK_CLOSING_AT_STEP * step * fs)
            r0 = p + round(0.5 * step * fs)
            r1 = r0 + round(closing_rest_s * fs)
            if (
                r1 < n - edge
                and xs[r0:r1].max() < rest_max_g
                and xf[p:r1].min() >= flight_level
                and not np.any((pk > p) & (pk <= r1))
            ):
                add.setdefault(q, 2)
    if not add:
        return pk, ok, kind
    new = np.array(sorted(set(add).difference(pk[ok].tolist())), dtype=int)  # (setdiff1d)
    if not new.size:
        return pk, ok, kind
    allp = np.concatenate((pk, new))
    allok = np.concatenate((ok, np.ones(new.size, dtype=bool)))
    allkind = np.concatenate((kind, np.array([add[int(q)] for q in new], dtype=int)))
    drop = np.isin(allp, new) & (np.arange(allp.size) < pk.size)  # weak peak already a peak
    allp, allok, allkind = allp[~drop], allok[~drop], allkind[~drop]
    order = np.argsort(allp, kind="stable")
    return allp[order], allok[order], allkind[order]


def detect_walk_steps(
    t: np.ndarray,
    f_vt: np.ndarray,
    *,
    sampling_rate_hz: float,
    smooth_s: float = WALK_SMOOTH_S,
    edge_s: float = 0.05,
    min_peak_g: float = 0.03,
    min_step_s: float = 0.35,
    max_step_s: float = WALK_MAX_STEP_S,
    min_run: int = 3,
    max_peak_g: float = 1.2,
    flight_max_g: float = FLIGHT_MAX_G,
    level_s: float = 1.2,
    ic_search_s: float = 0.45,
    edge_min_peak_g: float = WALK_EDGE_MIN_PEAK_G,
    edge_window: tuple[float, float] = (0.8, 1.2),
    closing_rest_s: float = 0.0,
    gravity: float = STANDARD_GRAVITY,
) -> WalkSteps:
    """Steps of a walk from the vertical specific force at the pelvis.

    In walking the centre of mass is lowest in double support, where both legs push it up:
    the vertical specific force peaks once per step, just after initial contact, and falls
    below 1 g in single support (the inverted pendulum). Each step is thus one peak of the
    signal smoothed over ``smooth_s`` (applied twice), and the contact is the steepest rise of
    the signal smoothed over ``edge_s`` (twice) on the ascent to that peak (from the lowest
    point since the previous peak, at most ``ic_search_s`` before it): the heel's loading
    (Zijlstra & Hof 2003, Gait Posture 18(2), locate contacts on the pelvis' acceleration
    pattern; the steepest rise agrees with force-plate contacts within a few tens of ms on
    lower-back data).

    Why these widths (issue 17, real daily-life walking): turning and hesitant steps are short
    (0.45-0.55 s, 2 Hz) and weak (a few hundredths of a g). Two 0.15 s moving averages keep
    about 74 % of a 2 Hz step wave (0.2 s kept 57 % and lost such steps) while the heel-strike
    transients above 6 Hz, which would make extra peaks, are cut below 5 %; a step is at least
    0.35 s (walking cadence stays under 170 steps/min). Slow steps in
    turns and at the ends of a walk last up to 1.2 s (cadence 50 steps/min; the reference
    of the mobgap daily-life walk has 1.0-1.3 s steps inside its walking bouts), so
    ``max_step_s`` is 1.2. The contact precedes the double-support peak by the loading
    response (a tenth of a stride, 0.1-0.25 s even in slow walking): searching further back
    than ``ic_search_s`` = 0.45 s only finds the swing's own jolts.

    A peak counts only inside a walk: at least ``min_run`` consecutive peaks, each between
    ``min_step_s`` and ``max_step_s`` after the previous one, the signal dipping below 1 g
    between them and never near free fall (below ``flight_max_g``: a running flight). Standing,
    sitting down, a single stumble do not make such a run. Peaks above ``1 + max_peak_g`` g
    (a jump, a running impact) are not walking steps.

    The last step of a walk, where the body stops on it, is weak: after a run's last peak the
    largest bump above ``edge_min_peak_g`` lying ``edge_window`` of the run's last step after
    it is a step too. With ``closing_rest_s`` > 0, a run that has no such bump and after
    which the body comes to rest (from half a step after its last peak on, for
    ``closing_rest_s``, no bounce above ``min_peak_g`` and no flight) gets its closing contact
    by timing, ``WALK_CLOSING_AT_STEP`` of its last step after the last contact: whoever stops
    walking sets the trailing foot down beside the other, a contact that lifts the pelvis
    little or not at all (real Voisard walks: 0.002-0.024 g). Both end their walk
    (``WalkSteps.edge``).

    Every decision uses the data within :func:`walk_context_s` of a peak, so any window
    holding that much around a step finds it identically.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s (regular).
    f_vt : ndarray, shape (N,)
        Specific force along the pelvis' vertical axis, m/s² (about +9.81 at rest).
    sampling_rate_hz : float
    gravity : float
        m/s².

    Returns
    -------
    WalkSteps
    """
    fs = float(sampling_rate_hz)
    n = t.shape[0]
    ei, ef = np.empty(0, dtype=int), np.empty(0)
    empty = WalkSteps(ei, ef, ei, ef, ei, ei)
    ws = samples_for(smooth_s, sampling_rate_hz=fs, minimum=1)
    if n < 4 * ws:
        return empty
    x = np.asarray(f_vt, dtype=np.float64) / float(gravity) - 1.0
    # a step peaks above min_peak_g against the moving level; both are averages of the
    # window's samples, so a window whose samples span less (standing still) holds no step.
    # (An average rounds by less than 3 n² eps max|x| by its cumulative sums: xs is within
    # 10 n² eps max|x| of an exact value, a bound kept with margin.)
    x_lo, x_hi = float(x.min()), float(x.max())
    rnd = 16.0 * n * n * float(np.finfo(np.float64).eps) * max(abs(x_lo), abs(x_hi)) + 1e-12
    if x_hi - x_lo + rnd <= min_peak_g:
        return empty
    we = samples_for(edge_s, sampling_rate_hz=fs, minimum=1)
    xf = _box(_box(x, we), we)
    # a walk of min_run steps spans at least (min_run - 1) min_step_s without a flight phase
    # (see the link rule below): a window of running, a flight every step, holds no walk
    if _longest_false(xf < flight_max_g - 1.0) < (min_run - 1) * min_step_s * fs - 2.0:
        return empty
    xs = _box(_box(x, ws), ws)
    # against the local level (a tilted trunk reads less than 1 g along the sensor's vertical)
    xs = xs - _box(x, samples_for(level_s, sampling_rate_hz=fs))
    # candidate peaks: local maxima of xs, the largest within +-min_step_s / 2
    half = max(1, samples_for(0.5 * min_step_s, sampling_rate_hz=fs))
    inner = xs[1:-1]
    cand = np.flatnonzero((inner >= xs[:-2]) & (inner > xs[2:]) & (inner > min_peak_g)) + 1
    if cand.size < min_run:
        return empty
    pk = cand[xs[cand] >= _max_around(xs, cand, half)]
    # the smoothed edges of the data are not trusted (shrunk windows)
    edge = 2 * ws + samples_for(0.1, sampling_rate_hz=fs)
    pk = pk[(pk >= edge) & (pk < n - edge)]
    if pk.size < min_run:
        return empty
    # one step is one excursion above the level: peaks without a dip between them merge
    # into the first largest of them (a peak joins the one before it when xs stays >= 0
    # between them; NaN is a dip)
    dip = np.ones(pk.size, dtype=bool)
    dip[1:] = ~(np.minimum.reduceat(xs, pk)[:-1] >= 0.0)
    if not dip.all():
        grp = np.cumsum(dip) - 1
        order = np.lexsort((-xs[pk], grp))  # by group, largest first, the first of equals
        first = np.ones(order.size, dtype=bool)
        first[1:] = grp[order[1:]] != grp[order[:-1]]
        pk = pk[order[first]]
    if pk.size < min_run:
        return empty
    dt = np.diff(t[pk])
    good = (dt >= min_step_s) & (dt <= max_step_s)
    # a flight phase between two peaks (the reading near 0 g): running, not walking (NaN:
    # no flight)
    good &= ~(np.minimum.reduceat(xf, pk)[:-1] < flight_max_g - 1.0)
    # peaks k and k+1 are consecutive steps of a walk when the interval between them is good
    link = good
    run_id = np.concatenate(([0], np.cumsum(~link)))
    counts = np.bincount(run_id)
    ok = counts[run_id] >= min_run
    ok &= xs[pk] <= max_peak_g
    kind = np.zeros(pk.shape[0], dtype=int)
    if edge_min_peak_g < min_peak_g and ok.any():
        pk, ok, kind = _edge_steps(
            t,
            xs,
            xf,
            pk,
            ok,
            run_id,
            half=half,
            edge=edge,
            min_peak_g=edge_min_peak_g,
            window=edge_window,
            min_step_s=min_step_s,
            max_step_s=max_step_s,
            flight_level=flight_max_g - 1.0,
            closing_rest_s=closing_rest_s,
            rest_max_g=min_peak_g,
            fs=fs,
        )
    sel = pk[ok]
    if sel.size == 0:
        return empty
    kind = kind[ok]
    # initial contact: steepest rise of xf on the ascent to the peak (from the lowest point
    # since the previous peak)
    dxf = np.diff(xf)  # dxf[i] = xf[i+1] - xf[i], slope between samples i, i+1
    look = samples_for(ic_search_s, sampling_rate_hz=fs)
    t_ic = np.empty(sel.size)
    prev_all = np.concatenate(([-(10**9)], pk[:-1]))[ok]
    for m, i in enumerate(sel.tolist()):
        a = max(0, i - look, int(prev_all[m]) + 1)
        a += int(xs[a:i].argmin())  # the ascent to this peak: from the valley before it
        j = a + int(dxf[a:i].argmax())  # slope between j and j+1
        # sub-sample: parabola through the slopes around the maximum
        off = 0.0
        if 0 < j < dxf.shape[0] - 1:
            y0, y1, y2 = dxf[j - 1], dxf[j], dxf[j + 1]
            den = y0 - 2.0 * y1 + y2
            if den < 0:
                # (np.clip's value; np.clip of a scalar costs ~5 us)
                off = float(min(max(0.5 * (y0 - y2) / den, -0.5), 0.5))
        # the slope between samples j and j+1 is centred at j + 0.5
        tj = t[j] + (0.5 + off) * (t[1] - t[0])
        t_ic[m] = tj
    # a closing contact by timing: after the last contact, at the pace of the walk's last step
    for m in np.flatnonzero(kind == 2).tolist():
        if m >= 2:
            t_ic[m] = t_ic[m - 1] + WALK_CLOSING_AT_STEP * (t_ic[m - 1] - t_ic[m - 2])
    i_ic = np.clip(np.searchsorted(t, t_ic, side="left"), 0, n - 1)
    ctx = walk_context_s(smooth_s=smooth_s, max_step_s=max_step_s, level_s=level_s)
    dep = samples_for(ctx, sampling_rate_hz=fs)
    return WalkSteps(
        i_peak=sel,
        t_ic=t_ic,
        i_ic=i_ic,
        peak_g=xs[sel] + 1.0,
        i_dep=np.minimum(sel + dep, n - 1),
        edge=kind,
    )
