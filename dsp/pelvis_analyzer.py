"""Streaming analysis of one pelvis (sacrum) sensor: blocks in, one ``ContactRow`` per step out.

Usage::

    pa = PelvisAnalyzer(info)               # info.placement == "pelvis"
    for block in blocks:                    # any block sizes, in time order
        rows += pa.feed(block).rows         # a dsp.feed.FeedResult: steps finished so far
    rows += pa.finish().rows

With foot sensors (``PelvisAnalyzer(info, feet={"left_foot": "left", ...})``) the session passes
every foot analyzer's :class:`dsp.feed.FeedResult` right after the foot's call:
``pa.feed(None, feet=[result])``; it may release early rows (their side came from the foot).

Batch analysis is the same object fed a file in chunks. Every decision is taken on index ranges
fixed by the data, never by where the blocks are cut, so any chunking gives identical rows:

1. **Input.** Gaps up to ``bridge_max_s`` (lost BLE packets) are bridged by linear
   interpolation on the nominal sample grid (steps touching them carry ``gap``); longer gaps
   split the data into segments.
2. **Alignment.** The first ``align_initial_s`` of data are buffered and
   :func:`dsp.pelvis_alignment.estimate_pelvis_alignment` runs on them (buffer doubled up to
   ``align_max_s`` while it fails); the rotation and the obliquity reference (standing or
   running) are then held.
3. **Epochs.** Each segment is cut into epochs of ``epoch_s`` (0.5 s) at fixed sample
   indices; epoch ``k`` is analysed (:func:`dsp.pelvis_metrics.analyse_epochs`, the
   equivalent of :func:`dsp.pelvis_metrics.analyse_span` on the window) on its samples
   plus ``pad_s`` before and ``lookahead_s`` after (the same foot's next contact) once they
   have arrived, and owns the steps whose contact peaks in it. Contact detection is local, so
   a step near an epoch edge is found identically by both neighbours and owned by exactly
   one. A step is thus analysed about ``epoch_s + lookahead_s`` after its contact.
4. **Sides.** Steps alternate; the phase of the alternation is voted by the side cues of the
   ``side_half_window`` steps before and ``side_lookahead`` after
   (:func:`dsp.pelvis_metrics.assign_sides`), inside runs without a missed step; the first
   steps of a run wait for ``2 * side_half_window + 1`` steps of it.
5. **Baseline.** ``standing``: obliquity against the standing posture. ``running`` (no standing
   period): from the first ``baseline_steps`` steps, the level at which both sides' obliquity
   waveforms are the same shape scaled by their drop (see :func:`dsp.pelvis_metrics.running_baseline`).
6. **Fusion** (:mod:`dsp.pelvis_fusion`). When foot sensors are analysed in the same session
   (named in ``feet=`` at construction; their results come as ``feed(..., feet=[...])`` after
   each foot call), a foot contact within ``fusion_tolerance_s`` of a step gives its side, IC,
   toe-off and stride time (``events_source = "feet"``). A foot takes part in a step only if it
   detected a contact within ``foot_silence_s`` after it (it was alive); the step waits for
   exactly the foot rows that can match it (all contacts before the foot's ``watermark`` are
   known, rows come in IC order), about 1.5 s. A foot without such a
   contact is left out (the step keeps its pelvis events): decided by its watermark, at
   ``finish()``, or with ``lockstep_feeds`` (live, replay) as soon as the pelvis data are
   ``foot_silence_s + feed_skew_s`` past the step. Every rule looks at data times only, so
   any chunking and any order of the sensors' blocks give the same rows (``lockstep_feeds``
   needs no sensor ahead of another by more than ``feed_skew_s`` minus about 1 s).
7. **Traces.** Each returned row with a full stride has its pelvic obliquity against the
   baseline from IC to the same foot's next IC, 101 points, in the result's ``traces`` as
   ``(t_ic, values, side)`` (the viewer's per-stride overlay; not computed with
   ``PelvisSettings.traces`` off).
8. **Cost.** The per-sample work is done once per sample and carried across blocks: the
   rotation to the pelvis frame, the gyroscope chained from the segment start (fixed blocks,
   :class:`dsp.pelvis_segment.GyroChain`), the specific force in that frame and its running
   sum (:class:`dsp.pelvis_segment.SegmentSamples`), and the contact detection
   (:meth:`dsp.pelvis_segment.SegmentContacts.detect`). An epoch then needs only its window's stride corrections and
   the attitude of the samples its steps use; the epochs a block completes are analysed
   together, each from its own samples only, so the rows do not depend on the grouping.
9. **Early rows** (the result's ``early_rows``, for alerts about a stride sooner). Contacts are looked
   for every ``detect_every_s`` of new data; once a contact's values are final (its ``dep``
   is in the data, about 0.1 s after its toe-off) it gets an *early record*:

   * its **pelvic drop** (:func:`dsp.pelvis_metrics.pelvic_drop`, the formula of the rows too)
     from a causal attitude (:func:`dsp.pelvis_early.causal_stance`):
     the gravity corrections of the last ``early_strides`` strides that ended by its IC,
     extrapolated over the stance by a least-squares line; after a bridged gap longer than
     ``early_gap_s`` only strides after the gap are used, from the first three flight
     contacts after it (which may need the next one or two contacts); a segment's first
     contacts (too few before them) take their step's two-sided value when it comes;
   * its **side**: with feet, the nearest foot early row (not rejected) within
     ``fusion_tolerance_s``, decided once every foot's watermark is past it (none: the
     pelvis' side); alone, the side vote of step 4 on the records' own cues (the stance
     means under the causal attitude), their runs linked as in step 4 from the contacts'
     times (a step longer than 1.5 median steps is a missed contact or a new run).

   Early rows go out in IC order as soon as side and drop are known (and the baseline):
   alone about half a stride after the IC, with feet when the foot's early row comes (about
   0.95 stride). The row of the step then carries the very side, IC, TO (of the foot when
   fused), pelvic drop and rejection of its early row; the stride time comes from the foot's
   row. A step whose early row could not go out earlier (no side or drop yet, a silent
   foot) releases it with the row, with the row's values, and the records before it that got
   no step are dropped, so every row has exactly one early row, never after the row.
"""

