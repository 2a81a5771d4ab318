"""Streaming analysis of one shoe sensor: blocks in, finished contacts (``ContactRow``) out.

Usage::

    fa = FootAnalyzer(info)                 # info.placement is left_foot or right_foot
    for block in blocks:                    # any block sizes, in time order
        res = fa.feed(block)                # a dsp.feed.FeedResult
        rows += res.rows                    # contacts finished so far (often empty)
        for t_ic, pitch, side in res.traces:
            ...                             # time-normalised foot pitch of those strides
    rows += fa.finish().rows                # the contacts still pending at the end

Batch analysis is the same object fed a whole file in chunks; the results do not depend on
where the blocks are cut, because every decision is taken on index ranges fixed by the data
(sample counts and detected events), never by block boundaries:

1. **Segments.** Data are split into contiguous segments at gaps (reported in
   ``SampleBlock.gaps`` and seen as a time step above ``gap_split_s``); nothing is detected inside
   a gap and no stride is measured across one.
2. **Alignment.** The first ``align_initial_s`` seconds of data are buffered and
   :func:`dsp.alignment.estimate_alignment` runs on them; if the result is unusable or not
   confident, the buffer is doubled (up to ``align_max_s``) and it runs again. The rotation is
   then held for the rest of the recording, and the buffered data are analysed with it.
3. **Events.** In each segment, mid-swings are found with a fixed look-ahead
   (``swing_half_window_s``); each pair of consecutive mid-swings yields one contact
   (:func:`dsp.foot_events.detect_contact`). A contact is reported once the next one is known
   (its stride metrics need the next foot-flat), or when its segment ends.
4. **Metrics.** :func:`dsp.foot_metrics.contact_metrics` on the samples from the contact's IC
   to the next IC.

Attributes
----------
alignment_ : AlignmentResult or None
    The sensor-to-foot rotation in use, once found.

Each :meth:`feed` / :meth:`finish` returns a :class:`dsp.feed.FeedResult`: its ``traces`` are,
for the rows of the call that have a complete stride, ``(t_ic, pitch, side)``, foot pitch in
deg over the stride from this IC to the next, resampled to 101 points (0 to 100 %), for the
viewer's per-stride overlay; ``detected_ics`` the contacts detected by the call (before their
rows, which wait for the next contact), ``watermark`` the time before which every contact has
been detected and has its early row, ``stride_watermark`` the time before which every
contact's stride early row is out (the IC of the last contact detected).
"""

from __future__ import annotations

import logging
import math
import statistics
from array import array
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dsp.alignment import AlignmentResult, estimate_alignment
from dsp.block import STANDARD_GRAVITY, SampleBlock, SensorInfo
from dsp.bouts import foot_activity
from dsp.contact import CONTACT_KEYS, ContactRow
from dsp.errors import AnalysisError
from dsp.filters import centered_moving_average, declip, samples_for
from dsp.foot_events import (
    LANDING_LOSS_MIN_S,
    ContactEvents,
    EventSettings,
    detect_contact,
    detect_contacts,
    find_swing_peaks,
    find_turn_swings,
    landing_impact,
    swing_impact,
)
from dsp.foot_metrics import MetricSettings, contact_metrics_batch, foot_heading_deg
from dsp.metrics import cadence_spm
from dsp.orientation import rotate_rows
from dsp.stream_input import (
    RATE_TOLERANCE,
    AlignBuffer,
    BlockInput,
    StreamAnalyzer,
    classify_gaps,
    saturated_samples,
)
from dsp.summary import median_or_none

__all__ = ["ORIENTATION_KEYS", "FootAnalyzer", "FootSettings"]

#: Metrics that need the sensor's orientation on the foot (its ``ap`` and ``ml`` axes).
ORIENTATION_KEYS = (
    "foot_strike_angle",
    "strike_type",
    "pronation_excursion",
    "max_pronation_velocity",
)

log = logging.getLogger(__name__)

#: Metrics whose medians go into the summary (kept as compact float64 arrays: a few MB for
#: a whole day of running, so memory does not grow with the recording's length in practice).
_MEDIAN_KEYS = (
    "cadence",
    "contact_time",
    "foot_strike_angle",
    "max_pronation_velocity",
    "pronation_excursion",
    "speed",
)


@dataclass(frozen=True)
class FootSettings:
    """Settings of :class:`FootAnalyzer`.

    Attributes
    ----------
    events : EventSettings
    metrics : MetricSettings
    align_initial_s : float
        Data buffered before the first alignment attempt, s.
    align_max_s : float
        Longest buffer for the alignment; beyond it the sensor is declared not alignable for
        that stretch and the buffer restarts, s.
    min_alignment_confidence : float
        Below it, contacts carry ``low_alignment``.
    min_orientation_confidence : float
        Below it (an up axis good only for finding and timing the contacts, see
        :func:`dsp.alignment.estimate_alignment`'s ``timing_confidence``), the metrics that
        need the sensor's orientation on the foot (:data:`ORIENTATION_KEYS`) are left empty;
        contacts, contact and stride time, cadence, stride length and speed are reported.
    gap_split_s : float
        A time step longer than ``max(gap_split_s, 3.5 sample periods)`` splits the data
        into segments; shorter losses are bridged: contacts overlapping them are reported and
        flagged ``gap``, also when IC or TO falls inside one (the event is then known to the
        loss's length; a real radio loses packets in bursts around the impacts, and 13 % of a
        real walk's contacts were missing when such rows were not reported), but not when a
        loss of at least ``gap_landing_min_s`` starts between IC and foot-flat and the foot
        was still swinging at the IC found.
    max_integrated_gap_s : float
        A stride whose integration (foot-flat to foot-flat) crosses a loss longer than
        ``max(max_integrated_gap_s, 3.5 sample periods)`` (time step across it, s) gets no
        stride length or speed: the rotation and velocity
        lost in it are not recovered (simulated running and walking with 3 % packet loss at
        104 Hz: stride length 1.1 -> 1.9 % and 1.3 -> 1.8 % when strides across 60-100 ms
        losses kept theirs). Its contact, timing and angles are reported, flagged ``gap``.
    gap_landing_min_s : float
        A data loss this long (s, time step across it) starting after IC and before foot-flat
        may have held the landing (impact and slap take about 30 ms): when the pitch rate at
        the IC found is still a mid-swing's (``events.swing_threshold_dps``), that IC is the
        swing's and the contact is not reported; otherwise the foot had landed before the loss
        and the contact is reported, flagged ``gap``. Shorter losses there (one or two packets
        at 100 Hz) are bridged.
    rate_tolerance : float
        Largest relative mismatch between ``sample_rate_hz`` and the time stamps
        (:data:`dsp.stream_input.RATE_TOLERANCE`).
    max_clip_run_s : float
        A stride holding a clipped run (any axis at its range) longer than this, s, gets no
        stride length or speed (the row keeps ``saturated``): the clipped peaks are re-estimated
        from their flanks (:func:`dsp.filters.declip`), which holds for short peaks (impacts,
        up to ~40 ms: errors 0.2-2 % on simulated strides) but not for long clipped swings
        (a 2 or 4 g range in running: 80 ms and more, errors 3-40 %).
    clip_recent_strides : int
        A stride without such a run also gets no stride length or speed when at least half of
        this sensor's last ``clip_recent_strides`` strides (itself included) had one: the range
        is too small for this runner's swing, and the strides that escape a long run by a few
        samples are no better mended (real running shoe signals clipped at 2 g,
        ``scripts/robustness_check.py --check clip``: 8 of ~200 strides escaped, with errors
        of 1-27 %, median ~16 %). 0: off.
    rest_max_dps, rest_min_s : float
        The foot rests (stands still) where its smoothed rotation (without the turn about the
        vertical) stays below ``rest_max_dps`` for at least ``rest_min_s`` (longer than any
        foot-flat of walking or running). A rest between two mid-swings is not a contact: the
        landing before it is reported as a contact that ended in standing (no toe-off: ``t_to``
        and the contact time empty, no stride metrics), and the first step after it starts
        afresh (below). At the start and end of the data a shorter quiet stretch counts
        (``rest_edge_min_s``).
    rest_edge_min_s : float
        Least quiet time at the start or end of the data (or of a segment) for a rest, s.
    first_swing_min_dps : float
        After a rest, the first swing is often gentle (a short first step, a step up a stair:
        a toes-up rate of 60-100 deg/s, below the mid-swing threshold). The largest toes-up
        rate between the rest and the first mid-swing counts as a mid-swing when it reaches
        this (deg/s) and a contact with a foot-flat follows it. So does a gentle last step
        before a rest, when its landing shows an impact (:meth:`FootAnalyzer._last_step`).
    turn_swing_min_dps : float
        A turning swing (a pivot step at a walker's turn: the foot lifted and set down
        turned, with hardly any toes-up rotation) reaches this rate about the vertical, deg/s
        (:func:`dsp.foot_events.find_turn_swings`); between two mid-swings it separates two
        contacts when both are found (:meth:`FootAnalyzer._turn_contacts`).
    stride_jump_ratio : float
        A stride (IC to next IC) longer than this times the median of the foot's last
        ``stride_history`` accepted strides (since the segment's start or the last rest)
        spans a missed contact; shorter than that median divided by it, it ends on a second
        contact found within one stance. Its stride metrics would be confidently wrong (a
        double stride; a stride of a few mm): the row is ``rejected`` and no early stride row
        is released for it. A missed contact doubles the stride time; a change of pace
        changes it by 10-30 % from one stride to the next (a run turning into a walk by up to
        ~1.6x). 0: never.
    missed_stance_min_s : float
        A stride longer than ``stride_jump_ratio`` times the recent ones spans a missed
        contact only when the foot stood still (``rest_max_dps``) for at least this long, s,
        between its toe-off and the next IC (a walking foot-flat lasts 0.2-0.5 s); a long
        single stride (a runner turning round: 1.7-2.1 s among 0.7 s strides) keeps its row.
    stride_history : int
        Number of recent accepted strides whose median ``stride_jump_ratio`` compares with;
        no judgement before there are that many (at least 2): after a U-turn a walker's first
        stride of 2.75 s and the next of 1.22 s have a median of 2 s, and the following
        1.11 s stride (Voisard 3-6) was taken for a short one.
    R_bs : tuple or None
        A known sensor-to-foot rotation (3x3 nested tuples); skips the estimation.
    gravity : float
        m/s².
    """

    events: EventSettings = field(default_factory=EventSettings)
    metrics: MetricSettings = field(default_factory=MetricSettings)
    align_initial_s: float = 20.0
    align_max_s: float = 160.0
    min_alignment_confidence: float = 0.5
    min_orientation_confidence: float = 0.3
    max_clip_run_s: float = 0.05
    clip_recent_strides: int = 8
    gap_split_s: float = 0.1
    max_integrated_gap_s: float = 0.06
    gap_landing_min_s: float = LANDING_LOSS_MIN_S
    rate_tolerance: float = RATE_TOLERANCE
    rest_max_dps: float = 25.0
    rest_min_s: float = 1.0
    rest_edge_min_s: float = 0.3
    first_swing_min_dps: float = 50.0
    turn_swing_min_dps: float = 200.0
    stride_jump_ratio: float = 1.75
    stride_history: int = 3
    missed_stance_min_s: float = 0.15
    R_bs: tuple | None = None
    gravity: float = STANDARD_GRAVITY


