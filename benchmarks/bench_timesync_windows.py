"""Time-base alignment of each emulated vendor sensor per window of session time (start-up and
steady state), streamed end to end through bleak like ``bench_decoders.py --alignment``.

Run::

    .venv/bin/python benchmarks/bench_timesync_windows.py --seconds 120 --speed 2

Each device streams alone over the bumble link (30 ms connection interval, 10 % of the
connection events skipped, drifting device clock: ±40 ppm for timestamped devices, ±0.5 % rate
error for the sample-counting ones; Movesense also at 833 Hz). Printed: samples, samples lost,
the largest |session time − true sample time| in each window of session time, and the median and
95th percentile of |error − median| after 60 s. The harness times packets with
:meth:`~firmware_bridge.timesync.SensorTimeline.push` (no start-up hold), so the first window
also holds the delay of the very first packets, which :class:`firmware_bridge.ble_session.
BleSession` removes with its 0.2 s hold.
"""

from __future__ import annotations

import argparse
import asyncio

import numpy as np

from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.base import DeviceClock, RadioConditions, SyntheticSignal
from firmware_bridge.emulator.metawear import EmulatedMetaWear
from firmware_bridge.emulator.movesense import EmulatedMovesense
from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
from firmware_bridge.emulator.vendor_harness import stream_emulated
from firmware_bridge.emulator.witmotion import EmulatedWitMotion
from firmware_bridge.virtual_link import VirtualLink

DEVICES = [
    ("movesense", EmulatedMovesense, {}, 104.0, 40.0, 100.0),
    ("movesense833", EmulatedMovesense, {}, 833.0, 40.0, 100.0),
    ("metawear", EmulatedMetaWear, {"chip": "bmi160"}, 100.0, 5000.0, 0.0),
    ("witmotion", EmulatedWitMotion, {}, 100.0, -5000.0, 0.0),
    ("polar", EmulatedPolarVeritySense, {}, 52.0, -40.0, 8.1e8),
]


async def _one(name, cls, kw, rate, drift, offset, seconds, speed) -> None:
    link = VirtualLink(speed=speed)
    per = cls(
        link,
        signal=SyntheticSignal(),
        clock=DeviceClock(offset, drift),
        radio=RadioConditions(0.030, 0.10),
        seed=3,
        **kw,
    )
    await per.start()
    try:
        res = await stream_emulated(per, seconds, StreamSettings(rate_hz=rate))
    finally:
        await per.close()
    ok = res.matched >= 0
    err = (res.t[ok] - res.truth_t[res.matched[ok]]) * 1e3
    t = res.t[ok] - res.t[ok][0]
    wins = [(0, 10), (10, 20), (20, 40), (40, 60), (60, seconds)]
    cols = []
    for a, b in wins:
        m = (t >= a) & (t < b)
        cols.append(f"{np.max(np.abs(err[m])):7.1f}" if m.any() else f"{'-':>7}")
    late = err[t >= 60]
    med = np.median(late) if len(late) else float("nan")
    p95 = np.percentile(np.abs(late - med), 95) if len(late) else float("nan")
    print(
        f"{name:<13} {len(res.t):>8} {res.lost:>6} {' '.join(cols)} {med:>8.2f} {p95:>8.2f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="session seconds per device")
    ap.add_argument("--speed", type=float, default=2.0, help="session seconds per wall second")
    ap.add_argument(
        "--devices", nargs="*", help="only these (" + " ".join(d[0] for d in DEVICES) + ")"
    )
    args = ap.parse_args()
    print(
        f"{args.seconds:g} s at {args.speed:g}x; max |error| in ms per window of session time; "
        "median and p95 |error - median| after 60 s"
    )
    print(
        f"{'device':<13} {'samples':>8} {'lost':>6} {'0-10 s':>7} {'10-20':>7} {'20-40':>7} "
        f"{'40-60':>7} {'60-end':>7} {'median':>8} {'p95dev':>8}"
    )
    for d in DEVICES:
        if not args.devices or d[0] in args.devices:
            asyncio.run(_one(*d, args.seconds, args.speed))


if __name__ == "__main__":
    main()
