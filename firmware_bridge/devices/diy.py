"""The open runform DIY clip protocol (``docs/protocol.md``): decoder and commands.

One custom 128-bit service with a config characteristic (write: configure/start/stop; read:
current configuration) and a data characteristic whose notifications carry a header (protocol
version, range and rate codes, sample count, packet counter, device timestamp in µs) and N
int16 6-axis samples. Battery and firmware come from the standard Battery and Device
Information services.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

from dsp.block import STANDARD_GRAVITY
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
    "ACC_RANGES_G",
    "CONFIG_UUID",
    "DATA_UUID",
    "DRIVER",
    "GYR_RANGES_DPS",
    "HEADER",
    "OP_CONFIGURE",
    "OP_START",
    "OP_STOP",
    "PROTOCOL_VERSION",
    "RATES_HZ",
    "SAMPLE",
    "SERVICE_UUID",
    "DiyDriver",
    "encode_configure",
    "encode_packet",
    "max_samples_per_packet",
    "parse_config",
]

#: The runform DIY clip service (the last 6 bytes spell "runfor" in ASCII).
SERVICE_UUID = "7e1a0001-5f3c-4b8e-9a51-72756e666f72"
#: Config characteristic: write (with response) commands, read the current configuration.
CONFIG_UUID = "7e1a0002-5f3c-4b8e-9a51-72756e666f72"
#: Data characteristic: notify, one packet per notification.
DATA_UUID = "7e1a0003-5f3c-4b8e-9a51-72756e666f72"

PROTOCOL_VERSION = 1
#: Output data rates (index = rate code), Hz: the LSM6DS3 family's ODRs.
RATES_HZ = (104.0, 208.0, 416.0, 833.0, 1666.0)
#: Accelerometer full scales (index = code), ±g.
ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0)
#: Gyroscope full scales (index = code), ±deg/s.
GYR_RANGES_DPS = (125.0, 250.0, 500.0, 1000.0, 2000.0)

OP_CONFIGURE = 0x01
OP_START = 0x02
OP_STOP = 0x03

#: Data packet header: version, ranges (acc code low nibble, gyro code high nibble), rate code,
#: sample count, packet counter (uint16), timestamp of the first sample (uint32, µs).
HEADER = struct.Struct("<BBBBHI")
#: One sample: acc x, y, z then gyro x, y, z, int16 counts.
SAMPLE = struct.Struct("<6h")
#: Configure command: opcode, rate Hz (uint16), acc range g (uint8), gyro range dps (uint16),
#: maximum samples per packet (uint8, 0 = as many as the MTU allows).
_CONFIGURE = struct.Struct("<BHBHB")
#: Config read: version, streaming flag, rate Hz, acc g, gyro dps, samples per packet.
_CONFIG_READ = struct.Struct("<BBHBHB")

_TIMESTAMP_MODULUS_S = (1 << 32) * 1e-6


def max_samples_per_packet(mtu: int) -> int:
    """Samples that fit one notification at ATT MTU ``mtu`` (payload = MTU − 3 bytes)."""
    return max(0, (mtu - 3 - HEADER.size) // SAMPLE.size)


def encode_configure(rate_hz: float, acc_range_g: float, gyr_range_dps: float, max_spp: int = 0):
    """The configure command bytes (values must be supported ones)."""
    return _CONFIGURE.pack(
        OP_CONFIGURE, round(rate_hz), round(acc_range_g), round(gyr_range_dps), max_spp
    )


def parse_config(raw: bytes) -> dict[str, float | int | bool]:
    """Decode a read of the config characteristic.

    Raises
    ------
    DecodeError
        Wrong length or version.
    """
    if len(raw) != _CONFIG_READ.size:
        raise DecodeError(f"runform-diy config: {len(raw)} bytes, expected {_CONFIG_READ.size}")
    version, streaming, rate, acc, gyr, spp = _CONFIG_READ.unpack(raw)
    return {
        "version": version,
        "streaming": bool(streaming),
        "rate_hz": float(rate),
        "acc_range_g": float(acc),
        "gyr_range_dps": float(gyr),
        "samples_per_packet": spp,
    }


def encode_config_read(
    streaming: bool, rate_hz: float, acc_range_g: float, gyr_range_dps: float, spp: int
) -> bytes:
    """The config characteristic's read value (used by the emulator and the firmware)."""
    return _CONFIG_READ.pack(
        PROTOCOL_VERSION,
        int(streaming),
        round(rate_hz),
        round(acc_range_g),
        round(gyr_range_dps),
        spp,
    )


