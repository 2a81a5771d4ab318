"""An emulated Movesense sensor running the ``gatt_sensordata_app`` protocol on the virtual link."""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import movesense as ms
from firmware_bridge.emulator._vendor import VendorPeripheral, char, notify_now
from firmware_bridge.emulator.base import SampleChunk

__all__ = ["EmulatedMovesense"]

log = logging.getLogger(__name__)

_PATH = re.compile(r"^/?Meas/IMU6/(\d+)$")


class EmulatedMovesense(VendorPeripheral):
    """A Movesense with the sensor-data GATT service (``34802252-…``).

    Streams ``/Meas/IMU6/{rate}`` when subscribed: float32 acc (m/s², clipped at the default
    ±8 g) and gyro (deg/s, ±2000), a uint32 ms timestamp of the first sample from the drifting
    device clock, ``samples_per_packet`` samples per payload (8 at ≥ 104 Hz, fewer below),
    split into DATA / DATA_PART2 / DATA_PART3 notifications when the payload does not fit the
    negotiated MTU.
    """

    device_model = "movesense"
    advertised_service_uuids = (ms.GSP_SERVICE_UUID,)

    def __init__(self, link: Any, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Movesense 2134")
        self.samples_per_packet: int | None = kwargs.pop("samples_per_packet", None)
        super().__init__(link, **kwargs)
        self._data_char: Any = None
        self.ref = 0
        self.rate_hz = 0.0

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        cmd = char(
            ms.GSP_COMMAND_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            CharacteristicValue(write=self._on_command),
            readable=False,
            writeable=True,
        )
        self._data_char = char(ms.GSP_DATA_UUID, props.NOTIFY)
        return [Service(ms.GSP_SERVICE_UUID, [cmd, self._data_char])]

    def _on_command(self, connection: Any, value: bytes) -> None:
        value = bytes(value)
        self.commands.append(value)
        if len(value) < 2:
            return
        cmd, ref = value[0], value[1]
        if cmd == ms.CMD_HELLO:
            notify_now(self, self._data_char, bytes([ms.RESP_COMMAND_RESULT, ref]) + b"Hello")
        elif cmd == ms.CMD_SUBSCRIBE:
            m = _PATH.match(value[2:].rstrip(b"\x00").decode("utf-8", errors="replace"))
            if not m or float(m.group(1)) not in ms.IMU6_RATES_HZ or ref == 0:
                # 404 / 400 like the whiteboard would answer
                notify_now(self, self._data_char, bytes([ms.RESP_COMMAND_RESULT, ref, 0x01, 0x94]))
                return
            self.ref, self.rate_hz = ref, float(m.group(1))
            spp = self.samples_per_packet or int(min(8, max(1, self.rate_hz // 13)))
            self.start_stream(self.rate_hz, spp, self._data_char)
        elif cmd == ms.CMD_UNSUBSCRIBE and ref == self.ref:
            self.stop_stream()

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        self.record_truth(chunk)
        acc = np.clip(
            chunk.acc,
            -ms.DEFAULT_ACC_RANGE_G * STANDARD_GRAVITY,
            ms.DEFAULT_ACC_RANGE_G * STANDARD_GRAVITY,
        )
        gyr = np.clip(chunk.gyr, -ms.DEFAULT_GYR_RANGE_DPS, ms.DEFAULT_GYR_RANGE_DPS)
        ts_ms = int(np.floor(float(chunk.device_time_s[0]) * 1000.0 + 0.5))
        payload = ms.encode_imu6_payload(ts_ms, acc, gyr)
        return ms.split_data_notifications(self.ref, payload, self.att_payload())
