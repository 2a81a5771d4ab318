"""Checks shared by the streaming analysers on each incoming block of one sensor.

Both :class:`dsp.foot_analyzer.FootAnalyzer` and :class:`dsp.pelvis_analyzer.PelvisAnalyzer`
take one sensor's data block by block, in any block sizes. Before their own handling of gaps
(the feet keep short losses as "minor gaps", the pelvis bridges them by interpolation), every
block goes through the same checks, kept here in one place:

* non-physical samples are dropped (treated as lost, so the analysers see a gap there, never
  stillness): a non-finite time stamp or reading, all six axes exactly zero (a radio dropout
  some devices write as zeros; a real accelerometer always reads gravity and noise), or a
  reading beyond the sensor's stated range by more than ``RANGE_MARGIN`` (a clipped sample
  reads the range itself and is kept);
* the gaps the block reports (``SampleBlock.gaps``) are collected until the data pass them;
* time stamps must increase, within the block and from the previous block;
* once, after the first 64 regular intervals, the time stamps must agree with
  ``sample_rate_hz`` (:class:`RateCheck`): a wrong rate in a recording's metadata would
  otherwise give wrong times everywhere.

:class:`AlignBuffer` holds the data until the sensor-to-body rotation is known (the same
growing-target search in both analysers), and :class:`StreamAnalyzer` is their common base
(``feed``/``finish``, handing the waiting data over once the rotation is known). What both
analysers decide the same way lives here once, with per-analyser parameters:

* **the gap policy** (:func:`classify_gaps`): an interval longer than the analyser's
  ``gap_split_s`` splits the data into segments; a shorter one over 1.5 sample periods is a
  short gap (the feet keep it as a "minor gap" integrated with its real time step, the pelvis
  bridges it by interpolation on the nominal grid). Feet: ``max(0.1 s, 3.5 periods)``;
  pelvis: ``bridge_max_s`` (0.25 s: its gyroscope chain and attitude survive a longer bridge);
* **saturation marks** (:func:`saturated_samples`): any axis at the stated range;
* **alignment retries** (:meth:`StreamAnalyzer._judge_alignment`): adopt a good rotation, or
  a usable one once no better can come; otherwise note the attempt and grow the buffer (or drop
  a stretch that cannot be aligned), or give up at the end of the data.

Every failure is an :class:`dsp.errors.AnalysisError` with a one-line message naming the
sensor.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from dsp.bouts import block_motion
from dsp.errors import AnalysisError
from dsp.feed import FeedResult
from dsp.filters import rows_all, rows_any, saturation_mask

__all__ = [
    "RANGE_MARGIN",
    "RATE_TOLERANCE",
    "ZERO_RUN",
    "Accepted",
    "AlignBuffer",
    "BlockInput",
    "RateCheck",
    "StreamAnalyzer",
    "classify_gaps",
    "physical_samples",
    "saturated_samples",
]

log = logging.getLogger(__name__)

#: A reading beyond ``(1 + RANGE_MARGIN)`` times the sensor's stated range is not physical.
RANGE_MARGIN = 0.1

#: Largest relative mismatch accepted between a sensor's ``sample_rate_hz`` and the spacing of
#: its first time stamps (:class:`RateCheck`). It catches a wrong rate (100 Hz stated, 50 Hz
#: recorded), not a few per cent: a live recording's time sync slews its time base by up to 5 %
#: while it settles (``firmware_bridge.timesync.SensorTimeline``, ``fast_slew``), so the first
#: intervals of a sensor whose first packets were delayed are legitimately ~5 % short.
RATE_TOLERANCE = 0.1

#: All six axes exactly zero in a run of at least this many samples is a dropout.
ZERO_RUN = 2


def _zero_runs(zero: np.ndarray, *, min_run: int, continues: bool) -> np.ndarray:
    """Samples of ``zero`` in runs of at least ``min_run`` (the first run also when it
    ``continues`` a run of the previous block)."""
    d = np.diff(zero.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    out = np.zeros(zero.shape[0], dtype=bool)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if b - a >= min_run or (continues and a == 0):
            out[a:b] = True
    return out


def physical_samples(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    *,
    acc_range_ms2: float | None = None,
    gyr_range_dps: float | None = None,
    min_zero_run: int = ZERO_RUN,
) -> np.ndarray:
    """Mask (N,) of the samples that can be real readings.

    Not physical: a non-finite time or reading; all six axes exactly 0 in a run of at least
    ``min_zero_run`` samples (a dropout written as zeros: a real sensor reads noise and bias;
    an isolated exact zero can be an ideal free-fall sample of a simulation); an axis beyond
    the stated range by more than :data:`RANGE_MARGIN` (when the range is known).
    """
    ok = np.isfinite(t) & rows_all(np.isfinite(acc)) & rows_all(np.isfinite(gyr))
    with np.errstate(invalid="ignore"):
        if acc_range_ms2 is not None and acc_range_ms2 > 0:
            ok &= ~rows_any(np.abs(acc) > (1.0 + RANGE_MARGIN) * acc_range_ms2)
        if gyr_range_dps is not None and gyr_range_dps > 0:
            ok &= ~rows_any(np.abs(gyr) > (1.0 + RANGE_MARGIN) * gyr_range_dps)
    if min_zero_run > 0:
        zero = rows_all(acc == 0.0) & rows_all(gyr == 0.0)
        ok &= ~_zero_runs(zero, min_run=min_zero_run, continues=False)
    return ok


def classify_gaps(
    dt: np.ndarray, *, sampling_rate_hz: float, split_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The gap policy of the streaming analysers: masks ``(split, short)`` of the intervals
    ``dt`` (s) between consecutive samples.

    ``split``: longer than ``split_s``, the data are cut into segments there. ``short``: over
    1.5 sample periods but not longer than ``split_s``, lost samples the analyser carries across
    (each its own way, see the module docstring).
    """
    split = dt > split_s
    short = (dt > 1.5 / sampling_rate_hz) & ~split
    return split, short


