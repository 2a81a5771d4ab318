"""An emulated BLE footpod (Running Speed and Cadence service) on the virtual link."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from firmware_bridge.devices import rsc
from firmware_bridge.emulator._vendor import VendorPeripheral, char
from firmware_bridge.emulator.base import SampleChunk, SyntheticSignal

__all__ = ["EmulatedFootpod", "RscProfile"]

log = logging.getLogger(__name__)

#: speed (m/s), cadence (1/min), stride length (m) at a session time t (s).
RscProfile = Callable[[float], tuple[float, float, float]]


def _default_profile(t: float) -> tuple[float, float, float]:
    speed = 3.2 + 0.3 * np.sin(2 * np.pi * t / 120.0)
    cadence = 172.0 + 4.0 * np.sin(2 * np.pi * t / 90.0)
    return float(speed), float(cadence), float(speed * 120.0 / cadence)


class EmulatedFootpod(VendorPeripheral):
    """A footpod (Stryd / Polar / Zwift RunPod style) notifying an RSC Measurement once per
    second with speed, cadence, stride length and total distance.

    Parameters
    ----------
    profile : callable, optional
        ``t -> (speed_mps, cadence_spm, stride_length_m)`` (default: a slowly varying run).
    """

    device_model = "rsc-footpod"
    advertised_service_uuids = (rsc.RSC_SERVICE_UUID,)

    def __init__(self, link: Any, *, profile: RscProfile | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Stryd")
        kwargs.setdefault("signal", SyntheticSignal())
        super().__init__(link, **kwargs)
        self.profile = profile or _default_profile
        self.distance_m = 0.0
        self._meas: Any = None
        #: (true time, measurement) of every notification made.
        self.sent: list[tuple[float, rsc.RscMeasurement]] = []

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, Service

        props = Characteristic.Properties
        self._meas = char(rsc.RSC_MEASUREMENT_UUID, props.NOTIFY)
        feature = char(
            rsc.RSC_FEATURE_UUID,
            props.READ,
            (rsc.FEATURE_STRIDE | rsc.FEATURE_DISTANCE | rsc.FEATURE_RUNNING_STATUS).to_bytes(
                2, "little"
            ),
        )
        return [Service(rsc.RSC_SERVICE_UUID, [self._meas, feature])]

    def _on_connection(self, connection: Any) -> None:
        super()._on_connection(connection)
        self.start_stream(1.0, 1, self._meas)  # footpods notify on their own, once a second

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        self.record_truth(chunk)
        t = float(chunk.t_true[-1])
        speed, cadence, stride = self.profile(t)
        self.distance_m += speed * 1.0
        m = rsc.RscMeasurement(speed, cadence, stride, self.distance_m, running=speed > 2.0)
        self.sent.append((t, m))
        return [rsc.encode_rsc_measurement(m)]
