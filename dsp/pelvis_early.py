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

import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dsp.contact import ContactRow
from dsp.pelvis_fusion import FeetFusion
from dsp.pelvis_metrics import pelvic_drop
from dsp.pelvis_orientation import quat_rotate, stride_corrections, world_rows
from dsp.pelvis_segment import SegmentContacts, SegmentSamples
from dsp.pelvis_steps import PelvisStep, vote_sides, whole_steps

__all__ = [
    "CausalStance",
    "EarlyCounts",
    "EarlyRecord",
    "EarlyRows",
    "causal_stance",
    "causal_stances",
]

log = logging.getLogger(__name__)

#: contacts per vectorised pass of the early drops (see :meth:`EarlyRows.add`)
EARLY_BATCH = 512

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
    # (column by column: the values of the (M, 3) expression, contiguous for world_rows)
    erv = [np.repeat(rm[:, c], lens) + dt * np.repeat(slope[:, c], lens) for c in range(3)]
    obl, lat, _ = world_rows(qref, lens, q, erv, acc, rows=r)  # body -> world: E Q(IC)^-1 Q
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


@dataclass
class EarlyCounts:
    """What became of the early records (diagnostics and tests)."""

    orphans: int = 0  # early rows released whose contact got no row (expected 0)
    dropped: int = 0  # records without a row, dropped before release
    late: int = 0  # early rows released with their row (no side or drop before)
    waiting: int = 0  # flight contacts without a causal drop (it waits for the step)


@dataclass
class _EarlySegment:
    """The early records' state in the open segment (segment indices)."""

    last_pk: int = -1  # contacts peaking up to here have an early record
    history: list[EarlyRecord] = field(default_factory=list)  # its last flight records
    need: int = 0  # first segment index the next record may use
    gapped: list[EarlyRecord] = field(default_factory=list)  # drops waiting after a long gap


