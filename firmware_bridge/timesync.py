"""Device counters and timestamps → the session's time base, with clock-drift estimation and
gap detection. Pure (no I/O, no asyncio): fed decoded packets with their host arrival times.

Model
-----
A packet's last sample is taken at device time ``τ`` and arrives at host time
``a = τ + o(τ) + δ`` where ``o(τ) = c + d·τ`` is the clock offset (``d``: drift of the device
clock against the host's, tens of ppm for a crystal, up to % for devices that only count samples
at a nominal rate) and ``δ ≥ 0`` is the transport delay (waiting for the next connection event,
bursts, scheduling). Delays only ever add, so the **lower envelope** of ``a − τ`` is the offset:
per bin of device time (``bin_s``, 0.25 s) the minimum of ``a − τ`` is kept, and the line is
the one under every minimum of the last ``window_s`` seconds that is highest at their mean
time: the linear programme of Moon, Skelly & Towsley ("Estimation and removal of clock skew
from network delay measurements", IEEE INFOCOM 1999), solved as the edge of the lower convex
hull of the minima that spans the mean. It rests on the fastest deliveries however few they are
(a Polar frame every 0.7 s), and late deliveries cannot pull it.

Coarse device timestamps (Movesense: whole ms, ±0.5 ms against a 1.2 ms period at 833 Hz) are
smoothed by a line through (running sample index, timestamp) of the recent packets
(:class:`_SampleGrid`); loss, duplicate and overlap decisions are taken in whole samples against
that line with the timestamp quantum as tolerance.

Every sensor of a session is mapped with its own fit onto the same host clock, so sensors are
aligned to each other up to the difference of their minimum delays (≈ the same for sensors on
one adapter).

Continuity: the applied mapping moves toward the fitted one at a bounded slew rate (fast during
the first seconds or while it is more than ``fast_above_s`` away from the fit, else ``slew``
s/s), so ``t`` is strictly increasing and never jumps.

Lost samples are counted from the device time (or sample index, or packet counter, whichever
the device has) and returned as gaps.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from firmware_bridge.devices.base import DecodedSamples

__all__ = ["ClockFit", "SensorTimeline", "TimedPacket", "delivered_samples"]

log = logging.getLogger(__name__)

#: Largest drift of a device clock against the host that the time sync fits, s/s: crystals
#: are tens of ppm off, devices that only count samples at a nominal rate up to a few % (the
#: sample grid's bound, :class:`_SampleGrid`, is the same 5 %).
MAX_DRIFT = 0.05


class ClockFit:
    """Lower-envelope linear fit of the offset ``host − device`` against device time.

    Parameters
    ----------
    bin_s : float
        Device-time bin in which the minimum offset is kept, s.
    window_s : float
        Only bins of the last ``window_s`` seconds are fitted, s.
    min_span_s : float
        Below this span of bins the slope is not fitted (offset = the lowest minimum of the
        last ``recent_s`` seconds), s.
    recent_s : float
        Device time whose bins set the offset before the slope is fitted, s (long enough to
        hold a fast delivery, short enough that the drift does not move the offset much).
    max_drift : float
        Largest drift fitted, s/s (:data:`MAX_DRIFT`): a steeper lower envelope is not a clock
        but a host falling behind, its arrivals ever later; the line then keeps the drift
        fitted before, the highest under every minimum.
    """

    def __init__(
        self,
        bin_s: float = 0.25,
        window_s: float = 120.0,
        min_span_s: float = 30.0,
        recent_s: float = 5.0,
        max_drift: float | None = None,
    ):
        self.bin_s = bin_s
        self.recent_s = recent_s
        self.window_s = window_s
        self.min_span_s = min_span_s
        self.max_drift = MAX_DRIFT if max_drift is None else float(max_drift)
        self._bins: deque[list[float]] = deque()  # [bin index, tau at min, min offset]
        self.c = math.nan  # offset at tau_ref
        self.d = 0.0  # slope (drift), s/s
        self.tau_ref = 0.0
        self.n_points = 0

    def add(self, tau: float, arrival: float) -> None:
        """Add one observation: device time ``tau`` of a sample, its host arrival time."""
        off = arrival - tau
        b = math.floor(tau / self.bin_s)
        self.n_points += 1
        if self._bins and self._bins[-1][0] == b:
            if off < self._bins[-1][2]:
                self._bins[-1][1:] = [tau, off]
        else:
            self._bins.append([b, tau, off])
            while self._bins and (b - self._bins[0][0]) * self.bin_s > self.window_s:
                self._bins.popleft()
            self._refit()
            return
        if len(self._bins) == 1 or math.isnan(self.c):
            self._refit()

    def _refit(self) -> None:
        bins = np.array(self._bins, dtype=np.float64)
        taus, offs = bins[:, 1], bins[:, 2]
        self.tau_ref = float(taus[-1])
        if taus[-1] - taus[0] < self.min_span_s or len(taus) < 3:
            # too short to see a drift through the delay noise: offset only, from the lowest
            # of the recent minima
            recent = taus >= taus[-1] - self.recent_s
            self.c, self.d = float(np.min(offs[recent])), 0.0
            return
        x = taus - self.tau_ref
        # the line under every point that is highest at the mean device time (the linear
        # programme of Moon et al. 1999): an edge of the lower convex hull of the minima, the
        # one spanning the mean. Delays only add, so it rests on the fastest deliveries however
        # few they are, and late outliers cannot pull it.
        hull = _lower_hull(x, offs)
        if len(hull) < 2:
            self.c, self.d = float(np.min(offs)), 0.0
            return
        j = int(np.clip(np.searchsorted(x[hull], x.mean()), 1, len(hull) - 1))
        i0, i1 = hull[j - 1], hull[j]
        d = (offs[i1] - offs[i0]) / (x[i1] - x[i0])
        if abs(d) > self.max_drift:
            # no clock drifts this much: the arrivals fall ever further behind the samples (a
            # host or emulation that cannot keep up, notifications queued), and they tell
            # nothing of the clock. The samples keep their device clock's pace at the drift
            # fitted before (the line of that slope highest under every minimum), not the
            # backlog's
            d = self.d  # (never above max_drift)
            self.c = float(np.min(offs - d * x))
            return
        self.c, self.d = float(offs[i0] - d * x[i0]), float(d)

    def offset(self, tau: float | np.ndarray) -> float | np.ndarray:
        """Fitted offset ``host − device`` at device time ``tau``, s."""
        return self.c + self.d * (np.asarray(tau) - self.tau_ref)

    def reset(self) -> None:
        """Forget everything (the device clock restarted)."""
        self.__init__(  # type: ignore[misc]
            self.bin_s, self.window_s, self.min_span_s, self.recent_s, self.max_drift
        )


class _SampleGrid:
    """Device time of each sample from coarse packet timestamps and the running sample index.

    A packet's timestamp is rounded to the device's quantum (Movesense: whole ms, i.e. up to
    ±0.5 ms, almost half of a 1.2 ms sample period at 833 Hz). Fitting ``τ = a + b·k`` through
    the (sample index ``k``, timestamp) pairs of the last packets averages the rounding out: the
    line predicts the timestamp the next packet should carry (loss / duplicate decisions compare
    with it) and gives every sample a smooth device time. The slope ``b`` is the nominal period
    until the points span ``min_span_s``, then the least-squares slope (bounded to ±5 % of the
    nominal period), so that a sample rate that differs from the timestamp clock is followed.

    Parameters
    ----------
    capacity : int
        Packets kept (the oldest are dropped).
    min_span_s : float
        Device-time span of the points above which the slope is fitted, s.
    """

    def __init__(self, capacity: int = 512, min_span_s: float = 0.2) -> None:
        self.capacity = capacity
        self.min_span_s = min_span_s
        self._k = np.empty(capacity, dtype=np.float64)
        self._tau = np.empty(capacity, dtype=np.float64)
        self._n = 0
        self._i = 0
        self.a = math.nan  # device time at k = k_ref, s
        self.b = math.nan  # device time per sample, s
        self.k_ref = 0

    def reset(self) -> None:
        """Forget every point (new device clock)."""
        self._n = self._i = 0
        self.a = self.b = math.nan

    @property
    def ready(self) -> bool:
        """Whether the grid has at least one point."""
        return self._n > 0

    def add(self, k: int, tau: float, period: float) -> None:
        """Add the timestamp ``tau`` (s) of sample ``k`` and refit (nominal ``period``, s)."""
        if self._n == 0:
            self.k_ref = k
        self._k[self._i] = k - self.k_ref
        self._tau[self._i] = tau
        self._i = (self._i + 1) % self.capacity
        self._n = min(self._n + 1, self.capacity)
        ks, taus = self._k[: self._n], self._tau[: self._n]
        b = period
        if self._n >= 3 and (ks.max() - ks.min()) * period >= self.min_span_s:
            kc = ks - ks.mean()
            b = float(np.dot(kc, taus - taus.mean()) / np.dot(kc, kc))
            b = min(max(b, (1.0 - MAX_DRIFT) * period), (1.0 + MAX_DRIFT) * period)
        self.a = float(np.mean(taus - b * ks))
        self.b = b

    def tau(self, k: int | np.ndarray) -> float | np.ndarray:
        """Device time of sample ``k`` on the fitted line, s."""
        return self.a + self.b * (np.asarray(k, dtype=np.float64) - self.k_ref)


@dataclass(frozen=True)
class TimedPacket:
    """The samples of one packet on the session time base.

    Attributes
    ----------
    t : ndarray (N,)
        Session times, s (strictly increasing across packets of a timeline).
    seq : ndarray (N,), uint32
        Running sample index of the device (mod 2**32), counting lost samples too.
    lost_samples : int
        Samples missing right before this packet (0 if none; -1 if unknown, e.g. after a device
        reboot).
    gap : tuple of float or None
        ``(t_start, t_end)``: first and last missing sample times (a reconnect gap spans the
        time the sensor was gone).
    skip : int
        Leading samples of the packet that were already delivered (a packet that overlaps the
        previous one): ``t`` and ``seq`` belong to the packet's samples ``skip:``.
    """

    t: np.ndarray
    seq: np.ndarray
    lost_samples: int
    gap: tuple[float, float] | None
    skip: int = 0


class SensorTimeline:
    """Per-sensor time sync: unwrap counters, count losses, map device time to session time.

    Parameters
    ----------
    t0 : float
        Host clock reading that is session time 0, s.
    bin_s, window_s : float
        See :class:`ClockFit`.
    slew : float
        Maximum rate at which the applied offset follows the fit after warm-up, s/s.
    warmup_s : float
        Device seconds at the start of a segment during which the fast slew applies.
    fast_slew : float
        Slew during warm-up, s/s (must stay < 1 so ``t`` keeps increasing).
    fast_above_s : float
        After warm-up the fast slew still applies while the applied offset is more than this
        away from the fit (e.g. when the first rate fit of a sample-counting device arrives),
        down to this distance, s.
    hold_s : float
        :meth:`feed` holds the first ``hold_s`` seconds (host time) of packets back and maps
        them with the lower envelope of all of them; otherwise the first packet's own delay
        would set the start of the time base and be slewed away during the warm-up.

    Attributes
    ----------
    lost_samples : int
        Samples counted as lost so far.
    duplicates : int
        Packets dropped because none of their samples was new.
    overlaps : int
        Packets delivered without their first samples, which had already been delivered.
    """

    def __init__(
        self,
        t0: float = 0.0,
        *,
        bin_s: float = 0.25,
        window_s: float = 120.0,
        slew: float = 1e-3,
        warmup_s: float = 5.0,
        fast_slew: float = 0.05,
        fast_above_s: float = 0.003,
        hold_s: float = 0.0,
    ) -> None:
        self.t0 = t0
        self.hold_s = hold_s
        self._held: list[tuple[DecodedSamples, float]] = []
        self._released = hold_s <= 0
        self.fit = ClockFit(bin_s=bin_s, window_s=window_s)
        self.slew = slew
        self.counting_min_span_s = 4.0
        self.stamped_recent_s = 20.0
        self.warmup_s = warmup_s
        self.fast_slew = fast_slew
        self.fast_above_s = fast_above_s
        self._segment_start: float | None = None
        self._new_segment = True
        self._reset_pending = False
        self._time_wrap = 0.0
        self._prev_raw_time: float | None = None
        self._index_wrap = 0
        self._prev_raw_index: int | None = None
        self._prev_counter: int | None = None
        self._count = 0  # running sample index (with losses)
        self._tau_last: float | None = None  # device time of the last sample delivered
        self._period: float | None = None
        self._applied: float | None = None  # applied offset at _tau_last
        self._grid = _SampleGrid()
        self._last_n = 0  # samples of the last packet
        self.last_t = -math.inf
        self.lost_samples = 0
        self.duplicates = 0
        self.overlaps = 0

    @property
    def drift_ppm(self) -> float:
        """Current drift estimate of the device clock vs the host, ppm (+: device runs fast)."""
        return -self.fit.d / (1.0 + self.fit.d) * 1e6

    def reconnected(self) -> None:
        """The transport reconnected: the next packet starts a new segment (counters may have
        restarted; the device clock may or may not have)."""
        self._new_segment = True
        self._prev_counter = None
        self._prev_raw_index = None

    def _device_time(self, pkt: DecodedSamples) -> float:
        """Device time of the packet's first sample (unwrapped), s."""
        if pkt.device_time_s is not None:
            raw = float(pkt.device_time_s)
            mod = pkt.device_time_modulus_s
            if mod and self._prev_raw_time is not None and raw < self._prev_raw_time - mod / 2:
                self._time_wrap += mod
            self._prev_raw_time = raw
            return raw + self._time_wrap
        if pkt.sample_index is not None:
            raw_i = int(pkt.sample_index)
            mod_i = pkt.sample_index_modulus
            if self._prev_raw_index is not None and raw_i < self._prev_raw_index - mod_i // 2:
                self._index_wrap += mod_i
            self._prev_raw_index = raw_i
            return (raw_i + self._index_wrap) * pkt.sample_period_s
        # packet counter only: count samples, adding the packets the counter says were lost
        n_missing_packets = 0
        if pkt.packet_counter is not None and self._prev_counter is not None:
            n_missing_packets = (
                pkt.packet_counter - self._prev_counter - 1
            ) % pkt.packet_counter_modulus
        if pkt.packet_counter is not None:
            self._prev_counter = pkt.packet_counter
        if self._tau_last is None:
            return 0.0
        return self._tau_last + (1 + n_missing_packets * len(pkt)) * pkt.sample_period_s

    def feed(self, pkt: DecodedSamples, arrival: float) -> list[tuple[DecodedSamples, TimedPacket]]:
        """Like :meth:`push`, holding the first ``hold_s`` seconds back (see the class doc).

        Returns
        -------
        list of (DecodedSamples, TimedPacket)
            Empty while holding; all held packets when the hold ends; else zero or one
            (duplicates are left out; a packet overlapping the previous one comes without its
            old samples).
        """
        if not self._released:
            self._held.append((pkt, arrival))
            if arrival - self._held[0][1] < self.hold_s:
                return []
            return self.flush()
        r = self.push(pkt, arrival)
        return [] if r is None else [(delivered_samples(pkt, r), r)]

    @property
    def holding(self) -> bool:
        """Whether packets are being held back."""
        return bool(self._held)

    def flush(self) -> list[tuple[DecodedSamples, TimedPacket]]:
        """Release the held packets (at the end of a stream, or when the hold is over)."""
        held, self._held = self._held, []
        self._released = True
        if not held:
            return []
        probe = copy.deepcopy(self)  # learn the offset from all held arrivals first
        for p, a in held:
            probe.push(p, a)
        self.fit = probe.fit
        out = []
        for p, a in held:
            r = self.push(p, a)
            if r is not None:
                out.append((delivered_samples(p, r), r))
        return out

    def push(self, pkt: DecodedSamples, arrival: float) -> TimedPacket | None:
        """Time one decoded packet.

        Loss, duplicate and overlap decisions compare the packet's first device time with the
        one the previous packets predict for the next sample (for timestamped devices the
        :class:`_SampleGrid` line through the recent timestamps), in whole samples, with the
        timestamp quantum as tolerance: a packet whose timestamp is off by less than
        ``max(quantum, period / 2)`` continues the stream, so a Movesense packet whose whole-ms
        timestamp looks 0.9 sample early at 833 Hz is not mistaken for a duplicate.

        Parameters
        ----------
        pkt : DecodedSamples
        arrival : float
            Host clock reading when the notification arrived, s.

        Returns
        -------
        TimedPacket or None
            None for an empty packet or a duplicate / out-of-order one with no new sample
            (counted in :attr:`duplicates`). A packet that overlaps the previous one is
            delivered without its old samples (:attr:`TimedPacket.skip`).
        """
        n = len(pkt)
        if n == 0:
            return None
        period = float(pkt.sample_period_s)
        stamped = pkt.device_time_s is not None
        quantum = float(pkt.device_time_resolution_s or 0.0) if stamped else 0.0
        tol = max(quantum, 0.5 * period)
        tau0 = self._device_time(pkt)
        lost = 0
        skip = 0
        gap_needed = False
        restart = False
        if self._tau_last is not None and self._period is not None:
            if stamped and self._grid.ready:
                expected = float(self._grid.tau(self._count))
            else:
                expected = self._tau_last + self._period
            err = tau0 - expected
            step_s = self._grid.b if stamped and self._grid.ready else period
            lost = self._whole_samples(err, step_s, tol)
            if lost + n <= 0 or err > 3600.0:
                if self._new_segment or err > 3600.0:
                    restart = True  # device clock restarted (reboot) or jumped
                else:
                    self.duplicates += 1
                    return None
            elif lost < 0:
                skip, lost = -lost, 0  # overlaps the previous packet: keep the new samples
                self.overlaps += 1
            elif lost > 0:
                gap_needed = True
            if self._new_segment and lost > 0:
                gap_needed = True
        counting_only = not stamped and pkt.sample_index is None
        if stamped:
            # a device clock drifts by tens of ppm: the offset of the last 20 s is good to
            # ~1 ms and holds more fast deliveries (long frames: one packet per 0.7 s)
            self.fit.recent_s = max(self.fit.recent_s, self.stamped_recent_s)
        else:
            # time from counting samples at a nominal rate: rate errors of up to % are far
            # above the delay noise, so the slope is fitted after a few seconds
            self.fit.min_span_s = min(self.fit.min_span_s, self.counting_min_span_s)
        if self._new_segment and counting_only and self._tau_last is not None:
            restart = True  # a counter that restarted says nothing about the time away
        if restart:
            self.fit.reset()
            self._grid.reset()
            self._time_wrap = 0.0
            self._prev_raw_time = None
            tau0 = self._device_time(pkt)
            self._segment_start = tau0
            self._applied = None
            lost = -1
            skip = 0
            gap_needed = True
        if self._segment_start is None:
            self._segment_start = tau0
        if self._new_segment:
            # after a reconnect the count of lost samples is only as exact as the timestamps:
            # start a new grid rather than mix its points with the old ones
            self._grid.reset()
        self._new_segment = False

        k0 = self._count + max(lost, 0)  # running index of the first new sample
        n_new = n - skip
        if stamped:
            # the packet's first sample is k0 - skip; smooth the quantised timestamps
            self._grid.add(k0 - skip, tau0, period)
            taus = np.asarray(self._grid.tau(k0 + np.arange(n_new)), dtype=np.float64)
        else:
            taus = np.asarray(tau0 + period * np.arange(skip, n), dtype=np.float64)
        tau_end = float(taus[-1])
        self.fit.add(tau_end, arrival - self.t0)
        target = float(self.fit.offset(tau_end))
        if self._applied is None:
            t = taus + target
        else:
            prev_tau = self._tau_last if self._tau_last is not None else float(taus[0])
            predicted = self._applied + self.fit.d * (tau_end - prev_tau)
            # fast during the warm-up, and whenever the fit moved away by more than
            # ``fast_above_s`` (a sample-counting device's first rate fit after a few seconds)
            fast = (
                tau_end - self._segment_start < self.warmup_s
                or abs(target - predicted) > self.fast_above_s
            )
            limit = (self.fast_slew if fast else self.slew) * max(tau_end - prev_tau, 0.0)
            step = float(np.clip(target - predicted, -limit, limit))
            frac = (taus - prev_tau) / max(tau_end - prev_tau, 1e-12)
            t = taus + self._applied + self.fit.d * (taus - prev_tau) + step * frac
            target = predicted + step
        if t[0] <= self.last_t:  # only after a clock restart: keep t strictly increasing
            t = t + (self.last_t - t[0] + period)
            target = float(t[-1] - tau_end)
        self._applied = target
        gap = None
        if gap_needed and math.isfinite(self.last_t):
            p = self._period or period
            g0, g1 = self.last_t + p, float(t[0]) - period
            gap = (g0, max(g0, g1))
        if lost > 0:
            self.lost_samples += lost
            self._count += lost
        seq = (self._count + np.arange(n_new)).astype(np.uint64) % (1 << 32)
        self._count += n_new
        self._tau_last = tau_end
        self._period = period
        self._last_n = n
        self.last_t = float(t[-1])
        return TimedPacket(t=t, seq=seq.astype(np.uint32), lost_samples=lost, gap=gap, skip=skip)

    def _whole_samples(self, err: float, period: float, tol: float) -> int:
        """Samples between the expected and the actual first device time of a packet.

        ``err`` (s) within ``tol`` is 0; otherwise whole samples, preferring a whole number of
        the previous packet's samples when that is within ``tol`` too (packets are lost or
        repeated whole, and with a coarse timestamp one sample may be below its quantum).
        """
        if abs(err) <= tol:
            return 0
        lost = math.floor(err / period + 0.5)
        m = self._last_n
        if m > 1:
            whole = math.floor(err / (m * period) + 0.5) * m
            if whole != 0 and abs(err - whole * period) <= tol:
                return whole
        return lost if lost != 0 else (1 if err > 0 else -1)


def _lower_hull(x: np.ndarray, y: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of points sorted by ``x`` (Andrew's monotone chain)."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b if it lies on or above the segment a-i
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0.0:
                hull.pop()
            else:
                break
        if not hull or x[i] > x[hull[-1]]:
            hull.append(i)
        elif y[i] < y[hull[-1]]:
            hull[-1] = i
    return hull


def delivered_samples(pkt: DecodedSamples, r: TimedPacket) -> DecodedSamples:
    """The samples of ``pkt`` that ``r`` times (all but the ``r.skip`` already delivered)."""
    if r.skip == 0:
        return pkt
    dt = pkt.device_time_s
    return dataclasses.replace(
        pkt,
        acc=pkt.acc[r.skip :],
        gyr=pkt.gyr[r.skip :],
        sample_index=None
        if pkt.sample_index is None
        else (pkt.sample_index + r.skip) % pkt.sample_index_modulus,
        device_time_s=None if dt is None else dt + r.skip * pkt.sample_period_s,
    )
