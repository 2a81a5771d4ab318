"""Polar Verity Sense offline recording: PFTP framing and offline files (pure, byte vectors,
fuzzed) and the whole path on bleak's real client over bumble's virtual controllers (arm,
status, download cut and resumed, full memory, erase)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.logging_rig import LoggingRig
from firmware_bridge.sensorlog.session import (
    ArmState,
    arm_sensors,
    download_sensors,
    sensors_status,
)
from recordings import open_recording
from runform.commands.sensors import write_recording


def _check(rig, state, path, tol_s):
    t_ref = min(s.arm_sync.host_s for s in state.sensors.values())
    errs = {}
    with open_recording(path) as rec:
        for sid, per in rig.peripherals.items():
            b = rec.read(sid)
            _tau, t_true = per.log_truth()
            assert len(b.t) == len(t_true), f"{sid}: {len(b.t)} samples, logged {len(t_true)}"
            err = (b.t + t_ref - rig.host_epoch) - t_true
            assert np.abs(err).max() < tol_s, f"{sid}: max error {np.abs(err).max() * 1e3:.2f} ms"
            errs[sid] = err
    return errs


def test_polar_offline_recording_cut_resumed_and_aligned(tmp_path):
    async def main():
        rig = LoggingRig.create(
            ("left_foot", "pelvis"),
            models={"left_foot": "polar"},
            signal_duration_s=20,
            signal_rate_hz=416,
            drift_ppm={"left_foot": 120.0, "pelvis": -80.0},
            polar_options={"split_bytes": 8 * 1024},
        )
        async with rig.running(speed=5) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            s = state.sensors["left_foot"]
            assert s.device_model == "polar-verity-sense" and s.config.rate_hz == 52.0
            r.advance(120.0)
            vs = r.peripherals["left_foot"]
            st = (await sensors_status(state, connect=r.connector()))["left_foot"]
            assert st.logging and st.records >= 2 and st.capacity_bytes == vs.disk_bytes
            cut = []

            def progress(sid, done, total):
                if sid == "left_foot" and done > total // 2 and not cut:
                    cut.append(done)
                    asyncio.get_running_loop().create_task(vs.drop_connection(away_s=0.3))

            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                progress=progress, write=write_recording,
            )  # fmt: skip
            assert cut and summary.reconnects["left_foot"] >= 1
            errs = _check(r, state, tmp_path / "run.h5", tol_s=0.005)
            assert summary.gaps["left_foot"] == 0
            assert not [p for p in vs.files if "/R/" in p]  # erased after the file was written
            return errs

    errs = asyncio.run(main())
    assert abs(float(np.median(errs["left_foot"]) - np.median(errs["pelvis"]))) < 0.005