def saturated_samples(
    acc: np.ndarray,
    gyr: np.ndarray,
    *,
    acc_full_scale: float | None,
    gyr_full_scale: float | None,
) -> np.ndarray:
    """Mask (N,) of the samples with an axis at the stated range (:func:`dsp.filters.saturation_mask`;
    ``None``: that range is unknown, nothing marked), m/s² and deg/s."""
    sat = np.zeros(acc.shape[0], dtype=bool)
    if acc_full_scale is not None:
        sat |= saturation_mask(acc, full_scale=acc_full_scale)
    if gyr_full_scale is not None:
        sat |= saturation_mask(gyr, full_scale=gyr_full_scale)
    return sat


class RateCheck:
    """Compares the nominal sample rate with the spacing of the first time stamps.

    Parameters
    ----------
    sensor_id : str
        Named in the error message.
    sample_rate_hz : float
        Nominal rate, Hz.
    tolerance : float
        Largest relative mismatch accepted.
    min_intervals : int
        Regular intervals collected before deciding (the median of the first 256 is used).
    """

    def __init__(
        self, sensor_id: str, sample_rate_hz: float, *, tolerance: float, min_intervals: int = 64
    ) -> None:
        self.sensor_id = sensor_id
        self.fs = float(sample_rate_hz)
        self.tolerance = float(tolerance)
        self.min_intervals = int(min_intervals)
        self.done = False
        self._dts: list[np.ndarray] = []
        self._n = 0

    def add(self, d: np.ndarray) -> None:
        """Time steps of a block, s (``np.diff(t)``); raises once enough of them disagree."""
        if self.done:
            return
        d = d[d < 3.5 / self.fs * 4]  # lost packets do not count
        self._dts.append(d)
        self._n += d.size
        if self._n < self.min_intervals:
            return
        self.done = True
        med = float(np.median(np.concatenate(self._dts)[:256]))
        self._dts = []
        measured = 1.0 / med
        if abs(measured / self.fs - 1.0) > self.tolerance:
            raise AnalysisError(
                f"sensor {self.sensor_id}: sample_rate_hz is {self.fs:g} Hz but the time "
                f"stamps are {measured:.4g} Hz apart; the recording's sample rate or time "
                "base is wrong"
            )


