"""Speed and memory of ``runform analyze`` on long recordings (a benchmark, not a test).

Usage::

    .venv/bin/python benchmarks/bench_analyze.py                 # 60 min, 3 sensors, 400 Hz
    .venv/bin/python benchmarks/bench_analyze.py --minutes 15 --long-minutes 60
    .venv/bin/python benchmarks/bench_analyze.py --acc-range-g 4       # clipped impacts
    .venv/bin/python benchmarks/bench_analyze.py --stops               # stand/run/walk bouts
    .venv/bin/python benchmarks/bench_analyze.py --realistic           # all three, slowest shown

Writes a simulated recording of ``--minutes`` (both feet and the pelvis at ``--rate`` Hz,
generated piece by piece so the generator's memory stays small), then runs
``runform analyze REC --strides ... --json ...`` in a fresh process, so the import cost counts,
and prints the wall time, the ratio to real time (target >= 1000x on a 2-core machine), the CPU
time of the process and its worker processes (``runform.parallel``), and memory: the peak RSS
of the largest process and the peak sums of RSS and PSS over the process and its workers
(PSS shares the pages the forked workers have in common with their parent). Each recording is
analysed as configured (``--workers``, default automatic) and, for comparison, in one process
(``RUNFORM_WORKERS=1``; skip with ``--no-serial``). With ``--long-minutes`` a second, longer
recording is analysed too: chunked processing means its peak memory should be about the same.

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
import threading
import time
from pathlib import Path
from typing import Any

#: ``--stops``: a session of bouts with standing between them (repeated to fill the minutes)
STOPS_CYCLE = (("run", 240.0), ("stand", 20.0), ("walk", 90.0), ("stand", 30.0))


def make_recording(
    path: Path,
    minutes: float,
    rate_hz: float,
    seed: int = 0,
    acc_range_g: float = 16.0,
    stops: bool = False,
) -> float:
    from firmware_bridge.simulator.scenarios import get_scenario
    from firmware_bridge.simulator.session import SignalGenerator
    from recordings import RecordingWriter

    if stops:
        return _make_stops_recording(path, minutes, rate_hz, seed, acc_range_g)
    sc = get_scenario("easy").with_overrides(
        duration_s=minutes * 60.0, rate_hz=rate_hz, standing_s=5.0, acc_range_g=acc_range_g
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


def _make_stops_recording(
    path: Path, minutes: float, rate_hz: float, seed: int, acc_range_g: float
) -> float:
    """A session that starts and ends standing and stops between its bouts (``STOPS_CYCLE``),
    simulated bout by bout (``Scenario.program``), without the truth."""
    from firmware_bridge.simulator import simulate_session
    from recordings import RecordingWriter

    total = minutes * 60.0
    prog: list[tuple[str, float]] = [("stand", 10.0)]
    while sum(d for _, d in prog) < total - 10.0:
        prog += list(STOPS_CYCLE)
    prog.append(("stand", 10.0))
    t0 = time.perf_counter()
    run = simulate_session(
        "easy",
        duration_s=total,
        rate_hz=rate_hz,
        seed=seed,
        truth=False,
        acc_range_g=acc_range_g,
        program=tuple(prog),
    )
    with RecordingWriter(path, run.sensors, notes="bench_analyze --stops", live=False) as w:
        for b in run.blocks.values():
            step = max(1, int(60.0 * rate_hz))
            for i in range(0, len(b), step):
                w.append(b.slice(i, i + step))
    return time.perf_counter() - t0


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``; just ``pid`` elsewhere)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return out


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB (0, 0 when it is gone or /proc cannot tell)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process and its descendants (worker processes).

    PSS counts a page shared by n processes (forked workers share their parent's pages until
    they write them) as 1/n in each, so the summed PSS is the memory the analysis really uses;
    the summed RSS counts shared pages in every process.
    """

    def __init__(self, pid: int, period_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.period_s = pid, period_s
        self.peak_rss_kb = self.peak_pss_kb = self.max_procs = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.period_s):
            pids = _tree(self.pid)
            mem = [_memory_kb(p) for p in pids]
            self.max_procs = max(self.max_procs, sum(1 for r, _ in mem if r))
            self.peak_rss_kb = max(self.peak_rss_kb, sum(r for r, _ in mem))
            self.peak_pss_kb = max(self.peak_pss_kb, sum(p for _, p in mem))