def encode_packet(
    counts: np.ndarray,
    packet_counter: int,
    timestamp_us: int,
    rate_hz: float,
    acc_range_g: float,
    gyr_range_dps: float,
) -> bytes:
    """One data packet (what the firmware sends; used by the emulator and in tests).

    Parameters
    ----------
    counts : ndarray, shape (N, 6), int16
        Raw acc x, y, z, gyro x, y, z counts.
    packet_counter : int
        Wraps at 2**16.
    timestamp_us : int
        Device time of the first sample in µs, wraps at 2**32.
    rate_hz, acc_range_g, gyr_range_dps : float
        Supported values (see :data:`RATES_HZ`, ...).
    """
    counts = np.asarray(counts, dtype="<i2").reshape(-1, 6)
    ranges = ACC_RANGES_G.index(acc_range_g) | (GYR_RANGES_DPS.index(gyr_range_dps) << 4)
    head = HEADER.pack(
        PROTOCOL_VERSION,
        ranges,
        RATES_HZ.index(rate_hz),
        counts.shape[0],
        packet_counter & 0xFFFF,
        timestamp_us & 0xFFFFFFFF,
    )
    return head + counts.tobytes()


class DiyDriver(DeviceDriver):
    """The open runform DIY shoe clip (XIAO nRF52840 Sense, ESP32 + LSM6DS3, ...)."""

    name = "runform-diy"
    label = "runform DIY clip"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = ("rfclip",)
    data_characteristics = (DATA_UUID,)
    has_device_timestamps = True
    supported_rates_hz = RATES_HZ

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        """Decode one data notification (see ``docs/protocol.md``); pure, never raises
        anything but :class:`DecodeError`."""
        if len(packet) < HEADER.size:
            raise DecodeError(
                f"runform-diy packet: {len(packet)} bytes, expected at least {HEADER.size}"
            )
        version, ranges, rate_code, n, counter, ts_us = HEADER.unpack_from(packet)
        if version != PROTOCOL_VERSION:
            raise DecodeError(f"runform-diy packet: version {version}, expected 1")
        acc_code, gyr_code = ranges & 0x0F, ranges >> 4
        if acc_code >= len(ACC_RANGES_G) or gyr_code >= len(GYR_RANGES_DPS):
            raise DecodeError(f"runform-diy packet: range byte 0x{ranges:02x} unknown")
        if rate_code >= len(RATES_HZ):
            raise DecodeError(f"runform-diy packet: rate code {rate_code} unknown")
        if n == 0 or len(packet) != HEADER.size + n * SAMPLE.size:
            raise DecodeError(
                f"runform-diy packet: {len(packet)} bytes for {n} samples, expected "
                f"{HEADER.size + n * SAMPLE.size} (and N ≥ 1)"
            )
        raw = np.frombuffer(packet, dtype="<i2", offset=HEADER.size).reshape(n, 6)
        acc = raw[:, :3] * (ACC_RANGES_G[acc_code] * STANDARD_GRAVITY / 32768.0)
        gyr = raw[:, 3:] * (GYR_RANGES_DPS[gyr_code] / 32768.0)
        return DecodedSamples(
            acc=acc,
            gyr=gyr,
            sample_period_s=1.0 / RATES_HZ[rate_code],
            packet_counter=counter,
            packet_counter_modulus=1 << 16,
            device_time_s=ts_us * 1e-6,
            device_time_modulus_s=_TIMESTAMP_MODULUS_S,
        )

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        """Configure (nearest supported rate and ranges, as many samples as the MTU allows)
        and start streaming."""
        rate = self.pick_rate(settings.rate_hz)
        acc = pick_range(ACC_RANGES_G, settings.acc_range_g)
        gyr = pick_range(GYR_RANGES_DPS, settings.gyr_range_dps)
        mtu = int(getattr(client, "mtu_size", 23))
        if max_samples_per_packet(mtu) < 1:
            raise DeviceError(
                f"runform-diy {client.address}: ATT MTU {mtu} too small, expected at least "
                f"{3 + HEADER.size + SAMPLE.size}"
            )
        await client.write_gatt_char(CONFIG_UUID, encode_configure(rate, acc, gyr), response=True)
        cfg = parse_config(bytes(await client.read_gatt_char(CONFIG_UUID)))
        if cfg["rate_hz"] != rate or cfg["acc_range_g"] != acc or cfg["gyr_range_dps"] != gyr:
            raise DeviceError(
                f"runform-diy {client.address}: device kept rate {cfg['rate_hz']} Hz, "
                f"acc ±{cfg['acc_range_g']} g, gyro ±{cfg['gyr_range_dps']} deg/s; expected "
                f"{rate} Hz, ±{acc} g, ±{gyr} deg/s"
            )
        await client.write_gatt_char(CONFIG_UUID, bytes([OP_START]), response=True)
        return DecoderState(
            sample_rate_hz=rate,
            acc_range_g=acc,
            gyr_range_dps=gyr,
            mtu=mtu,
            extra={"samples_per_packet": cfg["samples_per_packet"]},
        )

    async def stop(self, client: BleakClient) -> None:
        """Stop streaming."""
        await client.write_gatt_char(CONFIG_UUID, bytes([OP_STOP]), response=True)


#: The driver instance registered in :data:`firmware_bridge.devices.DRIVERS`.
DRIVER = DiyDriver()