@dataclass
class Accepted:
    """One block after :meth:`BlockInput.accept`.

    Attributes
    ----------
    t : ndarray, shape (N,)
        Increasing time stamps, s (non-finite samples removed).
    acc, gyr : ndarray, shape (N, 3)
        m/s², deg/s, float64.
    prev_t : float or None
        Time of the previous block's last sample (None for the first block).
    gaps : ndarray, shape (M, 2)
        Reported gaps not yet passed before this block, with this block's own, s.
    """

    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    prev_t: float | None
    gaps: np.ndarray


class BlockInput:
    """Validates the blocks of one sensor's stream (see the module docstring).

    Parameters
    ----------
    sensor_id : str
    sample_rate_hz : float
        Nominal rate, Hz.
    rate_tolerance : float
        Largest relative mismatch between ``sample_rate_hz`` and the time stamps.
    acc_range_ms2, gyr_range_dps : float, optional
        Stated ranges (m/s², deg/s); readings well beyond them are dropped as lost.
    zero_dropouts : bool
        Runs of all-zero six-axis samples are dropouts (lost samples). For sensors that never
        free-fall without turning (a shoe); an ideal pelvis signal in a flight phase reads
        exactly zero.

    Attributes
    ----------
    n_dropped : int
        Non-physical samples dropped so far.
    """

    def __init__(
        self,
        sensor_id: str,
        sample_rate_hz: float,
        *,
        rate_tolerance: float,
        acc_range_ms2: float | None = None,
        gyr_range_dps: float | None = None,
        zero_dropouts: bool = False,
    ) -> None:
        self.sensor_id = sensor_id
        self.zero_dropouts = zero_dropouts
        self.acc_range_ms2 = acc_range_ms2
        self.gyr_range_dps = gyr_range_dps
        self.n_dropped = 0
        #: a trailing all-zero sample held back until the next block tells whether it starts
        #: a dropout run (t, acc, gyr), and whether the previous block ended in a dropout run
        self._carry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._in_zero_run = False
        self._last_seen: float | None = None
        self.rate = RateCheck(sensor_id, sample_rate_hz, tolerance=rate_tolerance)
        #: time of the last sample accepted, s (None before the first)
        self.last_t: float | None = None
        self._gaps = np.empty((0, 2))

    def accept(self, block: SampleBlock) -> Accepted | None:
        """Check a block; None when it holds no usable sample.

        Raises
        ------
        AnalysisError
            Time stamps not increasing, a block not after the previous one, or a sample rate
            that does not match the time stamps.
        """
        sid = self.sensor_id
        t = np.asarray(block.t, dtype=np.float64)
        acc = np.asarray(block.acc, dtype=np.float64)
        gyr = np.asarray(block.gyr, dtype=np.float64)
        gaps = np.asarray(block.gaps, dtype=np.float64).reshape(-1, 2)
        if gaps.shape[0]:
            self._gaps = np.concatenate([self._gaps, gaps])
        good = physical_samples(
            t,
            acc,
            gyr,
            acc_range_ms2=self.acc_range_ms2,
            gyr_range_dps=self.gyr_range_dps,
            min_zero_run=0,
        )
        n_bad = int((~good).sum())
        if n_bad:
            t, acc, gyr = t[good], acc[good], gyr[good]
        if t.shape[0]:
            d = np.diff(t)
            if np.any(d <= 0):
                i = int(np.flatnonzero(d <= 0)[0])
                raise AnalysisError(
                    f"sensor {sid}: time stamps must increase, but t[{i + 1}]={t[i + 1]:.6f} s "
                    f"follows {t[i]:.6f} s"
                )
            if self._last_seen is not None and t[0] <= self._last_seen:
                raise AnalysisError(
                    f"sensor {sid}: block starts at t={t[0]:.6f} s, not after the previous "
                    f"sample at {self._last_seen:.6f} s"
                )
            self._last_seen = float(t[-1])
        # dropouts written as zeros: runs of all-zero samples (chunk-independent: a trailing
        # single zero waits for the next block)
        if self._carry is not None:
            ct, ca, cg = self._carry
            self._carry = None
            t = np.concatenate([ct, t])
            acc = np.concatenate([ca, acc])
            gyr = np.concatenate([cg, gyr])
        zero = rows_all(acc == 0.0) & rows_all(gyr == 0.0)
        if self.zero_dropouts and zero.any():
            drop = _zero_runs(zero, min_run=ZERO_RUN, continues=self._in_zero_run)
            keep = ~drop
            if zero[-1] and not drop[-1]:
                # a single zero at the end: held back until the next block
                self._carry = (t[-1:], acc[-1:], gyr[-1:])
                keep[-1] = False
            self._in_zero_run = bool(drop[-1])
            n_bad += int(drop.sum())
            t, acc, gyr = t[keep], acc[keep], gyr[keep]
        else:
            self._in_zero_run = False
        if n_bad:  # non-physical samples are treated as lost: a gap, not stillness
            if self.n_dropped == 0:
                log.info(
                    "sensor %s: non-physical samples (not numbers, runs of all-zero samples or "
                    "beyond the range) are treated as lost",
                    sid,
                )
            self.n_dropped += n_bad
        if t.shape[0] == 0:
            return None
        d = np.diff(t)
        self.rate.add(d)
        out = Accepted(t, acc, gyr, self.last_t, self._gaps)
        self.last_t = float(t[-1])
        if self._gaps.shape[0]:
            self._gaps = self._gaps[self._gaps[:, 1] > t[-1]]
        return out


