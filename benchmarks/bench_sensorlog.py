"""On-sensor logging on the emulator: time-base alignment after download and download speed.

Arms emulated sensors (DIY clips, MetaMotion boards and/or Polar Verity Senses, drifting
clocks), lets a run of
``--run`` session seconds pass (the simulator fills their flash), downloads through bleak over
bumble's virtual controllers and compares every sample's time with the emulator's truth.

    .venv/bin/python benchmarks/bench_sensorlog.py --run 600 --drift 240
    .venv/bin/python benchmarks/bench_sensorlog.py --run 120 --drift 150 --models diy,metawear
    .venv/bin/python benchmarks/bench_sensorlog.py --run 600 --drift 240 --models polar,diy
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.logging_rig import LoggingRig
from firmware_bridge.sensorlog.session import arm_sensors, download_sensors
from recordings import open_recording
from runform.commands.sensors import write_recording


async def run(args: argparse.Namespace) -> None:
    models = args.models.split(",")
    placements = ("left_foot", "right_foot", "pelvis")[: len(models)]
    sign = [1, -1, 0.5]
    rig = LoggingRig.create(
        placements,
        models=dict(zip(placements, models, strict=True)),
        signal_duration_s=20,
        signal_rate_hz=416,
        drift_ppm={p: args.drift * sign[i] for i, p in enumerate(placements)},
        flash_bytes=64 * 1024 * 1024,
    )
    tmp = Path(tempfile.mkdtemp())
    async with rig.running(speed=args.speed) as r:
        state = await arm_sensors(
            r.addresses(), tmp / "armed.json", settings=StreamSettings(rate_hz=args.rate),
            connect=r.connector(), host_clock=r.host_clock,
        )  # fmt: skip
        r.advance(args.run)
        for sid, per in r.peripherals.items():
            if hasattr(per, "disk_bytes"):  # a Verity Sense: its files' growth
                per.fill_log()  # type: ignore[attr-defined]
                used = per.used_bytes  # type: ignore[attr-defined]
                print(f"{sid}: {used} bytes of files, {used / args.run * 3.6:.0f} kB/h")
        wall = time.perf_counter()
        t_sess = r.link.now()  # type: ignore[union-attr]
        summary = await download_sensors(
            state,
            tmp / "run.h5",
            connect=r.connector(),
            host_clock=r.host_clock,
            erase=False,
            write=write_recording,
        )
        wall = time.perf_counter() - wall
        t_sess = r.link.now() - t_sess  # type: ignore[union-attr]
        truth = {sid: p.log_truth()[1] for sid, p in r.peripherals.items()}  # type: ignore[attr-defined]
    t_ref = min(s.arm_sync.host_s for s in state.sensors.values())
    med = {}
    with open_recording(tmp / "run.h5") as rec:
        for sid in placements:
            b = rec.read(sid)
            err = b.t + t_ref - rig.host_epoch - truth[sid]
            med[sid] = float(np.median(err))
            print(
                f"{sid} ({state.sensors[sid].device_model}, {args.drift * sign[placements.index(sid)]:+g} ppm): "
                f"{len(b.t)} samples (logged {len(truth[sid])}), |time error| max "
                f"{np.abs(err).max() * 1e3:.2f} ms, median {med[sid] * 1e3:+.2f} ms; fitted drift "
                f"{summary.drift_ppm[sid]:+.2f} ppm; clock reads within {summary.sync_uncertainty_ms[sid]:.2f} ms"
            )
    spread = max(med.values()) - min(med.values())
    print(f"sensors agree within {spread * 1e3:.2f} ms (median errors)")
    print(f"download: {t_sess:.1f} s of session time ({wall:.1f} s wall at {args.speed:g}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=float, default=600.0, help="run length, session s (600)")
    p.add_argument("--drift", type=float, default=240.0, help="clock drift, ppm (±, 240)")
    p.add_argument("--models", default="diy,diy", help="diy/metawear/polar per sensor (diy,diy)")
    p.add_argument("--rate", type=float, default=104.0, help="sample rate, Hz (104)")
    p.add_argument("--speed", type=float, default=4.0, help="virtual link speed (4x)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
