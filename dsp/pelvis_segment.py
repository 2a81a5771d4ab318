"""The pelvis analyzer's per-sample work on one segment of data (steps 1, 3 and 8 of
:mod:`dsp.pelvis_analyzer`).

* :func:`bridge_gaps`: a block cut into :class:`PelvisPiece` s, short gaps bridged by linear
  interpolation on the nominal grid, longer ones starting a new segment (step 1).
* :class:`EpochGeometry`: the analysis' windows in samples (epoch, pad, lookahead, detection
  context, smoothing).
* :class:`SegmentSamples`: the samples of the open segment still needed, each processed once:
  body-frame specific force, the gyroscope chained from the segment start
  (:class:`GyroChain`, fixed blocks at fixed segment indices), the specific force's running sum
  in the segment's first body frame, and the gap / bridged / saturation marks (step 8).
* :class:`SegmentContacts`: the contacts of the segment found so far
  (:func:`dsp.pelvis_events.detect_stances` run once on the new data, not once per epoch), and
  the contacts an epoch's window sees (:meth:`SegmentContacts.in_window`).

Everything here is indexed by *segment* sample index (the number of samples since the segment
started); ``SegmentSamples.base`` is the segment index of the first sample still held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import numpy as np

from dsp.filters import samples_for
from dsp.orientation import chain_rotations, quat_multiply
from dsp.pelvis_events import FLIGHT_MAX_G, SMOOTH_MS, StanceEvents, detect_stances
from dsp.pelvis_orientation import quat_from_rotvec, quat_rotate, row_norm
from dsp.stream_input import classify_gaps

__all__ = [
    "EpochGeometry",
    "GyroChain",
    "PelvisPiece",
    "SegmentContacts",
    "SegmentSamples",
    "bridge_gaps",
    "chain_sums",
]

_IDENTITY = (0.0, 0.0, 0.0, 1.0)


class PelvisPiece(NamedTuple):
    """Contiguous samples on the nominal grid (gaps up to ``bridge_max_s`` interpolated)."""

    t: np.ndarray  # (N,) s
    acc: np.ndarray  # (N, 3) m/s², sensor frame
    gyr: np.ndarray  # (N, 3) deg/s, sensor frame
    gap: np.ndarray  # (N,) bool: bridged samples, and the neighbours of reported gaps
    new_segment: np.ndarray  # 0-d bool: the piece starts a new segment
    bridged: np.ndarray  # (N,) bool: bridged (interpolated) samples only
    sat: np.ndarray | None = None  # (N,) bool: at the sensor's range (None: not known yet)


def _piece(
    ts: list[np.ndarray],
    as_: list[np.ndarray],
    gs: list[np.ndarray],
    ms: list[np.ndarray],
    new_seg: bool,
) -> PelvisPiece:
    m = np.concatenate(ms)
    return PelvisPiece(
        np.concatenate(ts),
        np.concatenate(as_),
        np.concatenate(gs),
        m > 0,  # gap: bridged samples (the neighbours of reported gaps: bridge_gaps)
        np.array(new_seg),
        m == 2,  # bridged samples only (the same whatever the block boundaries)
    )


def bridge_gaps(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    reported_gaps: np.ndarray,
    last: tuple[float, np.ndarray, np.ndarray] | None,
    *,
    sampling_rate_hz: float,
    bridge_max_s: float,
) -> list[PelvisPiece]:
    """Cut a block's accepted samples into pieces (step 1 of :mod:`dsp.pelvis_analyzer`).

    The gap policy of :func:`dsp.stream_input.classify_gaps` with ``split_s = bridge_max_s``:
    a short gap is bridged by linear interpolation on the nominal grid (the samples marked
    ``gap``), a longer one ends the segment. ``last`` (time, acc, gyr of the previous block's
    last sample; None for the first block) lets a gap at the block start be seen.
    ``reported_gaps`` (M, 2), s: gaps the device reported, shorter than 1.5 periods too,
    mark their neighbours. Empty pieces are left out.
    """
    fs = sampling_rate_hz
    if last is not None:
        tt = np.concatenate(([last[0]], t))
        aa = np.concatenate((last[1][None], acc))
        gg = np.concatenate((last[2][None], gyr))
    else:
        tt, aa, gg = t, acc, gyr
    dts = np.diff(tt)
    period = 1.0 / fs
    split, short = classify_gaps(dts, sampling_rate_hz=fs, split_s=bridge_max_s)
    jump = np.flatnonzero(split | short)
    pieces: list[PelvisPiece] = []
    start = 1 if last is not None else 0
    new_seg = last is None
    cur_t: list[np.ndarray] = []
    cur_a: list[np.ndarray] = []
    cur_g: list[np.ndarray] = []
    cur_m: list[np.ndarray] = []
    prev = start
    for j in jump.tolist():
        # samples prev .. j (inclusive) are regular
        cur_t.append(tt[prev : j + 1])
        cur_a.append(aa[prev : j + 1])
        cur_g.append(gg[prev : j + 1])
        cur_m.append(np.zeros(j + 1 - prev, dtype=np.int8))  # 0 real, 2 interpolated
        gap = dts[j]
        if not split[j]:
            m = round(gap * fs) - 1
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
                pieces.append(_piece(cur_t, cur_a, cur_g, cur_m, new_seg))
            cur_t, cur_a, cur_g, cur_m = [], [], [], []
            new_seg = True
        prev = j + 1
    cur_t.append(tt[prev:])
    cur_a.append(aa[prev:])
    cur_g.append(gg[prev:])
    cur_m.append(np.zeros(tt.shape[0] - prev, dtype=np.int8))
    pieces.append(_piece(cur_t, cur_a, cur_g, cur_m, new_seg))
    # reported gaps shorter than 1.5 periods still mark their neighbours
    if reported_gaps.shape[0]:
        for p in pieces:
            pt, pm = p.t, p.gap
            for g0, g1 in reported_gaps:
                pm |= (pt >= g0 - period) & (pt <= g1 + period)
    return [p for p in pieces if p.t.shape[0]]


@dataclass(frozen=True)
class EpochGeometry:
    """The pelvis analysis' windows, in samples (see :mod:`dsp.pelvis_analyzer`, step 3).

    Attributes
    ----------
    epoch, pad, lookahead : int
        An epoch owns ``epoch`` samples and is analysed with ``pad`` samples before and
        ``lookahead`` after.
    half_smooth : int
        Half the detection smoothing (:data:`dsp.pelvis_events.SMOOTH_MS`).
    context : int
        Samples before the first open contact that its detection depends on (hump, flight
        test, smoothing, both sides).
    chain_block : int
        Gyroscope chaining block (see :class:`GyroChain`).
    """

    epoch: int
    pad: int
    lookahead: int
    half_smooth: int
    context: int
    chain_block: int = 4096

    @classmethod
    def at(
        cls, sampling_rate_hz: float, *, epoch_s: float, pad_s: float, lookahead_s: float
    ) -> EpochGeometry:
        """The windows at a sample rate (Hz) for times in s."""
        fs = sampling_rate_hz
        h = samples_for(SMOOTH_MS / 1000.0, sampling_rate_hz=fs) // 2
        return cls(
            epoch=samples_for(epoch_s, sampling_rate_hz=fs),
            pad=samples_for(pad_s, sampling_rate_hz=fs),
            lookahead=samples_for(lookahead_s, sampling_rate_hz=fs),
            half_smooth=h,
            context=samples_for(2.5, sampling_rate_hz=fs) + 4 * h + 4,
        )


@dataclass
class GyroChain:
    """Body frame at each sample to the segment's first body frame, gyroscope chained.

    Gyroscope increments are chained (:func:`dsp.orientation.chain_rotations`, its blocked
    scan: about two quaternion products per sample) inside blocks of ``block`` samples at
    fixed segment indices, each started from the last rotation of the block before. A scan's
    element depends only on the elements before it, so a block scanned while it fills gives
    the same values as scanned whole: any chunking of the input gives bit-identical rotations.
    """

    block: int = 4096
    n: int = 0  # samples chained so far
    t_last: float = 0.0  # time of the last one, s
    gyr_last: np.ndarray = field(default_factory=lambda: np.zeros(3))  # its rate, deg/s
    inc: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))  # the open block's
    start: np.ndarray = field(default_factory=lambda: np.array(_IDENTITY))  # before it

    def advance(self, t: np.ndarray, gyr_b: np.ndarray) -> np.ndarray:
        """Rotations (m, 4) of the new samples ``t`` (s), body-frame rates ``gyr_b`` (deg/s)."""
        m = t.shape[0]
        if self.n:
            tt = np.concatenate(([self.t_last], t))
            gg = np.concatenate((self.gyr_last[None], gyr_b))
            inc = quat_from_rotvec(np.radians(0.5 * (gg[1:] + gg[:-1])) * np.diff(tt)[:, None])
        else:
            inc = np.empty((m, 4))
            inc[0] = _IDENTITY
            inc[1:] = quat_from_rotvec(
                np.radians(0.5 * (gyr_b[1:] + gyr_b[:-1])) * np.diff(t)[:, None]
            )
        self.inc = np.concatenate((self.inc, inc))  # increments since the block start
        B, n0 = self.block, self.n
        out = np.empty((m, 4))
        pos = 0
        while pos < m:
            i = n0 + pos
            b0 = (i // B) * B
            upto = min(n0 + m, b0 + B)
            sc = chain_rotations(self.inc[: upto - b0], work_efficient=True)[i - b0 :]
            qq = quat_multiply(np.broadcast_to(self.start, sc.shape), sc)
            qq /= row_norm(qq)[:, None]
            out[pos : upto - n0] = qq
            if upto == b0 + B:
                self.start = qq[-1].copy()
                self.inc = self.inc[B:]
            pos = upto - n0
        self.n += m
        self.t_last = float(t[-1])
        self.gyr_last = gyr_b[-1].copy()
        return out


def chain_sums(
    chain: GyroChain, cs_next: np.ndarray, t: np.ndarray, acc_b: np.ndarray, gyr_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-sample work of :meth:`SegmentSamples.add` on new samples: their rotations
    (:meth:`GyroChain.advance`), the running sum of the specific force in the chain's frame
    before each (``cs_next``: the sum before the first) and the sum after the last."""
    q = chain.advance(t, gyr_b)
    f = quat_rotate(q, acc_b)
    cs = np.cumsum(np.concatenate((cs_next[None], f)), axis=0)  # sequential sums
    return q, cs[:-1], cs[-1].copy()