class AlignBuffer:
    """Pieces of data held until the sensor-to-body rotation is known.

    Both analysers estimate the rotation from exactly the first ``target`` samples (not
    whatever the last block brought, so the rotation does not depend on block sizes). The
    target starts at ``initial_s`` of samples and doubles after each failed attempt up to
    ``max_s``; a stretch that cannot be aligned even then is dropped and the search starts
    over. The pieces are whatever the analyser splits blocks into; ``size``, ``cut`` and
    ``new_segment`` tell their length, their first ``k`` samples and whether they start a
    new segment.

    Parameters
    ----------
    initial_samples, max_samples : int
        First and largest target, samples.
    size : callable
        ``size(piece) -> int``.
    cut : callable
        ``cut(piece, k) -> piece``: its first ``k`` samples.
    new_segment : callable
        ``new_segment(piece) -> bool``.
    """

    def __init__(
        self,
        initial_samples: int,
        max_samples: int,
        *,
        size: Callable[[Any], int],
        cut: Callable[[Any, int], Any],
        new_segment: Callable[[Any], bool],
    ) -> None:
        self.initial = int(initial_samples)
        self.max = int(max_samples)
        self.target = self.initial
        self.pieces: list[Any] = []
        self.n = 0
        self._size, self._cut, self._new_segment = size, cut, new_segment

    def add(self, piece: Any) -> bool:
        """Hold a piece; True once the target is reached (time to try the alignment)."""
        self.pieces.append(piece)
        self.n += self._size(piece)
        return self.n >= self.target

    @property
    def at_max(self) -> bool:
        """The target has reached its largest value."""
        return self.target >= self.max

    def first(self, limit: int) -> list[list[Any]]:
        """The first ``limit`` samples held, as lists of pieces, one list per segment."""
        segs: list[list[Any]] = []
        left = int(limit)
        for p in self.pieces:
            if left <= 0:
                break
            k = self._size(p)
            if k > left:
                p, k = self._cut(p, left), left
            left -= k
            if self._new_segment(p) or not segs:
                segs.append([p])
            else:
                segs[-1].append(p)
        return segs

    def take(self) -> list[Any]:
        """All pieces held (to be analysed now that the rotation is known); empties it."""
        pieces, self.pieces, self.n = self.pieces, [], 0
        return pieces

    def failed(self) -> int:
        """After an attempt without a usable rotation: double the target, or at its largest
        drop the pieces and start over. Returns the number of samples dropped."""
        if not self.at_max:
            self.target *= 2
            return 0
        dropped = self.n
        self.take()
        self.target = self.initial
        return dropped


