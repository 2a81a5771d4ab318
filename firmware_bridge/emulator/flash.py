"""The log memory of an emulated sensor: fixed-size slots, wrap-around or stop when full.

:class:`SlotFlash` holds opaque records (a DIY log record, a MetaWear log entry) numbered from
0 at the start of logging. When full it either overwrites its oldest record (``wrap=True``:
the MetaWear ``overwrite`` option, the DIY clip's wrap flag) or refuses new ones and counts what
it could not keep (``wrap=False``). Erasing drops records from the oldest up to a number.

:class:`LogSampler` turns "the sensor has been logging since device time τ0" into samples: it
takes every sample a real sensor would have taken between the last fill and now (device clock
with drift, the signal at the true times), so the flash is filled from the simulator directly
instead of over the air, as fast as numpy goes, however long the run.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from firmware_bridge.emulator.base import DeviceClock, SignalSource

__all__ = ["LogSampler", "SlotFlash"]


class SlotFlash:
    """Log memory of ``capacity_slots`` records.

    Parameters
    ----------
    capacity_slots : int
        Records it holds.
    slot_bytes : int
        Bytes per slot (what "memory used" is counted in).
    wrap : bool
        Overwrite the oldest record when full (else stop and count the rest as dropped).
    """

    def __init__(self, capacity_slots: int, slot_bytes: int, wrap: bool = False) -> None:
        if capacity_slots < 1:
            raise ValueError(f"flash of {capacity_slots} slots: expected at least 1")
        self.capacity_slots = int(capacity_slots)
        self.slot_bytes = int(slot_bytes)
        self.wrap = wrap
        self.records: deque[bytes] = deque()
        #: Number of the oldest record held.
        self.first = 0
        #: Number the next record written gets.
        self.next = 0
        #: Records overwritten (wrap) since the start.
        self.overwritten = 0
        #: Records refused because the log was full (no wrap).
        self.dropped = 0

    def reset(self, wrap: bool) -> None:
        """Empty, record numbers from 0 again (a new log)."""
        self.records.clear()
        self.first = self.next = self.overwritten = self.dropped = 0
        self.wrap = wrap

    @property
    def full(self) -> bool:
        return len(self.records) >= self.capacity_slots

    @property
    def used_bytes(self) -> int:
        return len(self.records) * self.slot_bytes

    @property
    def capacity_bytes(self) -> int:
        return self.capacity_slots * self.slot_bytes

    def write(self, record: bytes) -> bool:
        """Append a record; False if refused (full, no wrap)."""
        if self.full:
            if not self.wrap:
                self.dropped += 1
                return False
            self.records.popleft()
            self.first += 1
            self.overwritten += 1
        self.records.append(record)
        self.next += 1
        return True

    def read(self, start: int, count: int) -> list[tuple[int, bytes]]:
        """Records ``start … start+count−1`` that are still held, with their numbers."""
        lo = max(start, self.first)
        hi = min(start + count, self.next)
        return [(k, self.records[k - self.first]) for k in range(lo, hi)]

    def erase_before(self, number: int) -> None:
        """Drop every record numbered below ``number``."""
        while self.records and self.first < number:
            self.records.popleft()
            self.first += 1
        if not self.records:
            self.first = max(self.first, min(number, self.next))


@dataclass
class LoggedChunk:
    """Samples a logging sensor took: index since logging started, device and true times."""

    index0: int
    device_time_s: np.ndarray
    t_true: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray


class LogSampler:
    """Samples of a sensor logging at ``rate_hz`` on its own clock since device time ``tau0``.

    Parameters
    ----------
    clock : DeviceClock
    signal : SignalSource
    rate_hz : float
    tau0_s : float
        Device time of sample 0.
    """

    def __init__(self, clock: DeviceClock, signal: SignalSource, rate_hz: float, tau0_s: float):
        self.clock = clock
        self.signal = signal
        self.rate_hz = float(rate_hz)
        self.tau0_s = float(tau0_s)
        #: Index of the next sample to take.
        self.taken = 0

    def take_until(self, t_true: float, multiple_of: int = 1, max_samples: int = 50_000_000):
        """Every sample taken up to session time ``t_true`` (whole multiples only), or None."""
        tau_now = float(self.clock.device_time(t_true))
        k_end = math.floor((tau_now - self.tau0_s) * self.rate_hz) + 1
        n = (max(0, k_end - self.taken) // multiple_of) * multiple_of
        n = min(n, max_samples)
        if n <= 0:
            return None
        idx = np.arange(self.taken, self.taken + n)
        tau = self.tau0_s + idx / self.rate_hz
        t = np.asarray(self.clock.true_time(tau), dtype=np.float64)
        acc, gyr = self.signal.sample(t)
        chunk = LoggedChunk(self.taken, tau, t, acc, gyr)
        self.taken += n
        return chunk
