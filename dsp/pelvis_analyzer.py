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
   ``(t_ic, values, side)`` (the viewer's per-stride overlay).
8. **Cost.** The per-sample work is done once per sample and carried across blocks: the
   rotation to the pelvis frame, the gyroscope chained from the segment start (fixed blocks,
   :meth:`_chain`), the specific force in that frame and its running sum, and the contact
   detection (:meth:`_detect`). An epoch then needs only its window's stride corrections and
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

import logging
import math
import statistics
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY, SampleBlock, SensorInfo
from dsp.contact import ContactRow
from dsp.errors import AnalysisError
from dsp.feed import FeedResult
from dsp.filters import samples_for, saturation_mask
from dsp.metrics import cadence_spm
from dsp.orientation import chain_rotations, quat_multiply, rotate_rows
from dsp.pelvis_alignment import PelvisAlignment, estimate_pelvis_alignment
from dsp.pelvis_early import EarlyRecord, causal_stance, causal_stances
from dsp.pelvis_events import FLIGHT_MAX_G, SMOOTH_MS, StanceEvents, detect_stances
from dsp.pelvis_fusion import FeetFusion
from dsp.pelvis_metrics import analyse_epochs, assign_sides, pelvic_drop, running_baseline
from dsp.pelvis_orientation import quat_from_rotvec, quat_rotate, row_norm
from dsp.pelvis_walk import PelvisWalk, WalkStep, fuse_walk_step, walk_row
from dsp.stream_input import AlignBuffer, BlockInput, StreamAnalyzer
from dsp.summary import median_or_none

__all__ = ["EARLY_KEYS", "PelvisAnalyzer", "PelvisSettings"]

#: The metrics a pelvis early row carries (see the module docstring, step 9).
EARLY_KEYS = ("pelvic_drop",)

log = logging.getLogger(__name__)

_EARLY_BATCH = 512  # contacts per vectorised pass of the early drops (see _early_records)

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
        Largest relative mismatch between ``sample_rate_hz`` and the time stamps.
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
    """

    align_initial_s: float = 20.0
    align_max_s: float = 160.0
    min_alignment_confidence: float = 0.5
    bridge_max_s: float = 0.25
    rate_tolerance: float = 0.05
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


@dataclass
class _Step:
    t_ic: float
    t_to: float
    next_ic: float
    next2_ic: float
    obl_max: float
    obl_min: float
    obl_ic: float
    obl_mean: float
    lat_mean: float
    vo_cm: float
    flight: bool
    flags: list[str] = field(default_factory=list)
    run: int = 0
    step_no: int = 0
    left: bool | None = None
    trace: np.ndarray | None = None  # obliquity IC -> same foot's next IC, 101 points, deg
    skip: set[str] = field(default_factory=set)  # silent feet not waited for


def _whole_steps(dt: float, step_s: float | None) -> int:
    """How many steps of ``step_s`` (s) the time ``dt`` (s) between two contacts spans, when
    it is a whole number from 1 to 4 within 0.2 step (missed contacts: the alternation goes
    on); 0 otherwise, or without a step time."""
    x = dt / step_s if step_s else math.inf
    k = round(x) if math.isfinite(x) else 0
    return k if 1 <= k <= 4 and abs(x - k) < 0.2 else 0


class PelvisAnalyzer(StreamAnalyzer):
    """Streaming per-step analysis of a pelvis sensor (see the module docstring).

    :meth:`feed` and :meth:`finish` return a :class:`dsp.feed.FeedResult`: the steps finished,
    the early rows released (side, IC, TO, pelvic drop; step 9), the obliquity traces.

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
        self.fs = float(info.sample_rate_hz)
        self._W = samples_for(s.epoch_s, sampling_rate_hz=self.fs)
        self._P = samples_for(s.pad_s, sampling_rate_hz=self.fs)
        self._L = samples_for(s.lookahead_s, sampling_rate_hz=self.fs)
        # context of a contact's detection (hump, flight test, smoothing), both sides
        self._flight_max_g = FLIGHT_MAX_G  # detect_stances' flight level, g
        self._QB = 4096  # gyroscope chaining block, samples (see _chain)
        # half the detection smoothing, samples
        self._h = samples_for(SMOOTH_MS / 1000.0, sampling_rate_hz=self.fs) // 2
        self._M = samples_for(2.5, sampling_rate_hz=self.fs) + 4 * self._h + 4
        self._acc_fs = None if info.acc_range_g is None else info.acc_range_g * STANDARD_GRAVITY
        self._gyr_fs = info.gyr_range_dps
        # input
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None
        self._input = BlockInput(info.sensor_id, self.fs, rate_tolerance=s.rate_tolerance)
        # alignment
        self.alignment_: PelvisAlignment | None = None
        self._R: np.ndarray | None = None
        self._low_align = False
        self._align_buf = AlignBuffer(  # pieces (t, acc, gyr, gap, new_segment, bridged)
            samples_for(s.align_initial_s, sampling_rate_hz=self.fs),
            samples_for(s.align_max_s, sampling_rate_hz=self.fs),
            size=lambda p: p[0].shape[0],
            cut=lambda p, k: (p[0][:k], p[1][:k], p[2][:k], p[3][:k], p[4], p[5][:k]),
            new_segment=lambda p: bool(p[4]),
        )
        self._align_attempts: list[str] = []
        self.problem_: str | None = None
        if s.R_bs is not None:
            r = np.asarray(s.R_bs, dtype=np.float64)
            self.alignment_ = PelvisAlignment(R_bs=r, ok=True, confidence=1.0, reason="given")
            self._R = r
        # segments and steps
        self._seg_open = False
        self._n_segments = 0
        self._steps: list[_Step] = []  # decided or pending, in order, of all segments
        self._run_counter = 0
        self._step_T: float | None = None  # duration of the last regular step, s
        self._released = 0  # steps before this index have been released
        self._baseline: float | None = None
        #: "standing" or "running" once the alignment is known (None before)
        self.baseline_kind_: str | None = None if self.alignment_ is None else "running"
        # fusion with the feet (sensor id -> side)
        self._feet = FeetFusion(
            feet or {},
            tolerance_s=s.fusion_tolerance_s,
            silence_s=s.foot_silence_s,
            lockstep=s.lockstep_feeds,
            feed_skew_s=s.feed_skew_s,
        )
        # output
        self._out: list[ContactRow] = []
        self._finished = False
        self._n_rows = 0
        self._flag_counts: dict[str, int] = {}
        # compact float64 arrays (8 bytes a value, not a 32-byte float object in a list)
        self._vals: dict[str, array] = {
            k: array("d")
            for k in (
                "drop_left",
                "drop_right",
                "vo",
                "cadence",
                "contact_time",
            )
        }
        self._n_fused = 0
        self._n_walk = 0
        # early rows (module docstring, step 9)
        self._det_every = samples_for(s.detect_every_s, sampling_rate_hz=self.fs)
        self._gap_long = round(s.early_gap_s * self.fs)  # bridged samples of a long gap
        self._gap_max = samples_for(s.bridge_max_s, sampling_rate_hz=self.fs) + 2
        self._early: list[EarlyRecord] = []  # in IC order, all segments
        self._early_rel = 0  # records before this index are released (or dropped)
        self._early_by_t: dict[float, EarlyRecord] = {}  # not yet matched to a step, by pelvis t_ic
        self._early_steps: list[float] = []  # recent step durations between flight contacts, s
        self._early_run = 0
        self._n_early_orphans = 0  # early rows released whose contact got no row (expected 0)
        self._n_early_dropped = 0  # records without a row, dropped before release
        self._n_early_late = 0  # early rows released with their row (no side or drop before)
        self._n_early_wait = 0  # flight contacts without a causal drop (it waits for the step)
        # walking steps (no flight phase): dsp.pelvis_walk, rows in _release_walk
        self._walk = PelvisWalk(self.fs, gravity=s.gravity)
        self._walk_pending: list[WalkStep] = []
        self._walk_base: float | None = None
        self._run_base_from_steps = False  # the running baseline came from running steps

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
            if self._baseline is not None and not self._finished and self._seg_open:
                self._early_out = []
                self._release_early()
                out += self._early_out
        return out

    def _after_feed(self) -> None:
        self._release(final=False)

    def _after_finish(self) -> None:
        if self._seg_open:
            self._close_segment()
        self._release(final=True)

    def diagnostics(self) -> dict[str, Any]:
        """Alignment, baseline, event source and flag counts."""
        d: dict[str, Any] = {
            "sensor_id": self.info.sensor_id,
            "placement": self.info.placement,
            "contacts": self._n_rows,
            "segments": self._n_segments,
            "flags": dict(self._flag_counts),
            "baseline": self.baseline_kind_,
            "baseline_obliquity_deg": None
            if self._baseline is None
            else round(float(self._baseline), 4),
            "events_source": self._events_source(),
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
        v = self._vals
        dl, dr = median_or_none(v["drop_left"]), median_or_none(v["drop_right"])
        out: dict[str, Any] = {
            "placement": self.info.placement,
            "contacts": self._n_rows,
            "cadence_median": median_or_none(v["cadence"]),
            "contact_time_median": median_or_none(v["contact_time"]),
            "pelvic_drop_median": {"left": dl, "right": dr},
            "pelvic_drop_asymmetry": None if dl is None or dr is None else round(dl - dr, 6),
            "vertical_oscillation_median": median_or_none(v["vo"]),
            "baseline": self.baseline_kind_,
            "events_source": self._events_source(),
        }
        if self.problem_:
            out["problem"] = self.problem_
        return out

    def _events_source(self) -> str:
        return "feet" if self._n_rows and self._n_fused * 2 >= self._n_rows else "pelvis"

    # ------------------------------------------------------------------ input
    def _split(self, block: SampleBlock) -> list[tuple[np.ndarray, ...]]:
        """Pieces ``(t, acc, gyr, gapmask, new_segment)``; short gaps bridged."""
        got = self._input.accept(block)
        if got is None:
            return []
        t, acc, gyr, rep_gaps = got.t, got.acc, got.gyr, got.gaps
        # prepend the previous sample so gaps at the block start are seen
        if self._last is not None:
            tt = np.concatenate(([self._last[0]], t))
            aa = np.concatenate((self._last[1][None], acc))
            gg = np.concatenate((self._last[2][None], gyr))
        else:
            tt, aa, gg = t, acc, gyr
        dts = np.diff(tt)
        period = 1.0 / self.fs
        jump = np.flatnonzero(dts > 1.5 * period)
        pieces: list[tuple[np.ndarray, ...]] = []
        start = 1 if self._last is not None else 0
        new_seg = self._last is None
        cur_t, cur_a, cur_g, cur_m = [], [], [], []
        prev = start
        for j in jump.tolist():
            # samples prev .. j (inclusive) are regular
            cur_t.append(tt[prev : j + 1])
            cur_a.append(aa[prev : j + 1])
            cur_g.append(gg[prev : j + 1])
            cur_m.append(np.zeros(j + 1 - prev, dtype=np.int8))  # 0 real, 2 interpolated
            gap = dts[j]
            if gap <= self.settings.bridge_max_s:
                m = round(gap * self.fs) - 1
                if m > 0:
                    w = np.arange(1, m + 1) / (m + 1)
                    cur_t.append(tt[j] + w * gap)
                    cur_a.append(aa[j] + w[:, None] * (aa[j + 1] - aa[j]))
                    cur_g.append(gg[j] + w[:, None] * (gg[j + 1] - gg[j]))
                    cur_m.append(np.full(m, 2, dtype=np.int8))
                else:
                    cur_m[-1][-1:] = 1
            else:
                if cur_t:
                    pieces.append(self._piece(cur_t, cur_a, cur_g, cur_m, new_seg))
                cur_t, cur_a, cur_g, cur_m = [], [], [], []
                new_seg = True
            prev = j + 1
        cur_t.append(tt[prev:])
        cur_a.append(aa[prev:])
        cur_g.append(gg[prev:])
        cur_m.append(np.zeros(tt.shape[0] - prev, dtype=np.int8))
        pieces.append(self._piece(cur_t, cur_a, cur_g, cur_m, new_seg))
        # reported gaps shorter than 1.5 periods still mark their neighbours
        if rep_gaps.shape[0]:
            for p in pieces:
                pt, pm = p[0], p[3]
                for g0, g1 in rep_gaps:
                    pm |= (pt >= g0 - period) & (pt <= g1 + period)
        self._last = (float(t[-1]), acc[-1].copy(), gyr[-1].copy())
        return [p for p in pieces if p[0].shape[0]]

    @staticmethod
    def _piece(ts, as_, gs, ms, new_seg) -> tuple[np.ndarray, ...]:
        m = np.concatenate(ms)
        return (
            np.concatenate(ts),
            np.concatenate(as_),
            np.concatenate(gs),
            m > 0,  # gap: bridged samples and their neighbours (marked in _split)
            np.array(new_seg),
            m == 2,  # bridged samples only (the same whatever the block boundaries)
        )

    # ------------------------------------------------------------------ alignment
    def _try_align(self, *, final: bool) -> None:
        s = self.settings
        # exactly the first ``target`` samples (not what the last block brought), so the
        # rotation does not depend on how the data were cut into blocks
        buf = self._align_buf
        segs = buf.first(buf.target)
        arrays = [
            (
                np.concatenate([p[0] for p in g]),
                np.concatenate([p[1] for p in g]),
                np.concatenate([p[2] for p in g]),
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
        good = res.ok and res.confidence >= s.min_alignment_confidence
        if good or (res.ok and (final or buf.at_max)):
            self.baseline_kind_ = "standing" if res.standing else "running"
            self._baseline = 0.0 if res.standing else None
            self._adopt_alignment(res, s.min_alignment_confidence)
            return
        self._align_attempts.append(res.reason)
        if final:
            self.problem_ = f"sensor {self.info.sensor_id}: no alignment ({res.reason})"
            log.warning("%s", self.problem_)
            buf.take()
            return
        dropped = buf.failed()  # target doubled, or at its largest the stretch dropped
        if dropped:
            log.info("sensor %s: %s; dropping %d samples", self.info.sensor_id, res.reason, dropped)

    # ------------------------------------------------------------------ segments and epochs
    def _start_segment(self) -> None:
        self._seg_open = True
        self._n_segments += 1
        self._base = 0  # segment index of buffer sample 0
        self._seg_n = 0
        self._epoch = 0
        self._bt = np.empty(0)
        self._bacc = np.empty((0, 3))
        self._bq = np.empty((0, 4))  # body -> the segment's first body frame (gyro chained)
        self._bcs = np.empty((0, 3))  # sum of the specific force in that frame before each
        self._bgap = np.empty(0, dtype=bool)
        self._bint = np.empty(0, dtype=bool)  # bridged (interpolated) samples
        self._bsat = np.empty(0, dtype=bool)
        self._gyr_last = np.zeros(3)
        self._cs_next = np.zeros(3)
        self._qinc = np.empty((0, 4))  # gyroscope increments of the open chaining block
        self._qstart = np.array([0.0, 0.0, 0.0, 1.0])  # rotation before that block
        # contacts of the segment found so far (segment indices), see _detect
        self._det_done = 0  # contacts peaking before it are final
        self._ev = {
            k: np.empty(0, dtype=int)
            for k in ("pk", "ic", "to", "pre", "post", "dep", "core", "up", "dn", "reach")
        }
        self._ev["t_ic"] = np.empty(0)
        self._ev["t_to"] = np.empty(0)
        self._ev["peak_g"] = np.empty(0)
        self._det_n = 0  # segment samples when contacts were last looked for
        self._early_pk = -1  # contacts peaking up to here have an early record
        self._early_seg: list[EarlyRecord] = []  # the segment's last flight records (history)
        self._early_need = 0  # first segment index the next record may use
        self._early_gapped: list[EarlyRecord] = []  # drops waiting for a stride after a long gap

    def _process(self, piece: tuple[np.ndarray, ...]) -> None:
        t, acc, gyr, gapm, new_seg, bridged = piece
        if bool(new_seg) and self._seg_open:
            self._close_segment()
        if not self._seg_open:
            self._start_segment()
        r = self._R
        assert r is not None
        sat = np.zeros(t.shape[0], dtype=bool)
        if self._acc_fs is not None:
            sat |= saturation_mask(acc, full_scale=self._acc_fs)
        if self._gyr_fs is not None:
            sat |= saturation_mask(gyr, full_scale=self._gyr_fs)
        acc_b = rotate_rows(acc, r)
        gyr_b = rotate_rows(gyr, r)
        # once per sample: the gyroscope chained from the segment start, the specific force in
        # the segment's first body frame and its running sum
        q = self._chain(t, gyr_b)
        f = quat_rotate(q, acc_b)
        cs = np.cumsum(np.concatenate((self._cs_next[None], f)), axis=0)  # sequential sums
        cs_before, self._cs_next = cs[:-1], cs[-1].copy()
        self._gyr_last = gyr_b[-1].copy()
        self._bt = np.concatenate([self._bt, t])
        self._bacc = np.concatenate([self._bacc, acc_b])
        self._bq = np.concatenate([self._bq, q])
        self._bcs = np.concatenate([self._bcs, cs_before])
        self._bgap = np.concatenate([self._bgap, gapm])
        self._bint = np.concatenate([self._bint, bridged])
        self._bsat = np.concatenate([self._bsat, sat])
        self._seg_n += t.shape[0]
        self._walk.feed(t, acc_b, gyr_b, gapm, sat, new_segment=self._seg_n == t.shape[0])
        self._advance(final=False)

    def _chain(self, t: np.ndarray, gyr_b: np.ndarray) -> np.ndarray:
        """Body frame at each new sample to the segment's first body frame, shape (m, 4).

        Gyroscope increments are chained (:func:`dsp.orientation.chain_rotations`) inside
        blocks of ``_QB`` samples at fixed segment indices, each started from the last
        rotation of the block before. A scan's element depends only on the elements before
        it, so a block scanned while it fills gives the same values as scanned whole: any
        chunking of the input gives bit-identical rotations.
        """
        m = t.shape[0]
        if self._seg_n:
            tt = np.concatenate(([self._bt[-1]], t))
            gg = np.concatenate((self._gyr_last[None], gyr_b))
            inc = quat_from_rotvec(np.radians(0.5 * (gg[1:] + gg[:-1])) * np.diff(tt)[:, None])
        else:
            inc = np.empty((m, 4))
            inc[0] = (0.0, 0.0, 0.0, 1.0)
            inc[1:] = quat_from_rotvec(
                np.radians(0.5 * (gyr_b[1:] + gyr_b[:-1])) * np.diff(t)[:, None]
            )
        self._qinc = np.concatenate((self._qinc, inc))  # increments since the block start
        B, n0 = self._QB, self._seg_n
        out = np.empty((m, 4))
        pos = 0
        while pos < m:
            i = n0 + pos
            b0 = (i // B) * B
            upto = min(n0 + m, b0 + B)
            sc = chain_rotations(self._qinc[: upto - b0])[i - b0 :]
            qq = quat_multiply(np.broadcast_to(self._qstart, sc.shape), sc)
            qq /= row_norm(qq)[:, None]
            out[pos : upto - n0] = qq
            if upto == b0 + B:
                self._qstart = qq[-1].copy()
                self._qinc = self._qinc[B:]
            pos = upto - n0
        return out

    def _close_segment(self) -> None:
        self._walk.close_segment()
        self._advance(final=True)
        self._decide_sides(final=True)
        self._seg_open = False

    def _detect(self, *, final: bool) -> None:
        """Find the contacts of the new data once (not once per epoch).

        Detection runs on the data from ``_M`` samples before ``_det_done`` (contacts peaking
        before it are final); of the contacts peaking after it, those that nothing can still
        change (``i_dep`` inside the data) are listed, the others are found again with the
        next data. So the list does not depend on the block sizes.
        """
        n, base = self._seg_n, self._base
        s0 = max(base, self._det_done - self._M)
        a = s0 - base
        ev = detect_stances(
            self._bt[a:], self._bacc[a:, 2], sampling_rate_hz=self.fs, gravity=self.settings.gravity
        )
        pk = ev.i_peak + s0
        # contacts after _det_done are found again each time (their data may have grown)
        keep_old = int(np.searchsorted(self._ev["pk"], self._det_done))
        for k in self._ev:
            self._ev[k] = self._ev[k][:keep_old]
        sel = pk >= self._det_done
        fixed = (ev.i_dep + s0 < n) | final
        core = ev.i_dn + s0 + 1 + self._h  # last sample its times depend on
        idx = np.flatnonzero(sel & ((core < n) | final))
        if idx.size:
            m = n - s0
            new = {
                "pk": pk[idx],
                "ic": ev.i_ic[idx] + s0,
                "to": ev.i_to[idx] + s0,
                "pre": np.where(ev.i_pre[idx] >= 0, ev.i_pre[idx] + s0, -1),
                "post": np.where(ev.i_post[idx] < m, ev.i_post[idx] + s0, n + 10**9),
                "dep": ev.i_dep[idx] + s0,
                "core": core[idx],
                "up": ev.i_up[idx] + s0,
                "dn": ev.i_dn[idx] + s0,
                "reach": ev.reach[idx],
                "t_ic": ev.t_ic[idx],
                "t_to": ev.t_to[idx],
                "peak_g": ev.peak_g[idx],
            }
            for k, v in new.items():
                self._ev[k] = np.concatenate((self._ev[k], v))
        if final:
            self._det_done = n
            return
        done = n - self._M
        open_ = np.flatnonzero(sel & ~fixed)
        if open_.size:
            done = min(done, int(pk[open_[0]]))
        self._det_done = max(self._det_done, done)

    def _advance(self, *, final: bool) -> None:
        W, P, L = self._W, self._P, self._L
        n = self._seg_n
        ready: list[tuple[int, int, int, int]] = []
        while True:
            k = self._epoch + len(ready)
            lo_own, hi_own = k * W, (k + 1) * W
            if lo_own >= n:
                break
            if not final and hi_own + L > n:
                break
            ready.append((max(0, lo_own - P), min(n, hi_own + L), lo_own, min(hi_own, n + 1)))
        if ready or final or n - self._det_n >= self._det_every:
            # contacts of the new data, and the early record of those now final
            self._detect(final=final)
            self._det_n = n
            self._early_records(final)
        if ready:
            self._analyse_epochs(ready, final)
            self._epoch += len(ready)
            self._trim(max(0, self._epoch * W - P))
        self._decide_sides(final=False)

    def _trim(self, epoch_lo: int) -> None:
        ev = self._ev
        drop = int(np.searchsorted(ev["ic"], epoch_lo))
        if drop > 64:
            for k in ev:
                ev[k] = ev[k][drop:]
        # keep the contacts the next early record may use (early_history_s before it; a contact
        # not yet recorded begins at most about a second before the newest sample)
        need = self._early_need - self._gap_max  # a gap reaching into them is measured whole
        if self._bt.shape[0]:
            old = self._bt[-1] - self.settings.early_history_s - 2.0
            need = max(need, self._base + int(np.searchsorted(self._bt, old)))
        cut = min(epoch_lo, self._det_done - self._M, need) - self._base
        if cut > 0:
            self._bt = self._bt[cut:]
            self._bacc = self._bacc[cut:]
            self._bq = self._bq[cut:]
            self._bcs = self._bcs[cut:]
            self._bgap = self._bgap[cut:]
            self._bint = self._bint[cut:]
            self._bsat = self._bsat[cut:]
            self._base += cut

    def _window_events(self, lo: int, hi: int, final: bool) -> StanceEvents:
        """The contacts :func:`detect_stances` finds in the window ``lo:hi`` (segment indices).

        The contacts of the segment wholly inside it whose times the window's data fix, with
        the flight test of the window: its samples only, and the smoothing of its edges.
        """
        ev, base = self._ev, self._base
        t_lo, t_hi = self._bt[lo - base], self._bt[hi - 1 - base]
        j0 = int(np.searchsorted(ev["t_ic"], t_lo, side="left"))
        j1 = int(np.searchsorted(ev["t_ic"], t_hi, side="right"))
        sl = slice(j0, j1)
        keep = ev["t_to"][sl] <= t_hi
        if not (final and hi == self._seg_n):
            keep &= ev["core"][sl] < hi
        if hi - lo < 8:
            keep &= False
        sel = np.flatnonzero(keep) + j0
        h = self._h
        pre_ok = ev["pre"][sel] >= lo + h
        post_ok = ev["post"][sel] <= hi - 1 - h
        if h > 0 and sel.size and not (pre_ok[0] and post_ok[-1]):
            g = self.settings.gravity
            fm = self._flight_max_g
            vt = self._bacc[:, 2]
            for m in np.flatnonzero(~pre_ok).tolist():  # left edge: shrunk smoothing
                e = sel[m]
                i0 = max(lo, int(ev["up"][e] - ev["reach"][e]))
                i1 = min(int(ev["up"][e]), lo + h - 1)
                for i in range(i0, i1 + 1):
                    seg = vt[lo - base : i + h + 1 - base]
                    if seg.sum() / seg.size / g < fm:
                        pre_ok[m] = True
                        break
            for m in np.flatnonzero(~post_ok).tolist():  # right edge
                e = sel[m]
                i0 = max(int(ev["dn"][e]), hi - h)
                i1 = min(hi - 1, int(ev["dn"][e] + ev["reach"][e]))
                for i in range(i0, i1 + 1):
                    seg = vt[i - h - base : hi - base]
                    if seg.sum() / seg.size / g < fm:
                        post_ok[m] = True
                        break
        return StanceEvents(
            i_peak=ev["pk"][sel] - base,
            t_ic=ev["t_ic"][sel],
            t_to=ev["t_to"][sel],
            i_ic=ev["ic"][sel] - base,
            i_to=ev["to"][sel] - base,
            peak_g=ev["peak_g"][sel],
            flight=pre_ok & post_ok,
        )

    def _analyse_epochs(self, epochs: list[tuple[int, int, int, int]], final: bool) -> None:
        """Analyse epochs ``(lo, hi, lo_own, hi_own)`` (segment indices) together, in order."""
        base = self._base
        jobs = []
        for lo, hi, lo_own, hi_own in epochs:
            ev = self._window_events(lo, hi, final)
            own = (ev.i_peak >= lo_own - base) & (ev.i_peak < hi_own - base)
            if own.any():
                jobs.append((ev, lo - base, hi - base, own))
        if not jobs:
            return
        sps = analyse_epochs(
            self._bt, self._bacc, self._bq, self._bcs, jobs, gravity=self.settings.gravity
        )
        for (ev, lb, hb, own), sp in zip(jobs, sps, strict=True):
            t_end = self._bt[hb - 1]
            oi = np.flatnonzero(own)
            ia, ib = ev.i_ic, ev.i_to
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
            ia_l, ib_l = ia.tolist(), ib.tolist()
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
            for jj, (j, c) in enumerate(zip(oi.tolist(), cols, strict=True)):
                st = _Step(
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
                if self._bgap[i0 : min(hb, i1 + 3)].any():
                    st.flags.append("gap")
                if self._bsat[i0 : ib_l[j] + 1].any():
                    st.flags.append("saturated")
                st.trace = traces.get(jj)
                self._link(st)
                self._steps.append(st)

    def _link(self, st: _Step) -> None:
        """Place a step in the alternation: same run (step number + 1) as the previous step,
        across a missed contact or a short gap when the time since the previous contact is
        close to a whole number of steps (up to 4), or a new run."""
        if not self._steps:
            self._run_counter += 1
            st.run, st.step_no = self._run_counter, 0
            return
        prev = self._steps[-1]
        if math.isfinite(prev.next_ic) and abs(prev.next_ic - st.t_ic) < 1e-6:
            st.run, st.step_no = prev.run, prev.step_no + 1
            self._step_T = st.t_ic - prev.t_ic
            return
        k = _whole_steps(st.t_ic - prev.t_ic, self._step_T)
        if k:
            st.run, st.step_no = prev.run, prev.step_no + k
            return
        self._run_counter += 1
        st.run, st.step_no = self._run_counter, prev.step_no + 1

    # ------------------------------------------------------------------ early records
    def _early_records(self, final: bool) -> None:
        """An early record for each contact whose values are now final (its ``dep`` is in the
        data), in order: its causal obliquity, its place in the alternation."""
        ev = self._ev
        pk = ev["pk"]
        j = int(np.searchsorted(pk, self._early_pk, side="right"))
        n = self._seg_n
        jobs: list[tuple[EarlyRecord, list[int]]] = []
        while j < pk.shape[0]:
            if not final and ev["dep"][j] >= n:
                break
            self._early_pk = int(pk[j])
            self._new_early(j, jobs)
            j += 1
        # in passes of at most _EARLY_BATCH contacts: a whole recording fed at once would
        # otherwise gather all its stances' samples at the same time
        for k in range(0, len(jobs), _EARLY_BATCH):
            self._early_drops(jobs[k : k + _EARLY_BATCH])

    def _early_drops(self, jobs: list[tuple[EarlyRecord, list[int]]]) -> None:
        """The causal drops of the records without lost packets in their strides, all in one
        pass (:func:`dsp.pelvis_early.causal_stances`; each one's values depend on its own
        data only, so not on how many are computed together)."""
        base = self._base
        got = causal_stances(
            self._bt,
            self._bacc,
            self._bq,
            self._bcs,
            [([i - base for i in ics], e.i_to - base, e.i_ic - base) for e, ics in jobs],
        )
        for (e, _), cst in zip(jobs, got, strict=True):
            if cst is None:
                self._n_early_wait += 1
                continue
            e.obl_mean, e.lat_mean = cst.obl_mean, cst.lat_mean
            e.obl_max, e.obl_min = cst.obl_max, cst.obl_min

    def _new_early(self, j: int, jobs: list[tuple[EarlyRecord, list[int]]]) -> None:
        """The early record of contact ``j``; its drop, without lost packets in its strides,
        goes to ``jobs`` (computed by :meth:`_early_drops` with the others of the call)."""
        s = self.settings
        ev, base = self._ev, self._base
        t_ic = float(ev["t_ic"][j])
        i_ic, i_to = int(ev["ic"][j]), int(ev["to"][j])
        # flight before and after (detect_stances' test on all the segment's data)
        flight = bool(ev["pre"][j] >= 0 and ev["post"][j] <= ev["dep"][j])
        e = EarlyRecord(
            t_ic=t_ic,
            t_to=float(ev["t_to"][j]),
            i_ic=i_ic,
            i_to=i_to,
            flight=flight,
            segment=self._n_segments,
        )
        hist = self._early_seg
        if flight:
            use = [r for r in hist[-(s.early_strides + 1) :] if r.t_ic >= t_ic - s.early_history_s]
            ics_l = [r.i_ic for r in use] + [i_ic]
            long_gap = None
            if ics_l[0] >= base:
                long_gap = self._long_gaps(ics_l[0] - base, i_ic - base + 1)
                if long_gap is None:  # the common case: computed with the others of the call
                    jobs.append((e, ics_l))
            if long_gap is not None:
                ics = np.array(ics_l, dtype=np.int64)
                args = (self._bt, self._bacc, self._bq, self._bcs, ics - base, i_to - base)
                cst = causal_stance(*args)
                if cst is not None:  # the side cues
                    e.obl_mean, e.lat_mean = cst.obl_mean, cst.lat_mean
                    # lost packets: the gyroscope chain missed part of the rotation over
                    # them; strides after them only (none: see _retry_gapped)
                    cst = causal_stance(*args, gap=long_gap)
                    if cst is None:
                        e.gap_end = base + int(np.flatnonzero(long_gap[: i_ic - base + 1])[-1])
                        self._early_gapped.append(e)
                if cst is not None:
                    e.obl_max, e.obl_min = cst.obl_max, cst.obl_min
            elif ics_l[0] < base:  # cannot happen (see _trim); the drop stays empty, not differ
                log.warning("sensor %s: early history trimmed", self.info.sensor_id)
        if flight and not math.isfinite(e.obl_max) and not (jobs and jobs[-1][0] is e):
            self._n_early_wait += 1
        self._link_early(e, flight)
        if flight:
            hist.append(e)
            del hist[: -(s.early_strides + 1)]
            self._early_need = hist[0].i_ic
            if self._early_gapped:
                self._retry_gapped()
        self._early.append(e)
        self._early_by_t[t_ic] = e

    def _retry_gapped(self) -> None:
        """Drops that wait for a stride after a long gap: from the first three flight contacts
        after the gap (the record's and the next ones) once they are known; a long gap among
        them too leaves the drop to the step (two-sided attitude)."""
        hist, base = self._early_seg, self._base
        for w in list(self._early_gapped):
            after = [r for r in hist if r.i_ic > w.gap_end]
            if len(after) < 3:
                continue
            self._early_gapped.remove(w)
            ics = np.array([r.i_ic for r in after[:3]], dtype=np.int64)
            if ics[0] < base or self._long_gaps(ics[0] - base, ics[-1] - base + 1) is not None:
                continue
            cst = causal_stance(
                self._bt,
                self._bacc,
                self._bq,
                self._bcs,
                ics - base,
                w.i_to - base,
                i_ic=w.i_ic - base,
            )
            if cst is not None:
                w.obl_max, w.obl_min = cst.obl_max, cst.obl_min

    def _long_gaps(self, a: int, b: int) -> np.ndarray | None:
        """Mask (buffer length) of the bridged gaps longer than ``early_gap_s`` that reach
        into buffer indices ``a:b``, or None without one."""
        g = self._bint
        if not g[a:b].any():
            return None
        lo = max(0, a - self._gap_max)
        seg = g[lo:b].astype(np.int8)
        edges = np.diff(np.concatenate(([0], seg, [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = (ends - starts) > self._gap_long
        if not keep.any():
            return None
        out = np.zeros(g.shape[0], dtype=bool)
        for s0, s1 in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
            out[lo + s0 : lo + s1] = True
        return out

    def _link_early(self, e: EarlyRecord, flight: bool) -> None:
        """Run and step number of an early record: as :meth:`_link`, the next contact being
        the following one unless the step is longer than 1.5 times the median of the recent
        steps between flight contacts (``dsp.pelvis_metrics`` ``max_step_ratio``)."""
        prev = self._early[-1] if self._early else None
        if prev is None:
            self._early_run += 1
            e.run, e.step_no = self._early_run, 0
            return
        dt = e.t_ic - prev.t_ic
        steps = self._early_steps
        same_seg = prev.segment == e.segment
        if same_seg and flight and prev.flight:
            steps.append(dt)
            del steps[:-9]
        # statistics.median: np.median's value ((a + b) / 2 for an even count) at 1/20 the cost
        med = float(statistics.median(steps)) if steps else None
        if same_seg and (med is None or dt <= 1.5 * med):
            e.run, e.step_no = prev.run, prev.step_no + 1
            return
        # across a missed contact or a gap: a whole number of steps keeps the alternation
        k = _whole_steps(dt, med)
        if k:
            e.run, e.step_no = prev.run, prev.step_no + k
            return
        self._early_run += 1
        e.run, e.step_no = self._early_run, prev.step_no + 1

    def _decide_foot(self, e: EarlyRecord) -> None:
        """The foot contact that gives the record its side and events
        (:meth:`dsp.pelvis_fusion.FeetFusion.decide_early`). Once decided it stays so: later
        early rows are of later contacts."""
        known, foot = self._feet.decide_early(e.t_ic)
        if known:
            e.foot, e.foot_known = foot, True

    def _early_row(self, e: EarlyRecord) -> ContactRow:
        """The early row of a record (side and events decided): side, IC, TO, pelvic drop."""
        if e.foot is not None:
            side, t_ic, t_to, source = e.foot[1], e.foot[2], e.foot[3], "feet"
        else:
            assert e.left is not None
            side, t_ic, t_to, source = ("left" if e.left else "right"), e.t_ic, e.t_to, "pelvis"
        row = ContactRow(sensor_id=self.info.sensor_id, side=side, t_ic=t_ic, t_to=t_to)
        row.events_source = source
        row.activity = "run"
        base = self._baseline if self._baseline is not None else 0.0
        rejected = not e.flight
        if e.flight and math.isfinite(e.obl_max):
            drop = pelvic_drop(
                side,
                e.obl_max,
                e.obl_min,
                baseline_deg=base,
                max_drop_deg=self.settings.max_drop_deg,
            )
            if drop is None:
                rejected = True
            else:
                row.pelvic_drop = drop
        if self._low_align:
            row.add_flag("low_alignment")
        if rejected:
            row.add_flag("rejected")
            row.pelvic_drop = None
        return row

    def _release_early(self) -> None:
        """Release the early rows whose side is decided, in order (the baseline is known)."""
        E = self._early
        while self._early_rel < len(E):
            e = E[self._early_rel]
            if not e.flight:  # no flight phase: walking (dsp.pelvis_walk) or no step at all
                self._early_rel += 1
                continue
            if self._feet and not e.foot_known:
                self._decide_foot(e)
                if not e.foot_known:
                    break
            if e.foot is None and e.left is None:
                break
            if e.flight and not math.isfinite(e.obl_max):
                break  # too few contacts before it (a segment's start): waits for its step
            e.row = self._early_row(e)
            self._early_out.append(e.row)
            self._early_rel += 1
        drop = self._early_rel - 4 * self.settings.side_half_window
        if drop > 256:
            del E[:drop]
            self._early_rel -= drop
        if self._feet and self._early_rel < len(E):
            self._feet.forget_early(E[self._early_rel].t_ic - 10.0)

    def _early_for(self, st: _Step) -> EarlyRecord | None:
        """The early record of a step about to be emitted, released now if it was not (with
        the step's fusion); records of earlier contacts that got no step are dropped."""
        by_t = self._early_by_t
        while by_t:
            t0 = next(iter(by_t))
            if t0 >= st.t_ic:
                break
            old = by_t.pop(t0)
            if old.row is not None:
                self._n_early_orphans += 1
                log.warning("sensor %s: early row at %.3f s got no row", self.info.sensor_id, t0)
            else:
                self._n_early_dropped += 1
        E = self._early
        while self._early_rel < len(E) and E[self._early_rel].t_ic < st.t_ic:
            self._early_rel += 1  # dropped above
        e = by_t.pop(st.t_ic, None)
        if e is None or e.row is not None:
            return e
        if self._feet and not e.foot_known:
            self._decide_foot(e)
        if not e.foot_known:  # a foot's contacts near it are not all known: the step's fusion
            m = self._feet.match(st.t_ic, st.skip) if self._feet else None
            e.foot = None if m is None else (m[0], m[1], m[2], m[3] if m[3] is not None else e.t_to)
            e.foot_known = True
        if not math.isfinite(e.obl_max):  # no causal attitude: the step's two-sided one
            e.obl_max, e.obl_min = st.obl_max, st.obl_min
        e.row = self._early_row(e)
        self._early_out.append(e.row)
        self._n_early_late += 1
        assert E[self._early_rel] is e
        self._early_rel += 1
        return e

    # ------------------------------------------------------------------ sides, baseline
    def _decide_sides(self, *, final: bool) -> None:
        self._vote(self._steps, self._released, final=final)
        self._vote(self._early, self._early_rel, final=final)

    def _vote(self, steps: list, lo: int, *, final: bool) -> None:
        """Sides of the undecided steps (or early records) from ``lo`` on (module step 4)."""
        K = self.settings.side_half_window
        A = min(self.settings.side_lookahead, K)
        while lo < len(steps) and steps[lo].left is not None:
            lo += 1
        hi = len(steps)
        if lo >= hi:
            return
        # a step of the still open run is decided once the steps that vote on it exist: A
        # later ones, and the first 2K + 1 of the run (see assign_sides)
        open_run = steps[-1].run if (self._seg_open and not final) else None
        run_start = hi - 1
        while run_start > 0 and steps[run_start - 1].run == open_run:
            run_start -= 1
        if open_run is not None and steps[lo].run == open_run:
            if max(lo + A, run_start + 2 * K) >= hi:
                return  # nothing decidable yet
        # the window reaches 2K before the first undecided step: a run that started before
        # it has >= 2K steps before every step decided now, so its cut start does not matter
        w0 = max(0, lo - 2 * K)
        win = steps[w0:hi]
        runs = np.array([s.run for s in win])
        ol = np.array([s.obl_mean for s in win])
        la = np.array([s.lat_mean for s in win])
        nos = np.array([s.step_no for s in win])
        left, _ = assign_sides(ol, la, runs, step_no=nos, half_window=K, after=A)
        for j in range(lo, hi):
            if (
                open_run is not None
                and steps[j].run == open_run
                and max(j + A, run_start + 2 * K) >= hi
            ):
                break
            steps[j].left = bool(left[j - w0])

    def _set_baseline(self, final: bool) -> bool:
        if self._baseline is not None:
            return True
        n_need = self.settings.baseline_steps
        il, ir, pl, mr = [], [], [], []
        for s in self._steps:
            if s.left is None:
                break
            if not s.flight or not math.isfinite(s.obl_ic) or not math.isfinite(s.obl_max):
                continue
            if s.left:
                il.append(s.obl_ic)
                pl.append(s.obl_max)
            else:
                ir.append(s.obl_ic)
                mr.append(s.obl_min)
            if min(len(il), len(ir)) >= n_need // 2:
                break
        if min(len(il), len(ir)) >= n_need // 2 or (final and il and ir):
            self._baseline = running_baseline(
                np.array(il), np.array(ir), np.array(pl), np.array(mr)
            )
            self._run_base_from_steps = True
            return True
        if final:
            self._baseline = 0.0
            self.baseline_kind_ = "running"
            log.warning("sensor %s: too few steps for a running baseline", self.info.sensor_id)
            return True
        return False

    # ------------------------------------------------------------------ output
    def _release(self, *, final: bool) -> None:
        if self._seg_open is False or final:
            self._decide_sides(final=True)
        self._release_walk(final)
        if not self._set_baseline(final):
            return
        self._release_early()
        steps = self._steps
        while self._released < len(steps):
            st = steps[self._released]
            if st.left is None:
                break
            e = self._early_by_t.get(st.t_ic)
            if e is not None and e.flight and e.row is None and e.left is None:
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
        self._release_early()  # those that waited for a step just emitted
        # forget released steps (keep a window for the side votes of the next ones)
        drop = self._released - 4 * self.settings.side_half_window
        if drop > 256:
            del steps[:drop]
            self._released -= drop
        if self._released and self._feet:
            self._feet.forget(
                min(steps[self._released - 1].t_ic, self._walk.horizon_s(self._walk_pending)) - 10.0
            )

    def _emit(self, st: _Step) -> None:
        s = self.settings
        if not st.flight:  # no flight phase: walking steps come from dsp.pelvis_walk
            e = self._early_by_t.pop(st.t_ic, None)
            if e is not None and e.row is not None:
                self._n_early_orphans += 1
            self._n_walk += 1
            return
        assert st.left is not None
        side = "left" if st.left else "right"
        t_ic, t_to = st.t_ic, st.t_to
        stride = st.next2_ic - st.t_ic if math.isfinite(st.next2_ic) else None
        source: str | None = "pelvis"
        e = self._early_for(st)
        if e is not None:
            # side, events and drop as in the early row (released now at the latest)
            er = e.row
            assert er is not None
            side, t_ic, source = er.side, er.t_ic, er.events_source
            if e.foot is not None:
                t_to = e.foot[3]
                stride = self._feet.stride(st.skip, e.foot[0], e.foot[2])
                self._n_fused += 1
            flight = e.flight
        else:  # a step without an early record (not expected): its early row is a copy
            m = self._feet.match(st.t_ic, st.skip) if self._feet else None
            if m is not None:
                _, side, t_ic, f_to, stride = m
                if f_to is not None:
                    t_to = f_to
                source = "feet"
                self._n_fused += 1
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
            self._n_walk += 1
        base = self._baseline if self._baseline is not None else 0.0
        if e is not None:
            rejected = rejected or "rejected" in e.row.flags  # type: ignore[union-attr]
            row.pelvic_drop = None if rejected else e.row.pelvic_drop  # type: ignore[union-attr]
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
        self._record(row)
        self._out.append(row)
        if e is None:
            early = ContactRow(sensor_id=row.sensor_id, side=row.side, t_ic=row.t_ic, t_to=row.t_to)
            early.events_source, early.activity = row.events_source, row.activity
            early.pelvic_drop = row.pelvic_drop
            for f in row.flags:
                early.add_flag(f)
            self._early_out.append(early)
        if st.trace is not None and not rejected:
            self._traces_out.append((row.t_ic, st.trace - base, side))

    def _release_walk(self, final: bool) -> None:
        """Rows of the walking steps decided so far (:mod:`dsp.pelvis_walk`), each its own
        early row (a walking step is released several seconds after its contact)."""
        self._walk_pending += self._walk.take(final=final)
        if not self._walk_pending:
            return
        if self._walk_base is None:
            if self.baseline_kind_ == "standing" or self._run_base_from_steps:
                self._walk_base = self._baseline
            else:  # from the walking steps, as the running baseline from running steps
                il: list[float] = []
                ir: list[float] = []
                pl: list[float] = []
                mr: list[float] = []
                for w in self._walk_pending:
                    if not (math.isfinite(w.obl_ic) and math.isfinite(w.obl_max)):
                        continue
                    (il if w.left else ir).append(w.obl_ic)
                    (pl if w.left else mr).append(w.obl_max if w.left else w.obl_min)
                n_half = self.settings.baseline_steps // 2
                if min(len(il), len(ir)) >= n_half or (final and il and ir):
                    self._walk_base = running_baseline(
                        np.array(il), np.array(ir), np.array(pl), np.array(mr)
                    )
                elif final:
                    self._walk_base = 0.0
                else:
                    return
        base = self._walk_base if self._walk_base is not None else 0.0
        now = self._last[0] if self._last is not None else -math.inf
        n_done = 0
        for w in self._walk_pending:
            # feet in the session: their contact gives the step's side and events (as running)
            fused = fuse_walk_step(self._feet, w, now=now, final=final)
            if fused is False:
                break  # a foot's rows near the step are not all in yet
            n_done += 1
            row = walk_row(self.info.sensor_id, w, fused)
            left = row.side == "left"
            if fused is not None:
                self._n_fused += 1
            drop = (w.obl_max - base) if left else -(w.obl_min - base)
            if math.isfinite(drop) and abs(drop) <= self.settings.max_drop_deg:
                row.pelvic_drop = drop
            if math.isfinite(w.vo_cm):
                row.vertical_oscillation = w.vo_cm
            for f in w.flags:
                row.add_flag(f)
            if self._low_align:
                row.add_flag("low_alignment")
            self._record(row)
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

    def _record(self, row: ContactRow) -> None:
        self._n_rows += 1
        for f in row.flags:
            self._flag_counts[f] = self._flag_counts.get(f, 0) + 1
        if "rejected" in row.flags:
            return
        v = self._vals
        if row.pelvic_drop is not None:
            v["drop_left" if row.side == "left" else "drop_right"].append(row.pelvic_drop)
        if row.vertical_oscillation is not None:
            v["vo"].append(row.vertical_oscillation)
        if row.cadence is not None:
            v["cadence"].append(row.cadence)
        if row.contact_time is not None:
            v["contact_time"].append(row.contact_time)
