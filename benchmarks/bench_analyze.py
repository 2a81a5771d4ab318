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

Also printed: the machine's load average (other processes share the cores), an in-process
breakdown of the CPU time (reading, each sensor's analyzer, the CSV) on the first recording, and
with ``--latency REC`` how long after its initial contact each foot row is released when the
recording is replayed in 50 ms blocks (in strides, contacts after the alignment's first 30 s).
"""

from __future__ import annotations

import argparse
import os
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


def analyse(path: Path, out: Path) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak RSS (MB) of one ``runform analyze`` process."""
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
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)  # the usage of this child alone
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"runform analyze {path} failed (exit {proc.returncode})")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0  # ru_maxrss: kB on Linux


def breakdown(path: Path, out: Path, chunk_s: float = 60.0) -> dict[str, float]:
    """CPU seconds of each part of the analysis, in this process."""
    cpu = time.process_time
    t0 = cpu()
    from dsp.session import SessionAnalyzer
    from recordings import open_recording
    from runform.analysis_io import StridesCsvWriter

    parts: dict[str, float] = {"import": cpu() - t0, "read": 0.0, "csv": 0.0}
    with open_recording(path) as rec, StridesCsvWriter(out / "b.csv") as w:
        sa = SessionAnalyzer(rec.sensors)
        it = rec.iter_blocks(chunk_s=chunk_s, sensor_ids=list(sa.analyzers))
        while True:
            t = cpu()
            block = next(it, None)
            parts["read"] += cpu() - t
            if block is None:
                break
            t = cpu()
            rows = sa.feed(block)
            parts[block.sensor_id] = parts.get(block.sensor_id, 0.0) + cpu() - t
            t = cpu()
            w.write(rows)
            parts["csv"] += cpu() - t
        t = cpu()
        w.write(sa.finish())
        parts["finish"] = cpu() - t
    return parts


def release_latency(path: Path, block_s: float = 0.05, skip_s: float = 30.0) -> list[float]:
    """Release time minus IC time of every foot row, in strides (live replay in small blocks)."""
    from dsp.session import SessionAnalyzer
    from recordings import open_recording

    lat = []
    with open_recording(path) as rec:
        sa = SessionAnalyzer(rec.sensors)
        for block in rec.iter_blocks(chunk_s=block_s, sensor_ids=list(sa.analyzers)):
            for r in sa.feed(block):
                if r.side in ("left", "right") and r.stride_time and r.t_ic > rec.t_start + skip_s:
                    if r.sensor_id.endswith("_foot"):
                        lat.append((float(block.t[-1]) - r.t_ic) / r.stride_time)
    return lat


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
    ap.add_argument(
        "--latency",
        metavar="REC",
        nargs="?",
        const="recordings/examples/chirunning_example.h5",
        help="also measure the release latency of foot rows on this recording "
        "(default: the example recording)",
    )
    ap.add_argument("--make", nargs=3, help=argparse.SUPPRESS)  # internal: PATH MINUTES RATE
    args = ap.parse_args()
    if args.make:
        make_recording(Path(args.make[0]), float(args.make[1]), float(args.make[2]))
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="runform-bench-") as tmp:
        tmp_p = Path(tmp)
        results = []
        lengths = [args.minutes] + ([args.long_minutes] if args.long_minutes > 0 else [])
        for minutes in sorted(lengths):
            rec = tmp_p / f"rec_{minutes:g}min.h5"
            # generated in a child process, so this one stays small and imports nothing heavy
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--make", str(rec), str(minutes), str(args.rate)],
                check=True,
            )
            gen_s = time.perf_counter() - t0
            size_mb = os.path.getsize(rec) / 1e6
            wall, cpu, peak = analyse(rec, tmp_p)
            ratio = minutes * 60.0 / wall
            results.append((minutes, wall, ratio, peak))
            print(
                f"{minutes:g} min, 3 sensors @ {args.rate:g} Hz ({size_mb:.0f} MB, generated in "
                f"{gen_s:.0f} s): analyze {wall:.1f} s = {ratio:.0f}x real time "
                f"(CPU {cpu:.1f} s = {minutes * 60.0 / cpu:.0f}x), peak RSS {peak:.0f} MB",
                flush=True,
            )
        first = tmp_p / f"rec_{min(lengths):g}min.h5"
        parts = breakdown(first, tmp_p)
        total = sum(parts.values())
        print(
            f"  in-process CPU s ({min(lengths):g} min): "
            + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
            + f" (total {total:.2f} = {min(lengths) * 60.0 / total:.0f}x)",
            flush=True,
        )
        if len(results) == 2:
            (m0, _, _, p0), (m1, _, _, p1) = results
            print(f"peak memory {m1:g} min vs {m0:g} min: {p1 / p0:.2f}x")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.latency:
        import numpy as np

        lat = np.asarray(release_latency(Path(args.latency)))
        if lat.size:
            print(
                f"foot row release latency on {args.latency} ({lat.size} rows): median "
                f"{np.median(lat):.2f}, 95th percentile {np.percentile(lat, 95):.2f}, max "
                f"{lat.max():.2f} strides after the IC"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