from __future__ import annotations

import itertools
import logging
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY, SampleBlock, SensorInfo
from dsp.contact import ContactRow
from dsp.errors import AnalysisError
from dsp.feed import FeedResult
from dsp.filters import samples_for
from dsp.metrics import cadence_spm
from dsp.orientation import rotate_rows
from dsp.pelvis_alignment import PelvisAlignment, estimate_pelvis_alignment
from dsp.pelvis_early import EarlyRows
from dsp.pelvis_events import StanceEvents
from dsp.pelvis_fusion import FeetFusion
from dsp.pelvis_metrics import SpanSteps, analyse_epochs, pelvic_drop
from dsp.pelvis_segment import (
    EpochGeometry,
    GyroChain,
    MeanDecimation,
    PelvisPiece,
    SegmentContacts,
    SegmentSamples,
    bridge_gaps,
)
from dsp.pelvis_steps import Baseline, PelvisStep, StepLinker, baseline_from_steps, vote_sides
from dsp.pelvis_walk import PelvisWalk, WalkStep, fuse_walk_step, walk_row
from dsp.stream_input import (
    RATE_TOLERANCE,
    AlignBuffer,
    BlockInput,
    StreamAnalyzer,
    saturated_samples,
)
from dsp.summary import median_or_none

__all__ = ["EARLY_KEYS", "PELVIS_RATE_HZ", "PelvisAnalyzer", "PelvisSettings", "decimation_factor"]

#: The metrics a pelvis early row carries (see the module docstring, step 9).
EARLY_KEYS = ("pelvic_drop",)

log = logging.getLogger(__name__)

#: Analysis rate of the pelvis, Hz: a sensor sampling at twice this or more is analysed at
#: ``rate / decimation_factor(rate)`` (200-300 Hz; means of consecutive samples,
#: :class:`dsp.pelvis_segment.MeanDecimation`). The pelvis' motion (obliquity, bounce, the
#: landing's jolt) lies far below 100 Hz; the analysis' cost is per sample.
PELVIS_RATE_HZ = 200.0


