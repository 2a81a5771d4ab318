"""An emulated WitMotion BWT901BLE on the virtual link."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import witmotion as wm
from firmware_bridge.emulator._vendor import VendorPeripheral, char
from firmware_bridge.emulator.base import SampleChunk

__all__ = ["EmulatedWitMotion"]

log = logging.getLogger(__name__)


class EmulatedWitMotion(VendorPeripheral):
    """A BWT901BLE: ``55 61`` frames on ``ffe4``, ``FF AA`` commands on ``ffe9``.

    The rate command (after the unlock, valid 10 s) starts the stream at that rate. Frames are
    cut into notifications of ``notify_bytes`` bytes (20 = one frame per notification, as the
    device does; other values cut frames across notifications, the remainder waiting for the
    next samples). Angles are integrated from the gyro (they are not used by runform).
    """

    device_model = "witmotion"
    advertised_service_uuids = (wm.WITMOTION_SERVICE_UUID,)

    def __init__(self, link: Any, *, notify_bytes: int = 20, **kwargs: Any) -> None:
        kwargs.setdefault("name", "WT901BLE68")
        super().__init__(link, **kwargs)
        self.notify_bytes = int(notify_bytes)
        self.rate_hz = 10.0
        self._unlocked_until = -np.inf
        self._notify: Any = None
        self._pending = b""
        self._angle = np.zeros(3)

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        self._notify = char(wm.WITMOTION_NOTIFY_UUID, props.NOTIFY)
        write = char(
            wm.WITMOTION_WRITE_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            CharacteristicValue(write=self._on_command),
            readable=False,
            writeable=True,
        )
        return [Service(wm.WITMOTION_SERVICE_UUID, [self._notify, write])]

    def _on_command(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.commands.append(v)
        if v == wm.UNLOCK:
            self._unlocked_until = self.link.now() + 10.0
        elif len(v) == 5 and v[:3] == bytes([0xFF, 0xAA, 0x03]):
            rates = {code: r for r, code in wm.RATE_CODES.items()}
            if self.link.now() <= self._unlocked_until and v[3] in rates:
                self.rate_hz = rates[v[3]]
                self._pending = b""
                self.start_stream(self.rate_hz, max(1, round(self.rate_hz / 50)), self._notify)

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        self.record_truth(chunk)
        dt = 1.0 / self.rate_hz
        frames = []
        for i in range(len(chunk.t_true)):
            self._angle = (self._angle + chunk.gyr[i] * dt + 180.0) % 360.0 - 180.0
            frames.append(
                wm.encode_frame(chunk.acc[i] / STANDARD_GRAVITY, chunk.gyr[i], self._angle)
            )
        data = self._pending + b"".join(frames)
        n = self.notify_bytes
        cut = len(data) - len(data) % n
        self._pending = data[cut:]
        return [data[i : i + n] for i in range(0, cut, n)]
