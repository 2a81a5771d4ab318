"""WitMotion BWT901BLE / WT901BLECL (Bluetooth 5.0 attitude sensors).

Protocol (from WitMotion's BWT901BLE5.0 SDK sources and the WT901BLECL manual; see
``docs/devices.md``):

* Service ``0000ffe5-0000-1000-8000-00805f9a34fb`` (note: ``…9a34fb``, not the SIG base), data
  notified on ``0000ffe4-…-00805f9a34fb``, commands written to ``0000ffe9-…-00805f9a34fb``.
* Data frame (default output), 20 bytes: ``55 61`` then nine int16 LE: acc x, y, z, gyro x, y, z,
  angle x, y, z. Acc = raw / 32768 · 16 g, gyro = raw / 32768 · 2000 deg/s, angle = raw /
  32768 · 180 deg. A notification may hold several frames or a part of one, so the decoder keeps a
  byte buffer and resynchronises on ``55 61``; ``55 71`` frames (20 bytes, answers to register
  reads) are skipped.
* Commands are ``FF AA reg lo hi``: unlock ``FF AA 69 88 B5``, return rate ``FF AA 03 code 00``
  (code 6 = 10 Hz, 7 = 20 Hz, 8 = 50 Hz, 9 = 100 Hz, 0x0B = 200 Hz), save ``FF AA 00 00 00``.

The frames carry no timestamp or counter: samples are counted and the time base comes from the
host-arrival regression of :mod:`firmware_bridge.timesync`. The angles are not used (runform
estimates orientation itself).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dsp.block import STANDARD_GRAVITY
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
    "WITMOTION_SERVICE_UUID",
    "FrameBuffer",
    "WitMotionDriver",
    "encode_frame",
    "rate_command",
]

log = logging.getLogger(__name__)

WITMOTION_SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
WITMOTION_NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WITMOTION_WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"

FRAME_LEN = 20
HEADER = 0x55
FLAG_DATA = 0x61
FLAG_REGISTERS = 0x71
ACC_FULL_SCALE_G = 16.0
GYR_FULL_SCALE_DPS = 2000.0
ANGLE_FULL_SCALE_DEG = 180.0

UNLOCK = bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5])
SAVE = bytes([0xFF, 0xAA, 0x00, 0x00, 0x00])
#: Return-rate codes of register 0x03.
RATE_CODES = {10.0: 0x06, 20.0: 0x07, 50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}
_MAX_BUFFER = 4 * FRAME_LEN


def rate_command(rate_hz: float) -> bytes:
    """``FF AA 03 code 00`` for one of :data:`RATE_CODES`."""
    return bytes([0xFF, 0xAA, 0x03, RATE_CODES[float(rate_hz)], 0x00])


def encode_frame(acc_g: np.ndarray, gyr_dps: np.ndarray, angle_deg: np.ndarray) -> bytes:
    """One ``55 61`` frame from acc (g), gyro (deg/s), angles (deg), each of shape (3,)."""
    vals = np.concatenate(
        [
            np.asarray(acc_g, dtype=np.float64) / ACC_FULL_SCALE_G,
            np.asarray(gyr_dps, dtype=np.float64) / GYR_FULL_SCALE_DPS,
            np.asarray(angle_deg, dtype=np.float64) / ANGLE_FULL_SCALE_DEG,
        ]
    )
    raw = np.clip(np.round(vals * 32768.0), -32768, 32767).astype("<i2")
    return bytes([HEADER, FLAG_DATA]) + raw.tobytes()


class FrameBuffer:
    """Reassembles ``55 61`` frames from notifications that split or join frames.

    Attributes
    ----------
    skipped_bytes : int
        Bytes discarded while resynchronising (noise, cut frames).
    frames : int
        Data frames delivered so far.
    """

    def __init__(self) -> None:
        self._buf = b""
        self.skipped_bytes = 0
        self.frames = 0

    def feed(self, data: bytes) -> tuple[np.ndarray, int]:
        """Add bytes; return the raw int16 rows of complete data frames and bytes skipped.

        Returns
        -------
        raw : ndarray, shape (K, 9), int16
        skipped : int
            Bytes of ``data`` (and earlier leftovers) discarded in this call.
        """
        buf = self._buf + bytes(data)
        rows: list[bytes] = []
        skipped = 0
        i = 0
        while True:
            j = buf.find(bytes([HEADER]), i)
            if j < 0:
                skipped += len(buf) - i
                i = len(buf)
                break
            skipped += j - i
            i = j
            if len(buf) - i < 2:
                break  # header byte at the end: wait for the flag
            flag = buf[i + 1]
            if flag not in (FLAG_DATA, FLAG_REGISTERS):
                skipped += 1
                i += 1
                continue
            if len(buf) - i < FRAME_LEN:
                break  # incomplete frame: wait for the rest
            if flag == FLAG_DATA:
                rows.append(buf[i + 2 : i + FRAME_LEN])
            i += FRAME_LEN
        rest = buf[i:]
        if len(rest) > _MAX_BUFFER:  # cannot happen with the checks above; bound it anyway
            skipped += len(rest) - FRAME_LEN
            rest = rest[-FRAME_LEN:]
        self._buf = rest
        self.skipped_bytes += skipped
        self.frames += len(rows)
        raw = np.frombuffer(b"".join(rows), dtype="<i2").reshape(-1, 9)
        return raw, skipped


def raw_to_units(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(acc m/s², gyr deg/s, angle deg), each (K, 3), from raw (K, 9) int16 rows."""
    r = raw.astype(np.float64) / 32768.0
    acc = r[:, 0:3] * ACC_FULL_SCALE_G * STANDARD_GRAVITY
    gyr = r[:, 3:6] * GYR_FULL_SCALE_DPS
    ang = r[:, 6:9] * ANGLE_FULL_SCALE_DEG
    return acc, gyr, ang


