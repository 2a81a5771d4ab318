"""``runform scan`` names every vendor device type from its advertisement (the scan command's
own code, on a virtual link with one emulated device of each family)."""

from __future__ import annotations

import asyncio

import firmware_bridge.emulator as emulator_pkg
from firmware_bridge.emulator.base import SyntheticSignal
from firmware_bridge.emulator.metawear import EmulatedMetaWear
from firmware_bridge.emulator.movesense import EmulatedMovesense
from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
from firmware_bridge.emulator.rsc import EmulatedFootpod
from firmware_bridge.emulator.virtual import VirtualSensors
from firmware_bridge.emulator.witmotion import EmulatedWitMotion
from firmware_bridge.virtual_link import VirtualLink
from runform.commands import scan as scan_cmd


def test_scan_recognises_vendor_devices(monkeypatch) -> None:
    made: dict[str, str] = {}

    async def vendor_sensors(*_a, **_k) -> VirtualSensors:
        link = VirtualLink()
        sig = SyntheticSignal()
        pers = {
            "movesense": EmulatedMovesense(link, signal=sig),
            "metawear": EmulatedMetaWear(link, signal=sig, chip="bmi270", name="MetaWear"),
            "witmotion": EmulatedWitMotion(link, signal=sig),
            "polar-verity-sense": EmulatedPolarVeritySense(link, signal=sig),
            "rsc-footpod": EmulatedFootpod(link, name="RunPod"),
        }
        for model, p in pers.items():
            await p.start()
            made[p.address] = model
        return VirtualSensors(link=link, peripherals=pers)

    monkeypatch.setattr(emulator_pkg, "start_virtual_sensors", vendor_sensors)
    rows = asyncio.run(scan_cmd.scan(1.5, simulate=True))
    seen = {r["address"]: r["device_model"] for r in rows}
    assert seen == made
    labels = {r["device_model"]: r["type"] for r in rows}
    assert labels["rsc-footpod"] == "BLE footpod (Running Speed and Cadence)"