def _empty(shape: tuple[int, ...] = (0,), dtype: type = float) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


@dataclass
class SegmentSamples:
    """The open segment's samples still needed (segment indices ``base .. n``).

    Attributes
    ----------
    base, n : int
        Segment index of ``t[0]``; samples of the segment so far.
    t : ndarray (N,)
        Times, s.
    acc : ndarray (N, 3)
        Specific force, pelvis body frame (``ap, ml, vt``), m/s².
    q : ndarray (N, 4)
        Body frame to the segment's first body frame (:class:`GyroChain`).
    cs : ndarray (N, 3)
        Sum of the specific force in that frame over the segment's samples before each.
    gap, bridged, sat : ndarray (N,) of bool
        Bridged samples and their neighbours; bridged samples only; saturated samples.
    """

    chain: GyroChain = field(default_factory=GyroChain)
    base: int = 0
    n: int = 0
    t: np.ndarray = field(default_factory=_empty)
    acc: np.ndarray = field(default_factory=lambda: _empty((0, 3)))
    q: np.ndarray = field(default_factory=lambda: _empty((0, 4)))
    cs: np.ndarray = field(default_factory=lambda: _empty((0, 3)))
    gap: np.ndarray = field(default_factory=lambda: _empty(dtype=bool))
    bridged: np.ndarray = field(default_factory=lambda: _empty(dtype=bool))
    sat: np.ndarray = field(default_factory=lambda: _empty(dtype=bool))
    cs_next: np.ndarray = field(default_factory=lambda: np.zeros(3))  # the sum after t[-1]

    def add(
        self,
        t: np.ndarray,
        acc_b: np.ndarray,
        gyr_b: np.ndarray,
        gap: np.ndarray,
        bridged: np.ndarray,
        sat: np.ndarray,
    ) -> None:
        """Append new body-frame samples: chain the gyroscope, sum the specific force."""
        q, cs_before, self.cs_next = chain_sums(self.chain, self.cs_next, t, acc_b, gyr_b)
        self.t = np.concatenate([self.t, t])
        self.acc = np.concatenate([self.acc, acc_b])
        self.q = np.concatenate([self.q, q])
        self.cs = np.concatenate([self.cs, cs_before])
        self.gap = np.concatenate([self.gap, gap])
        self.bridged = np.concatenate([self.bridged, bridged])
        self.sat = np.concatenate([self.sat, sat])
        self.n += t.shape[0]

    def trim(self, cut: int) -> None:
        """Forget the first ``cut`` samples held."""
        if cut <= 0:
            return
        self.t = self.t[cut:]
        self.acc = self.acc[cut:]
        self.q = self.q[cut:]
        self.cs = self.cs[cut:]
        self.gap = self.gap[cut:]
        self.bridged = self.bridged[cut:]
        self.sat = self.sat[cut:]
        self.base += cut


