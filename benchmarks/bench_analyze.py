"""Speed and memory of ``runform analyze`` on long recordings (a benchmark, not a test).

Usage::

    .venv/bin/python benchmarks/bench_analyze.py                 # 60 min, 3 sensors, 400 Hz
    .venv/bin/python benchmarks/bench_analyze.py --minutes 15 --long-minutes 60

Writes a simulated recording of ``--minutes`` (both feet and the pelvis at ``--rate`` Hz,
generated piece by piece so the generator's memory stays small), then runs
``runform analyze REC --strides ... --json ...`` in a fresh process, so the import cost counts,
and prints the wall time, the ratio to real time (target >= 1000x on a 2-core machine) and the
process's peak resident memory. With ``--long-minutes`` a second, longer recording is analysed
too: chunked processing means its peak memory should be about the same.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_recording(path: Path, minutes: float, rate_hz: float, seed: int = 0) -> float:
    from firmware_bridge.simulator.scenarios import get_scenario
    from firmware_bridge.simulator.session import SignalGenerator
    from recordings import RecordingWriter

    sc = get_scenario("easy").with_overrides(
        duration_s=minutes * 60.0, rate_hz=rate_hz, standing_s=5.0
    )
    gen = SignalGenerator(sc, seed)
    t0 = time.perf_counter()
    with RecordingWriter(path, gen.sensors, notes="bench_analyze", live=False) as w:
        t = 0.0
        while not gen.done:
            t += 60.0
            for blocks in gen.advance(t).values():
                for b in blocks:
                    w.append(b)
    return time.perf_counter() - t0


def analyse(path: Path, out: Path) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one ``runform analyze`` process."""
    cmd = [
        sys.executable,
        "-m",
        "runform",
        "analyze",
        str(path),
        "--strides",
        str(out / "s.csv"),
        "--json",
        str(out / "s.json"),
        "--no-progress",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far (kB on Linux)
    return wall, max(peak, before) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument(
        "--long-minutes",
        type=float,
        default=0.0,
        help="also analyse a recording this long and compare peak memory",
    )
    ap.add_argument("--rate", type=float, default=400.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="runform-bench-") as tmp:
        tmp_p = Path(tmp)
        results = []
        lengths = [args.minutes] + ([args.long_minutes] if args.long_minutes > 0 else [])
        for minutes in sorted(lengths):
            rec = tmp_p / f"rec_{minutes:g}min.h5"
            gen_s = make_recording(rec, minutes, args.rate)
            size_mb = os.path.getsize(rec) / 1e6
            wall, peak = analyse(rec, tmp_p)
            ratio = minutes * 60.0 / wall
            results.append((minutes, wall, ratio, peak))
            print(
                f"{minutes:g} min, 3 sensors @ {args.rate:g} Hz ({size_mb:.0f} MB, generated in "
                f"{gen_s:.0f} s): analyze {wall:.1f} s = {ratio:.0f}x real time, "
                f"peak RSS {peak:.0f} MB",
                flush=True,
            )
        if len(results) == 2:
            (m0, _, _, p0), (m1, _, _, p1) = results
            print(f"peak memory {m1:g} min vs {m0:g} min: {p1 / p0:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