def compile_bytecode() -> int:
    """Write the bytecode caches (``__pycache__``) of runform's packages; returns the files
    compiled.

    An installed runform has them (pip compiles on install); a source tree run with
    ``PYTHONDONTWRITEBYTECODE=1`` (or from a fresh checkout) would compile about 50 modules in
    every timed run, about 0.3 s of the main process' CPU: not the user's start-up.
    """
    import compileall
    import importlib.util
    import io
    from contextlib import redirect_stdout

    n = 0
    for pkg in ("runform", "dsp", "recordings", "firmware_bridge"):
        spec = importlib.util.find_spec(pkg)
        for d in (spec.submodule_search_locations or []) if spec else []:
            with redirect_stdout(io.StringIO()) as buf:  # lists what it compiles
                compileall.compile_dir(d, quiet=0)
            n += buf.getvalue().count("Compiling")
    return n


def analyse(path: Path, out: Path, workers: int | None = None, repeat: int = 1) -> dict[str, float]:
    """Wall time, CPU time and memory of one ``runform analyze`` process and its workers.

    Parameters
    ----------
    workers : int, optional
        ``RUNFORM_WORKERS`` for the run (``1`` = one process); ``None`` = the default.
    repeat : int
        Timed runs; the fastest is reported (a shared machine only ever slows a run down).

    Returns
    -------
    dict
        ``wall`` and ``cpu`` (s; CPU of the process and of the worker processes it waited
        for), ``peak_rss`` (MB, the largest single process), ``tree_rss`` and ``tree_pss``
        (MB, peak of the sums over the process and its workers, sampled every 20 ms), and
        ``procs`` (most processes seen at once).
    """
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
    env = dict(os.environ)
    env.pop("RUNFORM_WORKERS", None)
    if workers is not None:
        env["RUNFORM_WORKERS"] = str(workers)

    def run(sample: bool) -> tuple[float, Any, TreeMemory | None]:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        mon = TreeMemory(proc.pid) if sample else None
        if mon is not None:
            mon.start()
        # the usage of this child and of the descendants it waited for (its worker processes);
        # ru_maxrss is that of the largest of them, in kB on Linux
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if mon is not None:
            mon.stop.set()
            mon.join()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"runform analyze {path} failed (exit {status})")
        return wall, ru, mon

    # timed without the memory sampler (reading /proc/PID/smaps_rollup every 20 ms costs the
    # kernel enough CPU to slow a 2-core run by ~10 %), then once more for the memory
    os.sync()  # the just-written recording's dirty pages are not flushed during the timing
    wall, ru, _ = min((run(False) for _ in range(max(1, repeat))), key=lambda x: x[0])
    _, _, mon = run(True)
    assert mon is not None
    return {
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "peak_rss": ru.ru_maxrss / 1024.0,
        "tree_rss": mon.peak_rss_kb / 1024.0,
        "tree_pss": mon.peak_pss_kb / 1024.0,
        "procs": float(mon.max_procs),
    }