@dataclass
class _Piece:
    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    new_segment: bool
    minor_gaps: np.ndarray  # (K, 2) times of small losses inside the piece


@dataclass
class _Job:
    """A contact whose row waits for the batched metrics of :meth:`FootAnalyzer._flush`."""

    ev: ContactEvents  # segment indices
    window: tuple  # (t, acc, gyr, ev, next) with window-local indices
    pend: _Pending
    has_next: bool
    cut: bool
    saturated: bool
    minor: list  # small losses known when the contact was queued
    long_clip: bool = False  # a clipped run too long to re-estimate
    long_gap: bool = False  # the stride's integration crosses a loss too long to bridge


@dataclass
class _Pending:
    """A detected contact waiting for the next one (its stride metrics need it)."""

    ev: ContactEvents  # segment indices
    lead: bool = False
    #: contact-only metrics, computed once at detection (the early row) and reused by the row
    early: dict | None = None
    #: a data loss between IC and foot-flat (the landing may be in it): not reported
    dropped: bool = False
    #: the last landing before a rest: no toe-off, no stride to the next contact
    rest: bool = False
    #: a loss over ``max_integrated_gap_s`` between IC and foot-flat: the landing may be in
    #: it, so the angles at the IC found are left empty (the contact is reported, flagged gap)
    no_angles: bool = False
    #: the toe-off time, or for a landing that came to rest the time the rest was reached, s
    t_end: float = math.nan
    #: a landing that came to rest: the contact before it (whose gait it ends: its activity)
    before: _Pending | None = None
    #: its stride spans a missed contact or ends within its stance (``stride_jump_ratio``)
    odd_stride: bool = False


@dataclass
class _EarlyJob:
    """A just-detected contact whose early row waits for the batched metrics of ``_flush``."""

    pend: _Pending
    window: tuple  # (t, acc, gyr, ev, None) with window-local indices
    saturated: bool
    gap: bool


