"""What every emulated BLE peripheral shares: a bumble GATT server on the virtual link, a
drifting device clock, a sampler fed by a signal (the simulator), and a radio that delivers
notifications in connection events, can lose packets and can drop the connection.

A device family's emulator subclasses :class:`EmulatedPeripheral`, builds its GATT services in
:meth:`EmulatedPeripheral.gatt_services`, reacts to its protocol's commands by calling
:meth:`EmulatedPeripheral.start_stream` / :meth:`EmulatedPeripheral.stop_stream`, and turns each
:class:`SampleChunk` into notification payloads in :meth:`EmulatedPeripheral.make_packets`.

Timing model (all in session time, :meth:`VirtualLink.now`):

* the device clock reads ``offset_s + (1 + drift_ppm·1e-6) · t`` at true time ``t``;
* sample ``k`` of a stream is taken at device time ``τ0 + k / rate`` (the device's nominal
  rate on its own clock), i.e. at true time ``(τ − offset_s) / (1 + drift)``;
* a packet is queued when its last sample has been taken, and sent at the next connection
  event (every ``conn_interval_s``, some events skipped → bursts), so it arrives 0 … a few
  intervals after its last sample — delays only, never early, as over a real radio.

Every sample's true time is kept (:meth:`EmulatedPeripheral.truth`) so tests can measure the
time sync's alignment error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from dsp.block import STANDARD_GRAVITY, SampleBlock
from firmware_bridge.virtual_link import VirtualLink

__all__ = [
    "BlockSignal",
    "DeviceClock",
    "EmulatedPeripheral",
    "RadioConditions",
    "SampleChunk",
    "SignalSource",
    "SyntheticSignal",
    "quantize",
]

log = logging.getLogger(__name__)


class SignalSource(Protocol):
    """Physical signal of one sensor at arbitrary true times."""

    def sample(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """acc (N, 3) in m/s² and gyr (N, 3) in deg/s at session times ``t`` (N,) in s."""
        ...


class SyntheticSignal:
    """A simple running-like signal: gravity on +z plus periodic impacts and swing rotation.

    For development and for tests that must not depend on the simulator.

    Parameters
    ----------
    cadence_spm : float
        Steps per minute of both feet (one foot strikes at half of it).
    phase : float
        Phase offset in cycles (e.g. 0.5 for the other foot).
    """

    def __init__(self, cadence_spm: float = 170.0, phase: float = 0.0) -> None:
        self.f = cadence_spm / 120.0
        self.phase = phase

    def sample(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See :class:`SignalSource`."""
        p = 2 * np.pi * (self.f * t + self.phase)
        acc = np.stack(
            [3.0 * np.sin(p), 1.0 * np.sin(2 * p), STANDARD_GRAVITY + 8.0 * np.cos(p)], axis=1
        )
        gyr = np.stack([50.0 * np.sin(p + 0.3), 400.0 * np.sin(p), 30.0 * np.cos(2 * p)], axis=1)
        return acc, gyr


