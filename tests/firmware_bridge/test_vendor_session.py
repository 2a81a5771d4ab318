"""Vendor sensors in a multi-device BleSession (the path of ``runform record --sensor``):
a Movesense on the left foot, a MetaMotion S on the right foot, a Verity Sense and a WitMotion on
the pelvis, all on one virtual link, identified from their GATT services, streamed, decoded and
time-synced together, and written to a recording."""

from __future__ import annotations

import asyncio

import numpy as np

from dsp.block import SampleBlock
from firmware_bridge.ble_session import BleSession, SensorSpec
from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.base import DeviceClock, RadioConditions, SyntheticSignal
from firmware_bridge.emulator.metawear import EmulatedMetaWear
from firmware_bridge.emulator.movesense import EmulatedMovesense
from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
from firmware_bridge.emulator.witmotion import EmulatedWitMotion
from firmware_bridge.virtual_link import VirtualLink
from recordings import RecordingWriter, open_recording


def test_four_vendor_sensors_in_one_session(tmp_path) -> None:
    duration = 10.0

    async def main() -> tuple[dict[str, list[SampleBlock]], dict, list]:
        link = VirtualLink(speed=3.0)
        common = {"radio": RadioConditions(0.015, 0.05)}
        pers = {
            "left_foot": EmulatedMovesense(
                link, signal=SyntheticSignal(), clock=DeviceClock(50.0, 30.0), **common
            ),
            "right_foot": EmulatedMetaWear(
                link,
                chip="bmi270",
                signal=SyntheticSignal(phase=0.5),
                clock=DeviceClock(0.0, -200.0),
                **common,
            ),
            "pelvis": EmulatedPolarVeritySense(
                link, signal=SyntheticSignal(), clock=DeviceClock(8.1e8, 10.0), **common
            ),
            "wit_pelvis": EmulatedWitMotion(
                link, signal=SyntheticSignal(), clock=DeviceClock(0.0, 150.0), **common
            ),
        }
        for p in pers.values():
            await p.start()
        specs = [
            SensorSpec(sid, p.address, placement="pelvis" if sid == "wit_pelvis" else None)
            for sid, p in pers.items()
        ]
        session = BleSession.on_virtual_link(specs, link, settings=StreamSettings(rate_hz=104.0))
        got: dict[str, list[SampleBlock]] = {sid: [] for sid in pers}
        try:
            async with session:
                t_end = session.now() + duration

                async def stopper() -> None:
                    await link.sleep(t_end - session.now())
                    session.stop()

                task = asyncio.get_running_loop().create_task(stopper())
                async for block in session.blocks():
                    got[block.sensor_id].append(block)
                await task
                status = session.status()
                infos = session.sensors
        finally:
            for p in pers.values():
                await p.close()
        return got, status, infos

    got, status, infos = asyncio.run(main())
    models = {i.sensor_id: i.device_model for i in infos}
    assert models == {
        "left_foot": "movesense",
        "right_foot": "metawear",
        "pelvis": "polar-verity-sense",
        "wit_pelvis": "witmotion",
    }
    rates = {i.sensor_id: i.sample_rate_hz for i in infos}
    assert rates == {"left_foot": 104.0, "right_foot": 100.0, "pelvis": 104.0, "wit_pelvis": 100.0}
    for sid, blocks in got.items():
        st = status[sid]
        assert st.bad_packets == 0, (sid, st)
        assert st.lost_samples == 0, (sid, st)
        n = sum(len(b) for b in blocks)
        assert n > 0.6 * duration * rates[sid], (sid, n)
        t = np.concatenate([b.t for b in blocks])
        assert np.all(np.diff(t) > 0)
        acc = np.concatenate([b.acc for b in blocks])
        # the synthetic signal has gravity + 8 m/s² on z: mean near 9.8
        assert abs(np.mean(acc[:, 2]) - 9.80665) < 1.5, sid

    # and the blocks make a valid recording
    path = tmp_path / "vendors.h5"
    with RecordingWriter(str(path), infos) as w:
        for blocks in got.values():
            for b in blocks:
                w.append(b)
    with open_recording(str(path)) as rec:
        assert {s.sensor_id for s in rec.sensors} == set(got)
        for sid, blocks in got.items():
            assert rec.n_samples(sid) == sum(len(b) for b in blocks)