def breakdown(path: Path, out: Path, chunk_s: float = 60.0) -> dict[str, float]:
    """CPU seconds of each part of the analysis, in this process."""
    cpu = time.process_time
    t0 = cpu()
    from dsp.session import SessionAnalyzer
    from recordings import open_recording
    from runform.analysis_io import StridesCsvWriter
    from runform.analysis_run import analysis_config

    parts: dict[str, float] = {"import": cpu() - t0, "read": 0.0, "csv": 0.0}
    with open_recording(path) as rec, StridesCsvWriter(out / "b.csv") as w:
        # the analyzers' settings of ``runform analyze``
        sa = SessionAnalyzer(rec.sensors, config=analysis_config(list(rec.sensors)))
        it = rec.iter_blocks(chunk_s=chunk_s, sensor_ids=list(sa.analyzers))
        while True:
            t = cpu()
            block = next(it, None)
            parts["read"] += cpu() - t
            if block is None:
                break
            t = cpu()
            rows = sa.feed(block).rows
            parts[block.sensor_id] = parts.get(block.sensor_id, 0.0) + cpu() - t
            t = cpu()
            w.write(rows)
            parts["csv"] += cpu() - t
        t = cpu()
        w.write(sa.finish().rows)
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
            for r in sa.feed(block).rows:
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
        "--workers",
        type=int,
        default=None,
        help="RUNFORM_WORKERS for the analyze runs (default: unset, the automatic choice)",
    )
    ap.add_argument(
        "--no-serial",
        action="store_true",
        help="skip the comparison run in one process (RUNFORM_WORKERS=1)",
    )
    ap.add_argument(
        "--latency",
        metavar="REC",
        nargs="?",
        const="recordings/examples/chirunning_example.h5",
        help="also measure the release latency of foot rows on this recording "
        "(default: the example recording)",
    )
    ap.add_argument(
        "--acc-range-g",
        type=float,
        default=16.0,
        help="accelerometer range of the simulated sensors, g (16; at 4 the feet clip at every "
        "impact and push-off: the clipped-impact case of issue 16)",
    )
    ap.add_argument(
        "--stops",
        action="store_true",
        help="a session of run and walk bouts with standing before, between and after them "
        "(standing starts and stops, issue 16) instead of one easy run",
    )
    ap.add_argument(
        "--realistic",
        action="store_true",
        help="analyse three sessions instead of one (each --minutes long): an easy run at 16 g, "
        "run/walk bouts with standing stops at 8 g (clipped impacts), and an easy run at 4 g "
        "(clipping at every impact and push-off); the target holds for the slowest (issue 16)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs each, fastest shown (3)")
    # internal: PATH MINUTES RATE ACC_RANGE_G [stops]
    ap.add_argument("--make", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        make_recording(
            Path(args.make[0]),
            float(args.make[1]),
            float(args.make[2]),
            acc_range_g=float(args.make[3]),
            stops=len(args.make) > 4 and args.make[4] == "stops",
        )
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"bytecode caches written for {compile_bytecode()} module(s) (as installed)", flush=True)
    if args.realistic:
        cases = [(16.0, False), (8.0, True), (4.0, False)]
        worst = min(
            _bench_one(args, args.minutes, 0.0, g, stops, latency=False) for g, stops in cases
        )
        print(f"slowest of the {len(cases)} sessions: {worst:.0f}x real time (target >= 1000x)")
        return 0
    _bench_one(args, args.minutes, args.long_minutes, args.acc_range_g, args.stops, latency=True)
    return 0


def _bench_one(
    args: argparse.Namespace,
    minutes_first: float,
    long_minutes: float,
    acc_range_g: float,
    stops: bool,
    *,
    latency: bool,
) -> float:
    """Generate, analyse and print one session (and the longer one); returns the ratio to
    real time of the first (default workers)."""
    with tempfile.TemporaryDirectory(prefix="runform-bench-") as tmp:
        tmp_p = Path(tmp)
        results = []
        lengths = [minutes_first] + ([long_minutes] if long_minutes > 0 else [])
        for minutes in sorted(lengths):
            rec = tmp_p / f"rec_{minutes:g}min.h5"
            # generated in a child process, so this one stays small and imports nothing heavy
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--make",
                    str(rec),
                    str(minutes),
                    str(args.rate),
                    str(acc_range_g),
                    *(["stops"] if stops else []),
                ],
                check=True,
            )
            gen_s = time.perf_counter() - t0
            size_mb = os.path.getsize(rec) / 1e6
            for label, workers in (("default", args.workers), ("one process", 1)):
                if label == "one process" and (args.no_serial or args.workers == 1):
                    continue
                r = analyse(rec, tmp_p, workers, repeat=args.repeat)
                ratio = minutes * 60.0 / r["wall"]
                if label == "default":
                    results.append((minutes, r["wall"], ratio, r["tree_pss"]))
                print(
                    f"{minutes:g} min{' with stops' if stops else ''}, 3 sensors @ "
                    f"{args.rate:g} Hz, {acc_range_g:g} g ({size_mb:.0f} MB, generated "
                    f"in {gen_s:.0f} s), {label}: analyze {r['wall']:.1f} s = {ratio:.0f}x real "
                    f"time (CPU {r['cpu']:.1f} s = {minutes * 60.0 / r['cpu']:.0f}x), "
                    f"{r['procs']:.0f} process(es): peak RSS {r['peak_rss']:.0f} MB (largest "
                    f"process), sum RSS {r['tree_rss']:.0f} MB, sum PSS {r['tree_pss']:.0f} MB",
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
            print(f"peak memory (sum PSS) {m1:g} min vs {m0:g} min: {p1 / p0:.2f}x")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if latency and args.latency:
        import numpy as np

        lat = np.asarray(release_latency(Path(args.latency)))
        if lat.size:
            print(
                f"foot row release latency on {args.latency} ({lat.size} rows): median "
                f"{np.median(lat):.2f}, 95th percentile {np.percentile(lat, 95):.2f}, max "
                f"{lat.max():.2f} strides after the IC"
            )
    return next(ratio for m, _, ratio, _ in results if m == minutes_first)


if __name__ == "__main__":
    sys.exit(main())
