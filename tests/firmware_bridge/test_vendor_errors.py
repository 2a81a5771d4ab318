"""Vendor drivers refuse clearly: a Polar sensor without gyroscope gives a one-line DeviceError
naming the device and what is missing, not a timeout or a traceback."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridge.devices import StreamSettings, polar
from firmware_bridge.emulator.base import SyntheticSignal
from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
from firmware_bridge.errors import DeviceError
from firmware_bridge.virtual_link import VirtualLink


def test_polar_without_gyro_is_a_clear_device_error() -> None:
    emulated: list[EmulatedPolarVeritySense] = []

    async def main() -> None:
        from bleak import BleakClient

        from firmware_bridge.bumble_backend import BumbleClient

        link = VirtualLink(speed=2.0)
        per = EmulatedPolarVeritySense(link, signal=SyntheticSignal(), has_gyro=False)
        emulated.append(per)
        await per.start()
        try:
            async with BleakClient(per.address, backend=BumbleClient, link=link) as client:
                await polar.DRIVER.start(client, StreamSettings(rate_hz=52.0))
        finally:
            await per.close()

    with pytest.raises(DeviceError, match=r"polar .*GYRO|type 5.*no gyroscope") as exc:
        asyncio.run(main())
    assert "\n" not in str(exc.value)
    # the ACC stream that had started was stopped again
    assert not any(emulated[0].on.values())
    assert emulated[0].commands[-2:] == [bytes([3, 2]), bytes([3, 5])]


def test_emulator_lookup_by_device_model() -> None:
    from firmware_bridge.devices import DRIVERS
    from firmware_bridge.emulator.vendor_harness import emulator_for

    vendors = [d.name for d in DRIVERS if d.name != "runform-diy"]
    assert sorted(vendors) == sorted(
        ["movesense", "metawear", "witmotion", "polar-verity-sense", "rsc-footpod"]
    )
    for name in vendors:
        assert emulator_for(name).device_model == name
    with pytest.raises(KeyError, match="no emulator for 'x'"):
        emulator_for("x")