class BlockSignal:
    """Linear interpolation of a (simulated) :class:`~dsp.block.SampleBlock`, looped so that a
    stream can run longer than the block.

    The whole block plays once; then, with a ``seam``, the part from ``seam[0]`` to
    ``seam[1]`` repeats: two instants at the same phase of the gait (see
    :func:`firmware_bridge.emulator.virtual._gait_seam`), joined by a crossfade over the
    ``fade_s`` before ``seam[1]``, so the repeats run on as one more stride, not a jump.
    Without a seam the block repeats from its start (fine when it starts and ends standing
    still).

    Parameters
    ----------
    block : SampleBlock
        Truth signal on uniform or non-uniform times (s).
    seam : (float, float), optional
        Loop from ``seam[1]`` back to ``seam[0]``, s since the block's first sample.
    fade_s : float
        Crossfade before ``seam[1]``, s.
    """

    def __init__(
        self,
        block: SampleBlock,
        seam: tuple[float, float] | None = None,
        fade_s: float = 0.1,
    ) -> None:
        if len(block) < 2:
            raise ValueError(f"sensor {block.sensor_id}: need at least 2 samples to emulate")
        self.t = np.asarray(block.t, dtype=np.float64) - float(block.t[0])
        self.period = float(self.t[-1]) + float(np.median(np.diff(self.t)))
        self.acc = np.asarray(block.acc, dtype=np.float64)
        self.gyr = np.asarray(block.gyr, dtype=np.float64)
        self.seam: tuple[float, float] | None = None
        self.fade_s = float(fade_s)
        if seam is not None:
            a, b = float(seam[0]), float(seam[1])
            if not (self.fade_s <= a < b - self.fade_s and b <= float(self.t[-1])):
                raise ValueError(
                    f"sensor {block.sensor_id}: loop seam {a:.3f}-{b:.3f} s, expected "
                    f"{self.fade_s:g} s <= start < end - {self.fade_s:g} s and end <= "
                    f"{float(self.t[-1]):.3f} s (the block)"
                )
            self.seam = (a, b)

    def _interp(self, tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = np.stack([np.interp(tt, self.t, self.acc[:, i]) for i in range(3)], axis=1)
        gyr = np.stack([np.interp(tt, self.t, self.gyr[:, i]) for i in range(3)], axis=1)
        return acc, gyr

    def sample(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See :class:`SignalSource`."""
        t = np.asarray(t, dtype=np.float64)
        if self.seam is None:
            return self._interp(np.mod(t, self.period))
        a, b = self.seam
        loop = b - a
        tt = np.where(t < b, t, a + np.mod(t - b, loop))
        acc, gyr = self._interp(tt)
        # the last fade_s before the seam blends into the same stretch before its start
        w = np.clip((tt - (b - self.fade_s)) / self.fade_s, 0.0, 1.0)
        fading = w > 0
        if np.any(fading):
            acc2, gyr2 = self._interp(tt[fading] - loop)
            k = w[fading, None]
            acc[fading] = (1 - k) * acc[fading] + k * acc2
            gyr[fading] = (1 - k) * gyr[fading] + k * gyr2
        return acc, gyr


def quantize(values: np.ndarray, full_scale: float) -> np.ndarray:
    """Physical values → int16 counts at ±``full_scale`` (saturating, round to nearest)."""
    return np.clip(np.rint(values * (32768.0 / full_scale)), -32768, 32767).astype(np.int16)


@dataclass
class DeviceClock:
    """A device oscillator: ``device_time = offset_s + (1 + drift_ppm·1e-6) · true_time``."""

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    @property
    def rate(self) -> float:
        return 1.0 + self.drift_ppm * 1e-6

    def device_time(self, t_true: float | np.ndarray) -> Any:
        """Device clock reading at session time(s) ``t_true``, s."""
        return self.offset_s + self.rate * t_true

    def true_time(self, tau: float | np.ndarray) -> Any:
        """Session time at which the device clock reads ``tau``, s."""
        return (tau - self.offset_s) / self.rate


@dataclass
class RadioConditions:
    """How the emulated radio delivers notifications.

    Parameters
    ----------
    conn_interval_s : float
        Connection interval (7.5 ms … 4 s in BLE; sensors use 7.5-30 ms), s.
    skip_event_prob : float
        Probability that a connection event carries nothing (interference, peripheral latency):
        queued packets then go out as a burst at a later event.
    loss_prob : float
        Probability that a packet is lost (device TX buffer overrun, a link that gave up).
    """

    conn_interval_s: float = 0.015
    skip_event_prob: float = 0.05
    loss_prob: float = 0.0


@dataclass
class SampleChunk:
    """Samples the device just took, ready to be packed.

    Attributes
    ----------
    index0 : int
        Index of the first sample since the stream started.
    device_time_s : ndarray (N,)
        Device clock at each sample, s.
    t_true : ndarray (N,)
        Session (true) time of each sample, s.
    acc, gyr : ndarray (N, 3)
        m/s², deg/s.
    """

    index0: int
    device_time_s: np.ndarray
    t_true: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray


class EmulatedPeripheral(ABC):
    """Base of emulated BLE sensors on a :class:`VirtualLink`.

    Parameters
    ----------
    link : VirtualLink
        The shared virtual air and session clock.
    name : str
        Advertised local name.
    signal : SignalSource
        Physical signal the sensor measures.
    address : str, optional
        Bluetooth address (default: a fresh one from the link).
    clock : DeviceClock, optional
        The device's oscillator (offset, drift).
    radio : RadioConditions, optional
        Delivery jitter, bursts, loss.
    battery_pct : float
        What the Battery Level characteristic reads.
    firmware : str
        Firmware revision string.
    seed : int
        Seed of the radio's random draws.
    """

    #: ``device_model`` of the family emulated.
    device_model: ClassVar[str] = ""
    #: Service UUIDs put in the advertisement.
    advertised_service_uuids: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        link: VirtualLink,
        *,
        name: str,
        signal: SignalSource,
        address: str | None = None,
        clock: DeviceClock | None = None,
        radio: RadioConditions | None = None,
        battery_pct: float = 87.0,
        firmware: str = "1.0.0",
        seed: int = 0,
    ) -> None:
        self.link = link
        self.name = name
        self.signal = signal
        self.address = address or link.new_address()
        self.clock = clock or DeviceClock()
        self.radio = radio or RadioConditions()
        self.battery_pct = battery_pct
        self.firmware = firmware
        self.rng = np.random.default_rng(seed)
        self.device: Any = None
        self.connection: Any = None
        self._queue: list[tuple[Any, bytes]] = []
        self._radio_task: asyncio.Task[None] | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._away_until = -np.inf
        self._drop_next = 0
        self._closed = False
        self._readvertise_task: asyncio.Task[None] | None = None
        #: Packets / samples generated, lost on the radio, delivered to the link.
        self.packets_sent = 0
        self.packets_lost = 0
        self.samples_lost = 0
        self.samples_generated = 0
        self.connections = 0
        self._truth_t: list[np.ndarray] = []
        self._truth_tau: list[np.ndarray] = []
        self._truth_sent: list[np.ndarray] = []

    # --- to implement ----------------------------------------------------------------------
    @abstractmethod
    def gatt_services(self) -> list[Any]:
        """The family's bumble :class:`~bumble.gatt.Service` objects (battery and device
        information services are added by the base class)."""

    @abstractmethod
    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        """Notification payloads carrying ``chunk`` (usually one)."""

    def on_disconnected(self) -> None:
        """Hook: the central went away (default: stop streaming, as firmware does)."""
        self.stop_stream()

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> EmulatedPeripheral:
        """Create the bumble device, add services, power on, advertise."""
        from bumble.profiles.battery_service import BatteryService
        from bumble.profiles.device_information_service import DeviceInformationService

        dev = self.link.new_device(self.name, self.address)
        dev.add_services(
            [
                *self.gatt_services(),
                BatteryService(lambda _conn: round(self.battery_pct)),
                DeviceInformationService(
                    manufacturer_name="runform emulator",
                    model_number=self.device_model,
                    firmware_revision=self.firmware,
                ),
            ]
        )
        dev.on("connection", self._on_connection)
        self.device = dev
        await dev.power_on()
        await self._advertise()
        return self

    async def close(self) -> None:
        """Stop streaming, disconnect, stop advertising."""
        self._closed = True
        self.link.set_advertising(self.address, False)
        self.stop_stream()
        for task in (self._radio_task,):
            if task is not None:
                task.cancel()
        if self._readvertise_task is not None:  # never two HCI command sequences at once
            if self.link.now() < self._away_until:
                self._readvertise_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._readvertise_task
        if self.device is not None:
            with contextlib.suppress(Exception):
                await self.device.stop_advertising()
            if self.connection is not None:
                with contextlib.suppress(Exception):
                    await self.connection.disconnect()

    def advertising_data(self) -> bytes:
        """Flags + the advertised service UUIDs (≤ 31 bytes, legacy advertising)."""
        from bumble.core import UUID, AdvertisingData

        fields: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, bytes([0x06]))]
        u128 = b"".join(UUID(u).to_bytes() for u in self.advertised_service_uuids if len(u) > 8)
        u16 = b"".join(UUID(u).to_bytes() for u in self.advertised_service_uuids if len(u) <= 8)
        if u128:
            fields.append((AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, u128))
        if u16:
            fields.append((AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, u16))
        # the name goes in too, shortened to what fits (bumble's virtual controller answers
        # scan requests with the advertising data, so a scan response would never be seen)
        room = 31 - sum(2 + len(v) for _, v in fields) - 2
        name = self.name.encode()
        if room >= len(name):
            fields.append((AdvertisingData.COMPLETE_LOCAL_NAME, name))
        elif room > 0:
            fields.append((AdvertisingData.SHORTENED_LOCAL_NAME, name[:room]))
        return bytes(AdvertisingData(fields))

    def scan_response_data(self) -> bytes:
        """The complete local name."""
        from bumble.core import AdvertisingData

        return bytes(AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode())]))

    async def _advertise(self) -> None:
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            scan_response_data=self.scan_response_data(),
            advertising_interval_min=20.0,
            advertising_interval_max=20.0,
            auto_restart=False,
        )
        self.link.set_advertising(self.address, True)

    def _on_connection(self, connection: Any) -> None:
        self.link.set_advertising(self.address, False)
        self.connection = connection
        self.connections += 1
        connection.on("disconnection", self._on_disconnection)
        self._queue.clear()
        self._radio_task = asyncio.get_running_loop().create_task(self._radio(connection))

    def _on_disconnection(self, reason: Any) -> None:
        self.connection = None
        if self._radio_task is not None:
            self._radio_task.cancel()
            self._radio_task = None
        self._queue.clear()
        self.on_disconnected()
        if not self._closed:
            self._readvertise_task = asyncio.get_running_loop().create_task(self._readvertise())

    async def _readvertise(self) -> None:
        wait = self._away_until - self.link.now()
        if wait > 0:
            await self.link.sleep(wait)
        if self.device is not None and self.connection is None and not self._closed:
            with contextlib.suppress(Exception):
                await self._advertise()

    # --- faults ------------------------------------------------------------------------------
    async def drop_connection(self, away_s: float = 0.0) -> None:
        """Drop the connection from the device side (as when the sensor leaves radio range)
        and stay unreachable for ``away_s`` seconds of session time."""
        self._away_until = self.link.now() + away_s
        if self.connection is not None:
            await self.connection.disconnect()

    def drop_packets(self, n: int) -> None:
        """Lose the next ``n`` packets on the radio (deterministic packet loss)."""
        self._drop_next += int(n)

    # --- streaming ---------------------------------------------------------------------------
    def start_stream(self, rate_hz: float, samples_per_packet: int, characteristic: Any) -> None:
        """Start taking samples at ``rate_hz`` (device clock) and notifying them on
        ``characteristic`` in packets of ``samples_per_packet``."""
        self.stop_stream()
        self._stream_task = asyncio.get_running_loop().create_task(
            self._sampler(float(rate_hz), int(samples_per_packet), characteristic)
        )

    def stop_stream(self) -> None:
        """Stop taking samples."""
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None and not self._stream_task.done()

    async def _sampler(self, rate: float, spp: int, characteristic: Any) -> None:
        tau0 = float(np.ceil(self.clock.device_time(self.link.now()) * rate) / rate)
        k = 0
        try:
            while True:
                idx = np.arange(k, k + spp)
                tau = tau0 + idx / rate
                t_true = self.clock.true_time(tau)
                await self.link.sleep_until(float(t_true[-1]))
                acc, gyr = self.signal.sample(t_true)
                chunk = SampleChunk(k, tau, t_true, acc, gyr)
                self.samples_generated += spp
                # truth once per chunk; its samples count as sent if every payload was
                sent = [self.send(characteristic, p) for p in self.make_packets(chunk)]
                self._truth_t.append(t_true)
                self._truth_tau.append(tau)
                self._truth_sent.append(np.full(spp, bool(sent) and all(sent)))
                k += spp
        except asyncio.CancelledError:
            pass
        except Exception:  # an emulator bug must be visible, not silently stop the stream
            log.exception("%s: sampler failed", self.name)
            raise

    def send(self, characteristic: Any, payload: bytes) -> bool:
        """Queue one notification for the next connection event; False if the radio lost it."""
        self.packets_sent += 1
        lost = self._drop_next > 0 or (
            self.radio.loss_prob > 0 and self.rng.random() < self.radio.loss_prob
        )
        if lost or self.connection is None:
            if self._drop_next > 0:
                self._drop_next -= 1
            self.packets_lost += 1
            return False
        self._queue.append((characteristic, payload))
        return True

    async def _radio(self, connection: Any) -> None:
        try:
            while True:
                await self.link.sleep(self.radio.conn_interval_s)
                if not self._queue or self.rng.random() < self.radio.skip_event_prob:
                    continue
                batch, self._queue = self._queue, []
                for characteristic, payload in batch:
                    await self.device.notify_subscriber(connection, characteristic, payload)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # connection vanished mid-batch
            log.debug("%s: radio stopped: %s", self.name, exc)

    # --- ground truth --------------------------------------------------------------------------
    def truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True session times, device times and 'was sent' flags of every sample generated.

        Returns
        -------
        t_true, device_time, sent : ndarray (N,)
        """
        if not self._truth_t:
            e = np.empty(0)
            return e, e, np.empty(0, dtype=bool)
        return (
            np.concatenate(self._truth_t),
            np.concatenate(self._truth_tau),
            np.concatenate(self._truth_sent),
        )


Factory = Callable[..., EmulatedPeripheral]