def _ints() -> np.ndarray:
    return np.empty(0, dtype=int)


@dataclass
class SegmentContacts:
    """The contacts of the open segment found so far, in order (segment indices).

    The columns are those of :class:`dsp.pelvis_events.StanceEvents` (``pre``/``post`` ``-1``
    / ``n + 10**9`` without flight within reach), plus ``core``: the last sample a contact's
    times depend on. ``done``: contacts peaking before it are final; ``looked_at``: segment
    samples when contacts were last looked for.
    """

    pk: np.ndarray = field(default_factory=_ints)
    ic: np.ndarray = field(default_factory=_ints)
    to: np.ndarray = field(default_factory=_ints)
    pre: np.ndarray = field(default_factory=_ints)
    post: np.ndarray = field(default_factory=_ints)
    dep: np.ndarray = field(default_factory=_ints)
    core: np.ndarray = field(default_factory=_ints)
    up: np.ndarray = field(default_factory=_ints)
    dn: np.ndarray = field(default_factory=_ints)
    reach: np.ndarray = field(default_factory=_ints)
    t_ic: np.ndarray = field(default_factory=_empty)
    t_to: np.ndarray = field(default_factory=_empty)
    peak_g: np.ndarray = field(default_factory=_empty)
    done: int = 0
    looked_at: int = 0

    _COLUMNS: ClassVar[tuple[str, ...]] = (
        "pk",
        "ic",
        "to",
        "pre",
        "post",
        "dep",
        "core",
        "up",
        "dn",
        "reach",
        "t_ic",
        "t_to",
        "peak_g",
    )

    def __len__(self) -> int:
        return int(self.pk.shape[0])

    def _slice(self, sl: slice) -> None:
        for k in self._COLUMNS:
            setattr(self, k, getattr(self, k)[sl])

    def drop_first(self, n: int) -> None:
        """Forget the first ``n`` contacts."""
        self._slice(slice(n, None))

    def detect(
        self,
        samples: SegmentSamples,
        geo: EpochGeometry,
        *,
        sampling_rate_hz: float,
        gravity: float,
        final: bool,
    ) -> None:
        """Find the contacts of the new data once (not once per epoch).

        Detection runs on the data from ``geo.context`` samples before ``done`` (contacts
        peaking before it are final); of the contacts peaking after it, those that nothing can
        still change (``i_dep`` inside the data) are listed, the others are found again with
        the next data. So the list does not depend on the block sizes.
        """
        n, base = samples.n, samples.base
        s0 = max(base, self.done - geo.context)
        a = s0 - base
        ev = detect_stances(
            samples.t[a:], samples.acc[a:, 2], sampling_rate_hz=sampling_rate_hz, gravity=gravity
        )
        pk = ev.i_peak + s0
        # contacts after ``done`` are found again each time (their data may have grown)
        self._slice(slice(0, int(np.searchsorted(self.pk, self.done))))
        sel = pk >= self.done
        fixed = (ev.i_dep + s0 < n) | final
        core = ev.i_dn + s0 + 1 + geo.half_smooth  # last sample its times depend on
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
                setattr(self, k, np.concatenate((getattr(self, k), v)))
        if final:
            self.done = n
            return
        done = n - geo.context
        open_ = np.flatnonzero(sel & ~fixed)
        if open_.size:
            done = min(done, int(pk[open_[0]]))
        self.done = max(self.done, done)

    def in_window(
        self,
        samples: SegmentSamples,
        lo: int,
        hi: int,
        *,
        half_smooth: int,
        gravity: float,
        at_end: bool,
        flight_max_g: float = FLIGHT_MAX_G,
    ) -> StanceEvents:
        """The contacts :func:`detect_stances` finds in the window ``lo:hi`` (segment indices).

        The contacts of the segment wholly inside it whose times the window's data fix, with
        the flight test of the window: its samples only, and the smoothing of its edges.
        ``at_end``: the window ends at the segment's last sample and no more will come.
        Indices of the result are buffer indices (segment index minus ``samples.base``).
        """
        base = samples.base
        t_lo, t_hi = samples.t[lo - base], samples.t[hi - 1 - base]
        j0 = int(np.searchsorted(self.t_ic, t_lo, side="left"))
        j1 = int(np.searchsorted(self.t_ic, t_hi, side="right"))
        sl = slice(j0, j1)
        keep = self.t_to[sl] <= t_hi
        if not at_end:
            keep &= self.core[sl] < hi
        if hi - lo < 8:
            keep &= False
        sel = np.flatnonzero(keep) + j0
        h = half_smooth
        pre_ok = self.pre[sel] >= lo + h
        post_ok = self.post[sel] <= hi - 1 - h
        if h > 0 and sel.size and not (pre_ok[0] and post_ok[-1]):
            vt = samples.acc[:, 2]
            for m in np.flatnonzero(~pre_ok).tolist():  # left edge: shrunk smoothing
                e = sel[m]
                i0 = max(lo, int(self.up[e] - self.reach[e]))
                i1 = min(int(self.up[e]), lo + h - 1)
                for i in range(i0, i1 + 1):
                    seg = vt[lo - base : i + h + 1 - base]
                    if seg.sum() / seg.size / gravity < flight_max_g:
                        pre_ok[m] = True
                        break
            for m in np.flatnonzero(~post_ok).tolist():  # right edge
                e = sel[m]
                i0 = max(int(self.dn[e]), hi - h)
                i1 = min(hi - 1, int(self.dn[e] + self.reach[e]))
                for i in range(i0, i1 + 1):
                    seg = vt[i - h - base : hi - base]
                    if seg.sum() / seg.size / gravity < flight_max_g:
                        post_ok[m] = True
                        break
        return StanceEvents(
            i_peak=self.pk[sel] - base,
            t_ic=self.t_ic[sel],
            t_to=self.t_to[sel],
            i_ic=self.ic[sel] - base,
            i_to=self.to[sel] - base,
            peak_g=self.peak_g[sel],
            flight=pre_ok & post_ok,
        )


