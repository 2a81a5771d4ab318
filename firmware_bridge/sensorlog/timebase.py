"""Device clock → host clock for logged data: pure functions of a few clock reads.

A logging sensor stamps its samples with its own clock, which runs at its own rate (tens of ppm
off) from its own origin. The host reads that clock a few times when it arms the sensor and
again when it downloads the log (:class:`ClockRead`: host time before the request, host time
after the answer, the device's reading). The read with the shortest round trip is the most
precise (:func:`best_read`): its device reading was taken between the two host times, close to the
request (see :func:`best_read`). Two such points, an hour apart, fix offset and
drift of a straight line (:class:`ClockMap`); a crystal's drift over a run is that close to
constant that the line, not a curve, is the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClockMap", "ClockRead", "SyncPoint", "best_read"]

#: Largest |drift| accepted between the arm and download reads (a crystal is within ±100 ppm;
#: beyond this the device was reset or its clock is not what the driver thinks).
MAX_DRIFT_PPM = 2000.0


@dataclass(frozen=True)
class ClockRead:
    """One read of a device clock.

    Attributes
    ----------
    host_before_s, host_after_s : float
        Host clock just before the request and just after the answer, s.
    device_s : float
        The device clock's reading, s.
    epoch : int
        The device clock's epoch (changes when the device resets its clock; 0 if unknown).
    """

    host_before_s: float
    host_after_s: float
    device_s: float
    epoch: int = 0

    @property
    def round_trip_s(self) -> float:
        return self.host_after_s - self.host_before_s


@dataclass(frozen=True)
class SyncPoint:
    """A (host time, device time) pair and its uncertainty (the shortest round trip), s."""

    host_s: float
    device_s: float
    uncertainty_s: float
    epoch: int = 0

    def to_json(self) -> dict[str, float]:
        return {
            "host_s": self.host_s,
            "device_s": self.device_s,
            "uncertainty_s": self.uncertainty_s,
            "epoch": self.epoch,
        }

    @classmethod
    def from_json(cls, d: dict[str, float]) -> SyncPoint:
        return cls(
            float(d["host_s"]),
            float(d["device_s"]),
            float(d["uncertainty_s"]),
            int(d.get("epoch", 0)),
        )


def best_read(reads: Sequence[ClockRead]) -> SyncPoint:
    """The sync point of the reads with the shortest round trips.

    Over BLE a request goes out at the first connection event after it was sent and the device
    reads its clock as it handles it; the answer leaves at a later event (a GATT read response
    or a notification waits at least for the next one). So the device read its clock close to
    the request and the round trip is mostly the answer waiting: the read whose round trip is
    shortest is the one whose request waited least, and its send time is the estimate (not the
    midpoint, which sits half an answer-wait late). The reads within 1.5x the shortest round
    trip (+0.1 ms) are averaged (offsets host − device), which also averages a coarse device
    clock's rounding (MetaWear: 1.465 ms ticks). ``uncertainty_s`` is the shortest round trip:
    the read happened between request and answer.

    Raises
    ------
    ValueError
        No read, or only reads whose answer came before their request.
    """
    good = [r for r in reads if r.round_trip_s >= 0]
    if not good:
        raise ValueError("no usable clock read (none, or answers before requests)")
    rtt = min(r.round_trip_s for r in good)
    best = [r for r in good if r.round_trip_s <= 1.5 * rtt + 1e-4]
    epoch = best[0].epoch
    best = [r for r in best if r.epoch == epoch]
    sent = np.array([r.host_before_s for r in best])
    dev = np.array([r.device_s for r in best])
    offset = float(np.mean(sent - sent[-1] - (dev - dev[-1])))
    return SyncPoint(
        host_s=float(sent[-1]) + offset, device_s=float(dev[-1]), uncertainty_s=rtt, epoch=epoch
    )


@dataclass(frozen=True)
class ClockMap:
    """``host = host_ref + (device − device_ref) · slope``.

    Build it with :meth:`from_points` (arm and download sync points) or :meth:`from_one`
    (one point, nominal rate: when only one is known).
    """

    host_ref_s: float
    device_ref_s: float
    slope: float = 1.0

    @property
    def drift_ppm(self) -> float:
        """How much faster the device clock runs than the host's, ppm."""
        return (1.0 / self.slope - 1.0) * 1e6

    @classmethod
    def from_one(cls, p: SyncPoint) -> ClockMap:
        return cls(p.host_s, p.device_s, 1.0)

    @classmethod
    def from_points(cls, a: SyncPoint, b: SyncPoint) -> ClockMap:
        """The line through two sync points of the same clock epoch.

        Raises
        ------
        ValueError
            Different epochs, too close together, or a drift beyond ±:data:`MAX_DRIFT_PPM`.
        """
        if a.epoch != b.epoch:
            raise ValueError(f"clock epochs {a.epoch} and {b.epoch} differ (device reset)")
        dd = b.device_s - a.device_s
        dh = b.host_s - a.host_s
        if not (dd > 0 and dh > 0):
            raise ValueError(
                f"device clock advanced {dd:.3f} s while the host's advanced {dh:.3f} s "
                "(device reset?)"
            )
        slope = dh / dd
        if abs(slope - 1.0) * 1e6 > MAX_DRIFT_PPM:
            raise ValueError(f"clock rate differs by {(slope - 1) * 1e6:.0f} ppm from the host's")
        return cls(a.host_s, a.device_s, slope)

    def to_host(self, device_s: np.ndarray | float) -> np.ndarray:
        """Host times of device times, s."""
        d = np.asarray(device_s, dtype=np.float64)
        return self.host_ref_s + (d - self.device_ref_s) * self.slope
