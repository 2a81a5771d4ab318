"""MbientLab MetaWear / MetaMotion boards (BMI160 or BMI270 accelerometer + gyroscope).

Protocol (from the MetaWear C++ SDK register headers and its unit tests; see ``docs/devices.md``):

* Service ``326a9000-85cb-9195-d9dd-464cfbbae75a``; commands are written to ``326a9001-…``,
  every response and data packet is notified on ``326a9006-…``.
* A command or notification is ``[module, register, payload…]``. Modules: accelerometer
  ``0x03``, gyroscope ``0x13``. Registers (both chips): power mode ``0x01``, data interrupt enable
  ``0x02`` (``01 00`` on, ``00 01`` off), data config ``0x03``. Data registers: acc ``0x04``
  (one int16 triplet); packed acc (three triplets, 18 bytes) ``0x1c`` on the BMI160 and ``0x05``
  on the BMI270; packed gyro ``0x07`` on the BMI160 and ``0x05`` on the BMI270. Writing
  ``[module, data_register, 1]`` subscribes a data register, ``0`` unsubscribes.
* Acc config: BMI160 ``[odr | bwp << 4, range]`` with range codes ``3, 5, 8, 12`` for
  ±2/4/8/16 g; BMI270 ``[0xa0 | odr, range]`` with range codes ``0..3``. Gyro config (both)
  ``[odr | bwp << 4, range]`` with range codes 0..4 for ±2000/1000/500/250/125 deg/s. The Bosch ODR
  code ``c`` means ``100 · 2**(c − 8)`` Hz.
* Scale: acc 16384/8192/4096/2048 LSB per g for ±2/4/8/16 g; gyro 16.4/32.8/65.6/131.2/262.4 LSB
  per deg/s for ±2000/1000/500/250/125 deg/s.
* Which chip: the Device Information model number (``2a24``) is ``"8"`` on the MetaMotion S
  (BMI270); ``"5"`` (MetaMotion R/RL) and ``"6"`` (MetaMotion C) carry a BMI160.

Packets carry no timestamps and no counters: samples are counted (acc and gyro rows are paired in
arrival order) and the time base comes from the host-arrival regression of
:mod:`firmware_bridge.timesync`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices._vendor import PairQueue, empty_samples
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
    "METAWEAR_SERVICE_UUID",
    "MetaWearDriver",
    "acc_config_bytes",
    "decode_packet",
    "encode_packed",
    "gyr_config_bytes",
]

log = logging.getLogger(__name__)

METAWEAR_SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"

MODULE_ACC = 0x03
MODULE_GYRO = 0x13
REG_POWER_MODE = 0x01
REG_DATA_INTERRUPT_ENABLE = 0x02
REG_DATA_CONFIG = 0x03
REG_ACC_DATA = 0x04

#: (acc packed, gyro packed) data registers per chip.
PACKED_REGISTERS = {"bmi160": (0x1C, 0x07), "bmi270": (0x05, 0x05)}
#: Unpacked (one triplet) gyro data register per chip.
GYRO_DATA_REGISTER = {"bmi160": 0x05, "bmi270": 0x04}
#: Model numbers (Device Information 2a24) of boards with a BMI270.
BMI270_MODEL_NUMBERS = ("8",)

ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0)
ACC_LSB_PER_G = {2.0: 16384.0, 4.0: 8192.0, 8.0: 4096.0, 16.0: 2048.0}
ACC_RANGE_CODES = {"bmi160": (0x3, 0x5, 0x8, 0xC), "bmi270": (0x0, 0x1, 0x2, 0x3)}
GYR_RANGES_DPS = (2000.0, 1000.0, 500.0, 250.0, 125.0)
GYR_LSB_PER_DPS = {2000.0: 16.4, 1000.0: 32.8, 500.0: 65.6, 250.0: 131.2, 125.0: 262.4}
#: Rates where acc and gyro share an ODR code and packed streaming fits in BLE.
RATES_HZ = (25.0, 50.0, 100.0, 200.0)


def odr_code(rate_hz: float) -> int:
    """Bosch ODR code of ``rate_hz`` (100 Hz → 8, 200 Hz → 9, 25 Hz → 6)."""
    return 8 + round(np.log2(rate_hz / 100.0))


def acc_config_bytes(chip: str, rate_hz: float, range_g: float) -> bytes:
    """Payload of the acc data-config write (without module/register)."""
    code = ACC_RANGE_CODES[chip][ACC_RANGES_G.index(range_g)]
    odr = odr_code(rate_hz)
    first = (0xA0 | odr) if chip == "bmi270" else (odr | (2 << 4))
    return bytes([first, code])


def gyr_config_bytes(rate_hz: float, range_dps: float) -> bytes:
    """Payload of the gyro config write (both chips; bandwidth parameter 2 = normal)."""
    return bytes([odr_code(rate_hz) | (2 << 4), GYR_RANGES_DPS.index(range_dps)])


def parse_acc_config(chip: str, payload: bytes) -> tuple[float, float]:
    """(rate Hz, range g) of an acc config payload; ValueError if invalid."""
    odr = payload[0] & 0x0F
    codes = ACC_RANGE_CODES[chip]
    rng = payload[1] & 0x0F
    if rng not in codes or not 1 <= odr <= 12:
        raise ValueError(f"acc config {payload.hex()} for {chip}")
    return 100.0 * 2.0 ** (odr - 8), ACC_RANGES_G[codes.index(rng)]


def parse_gyr_config(payload: bytes) -> tuple[float, float]:
    """(rate Hz, range deg/s) of a gyro config payload; ValueError if invalid."""
    odr, rng = payload[0] & 0x0F, payload[1] & 0x07
    if rng >= len(GYR_RANGES_DPS) or not 6 <= odr <= 13:
        raise ValueError(f"gyro config {payload.hex()}")
    return 100.0 * 2.0 ** (odr - 8), GYR_RANGES_DPS[rng]


def encode_packed(module: int, register: int, raw: np.ndarray) -> bytes:
    """``[module, register]`` + int16 LE triplets (raw counts, shape (K, 3))."""
    raw = np.clip(np.round(np.asarray(raw, dtype=np.float64)), -32768, 32767).astype("<i2")
    return bytes([module, register]) + raw.reshape(-1, 3).tobytes()


def decode_packet(
    packet: bytes, chip: str, acc_range_g: float, gyr_range_dps: float
) -> tuple[str, np.ndarray]:
    """Decode one MetaWear data notification.

    Parameters
    ----------
    packet : bytes
        ``[module, register, int16 LE triplets…]``.
    chip : {"bmi160", "bmi270"}
    acc_range_g, gyr_range_dps : float
        Ranges that were configured (they set the scale).

    Returns
    -------
    kind : {"acc", "gyr", "other"}
        "other" for responses that carry no samples (e.g. a module-info read).
    values : ndarray, shape (K, 3)
        acc in m/s² or gyr in deg/s (K = 0 for "other").

    Raises
    ------
    DecodeError
        Unknown data register, or a payload that is not a whole number of triplets.
    """
    if len(packet) < 2:
        raise DecodeError(f"metawear notification of {len(packet)} bytes: expected >= 2")
    module, register = packet[0], packet[1]
    acc_packed, gyr_packed = PACKED_REGISTERS[chip]
    body = packet[2:]
    if module == MODULE_ACC and register in (REG_ACC_DATA, acc_packed):
        kind, scale = "acc", STANDARD_GRAVITY / ACC_LSB_PER_G[acc_range_g]
        want = 6 if register == REG_ACC_DATA else 18
    elif module == MODULE_GYRO and register in (gyr_packed, GYRO_DATA_REGISTER[chip]):
        kind, scale = "gyr", 1.0 / GYR_LSB_PER_DPS[gyr_range_dps]
        want = 18 if register == gyr_packed else 6
    elif register & 0x80 or module not in (MODULE_ACC, MODULE_GYRO):
        return "other", np.empty((0, 3))  # a read response or another module's event
    else:
        raise DecodeError(
            f"metawear module 0x{module:02x} register 0x{register:02x}: not a data register "
            f"of the {chip}"
        )
    if len(body) != want:
        raise DecodeError(
            f"metawear {kind} packet 0x{module:02x}/0x{register:02x} with {len(body)} data "
            f"bytes: expected {want}"
        )
    raw = np.frombuffer(body, dtype="<i2").astype(np.float64).reshape(-1, 3)
    return kind, raw * scale


class MetaWearDriver(DeviceDriver):
    """MetaWear / MetaMotion: packed acc + packed gyro, no timestamps (sample counting)."""

    name: ClassVar[str] = "metawear"
    label: ClassVar[str] = "MbientLab MetaWear / MetaMotion"
    service_uuids: ClassVar[tuple[str, ...]] = (METAWEAR_SERVICE_UUID,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("MetaWear", "MetaMotion")
    data_characteristics: ClassVar[tuple[str, ...]] = (METAWEAR_NOTIFY_UUID,)
    has_device_timestamps: ClassVar[bool] = False
    supported_rates_hz: ClassVar[tuple[float, ...]] = RATES_HZ

    async def _chip(self, client: BleakClient) -> str:
        model = None
        services = getattr(client, "services", None)
        if services is not None and services.get_characteristic(MODEL_NUMBER_UUID) is not None:
            try:
                raw = bytes(await client.read_gatt_char(MODEL_NUMBER_UUID))
                model = raw.decode("utf-8", errors="replace").strip("\x00 ")
            except Exception as exc:
                log.debug("metawear model number read failed: %s", exc)
        if model is None:
            log.warning("metawear: no model number; assuming a BMI160 board")
        return "bmi270" if model in BMI270_MODEL_NUMBERS else "bmi160"

    async def start(self, client: BleakClient, settings: StreamSettings) -> DecoderState:
        chip = await self._chip(client)
        rate = self.pick_rate(settings.rate_hz)
        acc_range = pick_range(ACC_RANGES_G, settings.acc_range_g)
        gyr_range = pick_range(GYR_RANGES_DPS, settings.gyr_range_dps)
        acc_reg, gyr_reg = PACKED_REGISTERS[chip]
        commands = [
            bytes([MODULE_ACC, REG_DATA_CONFIG]) + acc_config_bytes(chip, rate, acc_range),
            bytes([MODULE_GYRO, REG_DATA_CONFIG]) + gyr_config_bytes(rate, gyr_range),
            bytes([MODULE_ACC, acc_reg, 1]),
            bytes([MODULE_GYRO, gyr_reg, 1]),
            bytes([MODULE_ACC, REG_DATA_INTERRUPT_ENABLE, 1, 0]),
            bytes([MODULE_GYRO, REG_DATA_INTERRUPT_ENABLE, 1, 0]),
            bytes([MODULE_ACC, REG_POWER_MODE, 1]),
            bytes([MODULE_GYRO, REG_POWER_MODE, 1]),
        ]
        try:
            for i, cmd in enumerate(commands):
                # the two power-on commands go out back to back (write without response, same
                # connection event) so that acc and gyro start as close together as possible
                await client.write_gatt_char(
                    METAWEAR_COMMAND_UUID, cmd, response=i < len(commands) - 2
                )
        except Exception as exc:
            raise DeviceError(
                f"metawear {getattr(client, 'address', '?')}: configuring the {chip} failed: {exc}"
            ) from exc
        return DecoderState(
            sample_rate_hz=rate,
            acc_range_g=acc_range,
            gyr_range_dps=gyr_range,
            extra={"chip": chip, "pairs": PairQueue(order_align=True)},
        )

    async def stop(self, client: BleakClient) -> None:
        for module in (MODULE_ACC, MODULE_GYRO):
            for cmd in (
                bytes([module, REG_POWER_MODE, 0]),
                bytes([module, REG_DATA_INTERRUPT_ENABLE, 0, 1]),
            ):
                try:
                    await client.write_gatt_char(METAWEAR_COMMAND_UUID, cmd, response=True)
                except Exception as exc:  # best effort
                    log.debug("metawear stop failed: %s", exc)
                    return

    def decode(self, packet: bytes, state: DecoderState) -> DecodedSamples:
        chip = state.extra.get("chip", "bmi160")
        pairs = state.extra.setdefault("pairs", PairQueue(order_align=True))
        period = 1.0 / state.sample_rate_hz
        kind, values = decode_packet(packet, chip, state.acc_range_g, state.gyr_range_dps)
        if kind == "other":
            return empty_samples(period)
        if kind == "acc":
            pairs.push_acc(values)
        else:
            pairs.push_gyr(values)
        acc, gyr, _, first = pairs.pop()
        if not len(acc):
            return empty_samples(period)
        return DecodedSamples(
            acc=acc,
            gyr=gyr,
            sample_period_s=period,
            sample_index=first % (1 << 32),
            sample_index_modulus=1 << 32,
        )


#: The registered driver instance.
DRIVER = MetaWearDriver()
