"""Polar Verity Sense (and other Polar sensors with the PMD service): ACC + GYRO streams.

Protocol (from the Polar BLE SDK sources and its unit tests; see ``docs/devices.md``):

* PMD service ``fb005c80-02e7-f387-1cad-8acd2d8df0c8``: control point ``fb005c81-…`` (write with
  response, notify, read = feature bits), data ``fb005c82-…`` (notify).
* Measurement types: ECG 0, PPG 1, ACC 2, PPI 3, GYRO 5, MAGNETOMETER 6.
* Control point commands: ``01 type`` get settings, ``02 type settings…`` start, ``03 type`` stop.
  Settings are TLVs ``setting_type, count, value…`` with setting types 0 sample rate (uint16),
  1 resolution (uint16), 2 range (uint16), 3 range in milliunits (uint32), 4 channels (uint8),
  5 conversion factor (float32). Responses: ``F0 op type status more params…``, status 0 =
  success; the start response carries the conversion factor as a type-5 TLV.
* Data notification: ``type``, ``uint64`` timestamp in ns since 2000-01-01 **of the last sample**,
  frame type byte (bit 7 = delta compressed, bits 0–6 = frame type), samples.
* Delta-compressed frame: a reference sample (3 channels × ceil(resolution / 8) bytes, signed
  LE), then blocks ``[bit width, count]`` + ``count × 3`` signed deltas of ``bit width`` bits,
  packed LSB first; each delta is added to the previous sample.
* Units: ACC compressed type 1 (``0x81``): raw × factor = milli-g; compressed type 0 (``0x80``):
  raw × factor = g; raw frame types 0/1/2 (8/16/24-bit ints) are milli-g. GYRO compressed type 0:
  raw × factor = deg/s; compressed type 1: IEEE float32 bit patterns × factor = deg/s.

Sample times: the first frame spreads its samples back from its timestamp at the nominal rate;
later frames spread them evenly between the previous frame's timestamp and their own (as the SDK
does). ACC and GYRO arrive in separate frames; rows are paired in arrival order.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices._vendor import PairQueue, await_notification, empty_samples
from firmware_bridge.devices.base import (
    DecodedSamples,
    DecodeError,
    DecoderState,
    DeviceDriver,
    StreamSettings,
    pick_range,
)
from firmware_bridge.errors import DeviceError

if TYPE_CHECKING:
    from bleak import BleakClient

__all__ = [
    "DRIVER",
    "PMD_SERVICE_UUID",
    "PolarDriver",
    "decode_delta_frame",
    "encode_data_frame",
    "encode_delta_frame",
    "frame_values",
    "parse_settings",
    "settings_bytes",
]

log = logging.getLogger(__name__)

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

TYPE_ACC = 2
TYPE_GYRO = 5
CP_GET_SETTINGS = 0x01
CP_START = 0x02
CP_STOP = 0x03
CP_RESPONSE = 0xF0
SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_RANGE_MILLIUNIT = 3
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
_SETTING_SIZES = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}
COMPRESSED = 0x80

#: Verity Sense ACC/GYRO rates (Hz) and ranges.
RATES_HZ = (26.0, 52.0, 104.0, 208.0, 416.0)
ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0)
GYR_RANGES_DPS = (250.0, 500.0, 1000.0, 2000.0)
#: Nanoseconds between 1970-01-01 and 2000-01-01 (the PMD epoch).
EPOCH_2000_NS = 946_684_800 * 1_000_000_000


def settings_bytes(settings: dict[int, int | float]) -> bytes:
    """Serialise {setting type: value} as PMD TLVs (one value each)."""
    out = bytearray()
    for key, value in settings.items():
        out += bytes([key, 1])
        if key == SETTING_FACTOR:
            out += struct.pack("<f", float(value))
        else:
            out += int(value).to_bytes(_SETTING_SIZES[key], "little")
    return bytes(out)


def parse_settings(data: bytes) -> dict[int, list[float]]:
    """Parse PMD setting TLVs into {setting type: [values]}; factors as floats.

    Raises
    ------
    DecodeError
        Unknown setting type or truncated value.
    """
    out: dict[int, list[float]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise DecodeError(f"PMD settings truncated at byte {i}")
        key, count = data[i], data[i + 1]
        i += 2
        size = _SETTING_SIZES.get(key)
        if size is None:
            raise DecodeError(f"PMD setting type {key}: expected 0..5")
        if i + size * count > len(data):
            raise DecodeError(f"PMD setting type {key}: {count} values do not fit")
        vals: list[float] = []
        for _ in range(count):
            chunk = data[i : i + size]
            if key == SETTING_FACTOR:
                vals.append(struct.unpack("<f", chunk)[0])
            else:
                vals.append(float(int.from_bytes(chunk, "little")))
            i += size
        out[key] = vals
    return out


def decode_delta_frame(content: bytes, resolution_bits: int, channels: int = 3) -> np.ndarray:
    """Decode a PMD delta-compressed frame body into integer samples.

    Parameters
    ----------
    content : bytes
        Reference sample, then ``[bit width, count, packed deltas]`` blocks.
    resolution_bits : int
        Bits of the reference sample channels (16 for ACC/GYRO type 0/1 int frames, 32 for float).
    channels : int

    Returns
    -------
    ndarray, shape (N, channels), int64
        Reference sample plus every delta sample (cumulative sums).

    Raises
    ------
    DecodeError
        Truncated reference or block, zero/oversized bit width.
    """
    ref_bytes = -(-resolution_bits // 8)
    need = ref_bytes * channels
    if len(content) < need:
        raise DecodeError(f"PMD delta frame of {len(content)} bytes: reference needs {need}")
    ref = np.array(
        [
            int.from_bytes(content[k * ref_bytes : (k + 1) * ref_bytes], "little", signed=True)
            for k in range(channels)
        ],
        dtype=np.int64,
    )
    rows = [ref[None, :]]
    off = need
    while off < len(content):
        if off + 2 > len(content):
            raise DecodeError(f"PMD delta block header truncated at byte {off}")
        width, count = content[off], content[off + 1]
        off += 2
        if not 1 <= width <= 32:
            raise DecodeError(f"PMD delta bit width {width}: expected 1..32")
        nbits = width * count * channels
        nbytes = -(-nbits // 8)
        if off + nbytes > len(content):
            raise DecodeError(
                f"PMD delta block of {count} samples x {width} bits needs {nbytes} bytes, "
                f"{len(content) - off} left"
            )
        if count:
            bits = np.unpackbits(
                np.frombuffer(content[off : off + nbytes], dtype=np.uint8), bitorder="little"
            )[:nbits].reshape(-1, width)
            weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
            vals = bits.astype(np.int64) @ weights
            vals = np.where(vals >= (1 << (width - 1)), vals - (1 << width), vals)
            rows.append(vals.reshape(count, channels))
        off += nbytes
    deltas = np.concatenate(rows)
    return np.cumsum(deltas, axis=0)


def encode_delta_frame(samples: np.ndarray, resolution_bits: int = 16) -> bytes:
    """Delta-compress integer samples (shape (N, 3)) the way :func:`decode_delta_frame` reads.

    One block with the smallest bit width that holds every delta.
    """
    s = np.asarray(samples, dtype=np.int64)
    ref_bytes = -(-resolution_bits // 8)
    out = bytearray()
    for v in s[0]:
        out += int(v).to_bytes(ref_bytes, "little", signed=True)
    if len(s) > 1:
        d = np.diff(s, axis=0)
        width = 1
        while not (-(1 << (width - 1)) <= d.min() and d.max() <= (1 << (width - 1)) - 1):
            width += 1
        if len(d) > 255:
            raise ValueError("at most 256 samples per frame")
        u = np.where(d < 0, d + (1 << width), d).astype(np.int64).ravel()
        bits = ((u[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
        out += bytes([width, len(d)]) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


def encode_data_frame(meas_type: int, timestamp_ns: int, frame_type: int, content: bytes) -> bytes:
    """``type, uint64 timestamp (ns since 2000), frame type, content``."""
    return (
        bytes([meas_type]) + int(timestamp_ns).to_bytes(8, "little") + bytes([frame_type]) + content
    )


def frame_values(meas_type: int, frame_type: int, content: bytes, factor: float) -> np.ndarray:
    """Samples of one PMD ACC or GYRO frame body in m/s² or deg/s, shape (N, 3) (the online
    stream and the offline recording files carry the same frames).

    Raises
    ------
    DecodeError
        Unsupported frame type or a broken frame.
    """
    return _to_units(meas_type, frame_type, content, factor)


def _to_units(meas_type: int, frame_type: int, content: bytes, factor: float) -> np.ndarray:
    compressed = bool(frame_type & COMPRESSED)
    ft = frame_type & 0x7F
    if meas_type == TYPE_ACC:
        if compressed and ft in (0, 1):
            raw = decode_delta_frame(content, 16).astype(np.float64)
            g = raw * factor if ft == 0 else raw * factor / 1000.0
            return g * STANDARD_GRAVITY
        if not compressed and ft in (0, 1, 2):
            step = ft + 1
            if len(content) % (3 * step) or not content:
                raise DecodeError(
                    f"PMD ACC raw frame type {ft} of {len(content)} bytes: expected 3*{step}*N"
                )
            n = len(content) // step
            vals = [
                int.from_bytes(content[k * step : (k + 1) * step], "little", signed=True)
                for k in range(n)
            ]
            return np.array(vals, dtype=np.float64).reshape(-1, 3) / 1000.0 * STANDARD_GRAVITY
    elif meas_type == TYPE_GYRO and compressed:
        if ft == 0:
            return decode_delta_frame(content, 16).astype(np.float64) * factor
        if ft == 1:
            ints = decode_delta_frame(content, 32) & 0xFFFFFFFF
            dps = ints.astype("<u4").view("<f4").astype(np.float64) * factor
            if not np.isfinite(dps).all():
                raise DecodeError("PMD GYRO float frame: non-finite value")
            return dps
    kind = "compressed" if compressed else "raw"
    raise DecodeError(f"PMD measurement type {meas_type}: {kind} frame type {ft} not supported")


class PolarDriver(DeviceDriver):
    """Polar Verity Sense: PMD ACC + GYRO, device timestamps in ns since 2000."""

    name: ClassVar[str] = "polar-verity-sense"
    label: ClassVar[str] = "Polar Verity Sense (PMD)"
    service_uuids: ClassVar[tuple[str, ...]] = (PMD_SERVICE_UUID,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Polar Sense", "Polar OH1")
    data_characteristics: ClassVar[tuple[str, ...]] = (PMD_DATA_UUID,)
    has_device_timestamps: ClassVar[bool] = True
    supported_rates_hz: ClassVar[tuple[float, ...]] = RATES_HZ

    async def _start_type(
        self, client: BleakClient, meas_type: int, settings: dict[int, int | float]
    ) -> float:
        request = bytes([CP_START, meas_type]) + settings_bytes(settings)
        resp = await _cp_request(client, request, f"start of measurement type {meas_type}")
        params = parse_settings(resp[5:]) if len(resp) > 5 else {}
        factor = params.get(SETTING_FACTOR, [1.0])[0]
        if not (np.isfinite(factor) and factor > 0):
            raise DeviceError(f"polar: conversion factor {factor!r} for type {meas_type}")
        return float(factor)

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        rate = self.pick_rate(settings.rate_hz)
        acc_range = pick_range(ACC_RANGES_G, settings.acc_range_g)
        gyr_range = pick_range(GYR_RANGES_DPS, settings.gyr_range_dps)
        common = {SETTING_SAMPLE_RATE: int(rate), SETTING_RESOLUTION: 16, SETTING_CHANNELS: 3}
        f_acc = await self._start_type(client, TYPE_ACC, {**common, SETTING_RANGE: int(acc_range)})
        try:
            f_gyr = await self._start_type(
                client, TYPE_GYRO, {**common, SETTING_RANGE: int(gyr_range)}
            )
        except DeviceError:
            await self.stop(client)  # do not leave ACC streaming
            raise
        return DecoderState(
            sample_rate_hz=rate,
            acc_range_g=acc_range,
            gyr_range_dps=gyr_range,
            extra={
                "factor": {TYPE_ACC: f_acc, TYPE_GYRO: f_gyr},
                "pairs": PairQueue(align_tol_s=0.5 / rate),
                "prev_ts": {},
            },
        )

    async def stop(self, client: BleakClient) -> None:
        for t in (TYPE_ACC, TYPE_GYRO):
            try:
                await _cp_request(client, bytes([CP_STOP, t]), f"stop of type {t}", timeout_s=2.0)
            except Exception as exc:  # best effort
                log.debug("polar stop failed: %s", exc)

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        period = 1.0 / state.sample_rate_hz
        if len(packet) < 10:
            raise DecodeError(f"PMD data frame of {len(packet)} bytes: expected >= 10")
        meas_type, frame_type = packet[0] & 0x3F, packet[9]
        ts_ns = int.from_bytes(packet[1:9], "little")
        factors = state.extra.get("factor", {})
        if meas_type not in (TYPE_ACC, TYPE_GYRO):
            raise DecodeError(f"PMD measurement type {meas_type}: expected 2 (ACC) or 5 (GYRO)")
        values = _to_units(meas_type, frame_type, packet[10:], factors.get(meas_type, 1.0))
        pairs: PairQueue = state.extra.setdefault("pairs", PairQueue(align_tol_s=period / 2))
        prev_ts: dict[int, int] = state.extra.setdefault("prev_ts", {})
        n = len(values)
        prev = prev_ts.get(meas_type)
        if prev is not None and prev < ts_ns and (ts_ns - prev) < 2e9 * n * period:
            step = (ts_ns - prev) / n
        else:
            step = period * 1e9
        times = (ts_ns - step * np.arange(n - 1, -1, -1)) / 1e9
        if meas_type == TYPE_ACC:
            pairs.push_acc(values, times)
        else:
            pairs.push_gyr(values, times)
        prev_ts[meas_type] = ts_ns
        acc, gyr, t0, first = pairs.pop()
        if not len(acc):
            return empty_samples(period)
        return DecodedSamples(
            acc=acc,
            gyr=gyr,
            sample_period_s=period,
            sample_index=first % (1 << 32),
            device_time_s=t0,
        )


async def _cp_request(
    client: BleakClient, request: bytes, what: str, timeout_s: float = 5.0
) -> bytes:
    """Write a control-point request and wait for its ``F0 op …`` response; check the status."""
    dev = f"polar {getattr(client, 'address', '?')}"
    resp = await await_notification(
        client,
        PMD_CP_UUID,
        request,
        PMD_CP_UUID,
        lambda b: len(b) >= 4 and b[0] == CP_RESPONSE and b[1] == request[0],
        device=dev,
        what=what,
        timeout_s=timeout_s,
    )
    if resp[3] in (2, 3) and request[0] == CP_START:
        raise DeviceError(
            f"{dev}: {what} not supported (PMD status {resp[3]}); runform needs ACC and GYRO, "
            "which the Verity Sense streams (an H10 or OH1 has no gyroscope)"
        )
    if resp[3] != 0:
        raise DeviceError(f"{dev}: {what} refused with PMD status {resp[3]}")
    return resp


#: The registered driver instance.
DRIVER = PolarDriver()
