"""Sensor-to-body alignment found from the data, for any way a sensor is clipped on.

The rotation ``R_bs`` (``v_body = R_bs @ v_sensor``, see ``docs/coordinate_systems.md``) is
built from three physical facts:

1. **vt (up)**: at foot-flat (mid-stance) and while standing, the shoe sole is level and the
   accelerometer reads about +1 g along the shoe's up axis. Still samples are those with a small
   smoothed gyroscope norm and a specific-force norm near 1 g; ``vt`` is the mean direction of
   their specific force.
2. **ml (left)**: the foot swings mostly about its medio-lateral axis, so the dominant principal
   axis of the angular rate (uncentred second moment, in the plane normal to ``vt``) is ``±ml``.
   Only the samples near each mid-swing peak set the axis: the rest of the cycle adds
   pronation/supination and toe-out changes coupled with the pitch (the oblique subtalar
   axis), which tilt the all-sample axis about ``vt`` by 1-3 deg (simulated walking and
   heel strikers) and leak the pitch rate into the eversion rate.
   This is the functional-axis approach used for shoe and shank IMUs (e.g. Falbriard et al.
   2020, Front Bioeng Biotechnol 8:65; Mariani et al. 2010, J Biomech 43(15)).
3. **the sign of ml**: ``ap = ml × vt`` must point the way the foot travels. With a candidate
   frame, each stride between two still instants is integrated (zero-velocity update,
   :class:`dsp.orientation.StrideKinematics`); the foot moves forward during every stride (also
   on a treadmill, relative to the belt), so the sign that gives a positive forward
   displacement is kept. The sign is the same on the left and on the right shoe because ``ml``
   points to the runner's left on both.

Confidence (0 to 1) is the smallest of three scores: how consistent the still-phase gravity
directions are, which share of the angular-rate energy lies on ``ml``, and how many strides agree
on the sign. Below ``min_confidence`` every contact of the sensor carries ``low_alignment``.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.filters import centered_moving_average, running_max, running_min, samples_for
from dsp.orientation import StrideKinematics, integrate_windows, pack_windows

__all__ = ["AlignmentResult", "estimate_alignment"]

log = logging.getLogger(__name__)


@dataclass
class AlignmentResult:
    """Outcome of :func:`estimate_alignment`.

    Attributes
    ----------
    R_bs : ndarray, shape (3, 3)
        Sensor-to-body rotation (rows: ``ap, ml, vt`` axes in sensor coordinates).
    confidence : float
        0 (no idea) to 1 (clean).
    ok : bool
        A usable rotation was found (``False``: not enough still or moving data).
    gravity_spread_deg : float
        Angular spread of the still-phase specific force directions, deg.
    ml_share : float
        Share of the angular-rate energy on the ``ml`` axis.
    sign_agreement : float
        Share of strides whose forward displacement agrees with the chosen sign.
    n_still : int
        Still samples used for ``vt``.
    n_strides : int
        Strides used to pick the sign.
    heading_deg : float
        Direction of progression in the foot frame, deg: the median direction of the strides'
        horizontal displacement from ``ap`` towards ``ml`` (so ``ap`` turned by it about
        ``vt`` points the way the foot travels); NaN when unknown. The strike angle is
        measured from it (:func:`dsp.foot_metrics.foot_heading_deg`).
    reason : str
        Why ``ok`` is False, or why the confidence is low (empty when clean).
    """

    R_bs: np.ndarray = field(default_factory=lambda: np.eye(3))
    confidence: float = 0.0
    ok: bool = False
    gravity_spread_deg: float = float("nan")
    ml_share: float = float("nan")
    sign_agreement: float = float("nan")
    n_still: int = 0
    n_strides: int = 0
    heading_deg: float = float("nan")
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary (rotation as nested lists)."""
        return {
            "R_bs": np.round(self.R_bs, 6).tolist(),
            "confidence": round(float(self.confidence), 4),
            "ok": bool(self.ok),
            "gravity_spread_deg": _r(self.gravity_spread_deg),
            "ml_share": _r(self.ml_share),
            "sign_agreement": _r(self.sign_agreement),
            "n_still": int(self.n_still),
            "n_strides": int(self.n_strides),
            "heading_deg": _r(self.heading_deg),
            "reason": self.reason,
        }


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _runs(mask: np.ndarray) -> np.ndarray:
    """``(K, 2)`` start/stop (exclusive) of runs of True."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)], axis=1)


def gait_cycles(
    gyr: np.ndarray,
    e: np.ndarray,
    cost: np.ndarray,
    *,
    sampling_rate_hz: float,
    swing_min_dps: float,
) -> np.ndarray:
    """``(K, 2)`` sample indices of consecutive quietest instants of a gait signal.

    ``gyr`` (N, 3) deg/s gives the stride period (:func:`stride_period`). A mid-swing is a sample of the smoothed angular-rate norm ``e`` above ``swing_min_dps``
    that is the largest within ±0.6 stride period; the quietest instant of each cycle is the minimum of
    ``cost`` between two mid-swings (the foot-flat, still or not). Consecutive quietest instants
    0.75 to 1.33 periods apart bound one whole gait cycle.
    """
    fs = float(sampling_rate_hz)
    period = stride_period(gyr, sampling_rate_hz=fs)
    if not np.isfinite(period):
        return np.empty((0, 2), dtype=np.int64)
    # (a walker's foot turns fast twice a stride, at push-off and in mid-swing: the peaks
    # must be most of a stride apart)
    span = 2 * samples_for(0.6 * period, sampling_rate_hz=fs, minimum=1) + 1
    pk = np.flatnonzero((e >= running_max(e, size=span)) & (e > swing_min_dps))
    if pk.size:
        keep = [int(pk[0])]
        for p in pk[1:]:
            if p - keep[-1] > span // 2:
                keep.append(int(p))
        pk = np.asarray(keep)
    if pk.size < 3:
        return np.empty((0, 2), dtype=np.int64)
    q = np.array([a + int(np.argmin(cost[a:b])) for a, b in itertools.pairwise(pk.tolist())])
    c = np.stack([q[:-1], q[1:]], axis=1)
    dur = (c[:, 1] - c[:, 0]) / fs
    return c[(dur >= 0.75 * period) & (dur <= 1.33 * period)]


def stride_period(gyr: np.ndarray, *, sampling_rate_hz: float) -> float:
    """Stride period (s) of a foot's angular rate ``gyr`` (N, 3): the first lag from 0.4 to
    2.5 s whose autocorrelation (summed over the axes, so the swing's and the stance's
    rotations, of opposite signs, do not match at half a stride) is a local maximum within 80 %
    of the largest one (which may be at two strides); NaN when the signal is not periodic
    (largest autocorrelation below 0.3)."""
    fs = float(sampling_rate_hz)
    lo, hi = int(0.4 * fs), int(2.5 * fs)
    x = gyr - gyr.mean(axis=0)
    n = x.shape[0]
    hi = min(hi, n // 2)
    if hi <= lo + 2 or not np.any(x):
        return float("nan")
    f = np.fft.rfft(x, 2 * n, axis=0)
    ac = np.fft.irfft(f * np.conj(f), axis=0)[: hi + 1].sum(axis=1)
    ac = ac / ac[0] * n / (n - np.arange(hi + 1))  # unbiased
    seg = ac[lo : hi + 1]
    best = float(seg.max())
    if best < 0.3:
        return float("nan")
    mid = seg[1:-1]
    peaks = np.flatnonzero((mid >= seg[:-2]) & (mid >= seg[2:]) & (mid >= 0.8 * best))
    k = int(peaks[0]) + 1 if peaks.size else int(np.argmax(seg))
    return (lo + k) / fs


def cycle_gravity(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    cycles: np.ndarray,
    quiet: np.ndarray | None = None,
) -> np.ndarray:
    """Gravity direction in the sensor frame at the quiet phase of each whole gait cycle.

    Over a whole cycle (from one foot-flat to the next, the foot moving at the same velocity at
    both: zero, or the belt's on a treadmill) the mean world acceleration vanishes, so the mean
    specific force expressed in one fixed frame is gravity. The angular rate is integrated
    through the cycle to express every sample in one frame; no sample needs to be still, and
    the foot's acceleration at mid-stance does not enter. Gravity is then expressed in the
    sensor frame of each ``quiet`` sample of the cycle's stance (from up to a third of the
    cycle before its start to half of it after) and averaged (without ``quiet``, or without a
    quiet sample there: at the cycle's start).

    Parameters
    ----------
    t, acc, gyr : ndarray
        Times (s), specific force (m/s²), angular rate (deg/s), sensor frame.
    cycles : ndarray of int, shape (K, 2)
        Start and stop sample of each cycle (:func:`gait_cycles`).
    quiet : ndarray of bool, shape (N,), optional
        The stances' quiet samples (least rotation).

    Returns
    -------
    ndarray, shape (K, 3)
        Unit vectors (up), one per cycle.
    """
    anchors = []
    wins = []
    for a, b in cycles:
        lo = max(0, int(a) - (int(b) - int(a)) // 3)
        anchors.append(int(a) - lo)
        wins.append((t[lo : b + 1], acc[lo : b + 1], gyr[lo : b + 1]))
    tt, aa, gg, n = pack_windows(wins)
    k = len(wins)
    anchor = np.asarray(anchors, dtype=np.int64)
    kin = integrate_windows(tt, aa, gg, n, anchor, np.full(k, -1), still_half_window=0)
    rot = kin.rot  # (3, 3, K, L) body-to-world, one world frame per cycle
    acc_w = np.einsum("ijkl,jkl->ikl", rot, aa)  # (3, K, L)
    dt = np.diff(tt, axis=1)
    idx = np.arange(tt.shape[1] - 1)[None, :]
    inside = (idx >= anchor[:, None]) & (idx < (n - 1)[:, None])  # the whole cycle
    mean_w = np.where(inside, 0.5 * (acc_w[:, :, 1:] + acc_w[:, :, :-1]) * dt, 0.0).sum(axis=2)
    g_w = mean_w / np.maximum(np.linalg.norm(mean_w, axis=0), 1e-12)
    up_all = np.einsum("jikl,jk->ikl", rot, g_w)  # gravity in the sensor frame, (3, K, L)
    out = np.empty((k, 3))
    for i, (a, b) in enumerate(cycles):
        m = int(n[i])
        lo = int(a) - int(anchor[i])
        sel = np.zeros(m, dtype=bool)
        if quiet is not None:
            hi = min(m, int(anchor[i]) + (int(b) - int(a)) // 2)
            sel[:hi] = quiet[lo : lo + hi]
        if not sel.any():
            sel[int(anchor[i])] = True
        u = up_all[:, i, :m][:, sel].mean(axis=1)
        out[i] = u / max(float(np.linalg.norm(u)), 1e-12)
    return out


def _cycle_up_axis(
    feats: list, gravity: float, fs: float, swing_min_dps: float, max_cycles: int
) -> tuple[np.ndarray, float, list[tuple[int, int, int]]]:
    """Up axis from whole gait cycles over all segments: (vt, spread deg, cycles as
    ``(segment, start, stop)``); spread NaN without cycles."""
    cycles: list[tuple[int, int, int]] = []
    ups = []
    for i, (t, acc, gyr, e, an) in enumerate(feats):
        if len(cycles) >= max_cycles:
            break
        cost = e + 20.0 * np.abs(an - gravity)
        c = gait_cycles(gyr, e, cost, sampling_rate_hz=fs, swing_min_dps=swing_min_dps)[
            : max_cycles - len(cycles)
        ]
        if c.shape[0] == 0:
            continue
        # the quiet samples of each stance: within 1.5 times its least cost plus 15 deg/s (the
        # still-phase test, relative to the stance however busy it is)
        span = samples_for(0.7, sampling_rate_hz=fs, minimum=3)
        quiet = cost <= 1.5 * running_min(cost, size=span) + 15.0
        ups.append(cycle_gravity(t, acc, gyr, c, quiet))
        cycles += [(i, int(a), int(b)) for a, b in c]
    if not cycles:
        return np.array([0.0, 0.0, 1.0]), float("nan"), []
    u = np.concatenate(ups)
    vt = _unit(u.mean(axis=0))
    for _ in range(3):  # robust to the odd irregular cycle (a turn, a stumble)
        near = u @ vt > np.cos(np.radians(15.0))
        if near.sum() < 2:
            break
        vt = _unit(u[near].mean(axis=0))
    near = u @ vt > np.cos(np.radians(15.0))
    rbar = float(np.linalg.norm(u[near].mean(axis=0))) if near.any() else 0.0
    spread = float(np.degrees(np.sqrt(max(0.0, 2.0 * (1.0 - rbar)))))
    if near.mean() < 0.6:
        spread = max(spread, 30.0)
    kept = [c for c, k in zip(cycles, near.tolist(), strict=True) if k]
    return vt, spread, kept


def estimate_alignment(
    segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    sampling_rate_hz: float,
    still_window_ms: float = 30.0,
    still_max_dps: float = 200.0,
    still_acc_tol_g: float = 0.25,
    stride_acc_tol_g: float = 0.6,
    loose_max_spread_deg: float = 8.0,
    loose_confidence: float = 0.45,
    swing_min_dps: float = 150.0,
    min_still_phases: int = 8,
    min_still_s: float = 0.5,
    min_strides: int = 3,
    axis_peak_fraction: float = 0.9,
    min_cycles: int = 4,
    max_cycles: int = 60,
    cycle_max_deg_per_sample: float = 12.0,
    timing_confidence: float = 0.25,
    max_heading_deg: float = 35.0,
    acc_full_scale: float | None = None,
    heading_max_clipped: float = 0.02,
    gravity: float = STANDARD_GRAVITY,
) -> AlignmentResult:
    """Estimate the sensor-to-foot (or any swinging segment) rotation from data.

    Parameters
    ----------
    segments : list of (t, acc, gyr)
        Contiguous pieces of data (no gaps inside): ``t`` (N,) s, ``acc`` (N, 3) m/s² and
        ``gyr`` (N, 3) deg/s, sensor frame.
    sampling_rate_hz : float
        Nominal rate, Hz.
    still_window_ms : float
        Smoothing window of the gyroscope norm for the stillness test, ms.
    still_max_dps : float
        Upper bound of the adaptive stillness threshold, deg/s.
    still_acc_tol_g : float
        Allowed deviation of the specific-force norm from 1 g at a still sample, g (when
        too few phases pass, see ``min_still_phases``, ``stride_acc_tol_g`` is used instead).
    stride_acc_tol_g : float
        The same for the still instants that bound the strides integrated to pick the sign of
        ``ml``, g. Looser: at 50 Hz the device's low-pass smears the landing and push-off into
        a short foot-flat (0.3-0.6 g off 1 g at its stillest sample for a heel striker), while
        the sign only needs the foot to be about still at both ends of a stride.
    loose_max_spread_deg, loose_confidence : float
        When the up axis comes from the looser still instants: their largest angular spread,
        deg (beyond it no rotation is returned), and the highest confidence given (below the
        analyzer's default ``min_alignment_confidence``: the rows are flagged ``low_alignment``).
    swing_min_dps : float
        Smoothed gyroscope norm that counts as a swing between two still instants, deg/s.
    min_still_phases : int
        Separate still phases (foot-flats, or standing) needed for ``vt``. Each foot-flat
        gives only 10 to 30 ms of still samples, so it is the number of phases, not the
        still time, that makes the up axis trustworthy (a 15 s run without standing has
        about 20) ...
    min_still_s : float
        ... or this much still data in all, s (a standing period).
    min_strides : int
        Strides needed to pick the sign of ``ml`` with full confidence.
    axis_peak_fraction : float
        The ``ml`` axis is the principal axis of the angular rate at the moving samples whose
        smoothed rate is at least this share of its largest value within ``±0.35 s`` (the
        mid-swing peaks); the share score still uses every moving sample.
    min_cycles, max_cycles : int
        Whole gait cycles needed for, and used at most by, the up axis from the cycles'
        mean specific force (:func:`cycle_gravity`).
    cycle_max_deg_per_sample : float
        The cycles' up axis replaces a still-phase one that is missing, loose or spread by more
        than ``loose_max_spread_deg`` (real running: the foot is never still, and mid-stance
        acceleration tilts the stillest instants' gravity by 5-15 deg), when ``min_cycles``
        cycles agree within ``loose_max_spread_deg`` and the rate is dense enough to integrate
        the rotation: the 99th percentile of the smoothed rate is at most this many degrees per
        sample.
    timing_confidence : float
        Highest confidence when neither the still phases nor dense, agreeing cycles give the
        up axis but there are ``min_cycles`` cycles: their axis is used for the contacts and
        their timing only (the foot analyzer leaves the orientation metrics empty below its
        ``min_orientation_confidence``).
    max_heading_deg : float
        Largest direction of progression (``heading_deg``) accepted, deg; beyond it the
        heading is unknown (NaN).
    acc_full_scale, heading_max_clipped : float, optional
        The accelerometer's range, m/s², and the largest share of a stride's samples within
        1.5 % of it (clipped) for the stride to count for ``heading_deg``: a clipped
        accelerometer bends the integrated path (simulated runner at a 2 g range, 58 % of
        the samples clipped: the heading 5.5 deg off; a heel strike clipping at 8 g: ~1 %).
    gravity : float
        m/s².

    Returns
    -------
    AlignmentResult
    """
    fs = float(sampling_rate_hz)
    win = samples_for(still_window_ms / 1000.0, sampling_rate_hz=fs, minimum=1)
    feats = []
    for t, acc, gyr in segments:
        # (the analysers drop non-physical samples before; any left would poison the means)
        ok = np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        if not ok.all():
            t, acc, gyr = t[ok], acc[ok], gyr[ok]
        if t.shape[0] < 3:
            continue
        e = centered_moving_average(np.linalg.norm(gyr, axis=1), window=win)
        an = centered_moving_average(np.linalg.norm(acc, axis=1), window=win)
        feats.append((t, acc, gyr, e, an))
    if not feats:
        return AlignmentResult(reason="no data")
    # still: the quietest samples of each stance (the local minimum of the smoothed rate over a
    # stride-long window, plus a margin), with a specific force near 1 g
    span = samples_for(0.7, sampling_rate_hz=fs, minimum=3)
    gait_span = 2 * samples_for(1.0, sampling_rate_hz=fs) + 1
    merge = samples_for(0.1, sampling_rate_hz=fs, minimum=1)

    def masks_of(
        tests: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Still masks (``still_acc_tol_g``) and stride-bound masks (``stride_acc_tol_g``) from
        per-segment (smoothed rate for the stillness, smoothed specific-force norm, smoothed
        rate for the swing)."""
        still, stride = [], []
        for e_c, an_c, e_sw in tests:
            # stillness cost: rotation plus deviation of the specific force from 1 g
            # (20 deg/s per m/s²), so a quiet instant of the swing does not count
            c = e_c + 20.0 * np.abs(an_c - gravity)
            cmin = running_min(c, size=span)
            thr_local = np.minimum(still_max_dps, 1.5 * cmin + 15.0)
            # only the still phases of gait (within 1 s of a swing): a sensor lying on a table
            # or held in the hand before it was clipped on must not set the up axis
            near_gait = running_max((e_sw > swing_min_dps).astype(np.float64), size=gait_span) > 0
            quiet = (c <= thr_local) & (cmin < still_max_dps) & near_gait
            dev = np.abs(an_c - gravity)
            still.append(quiet & (dev < still_acc_tol_g * gravity))
            stride.append(quiet & (dev < stride_acc_tol_g * gravity))
        return still, stride

    def enough(masks: list[np.ndarray]) -> bool:
        """``min_still_phases`` still phases (runs closer than 0.1 s count as one), or
        ``min_still_s`` of still samples (standing)."""
        n_phases = 0
        for m in masks:
            runs = _runs(m)
            if runs.shape[0]:
                n_phases += 1 + int(np.sum(runs[1:, 0] - runs[:-1, 1] > merge))
        n = sum(int(m.sum()) for m in masks)
        return (n_phases >= min_still_phases or n >= min_still_s * fs) and n >= 3 * min_still_phases

    def up_axis(masks: list[np.ndarray]) -> tuple[np.ndarray, float]:
        """Up axis (majority direction of the still specific force) and its spread, deg."""
        acc_still = np.concatenate([f[1][m] for f, m in zip(feats, masks, strict=True)])
        u = acc_still / np.linalg.norm(acc_still, axis=1, keepdims=True)
        # the majority direction (foot-flat and standing), robust to the odd quiet swing sample
        vt = _unit(u.mean(axis=0))
        for _ in range(4):
            near = u @ vt > np.cos(np.radians(30.0))
            if near.sum() < 3:
                break
            vt = _unit(u[near].mean(axis=0))
        near = u @ vt > np.cos(np.radians(30.0))
        rbar = float(np.linalg.norm(u[near].mean(axis=0))) if near.any() else 0.0
        kept = float(near.mean())
        spread = float(np.degrees(np.sqrt(max(0.0, 2.0 * (1.0 - rbar)))))
        if kept < 0.6:
            spread = max(spread, 30.0)
        return vt, spread

    still_masks, stride_masks = masks_of([(f[3], f[4], f[3]) for f in feats])
    # the up axis, from the most to the least trusted source:
    # "strict": still phases passing ``still_acc_tol_g`` (with the stillness smoothed over
    # ``still_window_ms``); "loose": no stance is still enough for that (a heel striker at
    # 50 Hz, no standing): the looser stillest instants (``stride_acc_tol_g``), trusted only
    # if they agree closely (``loose_max_spread_deg``); "single": at a rate where the
    # ``still_window_ms`` smoothing spans more than that (3 samples = 40 ms at 50 Hz), it
    # blends the one or two still samples of a short foot-flat with the landing and the push-
    # off around them (0.5-0.8 g off 1 g), and the loose instants can come from the late
    # swing: the strict test on unsmoothed samples. Neither of the last two is trusted fully.
    mode = "strict"
    vt = np.zeros(3)
    spread = float("nan")
    if enough(still_masks):
        vt, spread = up_axis(still_masks)
    else:
        mode = "loose"
        if enough(stride_masks):
            vt, spread = up_axis(stride_masks)
        win_single = 1 + 2 * int(np.floor(still_window_ms / 1000.0 * fs / 2.0 + 1e-9))
        if not (spread <= loose_max_spread_deg) and win_single < 2 * (win // 2) + 1:
            tests = [
                (
                    centered_moving_average(np.linalg.norm(f[2], axis=1), window=win_single),
                    centered_moving_average(np.linalg.norm(f[1], axis=1), window=win_single),
                    f[3],
                )
                for f in feats
            ]
            single_still, single_stride = masks_of(tests)
            if enough(single_still):
                mode = "single"
                stride_masks = single_stride
                vt, spread = up_axis(single_still)
                still_masks = single_still
        if mode == "loose":
            still_masks = stride_masks
    # the up axis from whole gait cycles (:func:`cycle_gravity`): needs no still instant and
    # is not tilted by the foot's acceleration at mid-stance. It replaces the still-phase axis
    # when that one is missing, loose or spread; consistent still phases are kept (in the
    # simulator they are closer to the foot-flat attitude than the cycles' axis: 1-2.5 vs 5-8
    # deg for heel strikers), and then the cycles are not computed.
    use_cycles = False
    cyc_list: list[tuple[int, int, int]] = []
    cyc_vt, cyc_spread = vt, spread
    if not (mode == "strict" and spread <= loose_max_spread_deg):
        cyc_vt, cyc_spread, cyc_list = _cycle_up_axis(feats, gravity, fs, swing_min_dps, max_cycles)
        # (integrating the rate needs samples dense enough for the fastest rotations: at 50 Hz
        # a runner's swing turns the shoe 20 deg per sample and the cycles' axis is 5-25 deg off)
        p99 = float(np.percentile(np.concatenate([f[3] for f in feats]), 99))
        use_cycles = (
            len(cyc_list) >= min_cycles
            and cyc_spread <= loose_max_spread_deg
            and p99 / fs <= cycle_max_deg_per_sample
        )
    # when the still phases give nothing usable, a periodic gait still has cycles: their up
    # axis, however coarse, is enough to find the contacts and time them (the orientation
    # metrics are not reported: confidence at most ``timing_confidence``)
    still_fails = mode != "strict" and (
        not np.isfinite(spread) or (mode == "loose" and spread > loose_max_spread_deg)
    )
    timing_only = not use_cycles and still_fails and len(cyc_list) >= min_cycles
    if use_cycles or timing_only:
        mode = "cycle"
        vt, spread = cyc_vt, cyc_spread
    loose = mode not in ("strict", "cycle")
    n_still = int(sum(m.sum() for m in still_masks))
    if loose and not np.isfinite(spread):
        return AlignmentResult(
            n_still=n_still,
            reason="too little still data (no foot-flat phases, and "
            f"{len(cyc_list)} whole gait cycle{'' if len(cyc_list) == 1 else 's'} where "
            f"{min_cycles} are needed: a recording this short, or is the sensor loose, "
            "rattling or not on a shoe?)",
        )
    thr = float(
        np.median(np.concatenate([f[3][m] for f, m in zip(feats, still_masks, strict=True)]))
        if any(m.any() for m in still_masks)
        else still_max_dps
    )
    if mode == "cycle":
        # the quietest instants of the cycles stand for the still samples
        thr = min(thr, float(np.median([feats[i][3][a] for i, a, _ in cyc_list])))
    if mode == "loose" and spread > loose_max_spread_deg:
        return AlignmentResult(
            n_still=n_still,
            gravity_spread_deg=spread,
            reason=f"too little still data (the stillest instants of the stances are not still "
            f"enough and their gravity directions spread by {spread:.0f} deg)",
        )
    # dominant rotation axis during motion
    moving = [f[3] > max(swing_min_dps, 3.0 * thr) for f in feats]
    g_mov = np.concatenate([f[2][m] for f, m in zip(feats, moving, strict=True)])
    if g_mov.shape[0] < 0.2 * fs:
        return AlignmentResult(
            n_still=n_still,
            gravity_spread_deg=spread,
            reason="no swing motion (the sensor did not move like a foot in gait)",
        )
    # (the rotation about the vertical is left out: turning, e.g. a walker's U-turn, is no
    # sign of a wrong medio-lateral axis)
    total = float(np.sum(g_mov**2) - np.sum((g_mov @ vt) ** 2))
    # the axis itself from the mid-swing peaks only: the fastest, most nearly sagittal rotation
    # of the shoe. Stance and early swing add pronation/supination and toe-out changes coupled
    # with the pitch (the oblique subtalar axis), which tilt the axis of all moving samples
    # about vt by 1-3 deg (walking, heel strikers) and mix the pitch rate into gyr_ap.
    peak = [
        m & (f[3] >= axis_peak_fraction * running_max(f[3], size=span))
        for f, m in zip(feats, moving, strict=True)
    ]
    g_ax = np.concatenate([f[2][m] for f, m in zip(feats, peak, strict=True)])
    if g_ax.shape[0] < 3:
        g_ax = g_mov
    g_perp = g_ax - np.outer(g_ax @ vt, vt)
    moment = g_perp.T @ g_perp
    if not (np.all(np.isfinite(moment)) and np.all(np.isfinite(vt))):
        return AlignmentResult(n_still=n_still, reason="non-physical readings")
    _, v = np.linalg.eigh(moment)
    ml = _unit(v[:, -1] - np.dot(v[:, -1], vt) * vt)
    share = float(np.sum((g_mov @ ml) ** 2) / total) if total > 0 else 0.0
    ap = np.cross(ml, vt)
    r_bs = np.stack([ap, ml, vt])
    # sign from the forward displacement of each stride
    disp = []
    lat = []  # the displacement towards ml, relative to its horizontal length
    kin = StrideKinematics(sampling_rate_hz=fs)
    for i_seg, ((t, acc, gyr, e, _an), m) in enumerate(zip(feats, stride_masks, strict=True)):
        if mode == "cycle":
            # strides between the quietest instants of the cycles (the foot need not be
            # still: the sign needs only the forward travel of each stride)
            bounds = [(a, b) for i, a, b in cyc_list if i == i_seg]
        else:
            runs = _runs(m)
            if runs.shape[0] < 2:
                continue
            centers = (runs[:, 0] + runs[:, 1] - 1) // 2
            bounds = list(itertools.pairwise(centers.tolist()))
        for c0, c1 in bounds:
            dur = t[c1] - t[c0]
            if not (0.3 <= dur <= 3.0) or e[c0:c1].max() < swing_min_dps:
                continue
            sl = slice(c0, c1 + 1)
            kin.fit(t[sl], acc[sl] @ r_bs.T, gyr[sl] @ r_bs.T, 0, c1 - c0)
            d = kin.pos_[-1]
            if np.all(np.isfinite(d)) and np.hypot(d[0], d[1]) > 0.05:
                disp.append(d[0] / np.hypot(d[0], d[1]))
                # (a clipped accelerometer bends the integrated path: no heading from it)
                clipped = acc_full_scale is not None and bool(
                    np.mean(np.any(np.abs(acc[sl]) >= 0.985 * acc_full_scale, axis=1))
                    > heading_max_clipped
                )
                lat.append(np.nan if clipped else d[1] / np.hypot(d[0], d[1]))
            if len(disp) >= 60:
                break
    n_str = len(disp)
    if n_str == 0:
        return AlignmentResult(
            R_bs=r_bs,
            n_still=n_still,
            gravity_spread_deg=spread,
            ml_share=share,
            reason="no stride between two still instants (cannot tell forward from backward)",
        )
    disp_arr = np.asarray(disp)
    lat_arr = np.asarray(lat)
    if np.median(disp_arr) < 0:
        ml = -ml
        ap = np.cross(ml, vt)
        r_bs = np.stack([ap, ml, vt])
        disp_arr = -disp_arr
        lat_arr = -lat_arr
    agree = float(np.mean(disp_arr > 0))
    heading = _progression_heading(disp_arr, lat_arr, max_heading_deg, min_strides)
    g_score = float(np.clip(1.0 - spread / 30.0, 0.0, 1.0))
    s_score = float(np.clip((share - 0.4) / 0.35, 0.0, 1.0))
    a_score = float(np.clip(2.0 * (agree - 0.5), 0.0, 1.0)) * min(1.0, n_str / min_strides)
    conf = min(g_score, s_score, a_score)
    reasons = []
    if timing_only:
        conf = min(conf, timing_confidence)
        reasons.append(
            "timing only: no still phase and the gait cycles' gravity directions spread by "
            f"{spread:.0f} deg or the rate is too low to integrate the swing"
        )
    elif mode == "cycle":
        reasons.append(
            f"up axis from {len(cyc_list)} whole gait cycles (no consistent still phase)"
        )
    if loose:
        conf = min(conf, loose_confidence)
        reasons.append(
            "up axis from loosely still instants (short foot-flat phases)"
            if mode == "loose"
            else "up axis from single still samples (foot-flat shorter than the still window)"
        )
    if g_score < 0.5:
        reasons.append(f"still-phase gravity directions spread by {spread:.0f} deg")
    if s_score < 0.5:
        reasons.append(f"only {share:.0%} of the rotation about one axis")
    if a_score < 0.5:
        reasons.append(f"forward direction unclear ({agree:.0%} of {n_str} strides agree)")
    return AlignmentResult(
        R_bs=r_bs,
        confidence=conf,
        ok=True,
        gravity_spread_deg=spread,
        ml_share=share,
        sign_agreement=agree,
        n_still=n_still,
        n_strides=n_str,
        heading_deg=heading,
        reason="; ".join(reasons),
    )


def _progression_heading(
    fwd: np.ndarray, lat: np.ndarray, max_heading_deg: float, min_strides: int
) -> float:
    """Median direction (deg, from ``ap`` towards ``ml``) of the strides that go forward, each
    given by its unit horizontal displacement ``(fwd, lat)`` (``lat`` NaN: not usable); NaN
    with fewer than ``min_strides`` such strides or when the median lies beyond
    ``max_heading_deg`` (not a foot's progression)."""
    ok = (fwd > 0) & np.isfinite(lat)
    if int(ok.sum()) < min_strides:
        return float("nan")
    h = float(np.degrees(np.median(np.arctan2(lat[ok], fwd[ok]))))
    return h if abs(h) <= max_heading_deg else float("nan")