@dataclass
class MeanDecimation:
    """The analysis rate of a fast pelvis sensor (:data:`dsp.pelvis_analyzer.PELVIS_RATE_HZ`):
    each segment's samples in consecutive groups of ``factor``, from its first sample, each
    group one sample: the mean of its times, specific forces and rates (a boxcar low-pass,
    symmetric, so no delay), flagged ``gap`` / ``bridged`` / ``sat`` when any of its samples
    is. A group still open at the end of a piece waits for the next piece of the segment
    (``carry``); the samples of one left open at the segment's end are dropped (fewer than
    ``factor``). Groups start at fixed samples of the segment, so the result does not depend
    on how the data were cut into blocks.
    """

    factor: int
    carry: PelvisPiece | None = None  # the open group's samples
    started: bool = False  # the segment has given a sample already

    def __call__(self, piece: PelvisPiece) -> PelvisPiece | None:
        """The decimated samples of ``piece`` (its ``sat`` given), or None while its group
        is open."""
        assert piece.sat is not None
        if bool(piece.new_segment):
            self.carry, self.started = None, False
        if self.carry is not None:
            c = self.carry
            piece = piece._replace(
                **{f: np.concatenate((getattr(c, f), getattr(piece, f))) for f in _PER_SAMPLE}
            )
        k = self.factor
        m = piece.t.shape[0] // k
        n = m * k
        self.carry = None
        if n < piece.t.shape[0]:
            self.carry = piece._replace(
                new_segment=np.asarray(False), **{f: getattr(piece, f)[n:] for f in _PER_SAMPLE}
            )
        if m == 0:
            return None
        first = not self.started
        self.started = True
        return piece._replace(
            new_segment=np.asarray(first),
            **{f: _group_mean(getattr(piece, f), k, n) for f in ("t", "acc", "gyr")},
            **{f: _group_any(getattr(piece, f), k, n) for f in ("gap", "bridged", "sat")},
        )


#: the fields of :class:`PelvisPiece` with one value per sample
_PER_SAMPLE = ("t", "acc", "gyr", "gap", "bridged", "sat")


def _group_mean(x: np.ndarray, k: int, n: int) -> np.ndarray:
    """Means of the groups of ``k`` consecutive rows of ``x[:n]`` (summed in order)."""
    out = x[0:n:k].copy()
    for j in range(1, k):
        out += x[j:n:k]
    out /= k
    return out


def _group_any(x: np.ndarray, k: int, n: int) -> np.ndarray:
    """Whether any row of each group of ``k`` consecutive rows of ``x[:n]`` is set."""
    out = x[0:n:k].copy()
    for j in range(1, k):
        out |= x[j:n:k]
    return out
