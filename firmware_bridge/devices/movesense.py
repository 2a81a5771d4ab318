"""Movesense sensors through the GATT SensorData Protocol (the ``gatt_sensordata_app`` firmware).

Protocol (from the Movesense device library sample ``gatt_sensordata_app`` and its Python client;
see ``docs/devices.md``):

* Service ``34802252-7185-4d5d-b431-630e7050e8f0`` with the command characteristic
  ``34800001-…`` (write) and the data characteristic ``34800002-…`` (notify); newer firmware uses
  service ``0000fdf3-…`` with ``6b200001-ff4e-4979-8186-fb7ba486fcd7`` (write) and
  ``6b200002-…`` (notify). Both speak the same protocol.
* Commands: ``[cmd, ref, data…]`` with ``cmd`` 0 = HELLO, 1 = SUBSCRIBE (data = a resource path in
  UTF-8, e.g. ``/Meas/IMU6/104``), 2 = UNSUBSCRIBE; ``ref`` is a non-zero client reference.
* Notifications: ``[type, ref, payload…]`` with ``type`` 1 = command result, 2 = data, 3 and 4 =
  second and third part of a data payload that did not fit one notification (the parts are
  concatenated, each without its own 2-byte header).
* ``/Meas/IMU6/{rate}`` data payload (little-endian): ``uint32`` timestamp in ms of the first
  sample, then N acc triplets (``float32`` m/s²), then N gyro triplets (``float32`` deg/s), so
  ``N = (len - 4) / 24``.

The values are already in m/s² and deg/s; the ranges are the firmware defaults (the protocol
cannot change them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from firmware_bridge.devices._vendor import empty_samples
from firmware_bridge.devices.base import (
    DecodedSamples,
    DecodeError,
    DecoderState,
    DeviceDriver,
    StreamSettings,
)
from firmware_bridge.errors import DeviceError

if TYPE_CHECKING:
    from bleak import BleakClient

__all__ = [
    "DRIVER",
    "GSP_SERVICE_UUID",
    "MovesenseDriver",
    "decode_imu6_payload",
    "encode_imu6_payload",
    "split_data_notifications",
]

log = logging.getLogger(__name__)

#: Sensor-data service of the ``gatt_sensordata_app`` (device library 1.x/2.x).
GSP_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
#: The same protocol under the 16-bit service 0xFDF3 (newer firmware).
FDF3_SERVICE_UUID = "0000fdf3-0000-1000-8000-00805f9b34fb"
FDF3_COMMAND_UUID = "6b200001-ff4e-4979-8186-fb7ba486fcd7"
FDF3_DATA_UUID = "6b200002-ff4e-4979-8186-fb7ba486fcd7"

CMD_HELLO = 0
CMD_SUBSCRIBE = 1
CMD_UNSUBSCRIBE = 2
RESP_COMMAND_RESULT = 1
RESP_DATA = 2
RESP_DATA_PART2 = 3
RESP_DATA_PART3 = 4

#: Client reference runform uses for its IMU6 subscription.
IMU6_REF = 0x63
#: Output data rates of /Meas/IMU6 in Hz.
IMU6_RATES_HZ = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)
#: Firmware default ranges (the sensor-data protocol cannot change them).
DEFAULT_ACC_RANGE_G = 8.0
DEFAULT_GYR_RANGE_DPS = 2000.0

_HEADER = 2
_TS_BYTES = 4
_SAMPLE_BYTES = 24  # 3 acc + 3 gyr float32
_MAX_PARTS_BYTES = 4096


def decode_imu6_payload(payload: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    """Decode an ``/Meas/IMU6`` payload (without the 2-byte notification header).

    Parameters
    ----------
    payload : bytes
        ``uint32`` timestamp (ms), N × 3 ``float32`` acc (m/s²), N × 3 ``float32`` gyr (deg/s).

    Returns
    -------
    timestamp_ms : int
        Device time of the first sample in ms (wraps at 2**32).
    acc : ndarray, shape (N, 3), float64
        m/s².
    gyr : ndarray, shape (N, 3), float64
        deg/s.

    Raises
    ------
    DecodeError
        Length is not 4 + 24·N with N ≥ 1, or a value is not finite.
    """
    n, rem = divmod(len(payload) - _TS_BYTES, _SAMPLE_BYTES)
    if len(payload) < _TS_BYTES + _SAMPLE_BYTES or rem:
        raise DecodeError(
            f"movesense IMU6 payload of {len(payload)} bytes: expected 4 + 24*N bytes, N >= 1"
        )
    ts = int.from_bytes(payload[:4], "little")
    vals = np.frombuffer(payload, dtype="<f4", offset=_TS_BYTES).astype(np.float64)
    acc = vals[: 3 * n].reshape(n, 3)
    gyr = vals[3 * n :].reshape(n, 3)
    if not (np.isfinite(acc).all() and np.isfinite(gyr).all()):
        raise DecodeError("movesense IMU6 payload: non-finite acc/gyr value")
    return ts, acc, gyr


def encode_imu6_payload(timestamp_ms: int, acc: np.ndarray, gyr: np.ndarray) -> bytes:
    """Inverse of :func:`decode_imu6_payload` (used by the emulated Movesense)."""
    acc = np.asarray(acc, dtype="<f4").reshape(-1, 3)
    gyr = np.asarray(gyr, dtype="<f4").reshape(-1, 3)
    if acc.shape != gyr.shape or len(acc) == 0:
        raise ValueError(f"acc {acc.shape} and gyr {gyr.shape}: expected two equal (N>=1, 3)")
    return int(timestamp_ms % (1 << 32)).to_bytes(4, "little") + acc.tobytes() + gyr.tobytes()


def split_data_notifications(ref: int, payload: bytes, max_len: int) -> list[bytes]:
    """Frame a data payload as DATA (+ DATA_PART2, DATA_PART3) notifications of ≤ ``max_len``."""
    room = max_len - _HEADER
    if room <= 0:
        raise ValueError(f"max_len {max_len}: expected > {_HEADER}")
    parts = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    if len(parts) > 3:
        raise ValueError(f"payload of {len(payload)} bytes needs {len(parts)} parts, at most 3")
    types = (RESP_DATA, RESP_DATA_PART2, RESP_DATA_PART3)
    return [bytes([types[i], ref]) + p for i, p in enumerate(parts)]


def subscribe_command(ref: int, rate_hz: float) -> bytes:
    """``SUBSCRIBE /Meas/IMU6/{rate}`` command bytes."""
    return bytes([CMD_SUBSCRIBE, ref]) + f"/Meas/IMU6/{round(rate_hz)}".encode()


def _present(client: BleakClient, uuid: str) -> bool:
    services = getattr(client, "services", None)
    return services is not None and services.get_characteristic(uuid) is not None


class MovesenseDriver(DeviceDriver):
    """Movesense (``gatt_sensordata_app`` firmware), ``/Meas/IMU6`` acc + gyro with timestamps."""

    name: ClassVar[str] = "movesense"
    label: ClassVar[str] = "Movesense (GATT sensor data)"
    service_uuids: ClassVar[tuple[str, ...]] = (GSP_SERVICE_UUID, FDF3_SERVICE_UUID)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Movesense",)
    data_characteristics: ClassVar[tuple[str, ...]] = (GSP_DATA_UUID,)
    has_device_timestamps: ClassVar[bool] = True
    supported_rates_hz: ClassVar[tuple[float, ...]] = IMU6_RATES_HZ

    def _command_uuid(self, client: BleakClient) -> str:
        if _present(client, GSP_COMMAND_UUID):
            return GSP_COMMAND_UUID
        if _present(client, FDF3_COMMAND_UUID):
            return FDF3_COMMAND_UUID
        raise DeviceError(
            f"movesense {getattr(client, 'address', '?')}: no sensor-data command characteristic "
            f"({GSP_COMMAND_UUID} or {FDF3_COMMAND_UUID}); is gatt_sensordata_app flashed?"
        )

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        rate = self.pick_rate(settings.rate_hz)
        await client.write_gatt_char(
            self._command_uuid(client), subscribe_command(IMU6_REF, rate), response=True
        )
        return DecoderState(
            sample_rate_hz=rate,
            acc_range_g=DEFAULT_ACC_RANGE_G,
            gyr_range_dps=DEFAULT_GYR_RANGE_DPS,
            mtu=int(getattr(client, "mtu_size", 23)),
            extra={"ref": IMU6_REF, "parts": b"", "orphans": 0, "ready": []},
        )

    async def stop(self, client: BleakClient) -> None:
        try:
            await client.write_gatt_char(
                self._command_uuid(client), bytes([CMD_UNSUBSCRIBE, IMU6_REF]), response=True
            )
        except Exception as exc:  # best effort: the device may be gone
            log.debug("movesense stop failed: %s", exc)

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        """Decode one notification of the data characteristic.

        A DATA notification that fills the whole notification (``mtu - 3`` bytes) or whose
        payload is not a whole number of samples is held until its DATA_PART2/3 arrives (the
        firmware splits only payloads that do not fit). Complete payloads queue in
        ``state.extra["ready"]``; each call returns the queued payloads whose timestamps follow
        each other without a gap, as one block.
        """
        period = 1.0 / state.sample_rate_hz
        if len(packet) < _HEADER:
            raise DecodeError(f"movesense notification of {len(packet)} bytes: expected >= 2")
        kind, ref = packet[0], packet[1]
        extra = state.extra
        ready: list[tuple[int, np.ndarray, np.ndarray]] = extra.setdefault("ready", [])
        if kind == RESP_COMMAND_RESULT:
            if len(packet) >= 4:
                status = int.from_bytes(packet[2:4], "big")
                if status >= 400:
                    log.warning("movesense command ref %d failed with status %d", ref, status)
            return self._pop_ready(ready, period)
        if kind not in (RESP_DATA, RESP_DATA_PART2, RESP_DATA_PART3):
            raise DecodeError(f"movesense notification type {kind}: expected 1, 2, 3 or 4")
        want = extra.get("ref", IMU6_REF)
        if ref != want:
            raise DecodeError(f"movesense data for reference {ref}: expected {want}")
        full = state.mtu > 23 and len(packet) >= state.mtu - 3
        body = packet[_HEADER:]
        held: bytes = extra.get("parts", b"")
        extra["parts"] = b""
        if kind == RESP_DATA:
            if held:
                if _complete(held):
                    ready.append(decode_imu6_payload(held))
                else:
                    extra["orphans"] = extra.get("orphans", 0) + 1
            payload = body
        else:
            if not held:
                raise DecodeError(f"movesense data part {kind - 1} without a first part")
            payload = held + body
            if len(payload) > _MAX_PARTS_BYTES:
                raise DecodeError(f"movesense split payload over {_MAX_PARTS_BYTES} bytes")
        if full or not _complete(payload):
            extra["parts"] = payload  # wait for the next part
        else:
            ready.append(decode_imu6_payload(payload))
        return self._pop_ready(ready, period)

    @staticmethod
    def _pop_ready(
        ready: list[tuple[int, np.ndarray, np.ndarray]], period: float
    ) -> DecodedSamples:
        if not ready:
            return empty_samples(period)
        ts0, acc0, gyr0 = ready.pop(0)
        accs, gyrs, n = [acc0], [gyr0], len(acc0)
        while ready:
            ts, acc, gyr = ready[0]
            expected = (ts0 + n * period * 1000.0) % (1 << 32)
            if abs(((ts - expected + 2**31) % 2**32) - 2**31) > 2.0:
                break
            ready.pop(0)
            accs.append(acc)
            gyrs.append(gyr)
            n += len(acc)
        return DecodedSamples(
            acc=np.concatenate(accs),
            gyr=np.concatenate(gyrs),
            sample_period_s=period,
            device_time_s=ts0 / 1000.0,
            device_time_modulus_s=(1 << 32) / 1000.0,
            device_time_resolution_s=1e-3,
        )


def _complete(payload: bytes) -> bool:
    return len(payload) > _TS_BYTES and (len(payload) - _TS_BYTES) % _SAMPLE_BYTES == 0


#: The registered driver instance.
DRIVER = MovesenseDriver()
