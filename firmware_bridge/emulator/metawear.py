"""An emulated MbientLab MetaMotion board (BMI160 or BMI270) on the virtual link."""

from __future__ import annotations

import logging
from typing import Any

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import metawear as mw
from firmware_bridge.emulator._vendor import VendorPeripheral, char, notify_now
from firmware_bridge.emulator.base import EmulatedPeripheral, SampleChunk

__all__ = ["EmulatedMetaWear"]

log = logging.getLogger(__name__)

#: Module implementation ids answered to a module-info read (``[module, 0x80]``).
_IMPL = {
    "bmi160": {mw.MODULE_ACC: 1, mw.MODULE_GYRO: 0},
    "bmi270": {mw.MODULE_ACC: 4, mw.MODULE_GYRO: 1},
}


class EmulatedMetaWear(VendorPeripheral):
    """A MetaMotion R (``chip="bmi160"``, model number "5") or S (``"bmi270"``, model "8").

    Understands the accelerometer and gyroscope module commands the driver sends (data config,
    data subscribe, interrupt enable, power mode, module-info reads) and streams packed acc and
    packed gyro notifications (three int16 triplets each) at the configured rate once both
    sensors are powered. No timestamps, no counters: like the real board.
    """

    device_model = "metawear"
    advertised_service_uuids = (mw.METAWEAR_SERVICE_UUID,)

    def __init__(self, link: Any, *, chip: str = "bmi160", **kwargs: Any) -> None:
        if chip not in mw.PACKED_REGISTERS:
            raise ValueError(f"metawear emulator chip {chip!r}: expected bmi160 or bmi270")
        kwargs.setdefault("name", "MetaWear")
        super().__init__(link, **kwargs)
        self.chip = chip
        self.model_number = "8" if chip == "bmi270" else "5"
        self._notify: Any = None
        self.acc_rate_hz, self.acc_range_g = 100.0, 16.0
        self.gyr_rate_hz, self.gyr_range_dps = 100.0, 2000.0
        self.powered = {mw.MODULE_ACC: False, mw.MODULE_GYRO: False}
        self.subscribed: set[tuple[int, int]] = set()

    async def start(self) -> EmulatedPeripheral:
        # the Device Information model number (which the base fills from ``device_model``)
        # tells the central which chip this board has
        self.device_model = self.model_number  # type: ignore[misc]
        try:
            return await super().start()
        finally:
            del self.device_model

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        cmd = char(
            mw.METAWEAR_COMMAND_UUID,
            props.READ | props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            CharacteristicValue(write=self._on_command),
            writeable=True,
        )
        self._notify = char(mw.METAWEAR_NOTIFY_UUID, props.NOTIFY)
        return [Service(mw.METAWEAR_SERVICE_UUID, [cmd, self._notify])]

    def _on_command(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.commands.append(v)
        if len(v) < 2 or v[0] not in (mw.MODULE_ACC, mw.MODULE_GYRO):
            return
        module, reg, body = v[0], v[1], v[2:]
        if reg == 0x80:  # module info read
            notify_now(self, self._notify, bytes([module, 0x80, _IMPL[self.chip][module], 1]))
            return
        acc_reg, gyr_reg = mw.PACKED_REGISTERS[self.chip]
        try:
            if reg == mw.REG_DATA_CONFIG and len(body) == 2:
                if module == mw.MODULE_ACC:
                    self.acc_rate_hz, self.acc_range_g = mw.parse_acc_config(self.chip, body)
                else:
                    self.gyr_rate_hz, self.gyr_range_dps = mw.parse_gyr_config(body)
            elif reg in (acc_reg if module == mw.MODULE_ACC else gyr_reg,) and len(body) == 1:
                if body[0]:
                    self.subscribed.add((module, reg))
                else:
                    self.subscribed.discard((module, reg))
            elif reg == mw.REG_POWER_MODE and len(body) == 1:
                self.powered[module] = bool(body[0])
                self._update_stream()
        except ValueError as exc:
            log.debug("%s: ignored command %s: %s", self.name, v.hex(), exc)

    def _update_stream(self) -> None:
        if all(self.powered.values()):
            if not self.streaming:
                if self.acc_rate_hz != self.gyr_rate_hz:
                    log.warning(
                        "%s: acc %g Hz != gyro %g Hz", self.name, self.acc_rate_hz, self.gyr_rate_hz
                    )
                self.start_stream(self.acc_rate_hz, 3, self._notify)
        else:
            self.stop_stream()

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        self.record_truth(chunk)
        acc_reg, gyr_reg = mw.PACKED_REGISTERS[self.chip]
        acc_raw = chunk.acc / STANDARD_GRAVITY * mw.ACC_LSB_PER_G[self.acc_range_g]
        gyr_raw = chunk.gyr * mw.GYR_LSB_PER_DPS[self.gyr_range_dps]
        out = []
        if (mw.MODULE_ACC, acc_reg) in self.subscribed:
            out.append(mw.encode_packed(mw.MODULE_ACC, acc_reg, acc_raw))
        if (mw.MODULE_GYRO, gyr_reg) in self.subscribed:
            out.append(mw.encode_packed(mw.MODULE_GYRO, gyr_reg, gyr_raw))
        return out