class FootAnalyzer(StreamAnalyzer):
    """Streaming per-contact analysis of one foot sensor (see the module docstring).

    Parameters
    ----------
    info : SensorInfo
        ``placement`` must be ``left_foot`` or ``right_foot``.
    settings : FootSettings, optional
    **overrides
        Fields of :class:`FootSettings` to replace.
    """

    def __init__(
        self, info: SensorInfo, settings: FootSettings | None = None, **overrides: Any
    ) -> None:
        if info.side is None:
            raise AnalysisError(
                f"sensor {info.sensor_id}: placement {info.placement!r} is not a foot"
            )
        s = settings or FootSettings()
        if overrides:
            s = replace(s, **overrides)
        self.info = info
        self.settings = s
        self.side = info.side
        self.fs = float(info.sample_rate_hz)
        ev = s.events
        self._h_om = samples_for(ev.omega_smooth_ms / 2000.0, sampling_rate_hz=self.fs, minimum=0)
        self._h_n = samples_for(ev.norm_smooth_ms / 2000.0, sampling_rate_hz=self.fs, minimum=0)
        self._H = samples_for(ev.swing_half_window_s, sampling_rate_hz=self.fs)
        self._ahead = min(self._H, samples_for(ev.swing_lookahead_s, sampling_rate_hz=self.fs))
        self._spike_n = samples_for(ev.swing_spike_s, sampling_rate_hz=self.fs) + 1
        self._margin = (
            self._H
            + max(self._h_om, self._h_n)
            + samples_for(s.metrics.pronation_smooth_ms / 1000.0, sampling_rate_hz=self.fs)
            + samples_for(s.metrics.impact_window_s, sampling_rate_hz=self.fs)
            + 8
        )
        self._reach = (
            samples_for(0.015, sampling_rate_hz=self.fs)
            + samples_for(s.metrics.pronation_smooth_ms / 1000.0, sampling_rate_hz=self.fs)
            + samples_for(s.metrics.impact_window_s, sampling_rate_hz=self.fs)
            + 4
        )
        # samples before IC the metrics read (eversion-rate smoothing, IC interpolation)
        self._lead = (
            samples_for(s.metrics.pronation_smooth_ms / 1000.0, sampling_rate_hz=self.fs) + 4
        )
        self._gap_thr = max(s.gap_split_s, 3.5 / self.fs)
        # a loss longer than this is not integrated across (stride length) nor read at a landing
        self._long_gap_thr = max(s.max_integrated_gap_s, 3.5 / self.fs)
        self._sat_pad = samples_for(0.01, sampling_rate_hz=self.fs)  # see _saturated
        self._lead_limit = samples_for(ev.max_cycle_s, sampling_rate_hz=self.fs)
        self._rest_n = samples_for(s.rest_min_s, sampling_rate_hz=self.fs)
        self._rest_edge_n = samples_for(s.rest_edge_min_s, sampling_rate_hz=self.fs)
        # the landing before a rest is searched up to this far into the rest
        self._rest_reach = samples_for(0.3, sampling_rate_hz=self.fs)
        self._acc_fs = None if info.acc_range_g is None else info.acc_range_g * STANDARD_GRAVITY
        self._gyr_fs = info.gyr_range_dps
        # input state
        self._input = BlockInput(
            info.sensor_id,
            self.fs,
            rate_tolerance=s.rate_tolerance,
            acc_range_ms2=self._acc_fs,
            gyr_range_dps=self._gyr_fs,
            zero_dropouts=True,
        )
        # alignment state
        self.alignment_: AlignmentResult | None = None
        self._R: np.ndarray | None = None
        self._low_align = False
        self._align_buf = AlignBuffer(
            samples_for(s.align_initial_s, sampling_rate_hz=self.fs),
            samples_for(s.align_max_s, sampling_rate_hz=self.fs),
            size=lambda p: p.t.shape[0],
            cut=lambda p, k: _Piece(p.t[:k], p.acc[:k], p.gyr[:k], p.new_segment, p.minor_gaps),
            new_segment=lambda p: p.new_segment,
        )
        self._align_attempts: list[str] = []
        if s.R_bs is not None:
            r = np.asarray(s.R_bs, dtype=np.float64)
            self.alignment_ = AlignmentResult(R_bs=r, confidence=1.0, ok=True, reason="given")
            self._R = r
        # segment state
        self._seg_open = False
        self._out: list[ContactRow] = []
        self._jobs: list[_Job] = []
        #: whether each of the last strides (``clip_recent_strides``) had a long clipped run
        self._long_clips: deque[bool] = deque(maxlen=max(1, self.settings.clip_recent_strides))
        self._early_jobs: list[_EarlyJob] = []
        #: contacts whose stride time became known (next contact detected), with that time
        self._stride_jobs: list[tuple[_Pending, float]] = []
        self._n_contacts = 0
        self._n_segments = 0
        self._flag_counts: dict[str, int] = {}
        self._summary_vals: dict[str, array] = {k: array("d") for k in _MEDIAN_KEYS}
        self._strike_counts: dict[str, int] = {}
        self._finished = False
        self._detected_to = -math.inf  # every contact before it is detected, s

    # ------------------------------------------------------------------ public API
    # feed() and finish(): dsp.stream_input.StreamAnalyzer
    def _after_feed(self) -> None:
        self._flush()

    def _after_finish(self) -> None:
        if self._seg_open:
            self._close_segment(cut_by_gap=False)
        self._flush()

    def _watermark(self) -> float:
        """Time (s) before which every initial contact has been detected.

        Contacts are detected before their rows are final (a row waits for the next contact);
        their IC times go out in the result's ``detected_ics`` as they are detected, which lets
        the session's flight-time pairing and the pelvis fusion use them early and
        deterministically: everything before the watermark is final.
        """
        return math.inf if self._finished else self._detected_to

    def diagnostics(self) -> dict[str, Any]:
        """Alignment and flag counts for reports and the viewer."""
        d: dict[str, Any] = {
            "sensor_id": self.info.sensor_id,
            "placement": self.info.placement,
            "contacts": self._n_contacts,
            "segments": self._n_segments,
            "flags": dict(self._flag_counts),
        }
        self._alignment_diagnostics(d)
        return d

    def summary(self) -> dict[str, Any]:
        """This sensor's part of SUMMARY.json (analysis-output v1)."""
        v = self._summary_vals
        out: dict[str, Any] = {"placement": self.info.placement, "contacts": self._n_contacts}
        for key, name in (
            ("cadence", "cadence_median"),
            ("contact_time", "contact_time_median"),
            ("foot_strike_angle", "foot_strike_angle_median"),
        ):
            out[name] = median_or_none(v[key])
        n_types = sum(self._strike_counts.values())
        out["strike_type_fraction"] = {
            k: (round(self._strike_counts.get(k, 0) / n_types, 4) if n_types else None)
            for k in ("rearfoot", "midfoot", "forefoot")
        }
        out["max_pronation_velocity_median"] = median_or_none(v["max_pronation_velocity"])
        out["pronation_excursion_median"] = median_or_none(v["pronation_excursion"])
        out["speed_median"] = median_or_none(v["speed"])
        return out

    # ------------------------------------------------------------------ input
    def _split(self, block: SampleBlock) -> list[_Piece]:
        got = self._input.accept(block)
        if got is None:
            return []
        t, acc, gyr, prev = got.t, got.acc, got.gyr, got.prev_t
        d = np.diff(t)
        steps = np.concatenate(([np.inf if prev is None else t[0] - prev], d))
        # long losses split the data into segments; short ones (a few packets) are bridged:
        # the samples around them are integrated with the real time step and the contacts
        # that overlap them are flagged
        big, small = classify_gaps(steps, sampling_rate_hz=self.fs, split_s=self._gap_thr)
        starts = np.flatnonzero(big)
        if starts.size == 0 or starts[0] != 0:
            starts = np.concatenate(([0], starts))
        bounds = [*starts.tolist(), t.shape[0]]
        pieces = []
        for k in range(len(bounds) - 1):
            a, b = bounds[k], bounds[k + 1]
            sm = np.flatnonzero(small[a:b]) + a  # small steps ending at these samples
            before = np.concatenate(([np.nan if prev is None else prev], t[:-1]))
            mg = np.stack([before[sm], t[sm]], axis=1) if sm.size else np.empty((0, 2))
            pieces.append(_Piece(t[a:b], acc[a:b], gyr[a:b], bool(big[a]), mg))
        return pieces

    # ------------------------------------------------------------------ alignment
    def _try_align(self, *, final: bool) -> None:
        s = self.settings
        buf = self._align_buf
        # exactly the first ``target`` samples (not whatever the blocks brought), so the
        # rotation does not depend on block sizes
        segs = buf.first(buf.n if final else buf.target)
        arrays = [
            (
                np.concatenate([p.t for p in g]),
                np.concatenate([p.acc for p in g]),
                np.concatenate([p.gyr for p in g]),
            )
            for g in segs
        ]
        res = estimate_alignment(
            arrays, sampling_rate_hz=self.fs, gravity=s.gravity, acc_full_scale=self._acc_fs
        )
        # dsp.stream_input's retry policy: at the largest target a stretch that cannot be
        # aligned (e.g. the sensor lay still) is dropped and the search starts over
        outcome = self._judge_alignment(res, final=final, min_confidence=s.min_alignment_confidence)
        if outcome == "adopt":
            self._adopt_alignment(res, s.min_alignment_confidence)
        elif outcome == "give_up":
            log.warning("sensor %s: no alignment (%s)", self.info.sensor_id, res.reason)

    # ------------------------------------------------------------------ segments
    def _start_segment(self) -> None:
        self._seg_open = True
        self._n_segments += 1
        self._base = 0
        self._seg_n = 0
        self._bt = np.empty(0)
        self._bacc = np.empty((0, 3))
        self._bgyr = np.empty((0, 3))
        self._bsat = np.empty(0, dtype=bool)
        #: saturated samples before each buffer index (one more entry than ``_bsat``): any
        #: saturation in a range is a difference of two counts, not a scan (see _any_saturated)
        self._bsat_n = np.zeros(1, dtype=np.int64)
        #: sensor-frame specific force with its clipped peaks re-estimated (declip), final
        #: before segment index ``_dec_final``; later samples wait for their clip run to end
        self._bdec = np.empty((0, 3))
        self._bdec_r = np.empty((0, 3))  # _bdec rotated to the foot frame
        self._dec_final = 0
        self._minor: list[np.ndarray] = []
        self._scan_from = 0
        self._last_peak: int | None = None
        self._pending: _Pending | None = None
        self._cycle_s = 0.0  # the last stride time of the segment, s (0: none yet)
        self._recent_strides: list[float] = []  # accepted, since the segment start or a rest

    def _process(self, piece: _Piece) -> None:
        if piece.new_segment and self._seg_open:
            self._close_segment(cut_by_gap=True)
        if not self._seg_open:
            self._start_segment()
        r = self._R
        assert r is not None
        sat = saturated_samples(
            piece.acc, piece.gyr, acc_full_scale=self._acc_fs, gyr_full_scale=self._gyr_fs
        )
        self._bt = np.concatenate([self._bt, piece.t])
        acc_r = rotate_rows(piece.acc, r)
        self._bacc = np.concatenate([self._bacc, acc_r])
        self._bdec_r = np.concatenate([self._bdec_r, acc_r])
        self._bgyr = np.concatenate([self._bgyr, rotate_rows(piece.gyr, r)])
        self._bsat = np.concatenate([self._bsat, sat])
        self._bsat_n = np.concatenate([self._bsat_n, self._bsat_n[-1] + np.cumsum(sat)])
        self._bdec = np.concatenate([self._bdec, piece.acc])
        open_run = self._dec_final < self._seg_n  # a clipped run was open at the buffer's end
        self._seg_n += piece.t.shape[0]
        if self._acc_fs is not None and (
            open_run or bool(np.any(np.abs(piece.acc) >= 0.985 * self._acc_fs))
        ):
            self._declip_tail()
        else:
            self._dec_final = self._seg_n
        if piece.minor_gaps.shape[0]:
            self._minor.append(piece.minor_gaps)
        self._advance(final=False)

    def _declip_tail(self) -> None:
        """Re-estimate the clipped runs of the samples not final yet (:func:`declip`).

        A clipped run is re-estimated from the two samples on either side of it, so its values
        are final once two samples follow it; a run still open at the buffer's end waits for
        more data (and one open at the segment's end stays as read, as :func:`declip` leaves
        runs at the ends of its input). Each sample is thus declipped once, whatever the
        block sizes, instead of once per contact window.
        """
        assert self._acc_fs is not None
        f0 = max(0, self._dec_final - self._base)
        lo = max(0, f0 - 2)
        raw = self._bdec[lo:]
        lim = 0.985 * self._acc_fs
        dec = declip(raw, full_scale=self._acc_fs)
        # samples from the earliest run still open at the end on are not final (a run needs
        # two samples after it)
        n = raw.shape[0]
        final = n
        for k in range(3):
            col = raw[:, k]
            for sign in (1.0, -1.0):
                for tail in (1, 2):
                    if n >= tail and sign * col[n - tail] >= lim:
                        # (the mask only when a run is open: most blocks end unclipped)
                        run = (sign * col[: n - tail + 1] >= lim)[::-1]
                        final = min(
                            final,
                            n - tail + 1 - (int(np.argmin(run)) if not run.all() else run.size),
                        )
                        break
        keep = max(0, f0 - lo)
        self._bdec[lo + keep :] = dec[keep:]
        assert self._R is not None
        self._bdec_r[lo + keep :] = rotate_rows(dec[keep:], self._R)
        self._dec_final = self._base + lo + max(keep, final)

    def _close_segment(self, *, cut_by_gap: bool) -> None:
        self._advance(final=True)
        n = self._seg_n
        if self._last_peak is not None:
            ev = self._detect(self._last_peak, n - 1, a_swing=True, b_swing=False)
            if ev is not None and ev.ok and (self._pending is None or ev.ic > self._pending.ev.to):
                self._push(ev)
            else:
                # the data end standing: the last landing came to rest
                rests = self._rests(self._last_peak, n, edge_end=True)
                if rests:
                    self._rest_landing(self._last_peak, rests[0])
        if self._pending is not None:
            self._emit(self._pending, None, cut=cut_by_gap)
            self._pending = None
        self._seg_open = False
        if self._bt.shape[0]:
            self._detected_to = max(self._detected_to, float(self._bt[-1]))

    def _advance(self, *, final: bool) -> None:
        n_buf = self._bt.shape[0]
        if n_buf == 0:
            return
        base = self._base
        self._smooth()
        om = self._om
        H = self._H
        ahead = self._ahead
        hi = self._seg_n if final else self._seg_n - ahead - self._h_om - 1
        lo = self._scan_from
        if hi > lo:
            peaks = find_swing_peaks(
                om,
                half_window=H,
                threshold_dps=self.settings.events.swing_threshold_dps,
                lo=lo - base,
                hi=hi - base,
                ahead=ahead,
                spike_window=self._spike_n,
            )
            new = (peaks + base).tolist()
            known = self._detect_ahead(new)
            for p in new:
                if self._last_peak is not None and p - self._last_peak <= H:
                    continue
                self._on_peak(p, known)
            self._scan_from = hi
        self._trim()

    def _smooth(self) -> None:
        """Smoothed pitch rate ``_om`` and angular-rate norm ``_gn`` of the buffer (deg/s).

        Only the samples whose smoothing window was not complete at the previous call are
        computed: the others keep their values, which depend on the samples in their window
        only (:func:`dsp.filters.centered_moving_average`), so a live block of a few samples
        does not cost a pass over the whole buffer. (After a trim, the first samples of the
        buffer keep their full-window values; nothing reads them, see :meth:`_trim`.)
        """
        h = max(self._h_om, self._h_n)
        prev = getattr(self, "_smoothed", None)  # (segment, first, end, om, gn): absolute
        start = 0
        if prev is not None and prev[0] == self._n_segments:
            start = max(0, prev[2] - h - self._base)
        lo = max(0, start - h)
        part = self._bgyr[lo:]
        om = centered_moving_average(-part[:, 1], window=2 * self._h_om + 1)[start - lo :]
        # the rotation norm without the turn about the vertical axis: a foot turning on the
        # ground (a walker turning round, a pivot in stance) is on the ground, not landing
        # (np.linalg.norm(part[:, :2], axis=1)'s value: the same sum, without a reduction
        # along the short axis)
        g_ap, g_ml = part[:, 0], part[:, 1]
        gn = centered_moving_average(np.sqrt(g_ap * g_ap + g_ml * g_ml), window=2 * self._h_n + 1)[
            start - lo :
        ]
        if start > 0:
            assert prev is not None
            k = self._base - prev[1]  # the buffer's first sample in the previous arrays
            om = np.concatenate((prev[3][k : k + start], om))
            gn = np.concatenate((prev[4][k : k + start], gn))
        self._om, self._gn = om, gn
        self._smoothed = (self._n_segments, self._base, self._seg_n, om, gn)

    def _detect_ahead(self, peaks: list[int]) -> dict[tuple[int, int], ContactEvents | None]:
        """Contacts between consecutive mid-swings of ``peaks``, detected in one batch.

        :meth:`_on_peak` pairs each peak with the last accepted one; this assumes every peak
        will be accepted and detects all those pairs at once
        (:func:`dsp.foot_events.detect_contacts`, the same results as one at a time). A pair
        that turns out not to be needed is ignored, and one that was not foreseen (after a
        peak is skipped) is detected on its own by :meth:`_detect`, so the contacts are those
        of the one-at-a-time order.

        Returns
        -------
        dict
            ``(a, b)`` (absolute indices of two mid-swings) to the contact or None, in
            absolute indices; empty when fewer than two pairs are ahead (a live block).
        """
        pairs = []
        last = self._last_peak
        for p in peaks:
            if last is not None and p - last <= self._H:
                continue
            if last is not None:
                pairs.append((last, p))
            last = p
        if len(pairs) < 2:
            return {}
        base = self._base
        found = detect_contacts(
            self._bt,
            self._om,
            self._gn,
            self._bacc,
            self._bgyr,
            [(a - base, b - base, True, True) for a, b in pairs],
            sampling_rate_hz=self.fs,
            settings=self.settings.events,
        )
        return {
            pair: None if ev is None else self._shifted(ev, base)
            for pair, ev in zip(pairs, found, strict=True)
        }

    def _detect(
        self,
        a: int,
        b: int,
        *,
        a_swing: bool,
        b_swing: bool,
        b_rest: bool = False,
        cycle_s: float = 0.0,
        known: dict[tuple[int, int], ContactEvents | None] | None = None,
    ) -> ContactEvents | None:
        if known is not None and a_swing and b_swing and (a, b) in known:
            return known[(a, b)]
        base = self._base
        ev = detect_contact(
            self._bt,
            self._om,
            self._gn,
            self._bacc,
            self._bgyr,
            a - base,
            b - base,
            sampling_rate_hz=self.fs,
            settings=self.settings.events,
            a_is_swing=a_swing,
            b_is_swing=b_swing,
            b_is_rest=b_rest,
            cycle_s=cycle_s,
        )
        return None if ev is None else self._shifted(ev, base)

    def _on_peak(
        self, p: int, known: dict[tuple[int, int], ContactEvents | None] | None = None
    ) -> None:
        a = self._last_peak
        # (a rest needs rest_min_s between two mid-swings: not looked for within a stride;
        # before the segment's first mid-swing it is looked for from the first sample still
        # held: a long stand at the start has been trimmed when fed live)
        lo = self._base if a is None else a
        rests = self._rests(lo, p, edge_start=lo == 0) if a is None or p - a > self._rest_n else []
        if rests:
            # the foot stood still between the two mid-swings: no contact spans the rest;
            # the landing before it, then the first step after it
            if a is not None:
                self._rest_landing(a, rests[0])
            self._after_rest(rests[-1][1], p)
        elif a is None:
            if p < self._lead_limit:
                ev = self._detect(0, p, a_swing=False, b_swing=True)
                if ev is not None and ev.ok:
                    self._push(ev)
        elif (turn := self._turn_contacts(a, p, known)) is not None:
            for ev in turn:
                self._push(ev)
        else:
            ev = self._detect(a, p, a_swing=True, b_swing=True, known=known)
            if ev is None:
                # no contact since the last mid-swing: p is not a mid-swing (e.g. the heel
                # drop after a forefoot landing), unless the foot has been off for long
                if self._bt[p - self._base] - self._bt[a - self._base] < (
                    self.settings.events.max_cycle_s
                ):
                    return
            else:
                self._push(ev)
        self._last_peak = p
        self._detected_to = max(self._detected_to, float(self._bt[p - self._base]))

    def _turn_contacts(
        self, a: int, p: int, known: dict[tuple[int, int], ContactEvents | None] | None = None
    ) -> list[ContactEvents] | None:
        """The contacts between the mid-swings ``a`` and ``p`` when a turning swing
        (:func:`dsp.foot_events.find_turn_swings`) separates two of them, else None.

        Each turning swing found more than ``swing_half_window_s`` from both mid-swings splits
        the range: the contact before it ends with a toe-off before the swing's start, the one
        after it is searched as a contact whose range starts in the swing (it must show the
        foot moving at that start, a landing burst and a foot-flat: a pivot on the ground,
        the foot still flat, is none). All of them must be plausible contacts in time order.
        """
        base = self._base
        H = self._H
        if p - a <= 2 * H + 3:
            return None
        raw = np.abs(self._bgyr[a - base : p - base + 1, 2])
        # (the smoothed rate never exceeds the raw one: most strides stop here)
        if float(raw[H : p - a - H].max()) < self.settings.turn_swing_min_dps:
            return None
        yaw = centered_moving_average(raw, window=2 * self._h_n + 1)
        starts = find_turn_swings(
            yaw,
            lo=H,
            hi=p - a - H,
            half_window=H,
            threshold_dps=self.settings.turn_swing_min_dps,
        )
        if starts.size == 0:
            return None
        w = int(starts[0]) + a
        # the contact before the turning swing: the one of the whole range when it ends before
        # the swing (its timing rules see the whole cycle), else the one before the swing
        ev1 = self._detect(a, p, a_swing=True, b_swing=True, known=known)
        if ev1 is None or not ev1.ok or ev1.to > w:
            ev1 = self._detect(a, w, a_swing=True, b_swing=True)
            if ev1 is None or not ev1.ok or ev1.to > w:
                return None
            # (its toe-off comes before the turning swing: the contact time does not tell
            # walking from running; a walking landing's impact is its IC, as in detect_contact)
            if self.fs >= self.settings.events.impact_min_rate_hz:
                imp = swing_impact(
                    self._bt,
                    self._om,
                    self._bacc,
                    a - base,
                    ev1.ms - base,
                    sampling_rate_hz=self.fs,
                    settings=self.settings.events,
                )
                if imp is not None:
                    ev1 = self._ic_at_impact(ev1, imp)
        ev2 = self._detect(w, p, a_swing=False, b_swing=True)
        if ev2 is None or not ev2.ok or ev2.ic <= ev1.to:
            return None
        # a landing follows the swing: a ringing impact between its start and foot-flat (a
        # foot turning on the ground shows none); it is the contact
        imp = landing_impact(
            self._bt,
            self._bacc,
            w - base,
            ev2.ms - base,
            sampling_rate_hz=self.fs,
            settings=self.settings.events,
        )
        if imp is None:
            return None
        ev2 = self._ic_at_impact(ev2, imp)
        # a foot that lands does not rotate toes-up at a mid-swing's rate (as in
        # _landing_in_gap): an IC found on the swing is no landing (the range up to a turning
        # swing that starts at the landing, a pivot on the ground after it, holds no contact).
        # The pitch rate capped at twice its trailing swing_spike_s mean, as for mid-swings: a
        # landing's jolt throws it up for a sample or two
        thr = self.settings.events.swing_threshold_dps
        for e in (ev1, ev2):
            k = e.ic - base
            trail = self._om[max(0, k - self._spike_n + 1) : k + 1]
            if min(float(self._om[k]), 2.0 * float(trail.mean())) >= thr:
                return None
        return [ev1, ev2]

    def _rests(
        self, lo: int, hi: int, *, edge_start: bool = False, edge_end: bool = False
    ) -> list[tuple[int, int]]:
        """Rests in ``[lo, hi)`` (segment indices ``[r0, r1)``): the smoothed rotation below
        ``rest_max_dps`` for ``rest_min_s``, or for ``rest_edge_min_s`` when the quiet stretch
        starts at ``lo`` (``edge_start``: the segment's first sample) or ends at ``hi``
        (``edge_end``: its last)."""
        if hi - lo < min(self._rest_n, self._rest_edge_n):
            return []
        r0, r1, n = self._quiet_runs(lo, hi)
        need = np.full(r0.shape, self._rest_n)
        if edge_start:
            need[r0 == 0] = self._rest_edge_n
        if edge_end:
            need[r1 == n] = self._rest_edge_n
        keep = r1 - r0 >= need
        return [(lo + int(x), lo + int(y)) for x, y in zip(r0[keep], r1[keep], strict=True)]

    def _quiet_runs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Runs ``[r0, r1)`` (relative to ``lo``) of the buffered segment samples in
        ``[lo, hi)`` whose smoothed rotation (without the turn about the vertical) is below
        ``rest_max_dps``, and how many samples were looked at."""
        quiet = self._gn[lo - self._base : hi - self._base] < self.settings.rest_max_dps
        d = np.diff(quiet.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        return np.flatnonzero(d == 1), np.flatnonzero(d == -1), quiet.shape[0]

    def _rest_landing(self, a: int, rest: tuple[int, int]) -> None:
        """The landing after mid-swing ``a`` that ended in ``rest`` (a contact without toe-off)."""
        b = min(rest[1], rest[0] + self._rest_reach, self._seg_n - 3)
        ev = self._detect(a, b, a_swing=True, b_swing=False, b_rest=True, cycle_s=self._cycle_s)
        if ev is None or not ev.ok:
            return
        if self._pending is not None and ev.ic <= self._pending.ev.to:
            return
        last = self._last_step(a, ev, rest[0], b)
        if last is not None:
            self._push(last[0])
            ev = last[1]
        self._push(ev, rest=True)

    def _last_step(
        self, a: int, ev: ContactEvents, r0: int, b: int
    ) -> tuple[ContactEvents, ContactEvents] | None:
        """A gentle last step between the landing ``ev`` (after the mid-swing ``a``) and the
        rest starting at ``r0``: (that contact, the last step's landing into the rest), or
        None.

        A walker's closing step is often a shuffle whose swing stays below the mid-swing
        threshold (toes-up 50-100 deg/s; real walkers, Voisard et al. data): ``ev`` then
        spans both landings. The last toes-up peak of at least ``first_swing_min_dps`` more
        than ``swing_half_window_s`` after ``ev``'s IC (found as mid-swings are, spikes
        capped) counts as that step's swing when the contact before it ends with a toe-off
        before it, a landing with a foot-flat follows it, and that landing shows a ringing
        impact (:func:`dsp.foot_events.swing_impact`, at ``impact_min_rate_hz`` or above: a
        weight shift on the ground shows none), which is its IC when the other rules are more
        than ``impact_tolerance_s`` from it.
        """
        base = self._base
        # (the landing's contact ``ev`` may reach into the rest over the last step: its
        # foot-flat is the stillest instant, after the last step's landing)
        lo, hi = ev.ic + self._H, r0
        if hi - lo < 3:
            return None
        peaks = find_swing_peaks(
            self._om,
            half_window=self._H,
            threshold_dps=self.settings.first_swing_min_dps,
            lo=lo - base,
            hi=hi - base,
            spike_window=self._spike_n,
        )
        if peaks.size == 0:
            return None
        w = int(peaks[-1]) + base
        first = self._detect(a, w, a_swing=True, b_swing=True)
        if first is None or not first.ok or first.to >= w:
            return None
        if ev.ic < first.ms:
            # the same landing: its IC as found for a landing into standing (which it nearly
            # is: its swing can slow before it lands, see detect_contact's ``b_is_rest``)
            first = ContactEvents(ev.ic, first.ms, first.to, True, "", ev.t_ic, first.t_to)
        if self._pending is not None and first.ic <= self._pending.ev.to:
            return None
        cycle_s = float(self._bt[w - base] - self._bt[a - base])
        landing = self._detect(w, b, a_swing=True, b_swing=False, b_rest=True, cycle_s=cycle_s)
        if landing is None or not landing.ok or landing.ic <= first.to:
            return None
        # the last step lands: a ringing impact after its swing (a weight shift or a
        # shuffle on the ground shows none); it is the IC, as on walking contacts
        if self.fs < self.settings.events.impact_min_rate_hz:
            return None
        imp = swing_impact(
            self._bt,
            self._om,
            self._bacc,
            w - base,
            landing.ms - base,
            sampling_rate_hz=self.fs,
            settings=self.settings.events,
        )
        if imp is None or imp[0] + base <= first.to:
            return None
        return first, self._ic_at_impact(landing, imp)

    def _ic_at_impact(self, ev: ContactEvents, imp: tuple[int, float]) -> ContactEvents:
        """``ev`` with its IC at the landing's ringing impact ``imp`` (buffer index, time) when
        the other rules put it more than ``impact_tolerance_s`` away (the walking rule of
        :func:`dsp.foot_events.detect_contact`), else ``ev`` itself."""
        if abs(imp[1] - ev.t_ic) <= self.settings.events.impact_tolerance_s:
            return ev
        k = imp[0] + self._base
        return ContactEvents(k, max(ev.ms, k + 1), ev.to, True, "", imp[1], ev.t_to)

    def _after_rest(self, r1: int, p: int) -> None:
        """The first step after a rest that ends at ``r1``, before the mid-swing ``p``: a
        gentle first swing (below the mid-swing threshold) and its landing."""
        base = self._base
        hi = p - self._H
        if hi - r1 < 3:
            return
        w = r1 + int(np.argmax(self._om[r1 - base : hi - base]))
        if self._om[w - base] < self.settings.first_swing_min_dps:
            return
        ev = self._detect(w, p, a_swing=True, b_swing=True)
        if ev is not None and ev.ok:
            self._push(ev)

    @staticmethod
    def _shifted(ev: ContactEvents, base: int) -> ContactEvents:
        """``ev`` with its sample indices moved by ``base`` (buffer to segment indices)."""
        return ContactEvents(
            ev.ic + base, ev.ms + base, ev.to + base, ev.ok, ev.reason, ev.t_ic, ev.t_to
        )

    def _push(self, ev: ContactEvents, *, rest: bool = False) -> None:
        if self._pending is not None:
            prev = self._pending
            stride = ev.t_ic - prev.ev.t_ic
            # (no stride from a landing that ended in standing: the foot stood in between)
            nxt = ev if stride <= self.settings.events.max_cycle_s and not prev.rest else None
            if nxt is not None:
                self._cycle_s = float(stride)
                prev.odd_stride = self._odd_stride(float(stride), prev.ev, ev)
            else:
                self._recent_strides.clear()  # a rest or a pause: the pace starts afresh
            self._emit(prev, nxt, cut=False)
            if nxt is not None and prev.ev.ok and not prev.dropped and not prev.odd_stride:
                # the row's stride time (dsp.foot_metrics: the same expression), known now
                self._stride_jobs.append((prev, float(nxt.t_ic - prev.ev.t_ic)))
        t_end = ev.t_to if math.isfinite(ev.t_to) else float(self._bt[ev.to - self._base])
        before = self._pending if rest else None
        self._pending = _Pending(ev, rest=rest, t_end=t_end, before=before)
        self._queue_early(self._pending)
        self._ics_out.append(ev.t_ic)

    def _odd_stride(self, stride: float, ev: ContactEvents, nxt: ContactEvents) -> bool:
        """Whether the stride of ``stride`` s from contact ``ev`` to ``nxt`` (segment indices)
        is far off the foot's recent ones (see ``FootSettings.stride_jump_ratio``); an
        accepted one joins them."""
        s = self.settings
        recent = self._recent_strides
        if s.stride_jump_ratio > 0.0 and len(recent) >= max(2, s.stride_history):
            med = statistics.median(recent)
            if stride * s.stride_jump_ratio < med:
                return True
            if stride > s.stride_jump_ratio * med and self._stance_within(ev.to, nxt.ic):
                return True
        recent.append(stride)
        del recent[: max(0, len(recent) - max(2, s.stride_history))]
        return False

    def _stance_within(self, a: int, b: int) -> bool:
        """Whether the foot stood still between segment indices ``a`` and ``b`` (a swing's
        toe-off and the next IC): its smoothed rotation (:meth:`_rests`' measure) below
        ``rest_max_dps`` for ``missed_stance_min_s``, a foot-flat that no contact holds."""
        lo, hi = max(a, self._base), min(b, self._base + self._gn.shape[0])
        need = samples_for(self.settings.missed_stance_min_s, sampling_rate_hz=self.fs)
        if hi - lo < need:
            return False
        r0, r1, _ = self._quiet_runs(lo, hi)
        return bool((r1 - r0 >= need).any())

    def _trim(self) -> None:
        keep = self._scan_from - self._H - 2 * max(self._h_om, self._h_n) - self._spike_n - 4
        if self._pending is not None:
            keep = min(keep, self._pending.ev.ic - self._margin)
        if self._last_peak is not None:
            keep = min(keep, self._last_peak - self._margin)
        elif self._scan_from < self._lead_limit:
            keep = 0
        cut = keep - self._base
        if cut > 4096:  # trim in large steps to keep the copying cheap
            self._bt = self._bt[cut:]
            self._bacc = self._bacc[cut:]
            self._bgyr = self._bgyr[cut:]
            self._bsat = self._bsat[cut:]
            self._bsat_n = self._bsat_n[cut:]
            self._bdec = self._bdec[cut:]
            self._bdec_r = self._bdec_r[cut:]
            self._base += cut
            t0 = self._bt[0]
            self._minor = [g[g[:, 1] >= t0] for g in self._minor if np.any(g[:, 1] >= t0)]

    # ------------------------------------------------------------------ output
    def _in_minor_gap(self, ev: ContactEvents) -> bool:
        """IC or TO inside a short data loss: the event is known only to the loss's length
        (the contact is reported, flagged ``gap``)."""
        half = 0.5 / self.fs
        for g in self._minor:
            for te in (ev.t_ic, ev.t_to):
                if np.any((g[:, 0] - half < te) & (g[:, 1] + half > te)):
                    return True
        return False

    def _landing_in_gap(self, ev: ContactEvents) -> bool:
        """A short data loss starting after IC and before foot-flat while the foot was still
        swinging at the IC found: the landing may have been in the loss, and that IC be the
        swing's (not reported).

        A foot that has landed does not rotate toes-up at a mid-swing rate: with the smoothed
        pitch rate at the IC below ``swing_threshold_dps`` the IC is a landing's, and the
        contact is reported (flagged ``gap``). On the real Voisard walks (subjects 1-10) the
        rule without this test dropped 69 contacts whose IC was within 100 ms of the
        reference (a loss of 3-5 packets during the loading phase, in a burst of radio losses);
        the false contact it exists for (simulated dropouts written as zeros) had its IC on
        the mid-swing, at 690 deg/s."""
        if not self._minor:
            return False
        k_ic = ev.ic - self._base
        if (
            0 <= k_ic < self._om.shape[0]
            and self._om[k_ic] < self.settings.events.swing_threshold_dps
        ):
            return False
        half = 0.5 / self.fs
        k = ev.ms - self._base
        t_ms = float(self._bt[k]) if 0 <= k < self._bt.shape[0] else ev.t_ic
        long = self.settings.gap_landing_min_s
        return any(
            np.any((g[:, 0] - half >= ev.t_ic) & (g[:, 0] < t_ms) & (g[:, 1] - g[:, 0] >= long))
            for g in self._minor
        )

    def _long_loss_at_landing(self, ev: ContactEvents) -> bool:
        """A loss longer than ``max_integrated_gap_s`` starting after IC and before foot-flat
        (simulated 1 % packet loss at 104 Hz: an 87 ms loss from 5 ms after the IC found held
        the true landing; the strike angle read at that IC was 7.6 deg against 17.8)."""
        if not self._minor:
            return False
        half = 0.5 / self.fs
        k = ev.ms - self._base
        t_ms = float(self._bt[k]) if 0 <= k < self._bt.shape[0] else ev.t_ic
        thr = self._long_gap_thr
        return any(
            np.any((g[:, 0] - half >= ev.t_ic) & (g[:, 0] < t_ms) & (g[:, 1] - g[:, 0] > thr))
            for g in self._minor
        )

    def _window(self, ev: ContactEvents, end: int, nxt: ContactEvents | None) -> tuple:
        """The metrics' window of contact ``ev``: from just before IC to ``end`` (a segment
        index) plus a fixed reach, as ``(t, acc, gyr, ev, nxt)`` with window-local indices."""
        base = self._base
        lo = max(0, ev.ic - self._lead - base)
        hi = min(self._bt.shape[0], end - base + self._reach + 1)
        sh = -lo - base
        e_loc = ContactEvents(ev.ic + sh, ev.ms + sh, ev.to + sh, t_ic=ev.t_ic, t_to=ev.t_to)
        n_loc = (
            None
            if nxt is None
            else ContactEvents(nxt.ic + sh, nxt.ms + sh, nxt.to + sh, t_ic=nxt.t_ic, t_to=nxt.t_to)
        )
        acc_b = self._bacc[lo:hi]
        if self._acc_fs is not None and self._any_saturated(lo, hi):
            # the swing of a shoe often exceeds 16 g: the clipped peaks re-estimated before
            # integrating (the row keeps its "saturated" flag)
            acc_b = self._bdec_r[lo:hi]
        return (self._bt[lo:hi], acc_b, self._bgyr[lo:hi], e_loc, n_loc)

    def _saturated(self, a: int, b: int) -> bool:
        """Any saturated sample from 10 ms before segment index ``a`` to 10 ms after ``b``."""
        w = self._sat_pad
        return self._any_saturated(max(0, a - self._base - w), b - self._base + w + 1)

    def _any_saturated(self, lo: int, hi: int) -> bool:
        """``self._bsat[lo:hi].any()`` for ``lo >= 0`` (from the running counts)."""
        n = self._bsat.shape[0]
        lo, hi = min(lo, n), min(hi, n)
        return hi > lo and int(self._bsat_n[hi]) > int(self._bsat_n[lo])

    def _queue_early(self, pend: _Pending) -> None:
        """Queue the early row of a just-detected contact: its contact-only metrics (strike
        angle and type, pronation, contact time, impact) need data only up to its toe-off, so
        they are known about a stride before the row itself (which waits for the next contact).
        They are computed once, here, and the row reuses them: early and final values are the
        same numbers."""
        ev = pend.ev
        if self._landing_in_gap(ev):
            pend.dropped = True
            return
        pend.no_angles = self._long_loss_at_landing(ev)
        gap = self._in_minor_gap(ev) or any(
            np.any((g[:, 1] > ev.t_ic) & (g[:, 0] < pend.t_end)) for g in self._minor
        )
        self._early_jobs.append(
            _EarlyJob(
                pend=pend,
                window=self._window(ev, ev.to, None),
                saturated=self._saturated(ev.ic, ev.to),
                gap=gap,
            )
        )

    def _emit(self, pend: _Pending, nxt: ContactEvents | None, *, cut: bool) -> None:
        """Queue the row of contact ``pend`` (metrics computed in :meth:`_flush`, in a batch)."""
        if pend.dropped:
            return  # the landing may have been in a data loss: not reported
        ev = pend.ev
        # the metrics read up to the next foot-flat (gravity window) or this toe-off (smoothing,
        # impact window): a fixed reach, always inside the buffer except at a segment's end
        window = self._window(ev, nxt.ms if nxt is not None else ev.to, nxt)
        # saturated anywhere from this contact to the next one (the stride's integration)
        saturated = self._saturated(ev.ic, nxt.ic if nxt is not None else ev.to)
        long_clip = False
        if saturated and nxt is not None:
            # a clipped run longer than max_clip_run_s, i.e. of at least ``m`` samples: some
            # ``m`` consecutive saturated samples: a window of ``m`` samples whose count (from
            # the running counts of the buffer) is ``m``; no run-length bookkeeping
            lo = max(0, ev.ic - self._base)
            hi = min(nxt.ic - self._base + 1, self._bsat.shape[0])  # the samples [lo, hi)
            m = math.floor(self.settings.max_clip_run_s * self.fs) + 1
            if hi - lo >= m:
                c = self._bsat_n
                long_clip = bool(((c[lo + m : hi + 1] - c[lo : hi + 1 - m]) >= m).any())
        if nxt is not None and self.settings.clip_recent_strides > 0:
            recent = self._long_clips
            recent.append(long_clip)
            # the range is too small for this swing: most recent strides clip for long
            long_clip = long_clip or 2 * sum(recent) >= recent.maxlen  # type: ignore[operator]
        long_gap = False
        if nxt is not None and self._minor:
            t_w = window[0]
            lo_t, hi_t, thr = float(t_w[0]), float(t_w[-1]), self._long_gap_thr
            long_gap = any(
                bool(np.any((g[:, 1] - g[:, 0] > thr) & (g[:, 1] > lo_t) & (g[:, 0] < hi_t)))
                for g in self._minor
            )
        self._jobs.append(
            _Job(
                ev=ev,
                window=window,
                pend=pend,
                has_next=nxt is not None,
                cut=cut,
                saturated=saturated,
                minor=list(self._minor),
                long_clip=long_clip,
                long_gap=long_gap,
            )
        )

    def _flush(self) -> None:
        """Metrics of the queued contacts (one vectorised pass), rows appended in order."""
        jobs, self._jobs = self._jobs, []
        early, self._early_jobs = self._early_jobs, []
        strides, self._stride_jobs = self._stride_jobs, []
        if not jobs and not early and not strides:
            return
        s = self.settings
        todo = [j for j in jobs if j.ev.ok]
        early_todo = [j for j in early if j.pend.ev.ok]

        # one vectorised pass per kind (windows are padded to the longest of their pass: the
        # early ones end at toe-off, a third of a stride; each result depends on its window
        # alone)
        # (the pooled foot-flat reference is the alignment's up axis: with a low-confidence
        # one, e.g. from loosely still instants, each foot-flat's own specific force is used)
        metrics = replace(s.metrics, flat_anchor=False) if self._low_align else s.metrics

        # the foot angles are measured about the shoe's own axes, its heel-to-toe axis found
        # from the direction of progression (a given mounting is the shoe's own frame; without
        # a heading, e.g. a clipping accelerometer, or with a low-confidence alignment, whose
        # strides integrate coarsely: the analysis frame's axes)
        heading = 0.0
        al = self.alignment_
        if (
            al is not None
            and s.R_bs is None
            and not self._low_align
            and math.isfinite(al.heading_deg)
        ):
            heading = foot_heading_deg(al.heading_deg, self.side, s.metrics.toe_out_deg)

        def batch(
            windows: list[tuple], stride_only: bool = False, contact_items: list | None = None
        ) -> list:
            return contact_metrics_batch(
                windows,
                side=self.side,
                sampling_rate_hz=self.fs,
                settings=metrics,
                gravity=s.gravity,
                heading_deg=heading,
                stride_only=stride_only,
                contact_items=contact_items,
            )

        no_orientation = (
            self.alignment_ is not None
            and self.alignment_.confidence < s.min_orientation_confidence
        )
        # One pass for the rows and the early rows of this call. A row's contact-only metrics
        # are its early row's (computed here or in an earlier call): the rows get only their
        # stride metrics (all metrics for a row without early values, which the order the
        # contacts are queued in never leaves). An early window is the start of its row's
        # window when that row is computed here too (its next contact was found in this call:
        # every contact but a block's last one in batch analysis), so its metrics come from
        # the row's integration (the orientation before the drift correction); the other early
        # windows are integrated in the same pass, on their own.
        early_of = {id(ej.pend): ej for ej in early_todo}
        known: list[_Job] = []  # rows whose contact-only metrics are their early row's
        unknown: list[_Job] = []
        for j in todo:
            (known if j.pend.early is not None or id(j.pend) in early_of else unknown).append(j)
        paired = {id(j.pend) for j in known if j.has_next and id(j.pend) in early_of}
        alone = [ej for ej in early_todo if id(ej.pend) not in paired]
        early_m = {}
        by_job = {}
        if known or alone:
            contact_items = [
                early_of[id(j.pend)].window if id(j.pend) in paired else None for j in known
            ] + [ej.window for ej in alone]
            res = batch(
                [j.window for j in known] + [ej.window for ej in alone], True, contact_items
            )
            for j, r in zip(known, res, strict=False):
                by_job[id(j)] = r
                if id(j.pend) in paired:
                    early_m[id(j.pend)] = r[0]
            for ej, (m, _) in zip(alone, res[len(known) :], strict=True):
                early_m[id(ej.pend)] = m
        if unknown:
            by_job.update(
                (id(j), r) for j, r in zip(unknown, batch([j.window for j in unknown]), strict=True)
            )
        for ej in early_todo:
            m = early_m[id(ej.pend)]
            ej.pend.early = {k: m[k] for k in CONTACT_KEYS}
            if ej.pend.rest:  # the foot came to rest: no toe-off, no contact time
                ej.pend.early["contact_time"] = None
            if no_orientation or ej.pend.no_angles:  # left empty, never guessed
                ej.pend.early.update(dict.fromkeys(ORIENTATION_KEYS))
        for ej in early:
            self._early_out.append(self._early_row(ej))
        for pend, stride_time in strides:
            self._early_out.append(self._stride_row(pend, stride_time))
        for job in jobs:
            ev = job.ev
            row = ContactRow(
                sensor_id=self.info.sensor_id,
                side=self.side,
                t_ic=ev.t_ic,
                t_to=_time_or_none(ev.t_to),
            )
            rejected = not ev.ok
            trace = None
            if not rejected:
                m, trace = by_job[id(job)]
                tilt = float(m.pop("tilt_error_deg", None) or math.nan)
                if job.has_next and (
                    not math.isfinite(tilt)
                    or tilt > s.metrics.max_tilt_error_deg
                    or job.long_clip
                    or job.long_gap
                ):
                    for k in ("stride_length", "speed"):
                        m[k] = None
                if no_orientation or job.pend.no_angles:
                    m.update(dict.fromkeys(ORIENTATION_KEYS))
                    trace = None
                if job.pend.early is not None:
                    m.update(job.pend.early)  # the very values of the early row
                sl = m.get("stride_length")
                if job.has_next and job.pend.odd_stride:
                    rejected = True  # a double stride, or one ending within its stance
                elif isinstance(sl, float) and sl > s.metrics.max_stride_length_m:
                    rejected = True
                else:
                    vars(row).update(m)  # (a plain dataclass: the same as setattr per key)
            if rejected:
                # the contact happened (the row stays) but its metrics are not trusted: empty
                row.add_flag("rejected")
                trace = None
            # flags
            if job.saturated:
                row.add_flag("saturated")
            t_end = row.t_ic + (row.stride_time or (job.pend.t_end - ev.t_ic))
            if job.cut or any(np.any((g[:, 1] > row.t_ic) & (g[:, 0] < t_end)) for g in job.minor):
                row.add_flag("gap")
            if self._low_align:
                row.add_flag("low_alignment")
            if job.pend.rest and not rejected:
                row.activity = self._rest_activity(job.pend)
            if trace is not None:
                self._traces_out.append((row.t_ic, trace, str(self.side)))
            self._record(row)
            self._out.append(row)

    def _rest_activity(self, pend: _Pending) -> str | None:
        """The activity of a landing that came to rest: that of the gait it ends (the contact
        before it, within a stride), else None."""
        b = pend.before
        if (
            b is None
            or b.early is None
            or pend.ev.t_ic - b.ev.t_ic > self.settings.events.max_cycle_s
        ):
            return None
        ct = b.early.get("contact_time")
        prev = ContactRow(
            self.info.sensor_id, self.side, b.ev.t_ic, contact_time=ct if ct is None else float(ct)
        )
        return foot_activity(prev)

    def _early_row(self, job: _EarlyJob) -> ContactRow:
        """The early row of a contact: contact-only metrics, no stride metrics yet."""
        ev = job.pend.ev
        row = ContactRow(
            sensor_id=self.info.sensor_id,
            side=self.side,
            t_ic=ev.t_ic,
            t_to=_time_or_none(ev.t_to),
        )
        if job.pend.early is None:
            row.add_flag("rejected")
        else:
            vars(row).update(job.pend.early)
        if job.saturated:
            row.add_flag("saturated")
        if job.gap:
            row.add_flag("gap")
        if self._low_align:
            row.add_flag("low_alignment")
        if job.pend.rest and job.pend.early is not None:
            row.activity = self._rest_activity(job.pend)
        return row

    def _stride_row(self, pend: _Pending, stride_time: float) -> ContactRow:
        """The second early row of a contact, once the next contact is detected: its early
        values plus the stride time and cadence of its row (about half a stride before the row,
        which waits for the next foot-flat)."""
        ev = pend.ev
        row = ContactRow(
            sensor_id=self.info.sensor_id,
            side=self.side,
            t_ic=ev.t_ic,
            t_to=ev.t_to,
            stride_time=stride_time,
            cadence=cadence_spm(stride_time),
        )
        vars(row).update(pend.early or {})
        return row

    def _stride_watermark(self) -> float:
        """Time (s) before which every contact's stride early row has been released: the IC
        of the last contact detected (its stride time needs the next one)."""
        if self._finished:
            return math.inf
        pend = getattr(self, "_pending", None)  # set when the first segment starts
        if pend is not None:
            return float(pend.ev.t_ic)
        return self._detected_to

    def _record(self, row: ContactRow) -> None:
        self._n_contacts += 1
        for f in row.flags:
            self._flag_counts[f] = self._flag_counts.get(f, 0) + 1
        if "rejected" in row.flags:
            return
        for k in _MEDIAN_KEYS:
            v = getattr(row, k)
            if v is not None:
                self._summary_vals[k].append(v)
        if row.strike_type:
            self._strike_counts[row.strike_type] = self._strike_counts.get(row.strike_type, 0) + 1


def _time_or_none(t: float) -> float | None:
    """A row's time: None for NaN (a landing that came to rest has no toe-off)."""
    return float(t) if math.isfinite(t) else None
