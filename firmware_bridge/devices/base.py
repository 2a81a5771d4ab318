"""The shape every BLE device driver follows (DIY clip, Movesense, MetaWear, WitMotion, Polar, ...).

A driver is two things:

1. a **pure decoder**: :meth:`DeviceDriver.decode` turns one notification payload into a
   :class:`DecodedSamples` (physical units, device counters and timestamps untouched), or raises
   :class:`DecodeError` for a packet that cannot be decoded (the session counts it as a bad packet;
   it never crashes). Decoders are tested on byte vectors and fuzzed with hypothesis.
2. the **commands** around it: :meth:`DeviceDriver.start` configures the device and starts
   streaming (it returns the :class:`DecoderState` the decoder needs, e.g. the scale factors of
   the ranges that were set), :meth:`DeviceDriver.stop` stops it, and
   :meth:`DeviceDriver.read_battery` / :meth:`DeviceDriver.read_firmware` read what the device
   tells about itself.

Which device an advertisement belongs to is decided by :meth:`DeviceDriver.matches`
(service UUIDs first, then the advertised name); :func:`firmware_bridge.devices.detect` asks
every registered driver in turn.

The transport (:mod:`firmware_bridge.ble_session`) is the only async, stateful part: it connects,
subscribes to :attr:`DeviceDriver.data_characteristics`, enqueues raw payloads with their host
arrival time from the notification callback, and decodes + time-syncs them outside the callback.
Time sync (:mod:`firmware_bridge.timesync`) uses the counters and timestamps of
:class:`DecodedSamples`; a driver never maps device time to host time itself.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from dsp.block import SensorInfo

if TYPE_CHECKING:  # bleak is only needed by the transport
    from bleak import BleakClient
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

__all__ = [
    "BATTERY_LEVEL_UUID",
    "FIRMWARE_REVISION_UUID",
    "Advertisement",
    "DecodeError",
    "DecodedSamples",
    "DecoderState",
    "DeviceDriver",
    "StreamSettings",
    "normalize_uuid",
    "pick_range",
    "settings_changed",
]

log = logging.getLogger(__name__)

#: Standard Battery Level characteristic (Battery Service 0x180F), one uint8 in percent.
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
#: Standard Firmware Revision String characteristic (Device Information Service 0x180A).
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"


def normalize_uuid(uuid: str) -> str:
    """A UUID as bleak spells it: 128-bit, lower case; 16/32-bit UUIDs on the SIG base.

    Parameters
    ----------
    uuid : str
        ``"180f"``, ``"0x180F"``, ``"0000180f-0000-1000-8000-00805f9b34fb"``, ...

    Returns
    -------
    str
    """
    u = uuid.strip().lower()
    if u.startswith("0x"):
        u = u[2:]
    if len(u) == 4:
        return f"0000{u}-0000-1000-8000-00805f9b34fb"
    if len(u) == 8:
        return f"{u}-0000-1000-8000-00805f9b34fb"
    return u


class DecodeError(ValueError):
    """A notification payload cannot be decoded (wrong length, unknown header, bad field).

    The session counts such packets as ``bad_packets`` and goes on; the message names what was
    wrong so that it can be logged.
    """


@dataclass(frozen=True)
class Advertisement:
    """What a scan saw of one device, independent of the bleak backend.

    Parameters
    ----------
    address : str
        Bluetooth address (or the platform's identifier).
    name : str or None
        Advertised local name (or the OS name).
    rssi : int
        Received signal strength in dBm.
    service_uuids : tuple of str
        Advertised service UUIDs, normalised with :func:`normalize_uuid`.
    manufacturer_data : mapping of int to bytes
        Company id → payload.
    service_data : mapping of str to bytes
        Service UUID → payload.
    """

    address: str
    name: str | None = None
    rssi: int = -127
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_bleak(cls, device: BLEDevice, adv: AdvertisementData) -> Advertisement:
        """Build from what :class:`bleak.BleakScanner` reports."""
        return cls(
            address=device.address,
            name=adv.local_name or device.name,
            rssi=int(adv.rssi),
            service_uuids=tuple(normalize_uuid(u) for u in adv.service_uuids),
            manufacturer_data=dict(adv.manufacturer_data),
            service_data={normalize_uuid(k): bytes(v) for k, v in adv.service_data.items()},
        )


def pick_range(ranges: Sequence[float], asked: float) -> float:
    """The full scale a driver sets for ``asked`` (±g or ±deg/s): the smallest of ``ranges``
    that holds it (a smaller one would clip what the user asked to keep), else the largest."""
    holding = [r for r in ranges if r >= asked]
    return float(min(holding) if holding else max(ranges))


def settings_changed(asked: StreamSettings, state: DecoderState) -> str | None:
    """``"±4 g instead of ±3 g, 200 Hz instead of 416 Hz"`` when the device streams otherwise
    than ``asked`` (the nearest it has), else None."""
    out = []
    if not math.isclose(state.sample_rate_hz, asked.rate_hz, rel_tol=1e-3):
        out.append(f"{state.sample_rate_hz:g} Hz instead of {asked.rate_hz:g} Hz")
    if not math.isclose(state.acc_range_g, asked.acc_range_g, rel_tol=1e-3):
        out.append(f"±{state.acc_range_g:g} g instead of ±{asked.acc_range_g:g} g")
    if not math.isclose(state.gyr_range_dps, asked.gyr_range_dps, rel_tol=1e-3):
        out.append(f"±{state.gyr_range_dps:g} deg/s instead of ±{asked.gyr_range_dps:g} deg/s")
    return ", ".join(out) or None


@dataclass(frozen=True)
class StreamSettings:
    """What the user asks a device to stream; a driver picks the nearest it supports.

    Parameters
    ----------
    rate_hz : float
        Output data rate in Hz.
    acc_range_g : float
        Accelerometer full scale in g (±).
    gyr_range_dps : float
        Gyroscope full scale in deg/s (±).
    """

    rate_hz: float = 833.0
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0


@dataclass
class DecoderState:
    """What the decoder of one connection needs besides the payload.

    :meth:`DeviceDriver.start` returns it (after the device accepted a configuration); the
    session passes it to every :meth:`DeviceDriver.decode` call of that connection.

    Parameters
    ----------
    sample_rate_hz : float
        The rate the device actually streams at, Hz.
    acc_range_g, gyr_range_dps : float
        The ranges actually set (decoders scale raw counts with them).
    mtu : int
        The negotiated ATT MTU in bytes (payload ≤ ``mtu - 3``).
    extra : dict
        Driver-specific values (e.g. a measurement id of a vendor protocol, a buffered half of an
        acc/gyro pair). Kept here so that :meth:`DeviceDriver.decode` stays a function of
        (packet, state).
    """

    sample_rate_hz: float
    acc_range_g: float
    gyr_range_dps: float
    mtu: int = 23
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecodedSamples:
    """The samples of one notification, in physical units, with the device's own timing.

    At least one of ``packet_counter``, ``sample_index`` or ``device_time_s`` should be given so
    that lost data can be counted; :mod:`firmware_bridge.timesync` does the rest.

    Parameters
    ----------
    acc : ndarray, shape (N, 3), float64
        Specific force in m/s², sensor frame (N may be 0, e.g. while a driver waits for the other
        half of an acc/gyro pair).
    gyr : ndarray, shape (N, 3), float64
        Angular rate in deg/s, sensor frame.
    sample_period_s : float
        Nominal time between two samples of this packet, s.
    packet_counter : int or None
        The device's packet counter (wraps at ``packet_counter_modulus``).
    packet_counter_modulus : int
        Wrap-around of ``packet_counter``.
    sample_index : int or None
        The device's running index of the first sample (wraps at ``sample_index_modulus``).
    sample_index_modulus : int
        Wrap-around of ``sample_index``.
    device_time_s : float or None
        Device timestamp of the first sample in s (wraps at ``device_time_modulus_s``).
    device_time_modulus_s : float or None
        Wrap-around of ``device_time_s`` in s (None: does not wrap).
    device_time_resolution_s : float or None
        Quantum of the device timestamp in s (e.g. 1e-3 for whole milliseconds; None: fine
        against the sample period). Time sync uses it as the tolerance of its loss / duplicate
        decisions.
    battery_pct : float or None
        Battery level if the packet carries one.
    """

    acc: np.ndarray
    gyr: np.ndarray
    sample_period_s: float
    packet_counter: int | None = None
    packet_counter_modulus: int = 1 << 16
    sample_index: int | None = None
    sample_index_modulus: int = 1 << 32
    device_time_s: float | None = None
    device_time_modulus_s: float | None = None
    device_time_resolution_s: float | None = None
    battery_pct: float | None = None

    def __post_init__(self) -> None:
        n = self.acc.shape[0] if self.acc.ndim == 2 else -1
        if self.acc.shape != (n, 3) or self.gyr.shape != (n, 3):
            raise DecodeError(
                f"decoded acc {self.acc.shape} and gyr {self.gyr.shape}: expected two (N, 3)"
            )

    def __len__(self) -> int:
        return int(self.acc.shape[0])


class DeviceDriver(ABC):
    """One device family: how to recognise it, start it, and decode its notifications.

    Subclasses set the class attributes and implement :meth:`start`, :meth:`stop` and
    :meth:`decode`. A driver instance holds no per-connection state (that lives in
    :class:`DecoderState`), so one instance serves every device of its family.

    Attributes
    ----------
    name : str
        The ``device_model`` written to recordings, e.g. ``"runform-diy"``, ``"movesense"``.
    label : str
        Human-readable family name for ``runform scan``.
    service_uuids : tuple of str
        Advertised or GATT service UUIDs that identify the family (normalised, lower case).
    name_prefixes : tuple of str
        Advertised name prefixes that identify the family (used when no UUID matches).
    data_characteristics : tuple of str
        Characteristics whose notifications carry samples (the session subscribes to all).
    has_device_timestamps : bool
        True when packets carry a device clock timestamp; False when time comes only from
        counting samples at the nominal rate (time sync then fits the rate as well).
    supported_rates_hz : tuple of float
        Output data rates the device offers.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    service_uuids: ClassVar[tuple[str, ...]] = ()
    name_prefixes: ClassVar[tuple[str, ...]] = ()
    data_characteristics: ClassVar[tuple[str, ...]] = ()
    has_device_timestamps: ClassVar[bool] = False
    supported_rates_hz: ClassVar[tuple[float, ...]] = ()

    # --- recognising -------------------------------------------------------------------------
    def matches(self, adv: Advertisement) -> bool:
        """Whether an advertisement comes from this family (service UUID, then name prefix)."""
        mine = {normalize_uuid(u) for u in self.service_uuids}
        if mine.intersection(adv.service_uuids) or mine.intersection(adv.service_data):
            return True
        name = adv.name or ""
        return any(name.startswith(p) for p in self.name_prefixes)

    def pick_rate(self, rate_hz: float) -> float:
        """The supported rate nearest to ``rate_hz`` (``rate_hz`` itself if none are listed)."""
        if not self.supported_rates_hz:
            return float(rate_hz)
        return float(min(self.supported_rates_hz, key=lambda r: abs(r - rate_hz)))

    # --- commands (async, over a connected bleak client) -------------------------------------
    @abstractmethod
    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        """Configure the device and start streaming.

        Called after the session subscribed to :attr:`data_characteristics` (so no packet is
        missed), again after every reconnect.

        Parameters
        ----------
        client : bleak.BleakClient
            A connected client (services discovered).
        settings : StreamSettings
            What the user asked for.

        Returns
        -------
        DecoderState
            What was actually set.

        Raises
        ------
        firmware_bridge.errors.DeviceError
            The device refused the configuration (message names device and setting).
        """

    @abstractmethod
    async def stop(self, client: BleakClient) -> None:
        """Stop streaming (best effort; the device may already be gone)."""

    # --- the pure decoder --------------------------------------------------------------------
    @abstractmethod
    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        """Decode one notification payload.

        Parameters
        ----------
        packet : bytes
            The raw notification value.
        state : DecoderState
            What :meth:`start` returned for this connection.

        Returns
        -------
        DecodedSamples

        Raises
        ------
        DecodeError
            For any payload that is not a valid packet. Never any other exception.
        """

    # --- information -------------------------------------------------------------------------
    async def read_battery(self, client: BleakClient) -> float | None:
        """Battery level in percent from the standard Battery Service, None if absent."""
        return await _read_uint8(client, BATTERY_LEVEL_UUID)

    async def read_firmware(self, client: BleakClient) -> str | None:
        """Firmware revision from the Device Information Service, None if absent."""
        raw = await _read_optional(client, FIRMWARE_REVISION_UUID)
        if raw is None:
            return None
        return bytes(raw).decode("utf-8", errors="replace").strip("\x00 ") or None

    def sensor_info(
        self,
        sensor_id: str,
        placement: str,
        state: DecoderState,
        firmware: str | None = None,
    ) -> SensorInfo:
        """The :class:`~dsp.block.SensorInfo` of a sensor streaming with ``state``."""
        return SensorInfo(
            sensor_id=sensor_id,
            placement=placement,
            device_model=self.name,
            sample_rate_hz=float(state.sample_rate_hz),
            acc_range_g=float(state.acc_range_g),
            gyr_range_dps=float(state.gyr_range_dps),
            firmware=firmware,
        )


async def _read_optional(client: BleakClient, uuid: str) -> bytes | None:
    services = getattr(client, "services", None)
    if services is None or services.get_characteristic(uuid) is None:
        return None
    try:
        return bytes(await client.read_gatt_char(uuid))
    except Exception as exc:  # a missing optional value must not stop streaming
        log.debug("reading %s failed: %s", uuid, exc)
        return None


async def _read_uint8(client: BleakClient, uuid: str) -> float | None:
    raw = await _read_optional(client, uuid)
    if not raw:
        return None
    return float(raw[0])
