"""An emulated runform DIY clip: the GATT server of ``docs/protocol.md`` on the virtual link."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import diy
from firmware_bridge.emulator.base import EmulatedPeripheral, SampleChunk, quantize

__all__ = ["EmulatedDiyClip"]

log = logging.getLogger(__name__)


class EmulatedDiyClip(EmulatedPeripheral):
    """A DIY shoe clip speaking the runform protocol, fed by a signal source.

    Keyword arguments are those of :class:`~firmware_bridge.emulator.base.EmulatedPeripheral`.
    """

    device_model = "runform-diy"
    advertised_service_uuids = (diy.SERVICE_UUID,)

    def __init__(self, link: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", "rfclip")
        super().__init__(link, **kwargs)
        self.rate_hz = 104.0
        self.acc_range_g = 16.0
        self.gyr_range_dps = 2000.0
        self.max_spp = 0
        self.spp = 0
        self._packet_counter = 0
        self._data_char: Any = None
        #: Commands received, in order (for tests: did the central re-send start?).
        self.commands: list[int] = []

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        config: Characteristic[bytes] = Characteristic(
            diy.CONFIG_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=self._read_config, write=self._write_config),  # type: ignore[arg-type]
        )
        self._data_char = Characteristic(
            diy.DATA_UUID,
            Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            b"",
        )
        return [Service(diy.SERVICE_UUID, [config, self._data_char])]

    def _current_spp(self, connection: Any) -> int:
        mtu = int(getattr(connection, "att_mtu", 23)) if connection is not None else 23
        fit = diy.max_samples_per_packet(mtu)
        return max(1, min(fit, self.max_spp) if self.max_spp else fit)

    def _read_config(self, connection: Any) -> bytes:
        return diy.encode_config_read(
            self.streaming,
            self.rate_hz,
            self.acc_range_g,
            self.gyr_range_dps,
            self._current_spp(connection),
        )

    def _write_config(self, connection: Any, value: bytes) -> None:
        if not value:
            return
        op = value[0]
        self.commands.append(op)
        if op == diy.OP_CONFIGURE and len(value) == 7:
            _, rate, acc, gyr, spp = diy._CONFIGURE.unpack(value)
            # like firmware: apply what is supported, ignore the rest (the driver checks)
            if float(rate) in diy.RATES_HZ:
                self.rate_hz = float(rate)
            if float(acc) in diy.ACC_RANGES_G:
                self.acc_range_g = float(acc)
            if float(gyr) in diy.GYR_RANGES_DPS:
                self.gyr_range_dps = float(gyr)
            self.max_spp = spp
        elif op == diy.OP_START:
            self.spp = self._current_spp(connection)
            self._packet_counter = 0
            self.start_stream(self.rate_hz, self.spp, self._data_char)
        elif op == diy.OP_STOP:
            self.stop_stream()
        else:
            log.debug("%s: unknown command %r", self.name, value)

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        counts = np.concatenate(
            [
                quantize(chunk.acc, self.acc_range_g * STANDARD_GRAVITY),
                quantize(chunk.gyr, self.gyr_range_dps),
            ],
            axis=1,
        )
        packet = diy.encode_packet(
            counts,
            self._packet_counter,
            round(float(chunk.device_time_s[0]) * 1e6),
            self.rate_hz,
            self.acc_range_g,
            self.gyr_range_dps,
        )
        self._packet_counter = (self._packet_counter + 1) & 0xFFFF
        return [packet]