class WitMotionDriver(DeviceDriver):
    """WitMotion BWT901BLE: ``55 61`` frames, no timestamps (sample counting)."""

    name: ClassVar[str] = "witmotion"
    label: ClassVar[str] = "WitMotion BWT901BLE"
    service_uuids: ClassVar[tuple[str, ...]] = (WITMOTION_SERVICE_UUID,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("WT901", "BWT901", "WT9011")
    data_characteristics: ClassVar[tuple[str, ...]] = (WITMOTION_NOTIFY_UUID,)
    has_device_timestamps: ClassVar[bool] = False
    supported_rates_hz: ClassVar[tuple[float, ...]] = tuple(RATE_CODES)

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        rate = self.pick_rate(settings.rate_hz)
        try:
            # the unlock holds for 10 s; the rate is not saved, so the device keeps its default
            await client.write_gatt_char(WITMOTION_WRITE_UUID, UNLOCK, response=True)
            await asyncio.sleep(0.05)
            await client.write_gatt_char(WITMOTION_WRITE_UUID, rate_command(rate), response=True)
        except Exception as exc:
            raise DeviceError(
                f"witmotion {getattr(client, 'address', '?')}: setting {rate:g} Hz failed: {exc}"
            ) from exc
        return DecoderState(
            sample_rate_hz=rate,
            acc_range_g=ACC_FULL_SCALE_G,
            gyr_range_dps=GYR_FULL_SCALE_DPS,
            extra={"frames": FrameBuffer()},
        )

    async def stop(self, client: BleakClient) -> None:
        # the BWT901BLE streams whenever connected; disconnecting stops it. Nothing to send.
        return None

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        period = 1.0 / state.sample_rate_hz
        fb: FrameBuffer = state.extra.setdefault("frames", FrameBuffer())
        first = fb.frames
        raw, skipped = fb.feed(packet)
        if not len(raw):
            if skipped and skipped >= len(packet):
                raise DecodeError(
                    f"witmotion notification of {len(packet)} bytes: no 55 61 frame in it"
                )
            return empty_samples(period)
        acc, gyr, _ = raw_to_units(raw)
        return DecodedSamples(
            acc=acc,
            gyr=gyr,
            sample_period_s=period,
            sample_index=first % (1 << 32),
            sample_index_modulus=1 << 32,
        )


#: The registered driver instance.
DRIVER = WitMotionDriver()
