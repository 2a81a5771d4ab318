"""Standard BLE footpods: the Bluetooth SIG Running Speed and Cadence profile (Stryd, Polar, Zwift
RunPod, Garmin ...).

Protocol (Bluetooth SIG, RSC Service 0x1814; see ``docs/devices.md``):

* RSC Measurement ``0x2A53`` (notify): ``flags`` (uint8), instantaneous speed (uint16, 1/256
  m/s), instantaneous cadence (uint8, 1/min), then instantaneous stride length (uint16, 1/100 m)
  if flags bit 0, total distance (uint32, 1/10 m) if flags bit 1; flags bit 2 = running (1) or
  walking (0).
* RSC Feature ``0x2A54`` (read, uint16): bit 0 stride length, bit 1 total distance, bit 2
  walking/running status, bit 3 sensor calibration, bit 4 multiple sensor locations supported.

A footpod delivers no IMU samples: its data is a separate stream written to
``/streams/<stream_id>`` of the recording (``speed_mps``, ``cadence_spm``, ``stride_length_m``,
``distance_m``) with :meth:`recordings.RecordingWriter.append_stream`. The cadence is what the pod
reports in 1/min; most running pods report steps per minute, a few report strides (one per foot
cycle) per minute, so a value near half the IMU-derived step cadence means the latter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from firmware_bridge.devices._vendor import empty_samples
from firmware_bridge.devices.base import (
    DecodedSamples,
    DecodeError,
    DecoderState,
    DeviceDriver,
    StreamSettings,
)

if TYPE_CHECKING:
    from bleak import BleakClient

__all__ = [
    "DRIVER",
    "RSC_MEASUREMENT_UUID",
    "RSC_SERVICE_UUID",
    "RscDriver",
    "RscMeasurement",
    "RscStreamBuffer",
    "decode_rsc_measurement",
    "encode_rsc_measurement",
]

log = logging.getLogger(__name__)

RSC_SERVICE_UUID = "00001814-0000-1000-8000-00805f9b34fb"
RSC_MEASUREMENT_UUID = "00002a53-0000-1000-8000-00805f9b34fb"
RSC_FEATURE_UUID = "00002a54-0000-1000-8000-00805f9b34fb"

FLAG_STRIDE = 0x01
FLAG_DISTANCE = 0x02
FLAG_RUNNING = 0x04
FEATURE_STRIDE = 0x01
FEATURE_DISTANCE = 0x02
FEATURE_RUNNING_STATUS = 0x04

#: Names of the quantities of the ``/streams/<id>`` group, units in the names.
STREAM_FIELDS = ("speed_mps", "cadence_spm", "stride_length_m", "distance_m", "running")


@dataclass(frozen=True)
class RscMeasurement:
    """One RSC Measurement.

    Parameters
    ----------
    speed_mps : float
        Instantaneous speed in m/s (resolution 1/256 m/s).
    cadence_spm : float
        Instantaneous cadence in 1/min as the pod reports it.
    stride_length_m : float or None
        Instantaneous stride length in m (resolution 0.01 m), if present.
    distance_m : float or None
        Total distance in m (resolution 0.1 m), if present.
    running : bool
        Running (True) or walking (False) status bit.
    """

    speed_mps: float
    cadence_spm: float
    stride_length_m: float | None = None
    distance_m: float | None = None
    running: bool = False


def decode_rsc_measurement(packet: bytes) -> RscMeasurement:
    """Decode an RSC Measurement (0x2A53) value.

    Raises
    ------
    DecodeError
        Shorter than the flags announce, or longer (unknown trailing bytes).
    """
    if len(packet) < 4:
        raise DecodeError(f"RSC measurement of {len(packet)} bytes: expected >= 4")
    flags = packet[0]
    need = 4 + (2 if flags & FLAG_STRIDE else 0) + (4 if flags & FLAG_DISTANCE else 0)
    if len(packet) != need:
        raise DecodeError(
            f"RSC measurement of {len(packet)} bytes with flags 0x{flags:02x}: expected {need}"
        )
    if flags & 0xF8:
        raise DecodeError(f"RSC measurement flags 0x{flags:02x}: reserved bits set")
    speed = int.from_bytes(packet[1:3], "little") / 256.0
    cadence = float(packet[3])
    off = 4
    stride = dist = None
    if flags & FLAG_STRIDE:
        stride = int.from_bytes(packet[off : off + 2], "little") / 100.0
        off += 2
    if flags & FLAG_DISTANCE:
        dist = int.from_bytes(packet[off : off + 4], "little") / 10.0
    return RscMeasurement(speed, cadence, stride, dist, bool(flags & FLAG_RUNNING))


def encode_rsc_measurement(m: RscMeasurement) -> bytes:
    """Inverse of :func:`decode_rsc_measurement` (values rounded to the field resolution)."""
    flags = FLAG_RUNNING if m.running else 0
    flags |= FLAG_STRIDE if m.stride_length_m is not None else 0
    flags |= FLAG_DISTANCE if m.distance_m is not None else 0
    out = bytearray([flags])
    out += int(np.clip(round(m.speed_mps * 256.0), 0, 0xFFFF)).to_bytes(2, "little")
    out.append(int(np.clip(round(m.cadence_spm), 0, 0xFF)))
    if m.stride_length_m is not None:
        out += int(np.clip(round(m.stride_length_m * 100.0), 0, 0xFFFF)).to_bytes(2, "little")
    if m.distance_m is not None:
        out += int(np.clip(round(m.distance_m * 10.0), 0, 0xFFFFFFFF)).to_bytes(4, "little")
    return bytes(out)


class RscStreamBuffer:
    """Collects decoded measurements with their session times, drains them as stream columns.

    ``drain()`` returns ``(t, values)`` for :meth:`recordings.RecordingWriter.append_stream`:
    absent optional fields are NaN.
    """

    def __init__(self) -> None:
        self._t: list[float] = []
        self._rows: list[RscMeasurement] = []

    def add(self, t: float, m: RscMeasurement) -> None:
        """Queue one measurement received at session time ``t`` (s)."""
        self._t.append(float(t))
        self._rows.append(m)

    def __len__(self) -> int:
        return len(self._t)

    def drain(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every queued row as (t (N,), {field: (N,)}); empties the buffer."""
        nan = float("nan")
        t = np.asarray(self._t, dtype=np.float64)
        rows = self._rows
        vals = {
            "speed_mps": np.array([r.speed_mps for r in rows], dtype=np.float64),
            "cadence_spm": np.array([r.cadence_spm for r in rows], dtype=np.float64),
            "stride_length_m": np.array(
                [nan if r.stride_length_m is None else r.stride_length_m for r in rows]
            ),
            "distance_m": np.array([nan if r.distance_m is None else r.distance_m for r in rows]),
            "running": np.array([1.0 if r.running else 0.0 for r in rows]),
        }
        self._t, self._rows = [], []
        return t, vals


