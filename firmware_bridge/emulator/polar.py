"""An emulated Polar Verity Sense (PMD service, ACC + GYRO) on the virtual link."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import polar as pl
from firmware_bridge.emulator._vendor import VendorPeripheral, char, notify_now
from firmware_bridge.emulator.base import SampleChunk

__all__ = ["EmulatedPolarVeritySense"]

log = logging.getLogger(__name__)

#: PMD feature bits of a Verity Sense (byte 1: PPG, ACC, PPI, GYRO, MAG).
_FEATURES = bytes([0x0F, 0x02 | 0x04 | 0x08 | 0x20 | 0x40, 0x00])
_WORST_DELTA_BITS = 17  # difference of two int16 values


class EmulatedPolarVeritySense(VendorPeripheral):
    """A Verity Sense answering PMD control-point requests and streaming ACC (compressed frame
    type 1, factor in milli-g per LSB) and GYRO (compressed frame type 0, factor in deg/s per
    LSB) frames with ns timestamps (since 2000-01-01) of their last sample.

    Samples per frame: as many as fit the negotiated MTU in the worst case (17-bit deltas).
    Each stream starts with its own start request; both come from the same IMU, so a sample of
    ACC and of GYRO taken at the same instant carry the same time.
    """

    device_model = "polar-verity-sense"
    advertised_service_uuids = (pl.PMD_SERVICE_UUID,)

    def __init__(self, link: Any, *, has_gyro: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Polar Sense B5A0E12F")
        super().__init__(link, **kwargs)
        #: False emulates a Polar sensor without gyroscope (H10, OH1): GYRO is "not supported".
        self.has_gyro = has_gyro
        self._cp: Any = None
        self._data: Any = None
        self.rate_hz = 52.0
        self.acc_range_g = 8.0
        self.gyr_range_dps = 2000.0
        self.on = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}

    @property
    def factors(self) -> dict[int, float]:
        """Conversion factors: ACC milli-g per LSB, GYRO deg/s per LSB."""
        return {
            pl.TYPE_ACC: float(np.float32(self.acc_range_g * 1000.0 / 32768.0)),
            pl.TYPE_GYRO: float(np.float32(self.gyr_range_dps / 32768.0)),
        }

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        self._cp = char(
            pl.PMD_CP_UUID,
            props.READ | props.WRITE | props.NOTIFY,
            CharacteristicValue(read=lambda _c: _FEATURES, write=self._on_cp),
            writeable=True,
        )
        self._data = char(pl.PMD_DATA_UUID, props.NOTIFY)
        return [Service(pl.PMD_SERVICE_UUID, [self._cp, self._data])]

    def _answer(self, op: int, meas: int, status: int, params: bytes = b"") -> None:
        notify_now(self, self._cp, bytes([pl.CP_RESPONSE, op, meas, status, 0]) + params)

    def _on_cp(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.commands.append(v)
        if len(v) < 2:
            return
        op, meas = v[0], v[1] & 0x3F
        if meas not in self.on:
            self._answer(op, meas, 2)  # invalid measurement type
            return
        if meas == pl.TYPE_GYRO and not self.has_gyro:
            self._answer(op, meas, 3)  # not supported
            return
        if op == pl.CP_GET_SETTINGS:
            ranges = pl.ACC_RANGES_G if meas == pl.TYPE_ACC else pl.GYR_RANGES_DPS
            params = bytes([pl.SETTING_SAMPLE_RATE, len(pl.RATES_HZ)])
            params += b"".join(int(r).to_bytes(2, "little") for r in pl.RATES_HZ)
            params += bytes([pl.SETTING_RESOLUTION, 1, 16, 0, pl.SETTING_RANGE, len(ranges)])
            params += b"".join(int(r).to_bytes(2, "little") for r in ranges)
            self._answer(op, meas, 0, params)
        elif op == pl.CP_START:
            try:
                settings = pl.parse_settings(v[2:])
            except Exception:
                self._answer(op, meas, 5)  # invalid parameter
                return
            rate = settings.get(pl.SETTING_SAMPLE_RATE, [self.rate_hz])[0]
            rng = settings.get(pl.SETTING_RANGE, [None])[0]
            if rate not in pl.RATES_HZ or (self.streaming and rate != self.rate_hz):
                self._answer(op, meas, 8)  # invalid sample rate
                return
            if self.on[meas]:
                self._answer(op, meas, 6)  # already in state
                return
            if rng is not None:
                if meas == pl.TYPE_ACC and rng in pl.ACC_RANGES_G:
                    self.acc_range_g = rng
                elif meas == pl.TYPE_GYRO and rng in pl.GYR_RANGES_DPS:
                    self.gyr_range_dps = rng
                else:
                    self._answer(op, meas, 9)  # invalid range
                    return
            self.rate_hz = rate
            self.on[meas] = True
            factor = pl.settings_bytes({pl.SETTING_FACTOR: self.factors[meas]})
            self._answer(op, meas, 0, factor)
            if not self.streaming:
                cap = self.att_payload() - 10 - 6 - 2
                spp = 1 + max(0, min(255, cap * 8 // (3 * _WORST_DELTA_BITS)))
                self.start_stream(self.rate_hz, spp, self._data)
        elif op == pl.CP_STOP:
            self.on[meas] = False
            self._answer(op, meas, 0)
            if not any(self.on.values()):
                self.stop_stream()

    def on_disconnected(self) -> None:
        self.on = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}
        super().on_disconnected()

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        f = self.factors
        ts_ns = round(float(chunk.device_time_s[-1]) * 1e9)
        out = []
        if self.on[pl.TYPE_ACC]:
            self.record_truth(chunk)
            raw = np.clip(
                np.rint(chunk.acc / STANDARD_GRAVITY * 1000.0 / f[pl.TYPE_ACC]), -32768, 32767
            )
            out.append(pl.encode_data_frame(pl.TYPE_ACC, ts_ns, 0x81, pl.encode_delta_frame(raw)))
        if self.on[pl.TYPE_GYRO]:
            raw = np.clip(np.rint(chunk.gyr / f[pl.TYPE_GYRO]), -32768, 32767)
            out.append(pl.encode_data_frame(pl.TYPE_GYRO, ts_ns, 0x80, pl.encode_delta_frame(raw)))
        return out
