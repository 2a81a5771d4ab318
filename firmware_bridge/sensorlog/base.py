"""What every on-sensor logging driver shares (DIY clip, MetaWear, ...).

A logging driver is, like a streaming driver (:mod:`firmware_bridge.devices.base`), two things:

1. **pure decoders**: the raw packets a log download notifies are kept as they arrived (in a
   :class:`~firmware_bridge.sensorlog.journal.Journal` on disk) and turned into samples by
   :meth:`LogDriver.decode_log`, a pure function of those bytes (tested on byte vectors and
   fuzzed). Nothing else decides what was logged.
2. **async commands** over a connected bleak client: :meth:`LogDriver.arm` (configure, start
   logging), :meth:`LogDriver.read_clock` (one read of the device clock, for the time sync),
   :meth:`LogDriver.status`, :meth:`LogDriver.download` (fetch what the journal does not hold
   yet; resumable) and :meth:`LogDriver.erase` (only after the recording is safely written).

Device time → session time is not the driver's business: :mod:`firmware_bridge.sensorlog.timebase`
maps the device clock with the clock reads taken when arming and when downloading.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from firmware_bridge.devices.base import StreamSettings
from firmware_bridge.sensorlog.timebase import ClockRead

if TYPE_CHECKING:
    from bleak import BleakClient

    from firmware_bridge.sensorlog.journal import Journal

__all__ = ["LogConfig", "LogDriver", "LogStatus", "LoggedSamples", "ProgressFn"]

#: ``progress(done, total)`` in the driver's units (records, entries), called during downloads.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class LogConfig:
    """What a sensor was armed with (kept in the arm state; the decoder needs it).

    Attributes
    ----------
    rate_hz, acc_range_g, gyr_range_dps : float
        What the device accepted.
    wrap : bool
        True: the log overwrites its oldest data when full; False: it stops when full.
    extra : dict
        Driver specifics (e.g. MetaWear logger ids, chip), JSON-serialisable.
    """

    rate_hz: float
    acc_range_g: float
    gyr_range_dps: float
    wrap: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rate_hz": self.rate_hz,
            "acc_range_g": self.acc_range_g,
            "gyr_range_dps": self.gyr_range_dps,
            "wrap": self.wrap,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LogConfig:
        return cls(
            rate_hz=float(d["rate_hz"]),
            acc_range_g=float(d["acc_range_g"]),
            gyr_range_dps=float(d["gyr_range_dps"]),
            wrap=bool(d.get("wrap", False)),
            extra=dict(d.get("extra", {})),
        )


@dataclass(frozen=True)
class LogStatus:
    """What a device says about its log.

    Attributes
    ----------
    logging : bool
        Logging is running.
    used_bytes, capacity_bytes : int
        Log memory in use and in total (bytes; for entry-based logs entries × entry size).
    records : int
        Records (or entries) held.
    overwritten : int
        Records (entries) lost to wrap-around since the log was started.
    full : bool
        The log is full (stopped logging, or overwriting).
    battery_pct : float or None
    """

    logging: bool
    used_bytes: int
    capacity_bytes: int
    records: int
    overwritten: int = 0
    full: bool = False
    battery_pct: float | None = None

    @property
    def free_fraction(self) -> float:
        return 1.0 - self.used_bytes / self.capacity_bytes if self.capacity_bytes else 0.0


@dataclass(frozen=True)
class LoggedSamples:
    """Samples decoded from a log download, on the device's own clock.

    Attributes
    ----------
    device_time_s : ndarray (N,)
        Device clock of each sample, s, unwrapped, strictly increasing.
    acc, gyr : ndarray (N, 3)
        m/s², deg/s, sensor frame.
    seq : ndarray (N,), uint32
        Running sample index since logging started (gaps show as jumps).
    epoch : ndarray (N,), int
        Clock epoch of each sample (a device reset restarts its clock; 0 when the device has
        no such notion). Samples of an epoch other than the arm's cannot be mapped by the arm
        sync and are reported.
    overwritten : int
        Samples (or records) lost to wrap-around before the first one here.
    duplicates : int
        Packets or entries seen twice in the journal (a resumed download) and dropped.
    """

    device_time_s: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    seq: np.ndarray
    epoch: np.ndarray
    overwritten: int = 0
    duplicates: int = 0

    def __len__(self) -> int:
        return int(self.device_time_s.shape[0])


class LogDriver(ABC):
    """On-sensor logging of one device family (one instance serves every device).

    Attributes
    ----------
    name : str
        The ``device_model`` (same as the streaming driver's).
    """

    name: ClassVar[str] = ""

    @abstractmethod
    async def arm(self, client: BleakClient, settings: StreamSettings, *, wrap: bool) -> LogConfig:
        """Configure the IMU, clear the old log, start logging. Returns what was set."""

    async def read_clocks(
        self, client: BleakClient, host_clock: Callable[[], float], n: int
    ) -> list[ClockRead]:
        """``n`` reads of the device clock, each bracketed by the host clock (request sent,
        answer received). The default times :meth:`read_clock`; a driver whose answers come
        as notifications stamps their arrival instead."""
        out = []
        for _ in range(n):
            h0 = host_clock()
            device_s, epoch = await self.read_clock(client)
            out.append(ClockRead(h0, host_clock(), device_s, epoch))
        return out

    @abstractmethod
    async def read_clock(self, client: BleakClient) -> tuple[float, int]:
        """One read of the device clock: (device time in s, clock epoch)."""

    @abstractmethod
    async def status(self, client: BleakClient, config: LogConfig | None) -> LogStatus:
        """Log state, memory used and left."""

    @abstractmethod
    async def stop(self, client: BleakClient, config: LogConfig) -> None:
        """Stop logging (before downloading: the log must not move under the download)."""

    @abstractmethod
    async def download(
        self,
        client: BleakClient,
        config: LogConfig,
        journal: Journal,
        progress: ProgressFn | None = None,
    ) -> None:
        """Fetch what ``journal`` does not hold yet, appending every raw packet to it.

        Resumable: after a dropped connection, calling it again continues where the journal
        ends; packets the device sends twice are dropped by :meth:`decode_log`.
        """

    @abstractmethod
    async def erase(self, client: BleakClient, config: LogConfig, journal: Journal) -> None:
        """Erase what was downloaded (called only after the recording is safely written)."""

    @abstractmethod
    def decode_log(self, packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
        """Pure: the samples the journal's raw packets hold (duplicates dropped).

        Raises
        ------
        firmware_bridge.devices.base.DecodeError
            Never for a bad packet (it is skipped and counted); only if nothing decodes.
        """