def decimation_factor(sampling_rate_hz: float) -> int:
    """Samples per analysed sample of a pelvis sensor at ``sampling_rate_hz`` (1: all)."""
    return max(1, int(sampling_rate_hz // PELVIS_RATE_HZ))


_STEPS_101 = np.arange(101.0)[None, :]


@dataclass(frozen=True)
class PelvisSettings:
    """Settings of :class:`PelvisAnalyzer` (times in s, angles in deg).

    Attributes
    ----------
    align_initial_s, align_max_s : float
        First and largest alignment buffer, s.
    min_alignment_confidence : float
        Below it, rows carry ``low_alignment``.
    bridge_max_s : float
        Longest gap bridged by interpolation; longer ones split the data, s.
    rate_tolerance : float
        Largest relative mismatch between ``sample_rate_hz`` and the time stamps
        (:data:`dsp.stream_input.RATE_TOLERANCE`).
    epoch_s : float
        Analysis epoch, s: the steps whose contact peaks in it are analysed together.
    pad_s, lookahead_s : float
        Context added before and after an epoch, s. ``lookahead_s`` covers the same foot's
        next contact (stride time, the obliquity trace) and bounds the release latency:
        a step is out about ``epoch_s + lookahead_s`` after its contact.
    side_half_window : int
        Steps before a step that vote on its side.
    side_lookahead : int
        Steps after a step that vote on its side (the first steps of a run wait until the
        run has ``2 * side_half_window + 1`` steps).
    baseline_steps : int
        Steps used for the running baseline.
    fusion_tolerance_s : float
        Largest distance between a pelvis contact and the foot contact that replaces it, s.
    foot_silence_s : float
        A foot takes part in a step only if it detected a contact within this time after the
        step (it was alive then); otherwise the step keeps the pelvis' own events, s.
    lockstep_feeds : bool
        The session's sensors are fed together in time, no sensor's data more than
        ``feed_skew_s`` ahead of another's (live, replay). Then a foot that fell silent is
        given up on once the pelvis data are ``foot_silence_s + feed_skew_s`` past the step,
        instead of at ``finish()``; the rows are the same either way.
    feed_skew_s : float
        With ``lockstep_feeds``: largest lead of one sensor's data over another's plus the
        foot's detection delay (about 1 s), s.
    max_drop_deg : float
        A larger drop means the step was misread (rejected), deg.
    early_strides : int
        Strides (ending at or before a contact) whose gravity corrections are extrapolated over
        its stance for the pelvic drop (:func:`dsp.pelvis_early.causal_stance`).
    early_history_s : float
        Those strides start at most this long before the contact, s.
    early_gap_s : float
        A bridged gap longer than this among those strides (the gyroscope's rotation over it
        is interpolated, an error growing with the cube of its length) limits them to the
        strides after it; without one the step's drop waits for its row, s.
    detect_every_s : float
        Contacts are looked for after at least this much new data (and whenever an epoch is
        complete): it bounds the delay of the early rows, not their values, s.
    R_bs : tuple or None
        A known sensor-to-pelvis rotation (3x3); skips the estimation (running baseline).
    gravity : float
        m/s².
    traces : bool
        Compute the rows' obliquity traces (step 7, the viewer's overlay). Off, the results
        carry none and the attitude is computed only up to each step's next contact (the
        traces need it to the same foot's next one): the rows are the same, for less work
        (``runform analyze`` uses no pelvis trace).
    """

    align_initial_s: float = 20.0
    align_max_s: float = 160.0
    min_alignment_confidence: float = 0.5
    bridge_max_s: float = 0.25
    rate_tolerance: float = RATE_TOLERANCE
    epoch_s: float = 0.5
    pad_s: float = 3.0
    lookahead_s: float = 1.1
    side_half_window: int = 8
    side_lookahead: int = 0
    baseline_steps: int = 30
    fusion_tolerance_s: float = 0.06
    foot_silence_s: float = 2.5
    lockstep_feeds: bool = False
    feed_skew_s: float = 7.0
    max_drop_deg: float = 25.0
    early_strides: int = 4
    early_gap_s: float = 0.06
    early_history_s: float = 3.0
    detect_every_s: float = 0.15
    R_bs: tuple | None = None
    gravity: float = STANDARD_GRAVITY
    traces: bool = True


@dataclass
class _Segment:
    """The open segment (step 3): its samples still needed, its contacts found so far, and
    the next epoch to analyse."""

    samples: SegmentSamples
    contacts: SegmentContacts = field(default_factory=SegmentContacts)
    epoch: int = 0


@dataclass
class _Tally:
    """What the rows released so far add up to (SUMMARY.json and diagnostics)."""

    rows: int = 0
    fused: int = 0  # rows with the feet's events
    walk: int = 0  # steps without flight phase (walking)
    flags: dict[str, int] = field(default_factory=dict)
    # compact float64 arrays (8 bytes a value, not a 32-byte float object in a list)
    values: dict[str, array] = field(
        default_factory=lambda: {
            k: array("d") for k in ("drop_left", "drop_right", "vo", "cadence", "contact_time")
        }
    )

    def add(self, row: ContactRow) -> None:
        self.rows += 1
        for f in row.flags:
            self.flags[f] = self.flags.get(f, 0) + 1
        if "rejected" in row.flags:
            return
        v = self.values
        if row.pelvic_drop is not None:
            v["drop_left" if row.side == "left" else "drop_right"].append(row.pelvic_drop)
        if row.vertical_oscillation is not None:
            v["vo"].append(row.vertical_oscillation)
        if row.cadence is not None:
            v["cadence"].append(row.cadence)
        if row.contact_time is not None:
            v["contact_time"].append(row.contact_time)

    def events_source(self) -> str:
        return "feet" if self.rows and self.fused * 2 >= self.rows else "pelvis"


def _early_copy(row: ContactRow) -> ContactRow:
    """The early row of a row released without one before it: the row's values."""
    early = ContactRow(sensor_id=row.sensor_id, side=row.side, t_ic=row.t_ic, t_to=row.t_to)
    early.events_source, early.activity = row.events_source, row.activity
    early.pelvic_drop = row.pelvic_drop
    for f in row.flags:
        early.add_flag(f)
    return early


@dataclass(frozen=True)
class _MarkCounts:
    """Running counts of the buffer's ``gap`` and ``sat`` marks (one pass per call of
    ``_analyse_epochs``): whether a range of samples holds a mark, without a numpy call per
    step. ``None`` for a mark the buffer does not hold at all (the usual case)."""

    gap: list[int] | None
    sat: list[int] | None

    @classmethod
    def of(cls, smp: SegmentSamples) -> _MarkCounts:
        def counts(m: np.ndarray) -> list[int] | None:
            return np.concatenate(([0], np.cumsum(m))).tolist() if m.any() else None

        return cls(counts(smp.gap), counts(smp.sat))

    @staticmethod
    def _any(c: list[int] | None, a: int, b: int) -> bool:
        """Any mark in samples ``a:b`` (slice semantics: ``b`` clipped, empty if b <= a)."""
        if c is None:
            return False
        b = min(b, len(c) - 1)
        return b > a and c[b] > c[a]

    def gap_in(self, a: int, b: int) -> bool:
        return self._any(self.gap, a, b)

    def sat_in(self, a: int, b: int) -> bool:
        return self._any(self.sat, a, b)


class PelvisAnalyzer(StreamAnalyzer):
    """Streaming per-step analysis of a pelvis sensor (see the module docstring).

    :meth:`feed` and :meth:`finish` return a :class:`dsp.feed.FeedResult`: the steps finished,
    the early rows released (side, IC, TO, pelvic drop; step 9), the obliquity traces.

    The steps of the module docstring are these pieces: 1 :func:`dsp.pelvis_segment.bridge_gaps`
    (:meth:`_split`); 2 :meth:`_try_align`; 3 :meth:`_advance` over the open segment's
    :class:`dsp.pelvis_segment.SegmentSamples` and :class:`~dsp.pelvis_segment.SegmentContacts`,
    :meth:`_analyse_epochs`; 4 :class:`dsp.pelvis_steps.StepLinker` and
    :func:`dsp.pelvis_steps.vote_sides` (:meth:`_decide_sides`); 5 :meth:`_set_baseline`
    (:class:`dsp.pelvis_steps.Baseline`); 6 :class:`dsp.pelvis_fusion.FeetFusion`; 7 the traces
    of :meth:`_epoch_steps`; 8 :meth:`_process`; 9 :class:`dsp.pelvis_early.EarlyRows`. The rows
    are made in :meth:`_emit` (running) and :meth:`_release_walk` (walking,
    :mod:`dsp.pelvis_walk`).

    Parameters
    ----------
    info : SensorInfo
        ``placement`` must be ``pelvis``.
    settings : PelvisSettings, optional
    feet : mapping, optional
        The session's foot sensors: sensor id -> side. Their results (``feed(feet=...)``)
        give the steps' sides and events (step 6) and the early rows' sides (step 9).
    **overrides
        Fields of :class:`PelvisSettings` to replace.
    """

    #: the session hands this analyzer the feet's results (see :meth:`feed`)
    uses_feet = True

    def __init__(
        self,
        info: SensorInfo,
        settings: PelvisSettings | None = None,
        *,
        feet: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> None:
        if info.placement != "pelvis":
            raise AnalysisError(
                f"sensor {info.sensor_id}: placement {info.placement!r} is not the pelvis"
            )
        s = settings or PelvisSettings()
        if overrides:
            s = replace(s, **overrides)
        self.info = info
        self.settings = s
        # a fast sensor is analysed at about PELVIS_RATE_HZ (means of consecutive samples)
        self._fs_in = float(info.sample_rate_hz)
        factor = decimation_factor(self._fs_in)
        self._decimate = MeanDecimation(factor) if factor > 1 else None
        self.fs = fs = self._fs_in / factor
        self.geo = EpochGeometry.at(fs, epoch_s=s.epoch_s, pad_s=s.pad_s, lookahead_s=s.lookahead_s)
        self._acc_fs = None if info.acc_range_g is None else info.acc_range_g * STANDARD_GRAVITY
        self._gyr_fs = info.gyr_range_dps
        # 1. input
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None
        # non-physical samples are lost samples, as for the feet (dsp.stream_input): a dropout
        # written as zeros on all six axes would read as a flight phase (free fall) otherwise
        self._input = BlockInput(
            info.sensor_id,
            self._fs_in,
            rate_tolerance=s.rate_tolerance,
            acc_range_ms2=self._acc_fs,
            gyr_range_dps=self._gyr_fs,
            zero_dropouts=True,
        )
        # 2. alignment
        self.alignment_: PelvisAlignment | None = None
        self._R: np.ndarray | None = None
        self._low_align = False
        self._align_buf = AlignBuffer(
            samples_for(s.align_initial_s, sampling_rate_hz=fs),
            samples_for(s.align_max_s, sampling_rate_hz=fs),
            size=lambda p: p.t.shape[0],
            cut=lambda p, k: PelvisPiece(
                p.t[:k],
                p.acc[:k],
                p.gyr[:k],
                p.gap[:k],
                p.new_segment,
                p.bridged[:k],
                None if p.sat is None else p.sat[:k],
            ),
            new_segment=lambda p: bool(p.new_segment),
        )
        self._align_attempts: list[str] = []
        self.problem_: str | None = None
        # 5. baseline ("running" from the steps when the rotation is given)
        self.baseline = Baseline()
        if s.R_bs is not None:
            r = np.asarray(s.R_bs, dtype=np.float64)
            self.alignment_ = PelvisAlignment(R_bs=r, ok=True, confidence=1.0, reason="given")
            self._R = r
            self.baseline.kind = "running"
        # 3, 4. segments and steps
        self._seg: _Segment | None = None  # the open segment
        self._n_segments = 0
        self._steps: list[PelvisStep] = []  # decided or pending, in order, of all segments
        self._linker = StepLinker()
        self._released = 0  # steps before this index have been released
        # 6. fusion with the feet (sensor id -> side)
        self._feet = FeetFusion(
            feet or {},
            tolerance_s=s.fusion_tolerance_s,
            silence_s=s.foot_silence_s,
            lockstep=s.lockstep_feeds,
            feed_skew_s=s.feed_skew_s,
        )
        # 9. early rows
        self._det_every = samples_for(s.detect_every_s, sampling_rate_hz=fs)
        self._early = EarlyRows(
            info.sensor_id,
            strides=s.early_strides,
            history_s=s.early_history_s,
            gap_long=round(s.early_gap_s * fs),  # bridged samples of a long gap
            gap_max=samples_for(s.bridge_max_s, sampling_rate_hz=fs) + 2,
            max_drop_deg=s.max_drop_deg,
            side_half_window=s.side_half_window,
            side_lookahead=s.side_lookahead,
        )
        # walking steps (no flight phase): dsp.pelvis_walk, rows in _release_walk
        self._walk = PelvisWalk(fs, gravity=s.gravity, traces=s.traces)
        self._walk_pending: list[WalkStep] = []
        # output
        self._finished = False
        self._tally = _Tally()

    @property
    def baseline_kind_(self) -> str | None:
        """``standing`` or ``running`` once the alignment is known (None before)."""
        return self.baseline.kind

    # ------------------------------------------------------------------ public API
    def feed(  # type: ignore[override]
        self, block: SampleBlock | None = None, *, feet: Sequence[FeedResult] = ()
    ) -> FeedResult:
        """Take the feet's results, then a block of this sensor (``None``: only the feet's).

        ``feet``: the :class:`dsp.feed.FeedResult` of every call of a foot analyzer of the
        session since the last call, in order (the session passes each one right after the
        foot's call). Early rows whose side a foot's early rows just gave go out in this
        call's result.
        """
        early = self._take_feet(feet)
        if block is None:
            return replace(self._idle_result(), early_rows=tuple(early))
        res = super().feed(block)
        return replace(res, early_rows=(*early, *res.early_rows)) if early else res

    def finish(self, *, feet: Sequence[FeedResult] = ()) -> FeedResult:  # type: ignore[override]
        """The feet's last results (``feet``), then the end of this sensor's data."""
        early = self._take_feet(feet)
        res = super().finish()
        return replace(res, early_rows=(*early, *res.early_rows)) if early else res

    def _idle_result(self) -> FeedResult:
        return FeedResult(self.info.sensor_id, problem=self.problem_)

    def _take_feet(self, feet: Sequence[FeedResult]) -> list[ContactRow]:
        """Note the feet's results; the early rows they let out (their side is now known)."""
        out: list[ContactRow] = []
        for res in feet:
            if not self._feet.take(res):
                continue
            # early rows whose side this foot's early rows just gave: out now, not with the
            # next pelvis block
            if self.baseline.value is not None and not self._finished and self._seg is not None:
                self._early.release(
                    self._feet, out, baseline_deg=self.baseline.deg, low_align=self._low_align
                )
        return out

    def _after_feed(self) -> None:
        self._release(final=False)

    def _after_finish(self) -> None:
        if self._seg is not None:
            self._close_segment()
        self._release(final=True)

    def diagnostics(self) -> dict[str, Any]:
        """Alignment, baseline, event source and flag counts."""
        b = self.baseline
        d: dict[str, Any] = {
            "sensor_id": self.info.sensor_id,
            "placement": self.info.placement,
            "contacts": self._tally.rows,
            "segments": self._n_segments,
            "flags": dict(self._tally.flags),
            "baseline": b.kind,
            "baseline_obliquity_deg": None if b.value is None else round(float(b.value), 4),
            "events_source": self._tally.events_source(),
        }
        d["walking_steps"] = self._walk.n_steps  # dsp.pelvis_walk
        if self._feet:
            # steps for which each foot was left out (it had no contact soon after: silent)
            d["feet_left_out"] = self._feet.skipped()
        self._alignment_diagnostics(d)
        if self.problem_:
            d["problem"] = self.problem_
        return d

    def summary(self) -> dict[str, Any]:
        """This sensor's part of SUMMARY.json (analysis-output v1 plus the pelvis keys)."""
        v = self._tally.values
        dl, dr = median_or_none(v["drop_left"]), median_or_none(v["drop_right"])
        out: dict[str, Any] = {
            "placement": self.info.placement,
            "contacts": self._tally.rows,
            "cadence_median": median_or_none(v["cadence"]),
            "contact_time_median": median_or_none(v["contact_time"]),
            "pelvic_drop_median": {"left": dl, "right": dr},
            "pelvic_drop_asymmetry": None if dl is None or dr is None else round(dl - dr, 6),
            "vertical_oscillation_median": median_or_none(v["vo"]),
            "baseline": self.baseline.kind,
            "events_source": self._tally.events_source(),
        }
        if self.problem_:
            out["problem"] = self.problem_
        return out

    # ------------------------------------------------------------------ 1. input
    def _split(self, block: SampleBlock) -> list[PelvisPiece]:
        """The block's pieces, short gaps bridged (:func:`dsp.pelvis_segment.bridge_gaps`)."""
        got = self._input.accept(block)
        if got is None:
            return []
        pieces = bridge_gaps(
            got.t,
            got.acc,
            got.gyr,
            got.gaps,
            self._last,
            sampling_rate_hz=self._fs_in,
            bridge_max_s=self.settings.bridge_max_s,
        )
        self._last = (float(got.t[-1]), got.acc[-1].copy(), got.gyr[-1].copy())
        dec = self._decimate
        if dec is None:
            return pieces
        out = []
        for p in pieces:  # (the range is judged on the samples as read)
            sat = saturated_samples(
                p.acc, p.gyr, acc_full_scale=self._acc_fs, gyr_full_scale=self._gyr_fs
            )
            q = dec(p._replace(sat=sat))
            if q is not None:
                out.append(q)
        return out

    # ------------------------------------------------------------------ 2. alignment
    def _try_align(self, *, final: bool) -> None:
        s = self.settings
        # exactly the first ``target`` samples (not what the last block brought), so the
        # rotation does not depend on how the data were cut into blocks
        buf = self._align_buf
        segs = buf.first(buf.target)
        arrays = [
            (
                np.concatenate([p.t for p in g]),
                np.concatenate([p.acc for p in g]),
                np.concatenate([p.gyr for p in g]),
            )
            for g in segs
        ]
        res = estimate_pelvis_alignment(arrays, sampling_rate_hz=self.fs, gravity=s.gravity)
        if res.foot_like:
            self.alignment_ = res
            self.problem_ = f"sensor {self.info.sensor_id} (placement pelvis): {res.reason}"
            log.warning("%s", self.problem_)
            buf.take()
            return
        outcome = self._judge_alignment(res, final=final, min_confidence=s.min_alignment_confidence)
        if outcome == "adopt":
            self.baseline.kind = "standing" if res.standing else "running"
            self.baseline.value = 0.0 if res.standing else None
            self._adopt_alignment(res, s.min_alignment_confidence)
        elif outcome == "give_up":
            self.problem_ = f"sensor {self.info.sensor_id}: no alignment ({res.reason})"
            log.warning("%s", self.problem_)

    # ------------------------------------------------------------------ 3, 8. segments, epochs
    def _start_segment(self) -> _Segment:
        self._n_segments += 1
        self._seg = _Segment(SegmentSamples(chain=GyroChain(block=self.geo.chain_block)))
        self._early.start_segment()
        return self._seg

    def _close_segment(self) -> None:
        self._walk.close_segment()
        self._advance(final=True)
        self._decide_sides(final=True)
        self._seg = None

    def _process(self, piece: PelvisPiece) -> None:
        """Step 8: each new sample once (the rotation to the pelvis frame, the gyroscope chain,
        the specific force's running sum, the marks), then the epochs it completes."""
        if bool(piece.new_segment) and self._seg is not None:
            self._close_segment()
        seg = self._seg if self._seg is not None else self._start_segment()
        r = self._R
        assert r is not None
        t, acc, gyr = piece.t, piece.acc, piece.gyr
        sat = piece.sat
        if sat is None:
            sat = saturated_samples(
                acc, gyr, acc_full_scale=self._acc_fs, gyr_full_scale=self._gyr_fs
            )
        acc_b = rotate_rows(acc, r)
        gyr_b = rotate_rows(gyr, r)
        smp = seg.samples
        smp.add(t, acc_b, gyr_b, piece.gap, piece.bridged, sat)
        m = t.shape[0]
        # the walking steps' attitude from the same gyroscope chain (each sample chained once)
        self._walk.feed(
            t,
            acc_b,
            gyr_b,
            piece.gap,
            sat,
            new_segment=smp.n == m,
            chain=(smp.q[-m:], smp.cs[-m:]),
        )
        self._advance(final=False)

    def _advance(self, *, final: bool) -> None:
        """The epochs whose data are complete (step 3); contacts and early records of the new
        data (at least every ``detect_every_s``)."""
        seg = self._seg
        assert seg is not None
        W, P, L = self.geo.epoch, self.geo.pad, self.geo.lookahead
        n = seg.samples.n
        ready: list[tuple[int, int, int, int]] = []
        while True:
            k = seg.epoch + len(ready)
            lo_own, hi_own = k * W, (k + 1) * W
            if lo_own >= n:
                break
            if not final and hi_own + L > n:
                break
            ready.append((max(0, lo_own - P), min(n, hi_own + L), lo_own, min(hi_own, n + 1)))
        if ready or final or n - seg.contacts.looked_at >= self._det_every:
            # contacts of the new data, and the early record of those now final
            seg.contacts.detect(
                seg.samples,
                self.geo,
                sampling_rate_hz=self.fs,
                gravity=self.settings.gravity,
                final=final,
            )
            seg.contacts.looked_at = n
            self._early.add(seg.samples, seg.contacts, segment=self._n_segments, final=final)
        if ready:
            self._analyse_epochs(ready, final)
            seg.epoch += len(ready)
            self._trim(max(0, seg.epoch * W - P))
        self._decide_sides(final=False)

    def _trim(self, epoch_lo: int) -> None:
        """Forget the contacts and samples no epoch or early record can still use."""
        seg = self._seg
        assert seg is not None
        contacts, smp = seg.contacts, seg.samples
        drop = int(np.searchsorted(contacts.ic, epoch_lo))
        if drop > 64:
            contacts.drop_first(drop)
        # keep the contacts the next early record may use (early_history_s before it; a contact
        # not yet recorded begins at most about a second before the newest sample)
        need = self._early.need - self._early.gap_max  # a gap reaching into them is measured whole
        if smp.t.shape[0]:
            old = smp.t[-1] - self.settings.early_history_s - 2.0
            need = max(need, smp.base + int(np.searchsorted(smp.t, old)))
        smp.trim(min(epoch_lo, contacts.done - self.geo.context, need) - smp.base)

    def _analyse_epochs(self, epochs: list[tuple[int, int, int, int]], final: bool) -> None:
        """Analyse epochs ``(lo, hi, lo_own, hi_own)`` (segment indices) together, in order."""
        seg = self._seg
        assert seg is not None
        smp = seg.samples
        base = smp.base
        jobs = []
        for lo, hi, lo_own, hi_own in epochs:
            ev = seg.contacts.in_window(
                smp,
                lo,
                hi,
                half_smooth=self.geo.half_smooth,
                gravity=self.settings.gravity,
                at_end=final and hi == smp.n,
            )
            own = (ev.i_peak >= lo_own - base) & (ev.i_peak < hi_own - base)
            if own.any():
                jobs.append((ev, lo - base, hi - base, own))
        if not jobs:
            return
        s = self.settings
        sps = analyse_epochs(
            smp.t, smp.acc, smp.q, smp.cs, jobs, gravity=s.gravity, traces=s.traces
        )
        marks = _MarkCounts.of(smp)
        for (ev, lb, hb, own), sp in zip(jobs, sps, strict=True):
            for st in self._epoch_steps(smp, ev, lb, hb, own, sp, marks):
                self._linker.link(st, self._steps[-1] if self._steps else None)
                self._steps.append(st)

    @staticmethod
    def _epoch_steps(
        smp: SegmentSamples,
        ev: StanceEvents,
        lb: int,
        hb: int,
        own: np.ndarray,
        sp: SpanSteps,
        marks: _MarkCounts,
    ) -> list[PelvisStep]:
        """The steps an epoch (buffer indices ``lb:hb``) owns, with their flags and obliquity
        traces (step 7)."""
        t_end = smp.t[hb - 1]
        oi = np.flatnonzero(own)
        # obliquity traces IC -> same foot's next IC, 101 points, of all the epoch's steps
        traces: dict[int, np.ndarray] = {}
        if sp.obl is not None and sp.obl_t is not None:
            n2 = sp.next2_ic
            has = np.flatnonzero(np.isfinite(n2) & (n2 <= t_end))
            if has.size:
                t0, t1 = sp.ev.t_ic[has], n2[has]  # np.linspace(t0, t1, 101), per row
                pts = _STEPS_101 * ((t1 - t0) / 100.0)[:, None] + t0[:, None]
                pts[:, -1] = t1
                vals = np.interp(pts.ravel(), sp.obl_t, sp.obl).reshape(pts.shape)
                traces = dict(zip(has.tolist(), vals, strict=True))
        # Python numbers once per epoch, not one numpy scalar per field and step
        t_ic, t_to, flight = ev.t_ic.tolist(), ev.t_to.tolist(), ev.flight.tolist()
        ia_l, ib_l = ev.i_ic.tolist(), ev.i_to.tolist()
        cols = zip(
            sp.next_ic.tolist(),
            sp.next2_ic.tolist(),
            sp.obl_max.tolist(),
            sp.obl_min.tolist(),
            sp.obl_ic.tolist(),
            sp.obl_mean.tolist(),
            sp.lat_mean.tolist(),
            sp.vo_cm.tolist(),
            strict=True,
        )
        n_ev = len(ev)
        out: list[PelvisStep] = []
        for jj, (j, c) in enumerate(zip(oi.tolist(), cols, strict=True)):
            st = PelvisStep(
                t_ic=t_ic[j],
                t_to=t_to[j],
                next_ic=c[0],
                next2_ic=c[1],
                obl_max=c[2],
                obl_min=c[3],
                obl_ic=c[4],
                obl_mean=c[5],
                lat_mean=c[6],
                vo_cm=c[7],
                flight=flight[j],
            )
            i1 = ia_l[j + 1] if j + 1 < n_ev else ib_l[j]
            i0 = max(lb, ia_l[j] - 2)
            if marks.gap_in(i0, min(hb, i1 + 3)):
                st.flags.append("gap")
            if marks.sat_in(i0, ib_l[j] + 1):
                st.flags.append("saturated")
            st.trace = traces.get(jj)
            out.append(st)
        return out

    # ------------------------------------------------------------------ 4, 5. sides, baseline
    def _decide_sides(self, *, final: bool) -> None:
        open_segment = self._seg is not None and not final
        s = self.settings
        vote_sides(
            self._steps,
            self._released,
            half_window=s.side_half_window,
            lookahead=s.side_lookahead,
            open_segment=open_segment,
        )
        self._early.vote(open_segment=open_segment)

    def _set_baseline(self, final: bool) -> bool:
        """The running baseline from the first decided running steps (step 5); True once the
        baseline is known."""
        b = self.baseline
        if b.value is not None:
            return True
        decided = itertools.takewhile(lambda st: st.left is not None, self._steps)
        value = baseline_from_steps(
            (st for st in decided if st.flight),
            n_half=self.settings.baseline_steps // 2,
            final=final,
            stop_when_enough=True,
        )
        if value is not None:
            b.value, b.from_steps = value, True
            return True
        if final:
            b.value, b.kind = 0.0, "running"
            # a session without running steps (a walk) needs no running baseline: say so only
            # when there were running steps, too few of them
            n_run = sum(1 for st in self._steps if st.flight)
            say = log.warning if n_run else log.debug
            say(
                "sensor %s: too few steps for a running baseline (%d running steps)",
                self.info.sensor_id,
                n_run,
            )
            return True
        return False

    # ------------------------------------------------------------------ output
    def _release(self, *, final: bool) -> None:
        if self._seg is None or final:
            self._decide_sides(final=True)
        self._release_walk(final)
        if not self._set_baseline(final):
            return
        base, low = self.baseline.deg, self._low_align
        self._early.release(self._feet, self._early_out, baseline_deg=base, low_align=low)
        steps = self._steps
        while self._released < len(steps):
            st = steps[self._released]
            if st.left is None:
                break
            if self._early.waits_for_vote(st.t_ic):
                break  # its early row goes first, and needs its side vote
            if self._feet and not self._feet.ready(
                st.t_ic,
                st.skip,
                now=self._last[0] if self._last is not None else -math.inf,
                final=final,
            ):
                break
            self._emit(st)
            self._released += 1
        # those that waited for a step just emitted
        self._early.release(self._feet, self._early_out, baseline_deg=base, low_align=low)
        # forget released steps (keep a window for the side votes of the next ones)
        drop = self._released - 4 * self.settings.side_half_window
        if drop > 256:
            del steps[:drop]
            self._released -= drop
        if self._released and self._feet:
            self._feet.forget(
                min(steps[self._released - 1].t_ic, self._walk.horizon_s(self._walk_pending)) - 10.0
            )

    def _emit(self, st: PelvisStep) -> None:
        """The row of a running step (its early row, released now at the latest)."""
        s = self.settings
        if not st.flight:  # no flight phase: walking steps come from dsp.pelvis_walk
            self._early.forget_walking(st.t_ic)
            self._tally.walk += 1
            return
        assert st.left is not None
        side = "left" if st.left else "right"
        t_ic, t_to = st.t_ic, st.t_to
        stride = st.next2_ic - st.t_ic if math.isfinite(st.next2_ic) else None
        source: str | None = "pelvis"
        base = self.baseline.deg
        e = self._early.for_step(
            st, self._feet, self._early_out, baseline_deg=base, low_align=self._low_align
        )
        if e is not None:
            # side, events and drop as in the early row (released now at the latest)
            er = e.row
            assert er is not None
            side, t_ic, source = er.side, er.t_ic, er.events_source
            if e.foot is not None:
                if e.foot[3] is not None:  # (a foot landing into rest has no toe-off)
                    t_to = e.foot[3]
                stride = self._feet.stride(st.skip, e.foot[0], e.foot[2])
                self._tally.fused += 1
            flight = e.flight
        else:  # a step without an early record (not expected): its early row is a copy
            m = self._feet.match(st.t_ic, st.skip) if self._feet else None
            if m is not None:
                _, side, t_ic, f_to, stride = m
                if f_to is not None:
                    t_to = f_to
                source = "feet"
                self._tally.fused += 1
            flight = st.flight
        row = ContactRow(sensor_id=self.info.sensor_id, side=side, t_ic=t_ic, t_to=t_to)
        row.events_source = source
        row.activity = "run"
        row.contact_time = t_to - t_ic
        if stride is not None and stride > 0:
            row.stride_time = stride
            row.cadence = cadence_spm(stride)
        rejected = not flight
        if not flight:
            self._tally.walk += 1
        if e is not None:
            assert e.row is not None
            rejected = rejected or "rejected" in e.row.flags
            row.pelvic_drop = None if rejected else e.row.pelvic_drop
        elif not rejected and math.isfinite(st.obl_max):
            drop = pelvic_drop(
                side, st.obl_max, st.obl_min, baseline_deg=base, max_drop_deg=s.max_drop_deg
            )
            if drop is None:
                rejected = True
            else:
                row.pelvic_drop = drop
        if not rejected and math.isfinite(st.vo_cm):
            row.vertical_oscillation = st.vo_cm
        for f in st.flags:
            row.add_flag(f)
        if self._low_align:
            row.add_flag("low_alignment")
        if rejected:
            row.add_flag("rejected")
            row.pelvic_drop = None
            row.vertical_oscillation = None
            row.contact_time = None if source == "pelvis" else row.contact_time
        self._tally.add(row)
        self._out.append(row)
        if e is None:
            self._early_out.append(_early_copy(row))
        if st.trace is not None and not rejected:
            self._traces_out.append((row.t_ic, st.trace - base, side))

    def _walk_baseline(self, final: bool) -> float | None:
        """The walking steps' baseline: the running one when it came from the posture or from
        running steps, else from the walking steps as the running one from running steps."""
        b = self.baseline
        if b.walk is None:
            if b.kind == "standing" or b.from_steps:
                b.walk = b.value
            else:
                b.walk = baseline_from_steps(
                    self._walk_pending,
                    n_half=self.settings.baseline_steps // 2,
                    final=final,
                    stop_when_enough=False,
                )
                if b.walk is None and final:
                    b.walk = 0.0
        return b.walk

    def _release_walk(self, final: bool) -> None:
        """Rows of the walking steps decided so far (:mod:`dsp.pelvis_walk`), each its own
        early row (a walking step is released several seconds after its contact)."""
        self._walk_pending += self._walk.take(final=final)
        if not self._walk_pending:
            return
        if self._walk_baseline(final) is None:
            return
        base = self.baseline.walk if self.baseline.walk is not None else 0.0
        now = self._last[0] if self._last is not None else -math.inf
        n_done = 0
        for w in self._walk_pending:
            # feet in the session: their contact gives the step's side and events (as running)
            fused = fuse_walk_step(self._feet, w, now=now, final=final)
            if fused is False:
                break  # a foot's rows near the step are not all in yet
            n_done += 1
            row = walk_row(self.info.sensor_id, w, fused)
            if fused is not None:
                self._tally.fused += 1
            drop = pelvic_drop(
                row.side,
                w.obl_max,
                w.obl_min,
                baseline_deg=base,
                max_drop_deg=self.settings.max_drop_deg,
            )
            if drop is not None and math.isfinite(drop):
                row.pelvic_drop = drop
            if math.isfinite(w.vo_cm):
                row.vertical_oscillation = w.vo_cm
            for f in w.flags:
                row.add_flag(f)
            if self._low_align:
                row.add_flag("low_alignment")
            self._tally.add(row)
            self._out.append(row)
            early = ContactRow(sensor_id=row.sensor_id, side=row.side, t_ic=row.t_ic)
            early.events_source, early.activity = row.events_source, "walk"
            early.pelvic_drop = row.pelvic_drop
            for f in row.flags:
                early.add_flag(f)
            self._early_out.append(early)
            if w.trace is not None and row.pelvic_drop is not None:
                self._traces_out.append((row.t_ic, w.trace - base, row.side))
        del self._walk_pending[:n_done]