class RscDriver(DeviceDriver):
    """A footpod with the standard RSC service; delivers a stream, no IMU samples.

    :meth:`decode` (the IMU interface) returns no samples; use :meth:`decode_stream` for the
    measurement. ``stream_kind`` tells the session that this driver feeds a ``/streams`` group.
    """

    name: ClassVar[str] = "rsc-footpod"
    label: ClassVar[str] = "BLE footpod (Running Speed and Cadence)"
    service_uuids: ClassVar[tuple[str, ...]] = (RSC_SERVICE_UUID,)
    name_prefixes: ClassVar[tuple[str, ...]] = ()
    data_characteristics: ClassVar[tuple[str, ...]] = (RSC_MEASUREMENT_UUID,)
    has_device_timestamps: ClassVar[bool] = False
    supported_rates_hz: ClassVar[tuple[float, ...]] = (1.0,)
    #: Marks a non-IMU driver: the session writes :meth:`decode_stream` rows with append_stream.
    stream_kind: ClassVar[str] = "rsc"
    stream_fields: ClassVar[tuple[str, ...]] = STREAM_FIELDS

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        features = 0
        services = getattr(client, "services", None)
        if services is not None and services.get_characteristic(RSC_FEATURE_UUID) is not None:
            try:
                raw = bytes(await client.read_gatt_char(RSC_FEATURE_UUID))
                features = int.from_bytes(raw[:2], "little")
            except Exception as exc:
                log.debug("RSC feature read failed: %s", exc)
        # the footpod notifies once per second on its own; there is nothing to configure
        return DecoderState(
            sample_rate_hz=1.0, acc_range_g=0.0, gyr_range_dps=0.0, extra={"features": features}
        )

    async def stop(self, client: BleakClient) -> None:
        return None

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        decode_rsc_measurement(packet)  # validate: a bad packet is still counted
        return empty_samples(1.0 / state.sample_rate_hz)

    def decode_stream(self, packet: bytes, state: DecoderState | None = None) -> dict[str, Any]:
        """The measurement as {field: value} (absent optional fields are NaN)."""
        m = decode_rsc_measurement(packet)
        nan = float("nan")
        return {
            "speed_mps": m.speed_mps,
            "cadence_spm": m.cadence_spm,
            "stride_length_m": nan if m.stride_length_m is None else m.stride_length_m,
            "distance_m": nan if m.distance_m is None else m.distance_m,
            "running": 1.0 if m.running else 0.0,
        }


#: The registered driver instance.
DRIVER = RscDriver()
