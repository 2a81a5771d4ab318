"""Gait events of one foot from a shoe IMU: mid-swing, initial contact, foot-flat, toe-off.

All signals are in the foot frame (``ap, ml, vt``; see ``docs/coordinate_systems.md``). The
pitch rate is ``omega = -gyr_ml`` (deg/s, positive when the toes rise).

* **Mid-swing**: a local maximum of the smoothed pitch rate above ``swing_threshold_dps`` that
  is the largest within ``±swing_half_window_s`` (never the data's first sample: the rate may
  have been higher just before it, e.g. data that start in a heel drop). Consecutive mid-swings of one foot bound one
  cycle that holds one ground contact (mid-swing to mid-swing segmentation of Falbriard et al.
  2018, "Accurate estimation of running temporal parameters using foot-worn inertial sensors",
  Front Physiol 9:610).
* **Turning swing** (:func:`find_turn_swings`): at a walker's turn a foot can be lifted and
  set down turned with hardly any toes-up rotation (no mid-swing): a peak of the rate about
  the vertical instead. Between two mid-swings it separates two contacts when a landing with
  a ringing impact follows it (:func:`landing_impact`; the analyzer decides,
  ``FootAnalyzer._turn_contacts``); a foot turning on the ground is no swing.
* **Toe-off (TO)**: the push-off's pitch-rate minimum: the first local minimum of the late cycle
  that reaches ``to_trough_fraction`` of its lowest pitch rate, timed between samples by the
  parabola through it and its neighbours. The foot plantar-flexes fastest as the toes leave
  the ground (Falbriard et al. 2018: the most precise terminal-contact feature on 41 runners
  against a force treadmill; the terminal contact of gaitmap's Rampp/Herzer detectors,
  Figueiredo et al. 2018); a real runner's early swing can hold a second trough about as
  deep, 60-70 ms later (knee flexion lifting the shoe), hence the first. A gyroscope feature:
  it does not need the lift-off jolt of the vertical force, which a real signal may not show
  (smoothed, clipped or ringing after the impact) - the earlier rule searched that jolt up to
  100 ms after the trough and came out 53-58 ms late on the real treadmill runner.
* **Foot-flat (mid-stance)**: the stillest instant between mid-swing and toe-off (least
  rotation, specific force closest to 1 g): the zero-velocity / gravity update instant. It is
  searched after the last rotation burst (``landing_burst_dps`` above the stillest rotation
  after it): a slow swing, such as the first step after standing, has instants about as still
  as a short flat phase.
* **Initial contact (IC)**: back from foot-flat to the start of the flat phase and to the
  landing burst ``pb`` (the last rotation peak: foot slap, heel drop, start of pronation):

  - *heel drop* (pitch rate at ``pb`` above ``heel_drop_min_dps``: a forefoot landing): the
    foot's pitch is lowest at the touch-down, so IC is the last rising zero crossing of the
    pitch rate before the heel drop, linearly interpolated between samples (a gyroscope
    feature that survives low sample rates, where the impact spike is filtered away);
  - otherwise IC is the impact: the onset of the sharpest rise of the world-vertical specific
    force before ``pb`` (window ``max(ic_before_burst_s, 10 % of the cycle)``), narrowed to
    ``ic_before_onset_s`` before to ``ic_after_onset_s`` after an anchor, and not placed
    earlier in time than that window's start (at 50 Hz it holds a sample or two). The narrow
    window keeps the late-swing decelerations out, which at 50-100 Hz rise more sharply than
    the filtered impact. Two anchors, both of which start at the touch-down:

    * the *slap's onset* (pitch rate falling at ``pb``: heel or midfoot landing): the tangent
      at the steepest fall of the pitch rate (within ``ic_before_slap_s`` before ``pb``)
      extended back to the pitch rate of the calmest instant before it; usually a few ms late,
      a few ms early when the foot pitches down slowly before touching;
    * the *pronation's onset*: the eversion burst of early stance (the subtalar joint everts
      under load from the touch-down on; the shoe is inverted, or still, in late swing) is the
      largest ``|gyr_ap|`` between the window's start and the flat phase (its sign, which
      depends on the side, is taken from the burst); its onset is the last zero crossing
      towards it before its peak, interpolated between samples (needs a burst of at least
      ``pronation_min_dps``; a walker's crosses 6-13 ms after the touch-down).

    The slap's onset anchors the window unless it precedes the pronation's by more than
    ``slap_lead_max_s``: then the pitch-down began in the air (midfoot runners whose foot
    pitches down in the last 20-60 ms of the swing, where the slap's tangent lands), and, as
    without a slap, the pronation's onset anchors it. The impact then gives the sampling
    interval of the contact and the pronation's onset the instant inside it (at 50 Hz the
    interval alone is 20 ms wide).

  The world-vertical force uses the orientation integrated back from foot-flat, which
  separates the upward impact from the mostly horizontal decelerations of late swing.

  *Walking* (real shoes ring and rock for 100-200 ms after the heel strike and the forefoot's
  slap, with rotation bursts of 200-400 deg/s): the landing burst ``pb`` is the first rotation
  burst after the swing's end (the pitch rate's first fall to zero after the mid-swing) when it
  precedes the last peak, or, when the last peak lies in the swing itself, the first rotation
  peak after the swing's end; the pronation's onset is then not used. And at
  ``impact_min_rate_hz`` or above, a ringing *impact* (:func:`_impact_onset`) that stands out
  from the swing replaces the IC when the anchors above are more than ``impact_tolerance_s``
  from it (the heel drop's rule included: a walker's foot can bounce toes-up in the late swing,
  +150 deg/s, which passed for a heel drop 60-70 ms before the impact). On real walkers
  (Voisard et al. data, 100 Hz) the IC searched back from the flat phase came out 65-190 ms
  late on a third of some sensors' contacts, and the slap's tangent 30-100 ms early when the
  foot pitched down in the air. The impact is the heel strike's, not the harder slap of the
  forefoot after it; it is searched from the pitch rate's first fall to zero after the swing;
  and a landing into rest whose swing slows below the flat phase's threshold before it lands
  gets its landing burst after the swing's end (not the swing's own rotation). Mid-swings are
  searched on the pitch rate capped at twice its trailing ``swing_spike_s`` mean: a landing's
  jolt throws it up for a sample or two, above a slow swing's peak. Last, a walking IC where
  the toes still rise at a swing's rate moves to the first ringing impact after they stop
  (:func:`ic_after_swing`: the heel strike ends the toes-up rotation).

A contact cut by the start or the end of the data is reported only with a landing burst of
its own after the range's start (``pb`` not at it): otherwise the data start inside the landing,
or end in it after a late-swing lull that passed for a foot-flat.

A force-based IC between two samples is otherwise placed midway. Neither the sensor's own anti-alias
filter delay (about half a sample for a 2nd-order low-pass at 0.4 × rate) nor any other
device latency is compensated: events come out that much late. Every function works on index
ranges of arrays and looks only at samples inside the range and a fixed margin around it, so
streaming and batch analysis find the same events.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.bouts import MAX_RUN_CONTACT_S
from dsp.filters import centered_moving_average, row_norm, running_max, samples_for
from dsp.orientation import integrate_windows

#: A data loss this long (s, the time step across it) may hold a landing (impact and slap take
#: about 30 ms): ``FootSettings.gap_landing_min_s`` and ``EventSettings.ic_swing_max_loss_s``
LANDING_LOSS_MIN_S = 0.035

__all__ = [
    "LANDING_LOSS_MIN_S",
    "ContactEvents",
    "EventSettings",
    "detect_contact",
    "detect_contacts",
    "find_swing_peaks",
    "find_turn_swings",
    "ic_after_swing",
    "landing_impact",
    "swing_impact",
]

#: Half width (s) of the specific-force average that anchors the orientation at foot-flat
#: (the default of :class:`dsp.orientation.StrideKinematics`).
_STILL_HALF_WINDOW_S = 0.005

#: A request for the world-vertical specific force: ``(anchor, lo, hi)`` sample indices.
_FzRequest = tuple[int, int, int]

#: Length (s) of the pitch-rate average that tells a swing from a spike (:func:`_swing_end`).
_SWING_AVG_S = 0.05


@dataclass(frozen=True)
class EventSettings:
    """Parameters of the event detection (physical units, independent of the sample rate).

    Attributes
    ----------
    omega_smooth_ms : float
        Smoothing of the pitch rate, ms.
    norm_smooth_ms : float
        Smoothing of the angular-rate norm for foot-flat, ms.
    swing_threshold_dps : float
        Least mid-swing pitch rate, deg/s (slow walking reaches about 200).
    swing_half_window_s : float
        A mid-swing is the largest toes-up rate within this many seconds before it ...
    swing_spike_s : float
        The pitch rate is capped at twice its mean over the preceding ``swing_spike_s`` (s)
        before mid-swings are searched: a landing's or a toe-off's jolt throws it up for a
        sample or two (real walkers at 100 Hz: +140 to +420 deg/s, above a slow swing's peak),
        which is no swing; a swing's peak, high for tens of ms, passes unchanged.
    swing_lookahead_s : float
        ... and this many seconds after it (at most ``swing_half_window_s``). A contact is
        detected at the next mid-swing plus this look-ahead, so it sets how soon the contact's
        early row (and its alerts) can come: 0.16 s puts them at about 0.95 stride after the
        contact in running and 1.0 in walking (0.22 s: 1.05). On the simulated runs (50-833 Hz,
        running, walking, treadmill, 13 runners) 0.14 to 0.22 s give the same contacts and
        metrics; at 0.12 s a forefoot runner at 100 Hz lost 10 % of the contacts (a double-
        humped swing whose first hump was taken for the mid-swing).
    to_search_s : float
        TO is searched this long before a mid-swing at most, s.
    min_contact_s, max_contact_s : float
        Plausible contact durations, s (outside: the contact is marked rejected).
    flat_margin_dps : float
        The flat phase ends where the rotation exceeds its foot-flat value by this, deg/s.
    flat_max_dps, edge_flat_max_dps : float
        A contact needs a foot-flat instant with less rotation than this (deg/s; and less than a
        quarter of the preceding mid-swing rate) and a specific force within ``flat_max_dev_g`` of
        1 g
        (``edge_flat_max_dps`` for a contact cut by the edge of the data). A mid-swing
        candidate whose cycle holds no such contact is not a mid-swing (e.g. the fast heel drop
        after a forefoot landing) and is skipped.
    ic_before_burst_s : float
        Shortest IC search window before the landing burst, s.
    to_trough_fraction : float
        TO is the first local minimum of the late pitch rate reaching this share of its lowest.
    onset_fraction : float
        An impact starts where the rise of the vertical force first exceeds this
        share of its largest sample-to-sample rise.
    heel_drop_min_dps : float
        A landing burst whose pitch rate exceeds this (deg/s, toes rising) is the heel drop of
        a forefoot landing: IC is the pitch rate's rising zero crossing before it.
    pronation_min_dps : float
        Least eversion rate (deg/s) of the burst whose onset can anchor the IC search.
    pronation_yaw_check_deg, pronation_spread_max_s : float
        The pronation's onset is used only when it moves by at most ``pronation_spread_max_s``
        (s) with the eversion axis turned by ``±pronation_yaw_check_deg`` (deg) about the
        vertical (a shoe turned from the analysis frame leaks the pitch rate into ``gyr_ap``; 0
        turns the check off).
    slap_lead_max_s : float
        A slap's onset more than this (s) before the pronation's onset is the late swing's
        pitch-down: the pronation's onset anchors the IC search instead. More than a slow
        pronation's onset lags the slap's (1-6 ms on the simulated walkers), less than the
        pitch-down precedes the touch-down (20-60 ms on the simulated midfoot runners).
    ic_before_slap_s : float
        The steepest fall of a slap is searched this long before its peak, s.
    ic_before_onset_s, ic_after_onset_s : float
        The impact of a heel or midfoot landing is searched from this long before the slap's
        onset to this long after it, s.
    landing_burst_dps : float
        Foot-flat lies after the last rotation that exceeds the stillest rotation after it by
        this, deg/s.
    flat_wobble_max_s : float
        A smaller rotation peak at the start of the flat phase, at most this long (s) after
        such a rotation, is a wobble after the landing (real walkers' feet rock after the
        slap), not the landing burst: the IC is searched before that rotation instead.
    edge_to_moving_s : float
        A contact cut by the end of the data needs at least this much data after its toe-off,
        s, and no foot-flat-like instant after it (foot-flat cost below ``flat_max_dps``).
    flat_max_dev_g, edge_flat_max_dev_g : float
        Largest deviation of the foot-flat specific force from 1 g, in g (a whole cycle / a
        contact cut by the edge of the data).
    gravity : float
        m/s².
    max_cycle_s : float
        Longest mid-swing to mid-swing interval treated as one stride, s; longer ones are a
        pause (the contact is still found, stride metrics are left empty).
    impact_min_g, impact_over_swing, impact_step_s : float
        A touch-down impact (:func:`_impact_onset`) changes the specific force by at least
        ``impact_min_g`` (g) within ``impact_step_s`` (s), and by at least
        ``impact_over_swing`` times the largest such change of the swing before it.
    impact_fraction, impact_first_fraction : float
        The impact is the first ringing change reaching ``impact_first_fraction`` of the
        largest one after the swing that stands out from the swing (``impact_over_swing``, or
        ``impact_fraction`` of the largest); see :func:`_impact_onset`.
    impact_ring_s, impact_reversal, impact_reswing_s : float
        An impact rings: within ``impact_ring_s`` (s) the force changes back (dot product with
        the impact's change below ``-impact_reversal`` times its square), and within
        ``impact_reswing_s`` (s) after that it changes forth again (dot product above 0).
    impact_before_swing_end_s : float
        The impact is searched from this long (s) before the swing's end (the pitch rate's
        first fall to zero after the mid-swing) to foot-flat.
    impact_second_swing_deg : float
        A toes-up turn of the foot by this much (deg) in one go after that first fall is a
        second swing (a gait transition), not a landing's jolt: the search then starts at the
        second swing's end (:func:`_impact_range`).
    impact_tolerance_s : float
        The impact replaces the IC of the gyroscope anchors when they are more than this (s)
        from it.
    impact_min_rate_hz : float
        The impact is used only at this sample rate or above (below it the anti-alias filter
        smears it over several samples).
    impact_min_contact_s : float
        The impact is used only for walking contacts: from the gyroscope's IC to toe-off at
        least this long, s (the walk/run contact time of :class:`dsp.bouts.BoutSettings`).
    ic_swing_max_dps, ic_swing_hold_s, ic_swing_max_loss_s : float
        A walking IC where the toes still rise at this pitch rate or more (deg/s; 50: the
        slowest toes-up rotation the analyzer takes for a swing, a shuffle's,
        ``FootSettings.first_swing_min_dps``), as they have for the ``ic_swing_hold_s`` (s)
        before it, lies in the swing: it moves to the first
        ringing impact after the rate falls below it (:func:`ic_after_swing`), unless a data
        loss of ``ic_swing_max_loss_s`` (s) or more lies between them (the landing may be in it).
    """

    omega_smooth_ms: float = 10.0
    norm_smooth_ms: float = 20.0
    swing_threshold_dps: float = 100.0
    swing_half_window_s: float = 0.22
    swing_lookahead_s: float = 0.16
    swing_spike_s: float = 0.04
    to_search_s: float = 0.6
    min_contact_s: float = 0.06
    max_contact_s: float = 2.5
    max_cycle_s: float = 3.0
    flat_margin_dps: float = 50.0
    gravity: float = STANDARD_GRAVITY
    ic_before_burst_s: float = 0.06
    edge_flat_max_dps: float = 150.0
    flat_max_dps: float = 120.0
    onset_fraction: float = 0.15
    heel_drop_min_dps: float = 100.0
    pronation_min_dps: float = 60.0
    to_trough_fraction: float = 0.7
    pronation_spread_max_s: float = 0.025
    pronation_yaw_check_deg: float = 15.0
    slap_lead_max_s: float = 0.015
    ic_before_slap_s: float = 0.04
    landing_burst_dps: float = 200.0
    flat_wobble_max_s: float = 0.12
    ic_before_onset_s: float = 0.0125
    ic_after_onset_s: float = 0.005
    edge_to_moving_s: float = 0.04
    flat_max_dev_g: float = 0.4
    edge_flat_max_dev_g: float = 0.3
    impact_min_g: float = 1.0
    impact_over_swing: float = 2.0
    impact_step_s: float = 0.01
    impact_fraction: float = 0.5
    impact_first_fraction: float = 0.4
    impact_ring_s: float = 0.015
    impact_reswing_s: float = 0.04
    impact_reversal: float = 0.1
    impact_before_swing_end_s: float = 0.02
    impact_second_swing_deg: float = 30.0
    impact_tolerance_s: float = 0.025
    impact_min_rate_hz: float = 90.0
    impact_min_contact_s: float = MAX_RUN_CONTACT_S
    ic_swing_max_dps: float = 50.0
    ic_swing_hold_s: float = 0.02
    ic_swing_max_loss_s: float = LANDING_LOSS_MIN_S


@dataclass
class ContactEvents:
    """Sample indices (into the arrays given) of one contact."""

    ic: int
    ms: int
    to: int
    ok: bool = True
    reason: str = ""
    t_ic: float = float("nan")
    t_to: float = float("nan")


class _Counts(NamedTuple):
    """The durations of :class:`EventSettings` that :func:`_contact_steps` uses, in samples at
    one rate (:func:`dsp.filters.samples_for`; computed once per :func:`detect_contacts` call,
    not per contact)."""

    min_range: int  # 0.1 s: the shortest range; the swing's head before a cut range
    to_search: int
    max_contact: int
    min_contact: int
    norm_smooth: int
    before_slap: int
    before_onset: int
    edge_to_moving: int
    swing_avg: int  # _SWING_AVG_S

    @classmethod
    def of(cls, settings: EventSettings, fs: float) -> _Counts:
        return cls(
            *(
                samples_for(d, sampling_rate_hz=fs)
                for d in (
                    0.1,
                    settings.to_search_s,
                    settings.max_contact_s,
                    settings.min_contact_s,
                    settings.norm_smooth_ms / 1000.0,
                    settings.ic_before_slap_s,
                    settings.ic_before_onset_s,
                    settings.edge_to_moving_s,
                    _SWING_AVG_S,
                )
            )
        )


def find_swing_peaks(
    omega_s: np.ndarray,
    *,
    half_window: int,
    threshold_dps: float,
    lo: int,
    hi: int,
    ahead: int | None = None,
    spike_window: int = 0,
) -> np.ndarray:
    """Mid-swing indices in ``[lo, hi)``.

    Parameters
    ----------
    omega_s : ndarray, shape (N,)
        Smoothed pitch rate, deg/s.
    half_window : int
        Samples before a peak within which it must be the largest.
    ahead : int, optional
        Samples after a peak within which it must be the largest (default ``half_window``).
    spike_window : int, optional
        When above 1, the pitch rate is capped at twice its mean over this many samples ending
        at each sample (``swing_spike_s``; the samples before ``lo - half_window`` that exist
        are read): a spike of a sample or two is no mid-swing.
    threshold_dps : float
        Least peak value, deg/s.
    lo, hi : int
        Index range to report (the caller guarantees ``half_window`` valid samples before it
        and ``ahead`` after it unless the range touches the true start or end of the data).

    Returns
    -------
    ndarray of int
        Peak indices, increasing. Of equal values in a window the first wins.
    """
    if hi <= lo:
        return np.empty(0, dtype=np.int64)
    ahead = half_window if ahead is None else ahead
    a = max(0, lo - half_window)
    b = min(omega_s.shape[0], hi + ahead)
    seg = omega_s[a:b]
    if spike_window > 1:
        seg = _without_spikes(omega_s, a, b, spike_window)
    mx = running_max(seg, size=2 * half_window + 1, ahead=ahead)
    cand = np.flatnonzero((seg >= mx) & (seg >= threshold_dps)) + a
    # (the first sample of the data is no peak: the rate may have been higher just before it,
    # e.g. data that start in the heel drop after a landing)
    cand = cand[(cand >= max(lo, 1)) & (cand < hi)]
    if cand.size < 2:
        return cand
    keep = [int(cand[0])]
    for c in cand[1:]:  # per peak, not per sample
        if c - keep[-1] > half_window:
            keep.append(int(c))
    return np.asarray(keep, dtype=np.int64)


def find_turn_swings(
    yaw_s: np.ndarray,
    *,
    lo: int,
    hi: int,
    half_window: int,
    threshold_dps: float,
) -> np.ndarray:
    """Turning swings in ``[lo, hi)``: where each starts (indices, increasing).

    At a walker's turn a foot can be lifted and set down again turned by 45-180 deg with
    hardly any toes-up rotation (a pivot step: the pitch rate stays below the mid-swing
    threshold, the rate about the vertical reaches 200-700 deg/s; real walkers, Voisard et al.
    data). Such a swing is a peak of the smoothed rate about the vertical ``|gyr_vt|`` of at
    least ``threshold_dps`` that is the largest within ``±half_window``; it starts where that
    rate last rises through half of its peak before it (the lift: the landing can come before
    the peak, the foot still turning as it touches down). The caller decides whether a landing
    follows (a pivot on the ground is no swing).

    Parameters
    ----------
    yaw_s : ndarray, shape (N,)
        Smoothed absolute rate about the vertical, deg/s.
    lo, hi : int
        Index range of the peaks (the caller guarantees ``half_window`` samples around it).
    half_window : int
        Samples on either side within which a peak must be the largest.
    threshold_dps : float
        Least peak rate, deg/s.

    Returns
    -------
    ndarray of int
        The swings' starts (``lo`` at the earliest), one per peak.
    """
    if hi <= lo:
        return np.empty(0, dtype=np.int64)
    a = max(0, lo - half_window)
    b = min(yaw_s.shape[0], hi + half_window)
    seg = yaw_s[a:b]
    mx = running_max(seg, size=2 * half_window + 1, ahead=half_window)
    cand = np.flatnonzero((seg >= mx) & (seg >= threshold_dps)) + a
    cand = cand[(cand >= lo) & (cand < hi)]
    out: list[int] = []
    last = -half_window - 1
    for c in cand.tolist():  # (of equal values in a window the first wins)
        if c - last <= half_window:
            continue
        last = c
        half = 0.5 * float(yaw_s[c])
        below = np.flatnonzero(yaw_s[lo : c + 1] < half)
        out.append(lo + int(below[-1]) + 1 if below.size else lo)
    return np.asarray(out, dtype=np.int64)


def _without_spikes(omega_s: np.ndarray, a: int, b: int, window: int) -> np.ndarray:
    """``omega_s[a:b]`` capped at twice its trailing mean over ``window`` samples (the
    samples before ``a`` that exist are used): a spike of the pitch rate lasting a sample or
    two (the ringing of a landing's or a toe-off's jolt) is no swing, a swing's peak (its rate
    high for tens of ms) passes unchanged."""
    a0 = max(0, a - window + 1)
    x = omega_s[a0:b]
    c = np.concatenate(([0.0], np.cumsum(x, dtype=np.float64)))
    i = np.arange(a - a0, x.shape[0])
    start = np.maximum(0, i - window + 1)
    mean = (c[i + 1] - c[start]) / (i + 1 - start)
    return np.minimum(x[a - a0 :], 2.0 * mean)


def detect_contact(
    t: np.ndarray,
    omega_s: np.ndarray,
    gyr_norm_s: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    a: int,
    b: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
    a_is_swing: bool = True,
    b_is_swing: bool = True,
    b_is_rest: bool = False,
    cycle_s: float = 0.0,
) -> ContactEvents | None:
    """IC, foot-flat and TO of the contact between two mid-swings ``a < b``.

    With ``b_is_rest`` (and ``b_is_swing`` False) the foot comes to rest at ``b`` (the last
    landing before standing still): there is no toe-off; the contact is returned with
    ``to = b`` and ``t_to`` NaN; ``cycle_s``, the gait cycle before it (s, 0 unknown), sizes the
    IC search as the cycle between two mid-swings does.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Times, s.
    omega_s : ndarray, shape (N,)
        Smoothed pitch rate (``-gyr_ml``), deg/s.
    gyr_norm_s : ndarray, shape (N,)
        Smoothed angular-rate norm, deg/s.
    acc : ndarray, shape (N, 3)
        Specific force, foot frame, m/s².
    gyr : ndarray, shape (N, 3)
        Angular rate, foot frame, deg/s.
    a, b : int
        Indices of the mid-swings (or of the data's start/end when ``a_is_swing`` /
        ``b_is_swing`` is False: a contact cut by a gap or by the recording's edge).
    sampling_rate_hz : float
    settings : EventSettings

    Returns
    -------
    ContactEvents or None
        ``None`` when no contact can be found in the range (e.g. the data end in mid-air).
    """
    return detect_contacts(
        t,
        omega_s,
        gyr_norm_s,
        acc,
        gyr,
        [(a, b, a_is_swing, b_is_swing, b_is_rest, cycle_s)],
        sampling_rate_hz=sampling_rate_hz,
        settings=settings,
    )[0]


def detect_contacts(
    t: np.ndarray,
    omega_s: np.ndarray,
    gyr_norm_s: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    ranges: Sequence[tuple[int, int, bool, bool] | tuple[int, int, bool, bool, bool, float]],
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
) -> list[ContactEvents | None]:
    """:func:`detect_contact` of several ranges, their orientations integrated in one batch.

    The world-vertical specific force of every contact comes from one call of
    :func:`dsp.orientation.integrate_windows` (whose result for a window does not depend on
    the other windows), so each result is bit-identical to :func:`detect_contact` on its
    range alone, whichever ranges share the call; the batch only saves the per-call overhead.

    Parameters
    ----------
    t, omega_s, gyr_norm_s, acc, gyr : ndarray
        As for :func:`detect_contact`.
    ranges : sequence of (a, b, a_is_swing, b_is_swing) or (..., b_is_rest, cycle_s)
        The ranges (and their edge flags) of :func:`detect_contact`; they may overlap.
    sampling_rate_hz : float
    settings : EventSettings

    Returns
    -------
    list of (ContactEvents or None)
        One result per range, in order.
    """
    out: list[ContactEvents | None] = [None] * len(ranges)
    running: list[tuple[int, Generator[_FzRequest, np.ndarray, ContactEvents | None]]] = []
    requests: list[_FzRequest] = []
    counts = _Counts.of(settings, sampling_rate_hz)
    for i, (a, b, a_is_swing, b_is_swing, *rest) in enumerate(ranges):
        steps = _contact_steps(
            t,
            omega_s,
            gyr_norm_s,
            acc,
            gyr,
            a,
            b,
            sampling_rate_hz=sampling_rate_hz,
            settings=settings,
            counts=counts,
            a_is_swing=a_is_swing,
            b_is_swing=b_is_swing,
            b_is_rest=bool(rest and rest[0]),
            rest_cycle_s=float(rest[1]) if rest else 0.0,
        )
        try:
            requests.append(next(steps))
        except StopIteration as stop:  # rejected before the orientation was needed
            out[i] = stop.value
            continue
        running.append((i, steps))
    if not running:
        return out
    forces = _vertical_forces(t, acc, gyr, requests, sampling_rate_hz=sampling_rate_hz)
    for (i, steps), fz in zip(running, forces, strict=True):
        try:
            steps.send(fz)
        except StopIteration as stop:
            out[i] = stop.value
        else:  # pragma: no cover - the steps ask for one force only
            raise RuntimeError("contact detection asked for a second vertical force")
    return out


def _contact_steps(
    t: np.ndarray,
    omega_s: np.ndarray,
    gyr_norm_s: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    a: int,
    b: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
    counts: _Counts,
    a_is_swing: bool,
    b_is_swing: bool,
    b_is_rest: bool = False,
    rest_cycle_s: float = 0.0,
) -> Generator[_FzRequest, np.ndarray, ContactEvents | None]:
    """The body of :func:`detect_contact`, paused once for the world-vertical force.

    Yields one ``(anchor, lo, hi)`` request and expects the world-vertical specific force on
    ``[lo, hi)`` with the orientation anchored at ``anchor`` (see :func:`_vertical_forces`) to be
    sent back; returns the contact (or None), possibly before yielding. ``counts``: the
    settings' durations in samples (:meth:`_Counts.of`).
    """
    fs = sampling_rate_hz
    if b - a < counts.min_range:
        return None
    mid = (a + b) // 2
    if not a_is_swing:
        mid = a + (b - a) // 3
    if not b_is_swing:
        mid = b - (b - a) // 3 if a_is_swing else mid
    # --- toe-off: pitch-rate minimum of the late cycle (Falbriard et al. 2018)
    to_lo = mid
    if b_is_swing:
        to_lo = max(mid, b - counts.to_search)
    to_hi = b
    if to_hi - to_lo < 3:
        return None
    to = to_lo + int(omega_s[to_lo:to_hi].argmin())
    if b_is_rest:  # the foot stands still from b on: no toe-off
        to = b
    # --- initial contact: the landing impact between the mid-swing and toe-off
    ic_lo = a + 1
    if a_is_swing:
        ic_lo = max(ic_lo, to - counts.max_contact)
    ic_hi = to - counts.min_contact
    if ic_hi - ic_lo < 3:
        return None
    # foot-flat: the stillest instant between mid-swing and toe-off: least rotation and a
    # specific force closest to 1 g (20 deg/s per m/s², so a quiet instant of the swing, when
    # the shoe is still being accelerated, does not qualify)
    w_n = counts.norm_smooth
    an = centered_moving_average(row_norm(acc[ic_lo:ic_hi]), window=w_n)
    cost = gyr_norm_s[ic_lo:ic_hi] + 20.0 * np.abs(an - settings.gravity)
    # foot-flat follows the landing: back from the end of the range, the first rotation that
    # exceeds the stillest rotation after it by landing_burst_dps is the landing (or, without a
    # clear one, the swing), and foot-flat lies after it (a slow swing, e.g. the first step
    # after standing, has instants about as still as a short flat phase)
    g_seg = gyr_norm_s[ic_lo:ic_hi]
    after_min = np.minimum.accumulate(g_seg[::-1])[::-1]
    burst = (g_seg > after_min + settings.landing_burst_dps).nonzero()[0]
    c0 = int(burst[-1]) + 1 if burst.size and burst[-1] + 1 < g_seg.shape[0] else 0
    ms = ic_lo + c0 + int(cost[c0:].argmin())
    # the toe-off: the push-off's trough, the first deep one after foot-flat (the lowest pitch
    # rate of the late cycle can be the early swing's, or, when the range starts late in a
    # swing after a gap, the landing's slap)
    to, t_trough = _push_off_trough(
        t, omega_s, max(to_lo, ms + 1), to_hi, settings.to_trough_fraction
    )
    # start of the flat phase: back from foot-flat while the rotation stays small
    flat_thr = gyr_norm_s[ms] + settings.flat_margin_dps
    if b_is_rest:  # (foot-flat in the rest: judged against a gait foot-flat's rotation)
        flat_thr = max(gyr_norm_s[ms], 0.5 * settings.flat_margin_dps) + settings.flat_margin_dps
    lo_ff = ic_lo
    above = (gyr_norm_s[lo_ff : ms + 1] > flat_thr).nonzero()[0]
    ff = lo_ff + int(above[-1]) + 1 if above.size else lo_ff
    # the landing burst: the last rotation peak before the flat phase (foot slap, heel drop,
    # the start of pronation); the impact precedes it by a few tens of ms
    pb = ff
    while pb - 1 > ic_lo and gyr_norm_s[pb - 1] >= gyr_norm_s[pb]:
        pb -= 1
    if (
        burst.size
        and pb - ic_lo > burst[-1]
        and g_seg[pb - ic_lo] < after_min[pb - ic_lo] + settings.landing_burst_dps
        and t[pb] - t[ic_lo + int(burst[-1])] <= settings.flat_wobble_max_s
    ):
        # that peak is a wobble of the early flat phase (real walkers: the foot rocks
        # within flat_wobble_max_s after the slap), not the landing: the landing burst is the last peak of the last
        # rotation exceeding the stillest one after it by landing_burst_dps (else the IC came
        # out 100-150 ms late, in the flat phase)
        pb = ic_lo + int(burst[-1])
        while pb - 1 > ic_lo and gyr_norm_s[pb - 1] >= gyr_norm_s[pb]:
            pb -= 1
    first_burst = False
    if a_is_swing:
        pb0 = pb
        pb = _first_landing_burst(
            omega_s,
            gyr_norm_s,
            a,
            ic_lo,
            ff,
            pb,
            burst,
            swing_avg=counts.swing_avg,
            ms=ms if b_is_rest else None,
        )
        first_burst = pb != pb0
    # (a slow gait lands more slowly: the window grows with the cycle, 10 % of it)
    cycle_s = float(t[b] - t[a]) if a_is_swing and b_is_swing else rest_cycle_s
    w_ic = samples_for(max(settings.ic_before_burst_s, 0.1 * cycle_s), sampling_rate_hz=fs)
    win_lo = max(ic_lo + 1, pb - w_ic)
    win_hi = max(win_lo + 2, min(pb + 1, ic_hi))
    fz = yield (ms, win_lo - 2, win_hi + 1)
    off = win_lo - 2
    w_s = counts.before_slap
    s_lo = max(win_lo, pb - w_s)
    heel_drop = omega_s[pb] >= settings.heel_drop_min_dps
    base_lo, base_hi = win_lo, win_hi
    # the onset of pronation: the eversion burst of early stance starts at the contact
    t_pr = None
    if not heel_drop and not first_burst:
        t_pr = _robust_pronation_onset(
            t, gyr, win_lo, max(win_lo + 2, min(ff + 1, ic_hi)), settings
        )
    t_on = None
    if omega_s[pb] < 0 and pb - s_lo >= 2:
        # a slap (heel or midfoot landing): the impact starts it, so the impact lies shortly
        # before the steepest fall of the pitch rate
        s_fall = s_lo + int(_diff(omega_s[s_lo - 1 : pb + 1]).argmin())
        win_hi = max(win_lo + 2, min(win_hi, s_fall + 1))
        win_lo = max(win_lo, min(s_fall - w_s, win_hi - 2))
        # the slap's onset: where the tangent at its steepest fall meets the pitch rate of the
        # calmest instant before it (precise, but a few ms after the impact)
        dd = _diff(omega_s[win_lo - 1 : s_fall + 1])
        m = float(dd[-1]) * fs
        if dd.size >= 3 and m < 0:
            q = win_lo + int(dd[:-1].argmax())
            t_on = (
                0.5 * (t[s_fall] + t[s_fall - 1])
                + (omega_s[q] - 0.5 * (omega_s[s_fall] + omega_s[s_fall - 1])) / m
            )
            t_on = min(max(float(t_on), float(t[win_lo])), float(t[s_fall]))
    # the anchor of the impact search: the slap's onset, unless it precedes the pronation's
    # by more than slap_lead_max_s (then the pitch-down began in the air: a midfoot runner
    # whose foot pitches down before touching) or there is no slap; then the pronation's
    anchor = None
    by_pronation = t_pr is not None and (t_on is None or t_pr - t_on > settings.slap_lead_max_s)
    if t_pr is not None and by_pronation:
        anchor, lo0, hi0, cap = t_pr, base_lo, base_hi, base_hi
    elif t_on is not None:
        anchor, lo0, hi0, cap = t_on, win_lo, s_fall + 1, win_hi
    t_earliest = None
    if anchor is not None:
        k_on = lo0 + int(t[lo0:hi0].searchsorted(anchor))
        w_i = counts.before_onset
        # the onset can also come out a few ms early (a slow pitch-down before the touch-
        # down steepens the tangent): the window reaches ic_after_onset_s past it, which
        # at 100 Hz is the sample after it
        k_hi = lo0 + int(t[lo0:hi0].searchsorted(anchor + settings.ic_after_onset_s))
        win_hi = max(lo0 + 2, min(cap, k_hi + 1))
        win_lo = max(lo0, min(k_on - w_i, win_hi - 2))
        t_earliest = anchor - settings.ic_before_onset_s
    ic, t_ic = _jump(t, fz, win_lo, win_hi, off, settings.onset_fraction)
    if anchor is not None and by_pronation:
        # the impact gives the sampling interval of the contact, the pronation's onset (a
        # zero crossing, interpolated) the instant inside it (at 50 Hz the largest rise of
        # the filtered force can start a sample early: the window's start bounds it)
        t_ic = min(max(anchor, float(t[ic - 1])), float(t[ic]))
    if t_earliest is not None and t_ic < t_earliest:
        # (at low rates the window holds a sample or two: not before its start in time)
        t_ic = t_earliest
        ic = min(win_hi - 1, max(ic, int(t[win_lo:win_hi].searchsorted(t_ic)) + win_lo))
    if heel_drop:
        # a heel drop after a forefoot landing: the foot's pitch is lowest at the landing,
        # so IC is the rising zero crossing of the pitch rate before the heel drop
        zc = _rising_zero(t, -gyr[:, 1], win_lo, pb + 1)
        if zc is not None:
            ic, t_ic = zc
    # (walking contacts only, as measured: a running heel strike's impact can ring 25-30 ms
    # after the contact, and the gyroscope anchors hold there; a landing into rest has no TO)
    walking = b_is_rest or t_trough - t_ic >= settings.impact_min_contact_s
    if a_is_swing and fs >= settings.impact_min_rate_hz and walking:
        imp_rng = _impact_range(omega_s, a, ms, sampling_rate_hz=fs, settings=settings)
        imp = (
            _impact_onset(t, acc, a, *imp_rng, sampling_rate_hz=fs, settings=settings)
            if imp_rng is not None
            else None
        )
        if imp is not None and abs(imp[1] - t_ic) > settings.impact_tolerance_s:
            ic, t_ic = imp
        late = ic_after_swing(t, omega_s, acc, ic, t_ic, ms, sampling_rate_hz=fs, settings=settings)
        if late is not None:
            ic, t_ic = late
    # toe-off: the push-off's pitch-rate minimum (found above, between samples)
    t_to = t_trough
    if b_is_rest:
        to, t_to = b, float("nan")
    if not a_is_swing:
        # the data start inside the cycle: only when they start in the swing before this
        # landing (the shoe moving fast in the first 100 ms, not standing) is it seen. Moving:
        # turning, or accelerated (20 deg/s per m/s², as for foot-flat): a heel striker's
        # pitch rate passes zero just before the touch-down while the shoe is braked hard
        head = min(ic, a + counts.min_range)
        if ic <= a + 1 or head <= a:
            return None
        a_head = centered_moving_average(row_norm(acc[a:head]), window=w_n)
        moving = gyr_norm_s[a:head] + 20.0 * np.abs(a_head - settings.gravity)
        if moving.max() < settings.swing_threshold_dps:
            return None
        # and the landing burst is a peak after the data's start (when the rotation only falls
        # from the start to the flat phase, the data start inside the landing)
        if pb <= ic_lo + 1:
            return None
    if not b_is_swing and not b_is_rest:
        # the data end inside the cycle: a landing must lie between the mid-swing and the
        # foot-flat (when the rotation falls all the way from the mid-swing to the "flat"
        # instant, that instant is a lull of the late swing and the data end in the landing)
        if a_is_swing and pb <= ic_lo + 1:
            return None
        # the lift-off must be seen (after the plantar flexion
        # of push-off the toes start to rise again, as in early swing)
        if to >= b - 2:
            return None
        tail = omega_s[to:b]
        if tail[int(tail.argmin()) :].max() - tail.min() < settings.swing_threshold_dps:
            return None
        # and the foot does not come to rest after it (after the slap of a landing mistaken
        # for a lift-off it is flat again within a few tens of ms; in the early swing the
        # rotation may pass near zero, but the shoe is being accelerated: the foot-flat cost)
        if b - to <= counts.edge_to_moving:
            return None
        a_tail = centered_moving_average(row_norm(acc[to:b]), window=w_n)
        rest = gyr_norm_s[to:b] + 20.0 * np.abs(a_tail - settings.gravity)
        if rest.min() < settings.flat_max_dps:
            return None
    # a contact has a foot-flat: an (almost) still instant; stricter for a contact cut by the
    # edge of the data
    strict = not (a_is_swing and b_is_swing)
    max_dps = settings.edge_flat_max_dps if strict else settings.flat_max_dps
    if a_is_swing:
        # and it is much stiller than the swing before it
        max_dps = min(max_dps, 0.25 * float(omega_s[a]))
    max_dev = (
        settings.edge_flat_max_dev_g if strict else settings.flat_max_dev_g
    ) * settings.gravity
    if gyr_norm_s[ms] > max_dps or abs(an[ms - ic_lo] - settings.gravity) > max_dev:
        return None
    if to <= ic:
        return None
    if ms <= ic:
        q = (to - ic) // 5
        lo, hi = ic + q, max(ic + q + 1, to - q)
        ms = lo + int(gyr_norm_s[lo:hi].argmin())
    ct = t_to - t_ic
    ok = b_is_rest or settings.min_contact_s <= ct <= settings.max_contact_s
    return ContactEvents(
        ic=ic, ms=ms, to=to, ok=ok, reason="" if ok else "contact time", t_ic=t_ic, t_to=t_to
    )


def _swing_end(omega_s: np.ndarray, a: int, hi: int, *, window: int) -> int | None:
    """The swing's end before ``hi``: the pitch rate's first fall to zero after the last
    instant its average over ``window`` samples (``_SWING_AVG_S``) is at least half the
    mid-swing ``a``'s rate (a range holding two swings, e.g. a gait transition, ends with the
    second; an impact's spike of a sample or two is no swing), or None when it does not fall
    to zero."""
    seg = omega_s[a:hi]
    if seg.shape[0] < 2:
        return None
    avg = centered_moving_average(seg, window=window)
    swing = (avg >= 0.5 * float(omega_s[a])).nonzero()[0]
    last = int(swing[-1]) if swing.size else 0
    down = (seg[last:] <= 0.0).nonzero()[0]
    return None if down.size == 0 else a + last + int(down[0])


def _first_landing_burst(
    omega_s: np.ndarray,
    gyr_norm_s: np.ndarray,
    a: int,
    ic_lo: int,
    ff: int,
    pb: int,
    burst: np.ndarray,
    *,
    swing_avg: int,
    ms: int | None = None,
) -> int:
    """The landing burst: the first rotation burst after the swing, when it precedes ``pb``.

    ``burst`` holds the samples (relative to ``ic_lo``) whose rotation exceeds the stillest
    rotation after them by ``landing_burst_dps``. The swing ends where the pitch rate first
    falls to zero after the mid-swing ``a`` (:func:`_swing_end`, before the flat phase's start
    ``ff``, or else before foot-flat ``ms``); the first burst after that instant, up to its
    peak, is the landing. Returns the earlier of that peak and ``pb``; and when ``pb`` lies in
    the swing itself (a gentle landing, e.g. the last step before standing, whose rotation
    stays below the burst level while the swing's exceeds it, or has no burst at all), the
    first rotation peak after the swing's end. (A last step's swing can slow below the flat
    phase's threshold before it lands, so that its end lies after ``ff``; real walkers: the
    IC then came out in the swing, on its peak, 100-250 ms early.)
    """
    hi = ff
    z = _swing_end(omega_s, a, ff, window=swing_avg)
    if z is None and ms is not None and ms > ff:
        hi = ms
        z = _swing_end(omega_s, a, ms, window=swing_avg)
    if z is None:
        return pb
    first = burst[int(burst.searchsorted(z - ic_lo)) :]  # (burst is ascending)
    if first.size == 0 and pb >= z:
        return pb
    k = ic_lo + int(first[0]) if first.size else z
    while k + 1 < hi and gyr_norm_s[k + 1] >= gyr_norm_s[k]:
        k += 1
    return k if pb < z else min(k, pb)


def _impact_range(
    omega_s: np.ndarray, a: int, hi: int, *, sampling_rate_hz: float, settings: EventSettings
) -> tuple[int, int] | None:
    """Where the touch-down's impact is searched after the mid-swing ``a``: from
    ``impact_before_swing_end_s`` before the pitch rate's first fall to zero after ``a`` to
    ``hi`` (foot-flat); None when the pitch rate does not fall to zero. The first fall, not
    :func:`_swing_end`: the heel strike's jolt can throw the pitch rate back up to the swing's
    rate for 20-50 ms (real walkers: the search then started 70-100 ms after the impact). But
    when the foot turns toes-up by ``impact_second_swing_deg`` or more in one go after that
    fall, the range holds a second swing (a gait transition: a running swing, a pause in the
    air, a walking swing; a jolt turns the foot by some 10-15 deg), and the search starts at
    that swing's end (:func:`_swing_end`; the simulated run-to-walk stride's IC came out 285 ms
    early, on the pause)."""
    down = np.flatnonzero(omega_s[a:hi] <= 0.0)
    if down.size == 0:
        return None
    z = a + int(down[0])
    # the largest toes-up turn after the fall: the pitch rate integrated over each run of
    # positive values
    up = np.concatenate(([False], omega_s[z:hi] > 0.0, [False]))
    edges = np.flatnonzero(up[1:] != up[:-1])
    if edges.size:
        turned = np.concatenate(([0.0], np.cumsum(np.maximum(omega_s[z:hi], 0.0))))
        deg = float((turned[edges[1::2]] - turned[edges[0::2]]).max()) / sampling_rate_hz
        if deg >= settings.impact_second_swing_deg:
            avg_n = samples_for(_SWING_AVG_S, sampling_rate_hz=sampling_rate_hz)
            end = _swing_end(omega_s, a, hi, window=avg_n)
            z = z if end is None else end
    w = samples_for(settings.impact_before_swing_end_s, sampling_rate_hz=sampling_rate_hz)
    lo = max(a + 2, z - w)
    return (lo, hi) if hi - lo >= 3 else None


def landing_impact(
    t: np.ndarray,
    acc: np.ndarray,
    lo: int,
    hi: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
) -> tuple[int, float] | None:
    """The ringing impact of a landing in ``[lo, hi)`` that starts in a turning swing
    (:func:`find_turn_swings`): ``(k, t_event)`` as :func:`_impact_onset` with the swing
    taken as the range's first ``impact_step_s``, or None (a foot turning on the ground does
    not land)."""
    m = samples_for(settings.impact_step_s, sampling_rate_hz=sampling_rate_hz)
    if hi - lo < 2 * m + 3:
        return None
    return _impact_onset(
        t, acc, lo, lo + m + 1, hi, sampling_rate_hz=sampling_rate_hz, settings=settings
    )


def swing_impact(
    t: np.ndarray,
    omega_s: np.ndarray,
    acc: np.ndarray,
    a: int,
    ms: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
) -> tuple[int, float] | None:
    """The walking landing's ringing impact after the mid-swing ``a``, before foot-flat
    ``ms`` (the rule :func:`detect_contact` applies to walking contacts at
    ``impact_min_rate_hz`` or above): ``(k, t_event)`` or None."""
    rng = _impact_range(omega_s, a, ms, sampling_rate_hz=sampling_rate_hz, settings=settings)
    if rng is None:
        return None
    return _impact_onset(t, acc, a, *rng, sampling_rate_hz=sampling_rate_hz, settings=settings)


def ic_after_swing(
    t: np.ndarray,
    omega_s: np.ndarray,
    acc: np.ndarray,
    ic: int,
    t_ic: float,
    ms: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
) -> tuple[int, float] | None:
    """The landing's impact when the walking IC ``(ic, t_ic)`` lies in the swing: ``(k,
    t_event)`` or None (the IC stands).

    At a heel strike the toes stop rising: the foot is at its most dorsiflexed and the slap
    (toes down) starts. An IC where the smoothed pitch rate is still ``ic_swing_max_dps`` or
    more (interpolated at ``t_ic``), as it has been for the ``ic_swing_hold_s`` before (a
    toes-up jolt after the touch-down, the heel drop of a forefoot landing or a last step's
    rebound, rises there), was keyed on a jolt of the late swing (real walkers,
    Voisard et al. data: a 1-1.6 g change while the toes still rise at 50-400 deg/s, or a
    "10-ms" change that spans a lost packet, 60-90 ms before the landing's 2-4 g). The impact
    is then the first ringing change (:func:`_impact_onset`, the swing's own changes not
    compared) after the pitch rate falls below ``ic_swing_max_dps``, before foot-flat ``ms``;
    used when it lies more than ``impact_tolerance_s`` after ``t_ic`` and no data loss of
    ``ic_swing_max_loss_s`` or more lies between ``t_ic`` and foot-flat (the landing may have
    been in the loss: the IC stays in the swing, and ``FootAnalyzer`` does not report such a
    contact; a simulated runner with dropouts written as zeros got a contact whose IC moved
    214 ms, from the mid-swing at 706 deg/s to 70 ms before a 43 ms loss).
    """
    if ic < 1 or ic >= ms:
        return None
    om = float(np.interp(t_ic, t[ic - 1 : ic + 1], omega_s[ic - 1 : ic + 1]))
    k0 = int(np.searchsorted(t, t_ic - settings.ic_swing_hold_s))
    if om < settings.ic_swing_max_dps or omega_s[k0:ic].min(initial=om) < settings.ic_swing_max_dps:
        return None
    below = np.flatnonzero(omega_s[ic:ms] < settings.ic_swing_max_dps)
    if below.size == 0:
        return None
    lo = ic + int(below[0])
    m = samples_for(settings.impact_step_s, sampling_rate_hz=sampling_rate_hz)
    if ms - lo < 3:
        return None
    imp = _impact_onset(
        t, acc, lo - m, lo, ms, sampling_rate_hz=sampling_rate_hz, settings=settings
    )
    if imp is None or imp[1] - t_ic <= settings.impact_tolerance_s:
        return None
    if float(np.diff(t[ic - 1 : ms + 1]).max()) >= settings.ic_swing_max_loss_s:
        return None
    return imp


def _impact_onset(
    t: np.ndarray,
    acc: np.ndarray,
    a: int,
    lo: int,
    hi: int,
    *,
    sampling_rate_hz: float,
    settings: EventSettings,
) -> tuple[int, float] | None:
    """The touch-down's impact in ``[lo, hi)`` (:func:`_impact_range`): ``(k, t_event)``,
    ``k`` the first sample after the event, or None.

    The change of the specific-force vector (foot frame; its norm does not depend on the
    sensor's orientation) over ``impact_step_s``, placed midway between its samples. None
    unless the range's largest change is an impact: at least ``impact_min_g`` and at least
    ``impact_over_swing`` times the largest change of the swing before it (mid-swing ``a`` to
    ``lo``). The event is the first change that reaches ``impact_first_fraction`` of the
    largest, ``impact_min_g``, and ``impact_over_swing`` times the swing's largest change (or
    ``impact_fraction`` of the largest), and rings (the next changes within ``impact_ring_s``
    turn back against it by ``impact_reversal`` of its square, and then within
    ``impact_reswing_s`` forth again); None when none rings. The
    first, not the largest: a heel strike is often followed by a harder slap of the forefoot
    30-100 ms later (real walkers, Voisard et al. data: the heel strike's change 40-50 % of the
    slap's; taking the first change of half the largest put the IC on the slap, 75-95 ms late).
    The vector, not the norm: a real heel strike's impact is often mostly along the foot, where
    the late swing's deceleration reverses (the norm dips); a smooth deceleration without
    ringing (a shoe's motion from markers) is no impact.
    """
    n_ring = samples_for(settings.impact_ring_s, sampling_rate_hz=sampling_rate_hz)
    n_again = samples_for(settings.impact_reswing_s, sampling_rate_hz=sampling_rate_hz)
    m = samples_for(settings.impact_step_s, sampling_rate_hz=sampling_rate_hz)
    # the change of the specific force over impact_step_s, ending at lo, lo + 1, ...
    if lo - m < 0:
        return None
    x = acc[lo - m : min(acc.shape[0], hi + n_ring + n_again)]
    step = x[m:] - x[:-m]
    d = np.linalg.norm(step[: hi - lo], axis=1)
    top = float(d.max())
    if top < settings.impact_min_g * settings.gravity:
        return None
    # and it stands out from the swing before it (mid-swing ``a`` to ``lo``)
    sw = acc[a:lo]
    if sw.shape[0] > m:
        swing = float(np.linalg.norm(sw[m:] - sw[:-m], axis=1).max())
        if top < settings.impact_over_swing * swing:
            return None
    else:
        swing = 0.0
    # the impact: the first change that rings (below) among those reaching impact_first_fraction
    # of the largest and standing out from the swing (impact_min_g, and impact_over_swing times
    # the swing's largest change, or impact_fraction of the largest): a heel strike followed by a
    # harder forefoot slap is the heel strike
    thr = max(
        settings.impact_min_g * settings.gravity,
        min(settings.impact_over_swing * swing, settings.impact_fraction * top),
        settings.impact_first_fraction * top,
    )
    # (the candidates in time order; a smooth bump's fall follows its rise within a sample or
    # two, so turning back once is not enough: a ring also swings forth again)
    j = -1
    for c in np.flatnonzero(d >= thr).tolist():
        back = step[c + 1 : c + 1 + n_ring] @ step[c] <= -settings.impact_reversal * d[c] ** 2
        if not back.any():
            continue
        # and rings on: it swings forth again (the fall of a smooth bump, whose rise at 100 Hz
        # can take only two samples, turns back once)
        r = c + 2 + int(np.argmax(back))
        if (step[r : r + n_again] @ step[c] > 0).any():
            j = c
            break
    if j < 0:
        return None
    # the event lies in that change: midway
    k = lo + j
    t_ev = float(0.5 * (t[k - m] + t[k]))
    return k - m + 1 + int(np.searchsorted(t[k - m + 1 : k + 1], t_ev)), t_ev


def _diff(x: np.ndarray) -> np.ndarray:
    """``np.diff`` of a 1-D array: the same subtraction, without its per-call overhead."""
    return x[1:] - x[:-1]


def _push_off_trough(
    t: np.ndarray, omega_s: np.ndarray, lo: int, hi: int, fraction: float
) -> tuple[int, float]:
    """The push-off's pitch-rate minimum in ``[lo, hi)``: ``(k, t_min)``.

    The first local minimum reaching ``fraction`` of the range's lowest pitch rate (a real
    runner's early swing can hold a second trough as deep, 60-70 ms after the toe-off), its time
    refined between samples by the parabola through it and its neighbours.
    """
    seg = omega_s[lo:hi]
    k = int(seg.argmin())
    low = float(seg[k])
    if seg.shape[0] >= 3 and low < 0:
        mid = seg[1:-1]
        loc = (mid <= seg[:-2]) & (mid < seg[2:]) & (mid <= fraction * low)
        first = int(loc.argmax())  # the first such local minimum, if any
        if loc[first]:
            k = first + 1
    i = lo + k
    t_min = float(t[i])
    if lo < i < hi - 1:
        ya, yb, yc = float(omega_s[i - 1]), float(omega_s[i]), float(omega_s[i + 1])
        curv = ya - 2.0 * yb + yc
        if curv > 0:
            u = 0.5 * (ya - yc) / curv  # vertex offset in samples, within +-0.5
            t_min += u * float(t[i + 1] - t[i] if u > 0 else t[i] - t[i - 1])
    return i, t_min


def _robust_pronation_onset(
    t: np.ndarray, gyr: np.ndarray, lo: int, hi: int, settings: EventSettings
) -> float | None:
    """:func:`_pronation_onset` of ``gyr_ap``, or None when it depends on the foot's yaw.

    The analysis frame's ``ap`` axis is perpendicular to the dominant swing rotation, i.e. to
    the direction of progression; a real shoe's own axis can be turned from it (toe-out; the
    real treadmill runner: about 20 deg each way), and the subtalar axis is oblique to the foot
    anyway. ``gyr_ap`` then carries ``sin(yaw)`` of the pitch rate, which sweeps through
    several hundred deg/s at the slap, right when the eversion starts. The onset is also taken
    about the axes turned by ``±pronation_yaw_check_deg`` about the vertical; when one of
    them has no burst, or the three onsets spread over more than ``pronation_spread_max_s``,
    the zero crossing is the leaked pitch rate's, not the eversion's: None. (Real treadmill
    runner: spreads of 30-60 ms on most contacts and the crossing about ``ap`` 20-60 ms after
    the marker contact; simulated runners in their true frame: 13-21 ms, the crossing within
    2 ms of the contact.)
    """
    t_pr = _pronation_onset(t, gyr[:, 0], lo, hi, settings.pronation_min_dps)
    if t_pr is None or settings.pronation_yaw_check_deg <= 0:
        return t_pr
    c, s = _cos_sin_deg(settings.pronation_yaw_check_deg)
    c_ap = c * gyr[lo - 1 : hi, 0]  # samples lo - 1 .. hi - 1
    s_ml = s * gyr[lo - 1 : hi, 1]
    t_x = t[lo - 1 : hi]
    onsets = [t_pr]
    for x in (c_ap + s_ml, c_ap - s_ml):  # about the axes turned by +- the check angle
        o = _pronation_onset(t_x, x, 1, hi - lo + 1, settings.pronation_min_dps)
        if o is None:
            return None
        onsets.append(o)
    if max(onsets) - min(onsets) > settings.pronation_spread_max_s:
        return None
    return t_pr


@functools.cache
def _cos_sin_deg(deg: float) -> tuple[float, float]:
    """``cos`` and ``sin`` of ``deg`` degrees as floats (numpy's values; once per setting, not
    per contact)."""
    return float(np.cos(np.radians(deg))), float(np.sin(np.radians(deg)))


def _pronation_onset(
    t: np.ndarray, gyr_ap: np.ndarray, lo: int, hi: int, min_dps: float
) -> float | None:
    """Onset of the eversion burst in ``[lo, hi)``, s, or None.

    The burst is the largest ``|gyr_ap|`` in the range (deg/s; its sign, which depends on the
    side, is taken from the burst itself) when it reaches ``min_dps``; its onset is the last
    crossing of zero towards it before its peak, linearly interpolated between samples (the
    sample before ``lo`` may hold the start of the crossing).
    """
    seg = gyr_ap[lo - 1 : hi]
    inside = seg[1:]
    k_up = int(inside.argmax()) + 1
    k_dn = int(inside.argmin()) + 1
    up = float(seg[k_up]) >= -float(seg[k_dn])
    k = k_up if up else k_dn
    if abs(float(seg[k])) < min_dps:
        return None
    # the last sample on the other side of zero before the peak
    other = (seg[k - 1 :: -1] < 0) if up else (seg[k - 1 :: -1] > 0)
    back = int(other.argmax())
    if not other[back]:
        return None
    i = k - 1 - back
    e0, e1 = float(seg[i]), float(seg[i + 1])
    f = e0 / (e0 - e1)
    return float(t[lo - 1 + i] + f * (t[lo + i] - t[lo - 1 + i]))


def _vertical_forces(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    requests: Sequence[_FzRequest],
    *,
    sampling_rate_hz: float,
) -> list[np.ndarray]:
    """World-vertical specific force (m/s²) on ``[lo, hi)`` of each ``(anchor, lo, hi)``.

    The orientation is integrated from foot-flat ``anchor`` (tilt from the specific force,
    :func:`dsp.orientation.integrate_windows` without drift correction) over
    ``[min(lo, anchor), max(hi, anchor + 1))``; all windows in one call.
    """
    k = len(requests)
    req = np.asarray(requests, dtype=np.int64).reshape(k, 3)
    start = np.minimum(req[:, 1], req[:, 0])
    stop = np.maximum(req[:, 2], req[:, 0] + 1)
    n = stop - start
    width = int(n.max())
    # windows padded by repeating their last sample (the padding never reaches the samples
    # of a window: integrate_windows works forward in time and masks its averages)
    if k == 1:  # (one contact, e.g. live: slices are cheaper than the gather below)
        a, b = int(start[0]), int(stop[0])
        tt = t[None, a:b]
        aa = np.ascontiguousarray(acc[a:b].T)[:, None, :]
        gg = np.ascontiguousarray(gyr[a:b].T)[:, None, :]
    else:
        idx = np.minimum(start[:, None] + np.arange(width), (stop - 1)[:, None])
        tt = t[idx]
        aa = np.ascontiguousarray(np.moveaxis(acc[idx], -1, 0))
        gg = np.ascontiguousarray(np.moveaxis(gyr[idx], -1, 0))
    h = max(0, round(_STILL_HALF_WINDOW_S * sampling_rate_hz))
    kin = integrate_windows(tt, aa, gg, n, req[:, 0] - start, np.full(k, -1), still_half_window=h)
    r = kin.rot[2]  # world-up row of the body-to-world rotation, (3, K, L)
    # summed in the order numpy's einsum("nj,nj->n") uses (results identical to earlier versions)
    fz = (r[0] * aa[0] + r[2] * aa[2]) + r[1] * aa[1]
    return [
        fz[i, lo - a : hi - a]
        for i, (a, (_, lo, hi)) in enumerate(zip(start.tolist(), requests, strict=True))
    ]


def _rising_zero(t: np.ndarray, x: np.ndarray, lo: int, hi: int) -> tuple[int, float] | None:
    """Last crossing of ``x`` from negative to non-negative in ``[lo, hi)``, linearly
    interpolated: ``(k, t_cross)`` with ``k`` the first sample at or above zero, or None."""
    seg = x[lo - 1 : hi]
    j = np.flatnonzero((seg[:-1] < 0) & (seg[1:] >= 0))
    if j.size == 0:
        return None
    k = lo + int(j[-1])
    x0, x1 = float(x[k - 1]), float(x[k])
    f = -x0 / (x1 - x0)
    return k, float(t[k - 1] + f * (t[k] - t[k - 1]))


def _jump(
    t: np.ndarray, fz: np.ndarray, lo: int, hi: int, off: int, onset_fraction: float
) -> tuple[int, float]:
    """Onset of the sharpest rise of ``fz`` in ``[lo, hi)``.

    ``fz[i - off]`` is the value at sample ``i``. The ground stops the shoe within a few ms at
    contact: the impact shows as the sharpest rise of the world-vertical specific force. From
    the largest sample-to-sample rise we step back while the rise is still above
    ``onset_fraction`` of it (a low-pass filter in the sensor spreads the rise over a few
    samples); the event lies between that sample and the one before, and is placed midway.
    Returns ``(k, t_event)``, ``k`` the first sample after the event.
    """
    d = _diff(fz[lo - 1 - off : hi - off])  # d[j]: rise from sample lo+j-1 to lo+j
    j = int(d.argmax())
    thr = onset_fraction * d[j]
    while j > 0 and d[j - 1] > thr:
        j -= 1
    k = lo + j
    return k, float(0.5 * (t[k - 1] + t[k]))
