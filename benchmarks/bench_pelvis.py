"""Throughput of the pelvis analysis (``PelvisAnalyzer``), alone and inside a 3-sensor session.

Usage::

    .venv/bin/python benchmarks/bench_pelvis.py [--duration 600] [--rate 400]

Simulates one session (both feet and the pelvis), then feeds it in 60 s blocks, as
``runform analyze`` does, and prints how many times faster than real time the pelvis analysis
runs (target of issue 6: the whole 3-sensor analysis at >= 1000x real time).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="s of running (default 600)")
    ap.add_argument("--rate", type=float, default=400.0, help="sample rate, Hz (default 400)")
    args = ap.parse_args()

    from dsp.pelvis_analyzer import PelvisAnalyzer
    from dsp.session import SessionAnalyzer
    from firmware_bridge.simulator import simulate_session

    sim = simulate_session("easy", duration_s=args.duration, rate_hz=args.rate, seed=1)
    blocks = list(sim.iter_blocks(60.0))
    pel = [b for b in blocks if b.sensor_id == "pelvis"]
    info = next(s for s in sim.sensors if s.placement == "pelvis")
    best = float("inf")
    for _ in range(3):
        pa = PelvisAnalyzer(info)
        t0 = time.perf_counter()
        n = sum(len(pa.feed(b).rows) for b in pel) + len(pa.finish().rows)
        best = min(best, time.perf_counter() - t0)
    print(f"pelvis alone: {n} steps, {args.duration / best:.0f}x real time")
    sa = SessionAnalyzer(sim.sensors)
    spent = {}
    t0 = time.perf_counter()
    for b in blocks:
        t1 = time.perf_counter()
        sa.feed(b)
        spent[b.sensor_id] = spent.get(b.sensor_id, 0.0) + time.perf_counter() - t1
    sa.finish()
    total = time.perf_counter() - t0
    print(
        f"session of {len(sim.sensors)} sensors: {args.duration / total:.0f}x real time; "
        f"pelvis share {args.duration / spent['pelvis']:.0f}x real time"
    )


if __name__ == "__main__":
    main()