class EarlyRows:
    """The pelvis analyzer's early rows (step 9 of :mod:`dsp.pelvis_analyzer`).

    An :class:`EarlyRecord` for each contact once its values are final (:meth:`add`), with its
    causal pelvic drop (:func:`causal_stances`), its place in the alternation and, alone, its
    side vote (:meth:`vote`); :meth:`release` lets the early rows out in IC order once side
    and drop are known, :meth:`for_step` gives a step about to be emitted its record (released
    then at the latest).

    Parameters
    ----------
    sensor_id : str
    strides, history_s : int, float
        ``early_strides`` and ``early_history_s`` of :class:`dsp.pelvis_analyzer.PelvisSettings`.
    gap_long, gap_max : int
        A bridged gap of more than ``gap_long`` samples is long; the longest bridged gap plus
        its two neighbours, samples.
    max_drop_deg : float
        A larger drop rejects the row.
    side_half_window, side_lookahead : int
        As in the settings (the vote, and the records kept for it).
    """

    def __init__(
        self,
        sensor_id: str,
        *,
        strides: int,
        history_s: float,
        gap_long: int,
        gap_max: int,
        max_drop_deg: float,
        side_half_window: int,
        side_lookahead: int,
    ) -> None:
        self.sensor_id = sensor_id
        self.strides = strides
        self.history_s = history_s
        self.gap_long = gap_long
        self.gap_max = gap_max
        self.max_drop_deg = max_drop_deg
        self.side_half_window = side_half_window
        self.side_lookahead = side_lookahead
        self.records: list[EarlyRecord] = []  # in IC order, all segments
        self.released = 0  # records before this index are released (or dropped)
        self.by_t: dict[float, EarlyRecord] = {}  # not yet matched to a step, by pelvis t_ic
        self.counts = EarlyCounts()
        self._step_s: list[float] = []  # recent step durations between flight contacts, s
        self._runs = 0
        self.seg = _EarlySegment()

    def start_segment(self) -> None:
        """A new segment: its records have no history before it."""
        self.seg = _EarlySegment()

    @property
    def need(self) -> int:
        """First segment index the next record may use (samples before it can go)."""
        return self.seg.need

    # ---------------------------------------------------------------- records
    def add(
        self,
        samples: SegmentSamples,
        contacts: SegmentContacts,
        *,
        segment: int,
        final: bool,
    ) -> None:
        """An early record for each contact whose values are now final (its ``dep`` is in the
        data), in order: its causal obliquity, its place in the alternation."""
        pk = contacts.pk
        j = int(np.searchsorted(pk, self.seg.last_pk, side="right"))
        n = samples.n
        jobs: list[tuple[EarlyRecord, list[int]]] = []
        while j < pk.shape[0]:
            if not final and contacts.dep[j] >= n:
                break
            self.seg.last_pk = int(pk[j])
            self._new(samples, contacts, j, segment, jobs)
            j += 1
        # in passes of at most EARLY_BATCH contacts: a whole recording fed at once would
        # otherwise gather all its stances' samples at the same time
        for k in range(0, len(jobs), EARLY_BATCH):
            self._drops(samples, jobs[k : k + EARLY_BATCH])

    def _drops(self, samples: SegmentSamples, jobs: list[tuple[EarlyRecord, list[int]]]) -> None:
        """The causal drops of the records without lost packets in their strides, all in one
        pass (:func:`causal_stances`; each one's values depend on its own data only, so not on
        how many are computed together)."""
        base = samples.base
        got = causal_stances(
            samples.t,
            samples.acc,
            samples.q,
            samples.cs,
            [([i - base for i in ics], e.i_to - base, e.i_ic - base) for e, ics in jobs],
        )
        for (e, _), cst in zip(jobs, got, strict=True):
            if cst is None:
                self.counts.waiting += 1
                continue
            e.obl_mean, e.lat_mean = cst.obl_mean, cst.lat_mean
            e.obl_max, e.obl_min = cst.obl_max, cst.obl_min

    def _new(
        self,
        samples: SegmentSamples,
        contacts: SegmentContacts,
        j: int,
        segment: int,
        jobs: list[tuple[EarlyRecord, list[int]]],
    ) -> None:
        """The early record of contact ``j``; its drop, without lost packets in its strides,
        goes to ``jobs`` (computed by :meth:`_drops` with the others of the call)."""
        base = samples.base
        t_ic = float(contacts.t_ic[j])
        i_ic, i_to = int(contacts.ic[j]), int(contacts.to[j])
        # flight before and after (detect_stances' test on all the segment's data)
        flight = bool(contacts.pre[j] >= 0 and contacts.post[j] <= contacts.dep[j])
        e = EarlyRecord(
            t_ic=t_ic,
            t_to=float(contacts.t_to[j]),
            i_ic=i_ic,
            i_to=i_to,
            flight=flight,
            segment=segment,
        )
        hist = self.seg.history
        if flight:
            use = [r for r in hist[-(self.strides + 1) :] if r.t_ic >= t_ic - self.history_s]
            ics_l = [r.i_ic for r in use] + [i_ic]
            long_gap = None
            if ics_l[0] >= base:
                long_gap = self._long_gaps(samples, ics_l[0] - base, i_ic - base + 1)
                if long_gap is None:  # the common case: computed with the others of the call
                    jobs.append((e, ics_l))
            if long_gap is not None:
                ics = np.array(ics_l, dtype=np.int64)
                args = (samples.t, samples.acc, samples.q, samples.cs, ics - base, i_to - base)
                cst = causal_stance(*args)
                if cst is not None:  # the side cues
                    e.obl_mean, e.lat_mean = cst.obl_mean, cst.lat_mean
                    # lost packets: the gyroscope chain missed part of the rotation over
                    # them; strides after them only (none: see _retry_gapped)
                    cst = causal_stance(*args, gap=long_gap)
                    if cst is None:
                        e.gap_end = base + int(np.flatnonzero(long_gap[: i_ic - base + 1])[-1])
                        self.seg.gapped.append(e)
                if cst is not None:
                    e.obl_max, e.obl_min = cst.obl_max, cst.obl_min
            elif ics_l[0] < base:  # cannot happen (see the analyzer's trim): the drop stays empty
                log.warning("sensor %s: early history trimmed", self.sensor_id)
        if flight and not math.isfinite(e.obl_max) and not (jobs and jobs[-1][0] is e):
            self.counts.waiting += 1
        self._link(e, flight)
        if flight:
            hist.append(e)
            del hist[: -(self.strides + 1)]
            self.seg.need = hist[0].i_ic
            if self.seg.gapped:
                self._retry_gapped(samples)
        self.records.append(e)
        self.by_t[t_ic] = e

    def _retry_gapped(self, samples: SegmentSamples) -> None:
        """Drops that wait for a stride after a long gap: from the first three flight contacts
        after the gap (the record's and the next ones) once they are known; a long gap among
        them too leaves the drop to the step (two-sided attitude)."""
        hist, base = self.seg.history, samples.base
        for w in list(self.seg.gapped):
            after = [r for r in hist if r.i_ic > w.gap_end]
            if len(after) < 3:
                continue
            self.seg.gapped.remove(w)
            ics = np.array([r.i_ic for r in after[:3]], dtype=np.int64)
            if (
                ics[0] < base
                or self._long_gaps(samples, ics[0] - base, ics[-1] - base + 1) is not None
            ):
                continue
            cst = causal_stance(
                samples.t,
                samples.acc,
                samples.q,
                samples.cs,
                ics - base,
                w.i_to - base,
                i_ic=w.i_ic - base,
            )
            if cst is not None:
                w.obl_max, w.obl_min = cst.obl_max, cst.obl_min

    def _long_gaps(self, samples: SegmentSamples, a: int, b: int) -> np.ndarray | None:
        """Mask (buffer length) of the bridged gaps longer than ``gap_long`` samples that
        reach into buffer indices ``a:b``, or None without one."""
        g = samples.bridged
        if not g[a:b].any():
            return None
        lo = max(0, a - self.gap_max)
        seg = g[lo:b].astype(np.int8)
        edges = np.diff(np.concatenate(([0], seg, [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = (ends - starts) > self.gap_long
        if not keep.any():
            return None
        out = np.zeros(g.shape[0], dtype=bool)
        for s0, s1 in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
            out[lo + s0 : lo + s1] = True
        return out

    def _link(self, e: EarlyRecord, flight: bool) -> None:
        """Run and step number of a record: as :class:`dsp.pelvis_steps.StepLinker`, the next
        contact being the following one unless the step is longer than 1.5 times the median of
        the recent steps between flight contacts (``dsp.pelvis_metrics`` ``max_step_ratio``)."""
        prev = self.records[-1] if self.records else None
        if prev is None:
            self._runs += 1
            e.run, e.step_no = self._runs, 0
            return
        dt = e.t_ic - prev.t_ic
        steps = self._step_s
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
        k = whole_steps(dt, med)
        if k:
            e.run, e.step_no = prev.run, prev.step_no + k
            return
        self._runs += 1
        e.run, e.step_no = self._runs, prev.step_no + 1

    def vote(self, *, open_segment: bool) -> None:
        """Side votes of the records not yet released (pelvis alone: their side)."""
        vote_sides(
            self.records,
            self.released,
            half_window=self.side_half_window,
            lookahead=self.side_lookahead,
            open_segment=open_segment,
        )

    # ---------------------------------------------------------------- rows
    def row(self, e: EarlyRecord, *, baseline_deg: float, low_align: bool) -> ContactRow:
        """The early row of a record (side and events decided): side, IC, TO, pelvic drop."""
        if e.foot is not None:
            side, t_ic, t_to, source = e.foot[1], e.foot[2], e.foot[3], "feet"
        else:
            assert e.left is not None
            side, t_ic, t_to, source = ("left" if e.left else "right"), e.t_ic, e.t_to, "pelvis"
        row = ContactRow(sensor_id=self.sensor_id, side=side, t_ic=t_ic, t_to=t_to)
        row.events_source = source
        row.activity = "run"
        rejected = not e.flight
        if e.flight and math.isfinite(e.obl_max):
            drop = pelvic_drop(
                side,
                e.obl_max,
                e.obl_min,
                baseline_deg=baseline_deg,
                max_drop_deg=self.max_drop_deg,
            )
            if drop is None:
                rejected = True
            else:
                row.pelvic_drop = drop
        if low_align:
            row.add_flag("low_alignment")
        if rejected:
            row.add_flag("rejected")
            row.pelvic_drop = None
        return row

    def release(
        self, feet: FeetFusion, out: list[ContactRow], *, baseline_deg: float, low_align: bool
    ) -> None:
        """Append to ``out`` the early rows whose side is decided, in order."""
        E = self.records
        while self.released < len(E):
            e = E[self.released]
            if not e.flight:  # no flight phase: walking (dsp.pelvis_walk) or no step at all
                self.released += 1
                continue
            if feet and not e.foot_known:
                _decide_foot(e, feet)
                if not e.foot_known:
                    break
            if e.foot is None and e.left is None:
                break
            if e.flight and not math.isfinite(e.obl_max):
                break  # too few contacts before it (a segment's start): waits for its step
            e.row = self.row(e, baseline_deg=baseline_deg, low_align=low_align)
            out.append(e.row)
            self.released += 1
        drop = self.released - 4 * self.side_half_window
        if drop > 256:
            del E[:drop]
            self.released -= drop
        if feet and self.released < len(E):
            feet.forget_early(E[self.released].t_ic - 10.0)

    def waits_for_vote(self, t_ic: float) -> bool:
        """The record of the step at ``t_ic`` must go out before it, and has no side yet."""
        e = self.by_t.get(t_ic)
        return e is not None and e.flight and e.row is None and e.left is None

    def forget_walking(self, t_ic: float) -> None:
        """A step without flight phase (walking rows come from dsp.pelvis_walk): its record."""
        e = self.by_t.pop(t_ic, None)
        if e is not None and e.row is not None:
            self.counts.orphans += 1

    def for_step(
        self,
        st: PelvisStep,
        feet: FeetFusion,
        out: list[ContactRow],
        *,
        baseline_deg: float,
        low_align: bool,
    ) -> EarlyRecord | None:
        """The early record of a step about to be emitted, released now into ``out`` if it was
        not (with the step's fusion); records of earlier contacts that got no step are
        dropped."""
        by_t = self.by_t
        while by_t:
            t0 = next(iter(by_t))
            if t0 >= st.t_ic:
                break
            old = by_t.pop(t0)
            if old.row is not None:
                self.counts.orphans += 1
                log.warning("sensor %s: early row at %.3f s got no row", self.sensor_id, t0)
            else:
                self.counts.dropped += 1
        E = self.records
        while self.released < len(E) and E[self.released].t_ic < st.t_ic:
            self.released += 1  # dropped above
        e = by_t.pop(st.t_ic, None)
        if e is None or e.row is not None:
            return e
        if feet and not e.foot_known:
            _decide_foot(e, feet)
        if not e.foot_known:  # a foot's contacts near it are not all known: the step's fusion
            m = feet.match(st.t_ic, st.skip) if feet else None
            e.foot = None if m is None else (m[0], m[1], m[2], m[3] if m[3] is not None else e.t_to)
            e.foot_known = True
        if not math.isfinite(e.obl_max):  # no causal attitude: the step's two-sided one
            e.obl_max, e.obl_min = st.obl_max, st.obl_min
        e.row = self.row(e, baseline_deg=baseline_deg, low_align=low_align)
        out.append(e.row)
        self.counts.late += 1
        assert E[self.released] is e
        self.released += 1
        return e


def _decide_foot(e: EarlyRecord, feet: FeetFusion) -> None:
    """The foot contact that gives the record its side and events
    (:meth:`dsp.pelvis_fusion.FeetFusion.decide_early`). Once decided it stays so: later early
    rows are of later contacts."""
    known, foot = feet.decide_early(e.t_ic)
    if known:
        e.foot, e.foot_known = foot, True