class StreamAnalyzer(ABC):
    """What the streaming analysers of one sensor share: ``feed``/``finish`` returning one
    :class:`dsp.feed.FeedResult`, and the wait for the sensor-to-body rotation.

    A subclass sets, in its ``__init__``: ``info`` (SensorInfo), ``_finished = False``,
    ``_R = None`` (or a known rotation), ``_align_buf`` (:class:`AlignBuffer`),
    ``alignment_``, ``_low_align``, ``_align_attempts`` (list of str); and defines
    ``_split(block) -> pieces``, ``_process(piece)``, ``_try_align(final=...)``,
    ``_after_feed()`` (rows a block finished) and ``_after_finish()`` (the last rows). While a
    call runs, the subclass adds to the call's lists ``_out`` (rows), ``_early_out`` (early
    rows), ``_traces_out`` (:data:`dsp.feed.Trace`) and ``_ics_out`` (contacts detected);
    :meth:`_watermark` and :meth:`_stride_watermark` give the result's watermarks.
    """

    #: why the sensor's data cannot be analysed (None while they can)
    problem_: str | None = None
    #: longest stretch of data (s) analysed in one go: longer blocks are cut (see :meth:`feed`)
    feed_piece_s: float = 30.0
    info: SensorInfo
    alignment_: Any
    _finished: bool
    _R: np.ndarray | None
    _align_buf: AlignBuffer
    _low_align: bool
    _align_attempts: list[str]
    _out: list
    _early_out: list
    _traces_out: list
    _ics_out: list

    @abstractmethod
    def _split(self, block: SampleBlock) -> list[Any]:
        """The block cut into the pieces ``_process`` takes."""

    @abstractmethod
    def _process(self, piece: Any) -> None:
        """Analyse a piece of aligned data."""

    @abstractmethod
    def _try_align(self, *, final: bool) -> None:
        """Estimate the rotation from the data held (``final``: no more will come)."""

    @abstractmethod
    def _after_feed(self) -> None:
        """Collect in ``_out`` the rows the last block finished."""

    @abstractmethod
    def _after_finish(self) -> None:
        """Collect in ``_out`` the rows still buffered at the end of the data."""

    def _watermark(self) -> float:
        """The result's ``watermark`` (see :class:`dsp.feed.FeedResult`)."""
        return -math.inf

    def _stride_watermark(self) -> float:
        """The result's ``stride_watermark`` (see :class:`dsp.feed.FeedResult`)."""
        return -math.inf

    def _start_call(self) -> None:
        self._motion_out: dict[int, tuple[float, float, float]] = {}
        self._out = []
        self._early_out = []
        self._traces_out = []
        self._ics_out = []

    def _result(self, data_end: float = math.nan) -> FeedResult:
        """The call's :class:`dsp.feed.FeedResult` (the lists of the call, the watermarks)."""
        return FeedResult(
            sensor_id=self.info.sensor_id,
            rows=tuple(self._out),
            early_rows=tuple(self._early_out),
            detected_ics=tuple(self._ics_out),
            watermark=self._watermark(),
            stride_watermark=self._stride_watermark(),
            traces=tuple(self._traces_out),
            problem=self.problem_,
            data_end=data_end,
            motion=tuple((e, *v) for e, v in self._motion_out.items()),
        )

    def feed(self, block: SampleBlock) -> FeedResult:
        """Add a block of samples; returns what it finished (rows in IC order).

        A block longer than :attr:`feed_piece_s` is analysed as consecutive blocks of at most
        that length (the rows do not depend on how the data are cut): the temporary arrays of
        one call then stay the same size whatever the caller's block length, e.g. the 60 s
        windows of ``runform analyze``, which is also a little faster in cache.
        """
        if self._finished:
            raise AnalysisError(f"sensor {self.info.sensor_id}: feed() after finish()")
        if block.sensor_id != self.info.sensor_id:
            raise AnalysisError(
                f"analyzer of sensor {self.info.sensor_id} got a block of {block.sensor_id}"
            )
        self._start_call()
        # the block's motion per 1 s epoch (dsp.bouts.block_motion): standing or not
        self._motion_out = block_motion(block.t, block.acc, block.gyr)
        n = len(block)
        most = self.feed_piece_s * self.info.sample_rate_hz
        k = math.ceil(n / max(1.0, most)) if n > most else 1  # pieces of equal length
        for j in range(k):
            self._feed_one(block if k == 1 else block.slice(j * n // k, (j + 1) * n // k))
        return self._result(float(block.t_end) if n else math.nan)

    def _feed_one(self, block: SampleBlock) -> None:
        for piece in self._split(block):
            self._ingest(piece)
        self._after_feed()

    def finish(self) -> FeedResult:
        """End of data: analyse what is still buffered; returns the last rows."""
        self._start_call()
        if self._finished:
            return self._result()
        self._finished = True
        if self._R is None and self._align_buf.pieces:
            self._try_align(final=True)
        self._after_finish()
        return self._result()

    def _ingest(self, piece: Any) -> None:
        if self.problem_ is not None:
            return
        if self._R is not None:
            self._process(piece)
            return
        if self._align_buf.add(piece):
            self._try_align(final=False)

    def _judge_alignment(self, res: Any, *, final: bool, min_confidence: float) -> str:
        """The alignment retry policy after an estimate ``res`` (``ok``, ``confidence``,
        ``reason``) from the data held (module docstring).

        Returns ``"adopt"`` (a good rotation, or a usable one when no better can come: at the
        end of the data or with the buffer at its largest; the caller adopts it with
        :meth:`_adopt_alignment`), ``"give_up"`` (``final`` and none usable: the attempt is
        noted, the data held dropped, the caller says why) or ``"wait"`` (the attempt is
        noted; the buffer's target doubled, or at its largest its stretch dropped).
        """
        buf = self._align_buf
        good = res.ok and res.confidence >= min_confidence
        if good or (res.ok and (final or buf.at_max)):
            return "adopt"
        self._align_attempts.append(res.reason)
        if final:
            buf.take()
            return "give_up"
        dropped = buf.failed()  # target doubled, or at its largest the stretch dropped
        if dropped:
            logging.getLogger(type(self).__module__).info(
                "sensor %s: %s; dropping %d samples", self.info.sensor_id, res.reason, dropped
            )
        return "wait"

    def _adopt_alignment(self, res: Any, min_confidence: float) -> None:
        """Hold the rotation ``res.R_bs`` and analyse the data that waited for it."""
        self.alignment_ = res
        self._R = res.R_bs
        self._low_align = res.confidence < min_confidence
        if self._low_align:
            logging.getLogger(type(self).__module__).warning(
                "sensor %s: low alignment confidence %.2f (%s)",
                self.info.sensor_id,
                res.confidence,
                res.reason,
            )
        for p in self._align_buf.take():
            self._process(p)

    def _alignment_diagnostics(self, d: dict[str, Any]) -> None:
        """The alignment part of ``diagnostics()``."""
        if self.alignment_ is not None:
            d["alignment"] = self.alignment_.as_dict()
            d["low_alignment"] = self._low_align
        else:
            d["alignment"] = None
            d["alignment_problem"] = "; ".join(self._align_attempts) or "not enough data"
