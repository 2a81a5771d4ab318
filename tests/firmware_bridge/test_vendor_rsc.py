"""BLE footpod (RSC) end to end: emulated footpod → bleak scan → detect → connect → notify →
decode → ``/streams/<id>`` of a recording beside an IMU sensor."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dsp.block import SampleBlock, SensorInfo
from firmware_bridge.devices import Advertisement, detect, rsc
from firmware_bridge.emulator.rsc import EmulatedFootpod
from firmware_bridge.virtual_link import VirtualLink
from recordings import RecordingWriter, open_recording


def test_footpod_to_recording_stream(tmp_path) -> None:
    duration = 20.0

    async def main():
        from bleak import BleakClient, BleakScanner

        from firmware_bridge.bumble_backend import BumbleClient, BumbleScanner

        link = VirtualLink(speed=10.0)
        pod = EmulatedFootpod(link)
        await pod.start()
        found: list[Advertisement] = []

        def on_adv(device, data) -> None:
            if device.address == pod.address and not found:
                found.append(Advertisement.from_bleak(device, data))

        async with BleakScanner(on_adv, backend=BumbleScanner, link=link):
            for _ in range(100):
                if found:
                    break
                await asyncio.sleep(0.02)
        driver = detect(found[0])
        buf = rsc.RscStreamBuffer()
        async with BleakClient(pod.address, backend=BumbleClient, link=link) as client:
            state = await driver.start(client, None)

            def on_notify(_c, data) -> None:
                row = driver.decode_stream(bytes(data), state)
                buf.add(
                    link.now(),
                    rsc.RscMeasurement(
                        row["speed_mps"],
                        row["cadence_spm"],
                        row["stride_length_m"],
                        row["distance_m"],
                        bool(row["running"]),
                    ),
                )

            await client.start_notify(rsc.RSC_MEASUREMENT_UUID, on_notify)
            await link.sleep(duration)
            await client.stop_notify(rsc.RSC_MEASUREMENT_UUID)
        await pod.close()
        return driver, state, buf, pod

    driver, state, buf, pod = asyncio.run(main())
    assert driver.name == "rsc-footpod"
    assert state.extra["features"] == 0x07
    assert len(buf) >= duration - 3
    t, vals = buf.drain()
    sent = {round(m.distance_m, 1): m for _, m in pod.sent}
    for d, speed, cad, stride in zip(
        vals["distance_m"],
        vals["speed_mps"],
        vals["cadence_spm"],
        vals["stride_length_m"],
        strict=True,
    ):
        m = sent[round(d, 1)]
        assert speed == pytest.approx(m.speed_mps, abs=1 / 256)
        assert cad == pytest.approx(m.cadence_spm, abs=0.5)
        assert stride == pytest.approx(m.stride_length_m, abs=0.005)

    info = SensorInfo("left_foot", "left_foot", "simulated", 100.0)
    n = 200
    block = SampleBlock(
        "left_foot", np.arange(n) / 100.0, np.tile([0, 0, 9.8], (n, 1)), np.zeros((n, 3))
    )
    path = tmp_path / "pod.h5"
    with RecordingWriter(str(path), [info]) as w:
        w.append(block)
        w.append_stream("footpod", t, vals, device_model=driver.name, placement="left_foot")
    with open_recording(str(path)) as rec:
        streams = {s.stream_id: s for s in rec.streams()}
        s = streams["footpod"]
        assert s.device_model == "rsc-footpod" and s.placement == "left_foot"
        np.testing.assert_allclose(s.t, t)
        np.testing.assert_allclose(s.values["speed_mps"], vals["speed_mps"])
        assert set(s.values) >= {"speed_mps", "cadence_spm", "stride_length_m"}
