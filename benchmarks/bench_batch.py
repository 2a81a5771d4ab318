"""Batch throughput on 1 then 2 Dask workers (``runform batch``'s scheduling of the analysis).

Usage::

    .venv/bin/python benchmarks/bench_batch.py [--n 20] [--duration 60] [--max-workers 2]

Simulates ``--n`` recordings (scenarios in turn, fixed seeds), then analyses them with
:func:`runform.batch.run_batch` on a fresh ``distributed.LocalCluster`` of 1, 2, ... worker
processes (one thread each), each time into an empty output folder (nothing skipped). Prints
recordings/minute (cluster start excluded) and the speed-up over 1 worker. On a machine whose
cores are busy with other work the speed-up is lower than the worker count.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20, help="recordings (default 20)")
    ap.add_argument("--duration", type=float, default=60.0, help="s per recording (default 60)")
    ap.add_argument("--max-workers", type=int, default=2, help="largest worker count (default 2)")
    args = ap.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)

    from distributed import Client, LocalCluster

    from firmware_bridge.simulator import simulate_session
    from runform.batch import run_batch

    scenarios = ("easy", "chirunning", "rearfoot", "midfoot", "forefoot", "treadmill")
    with tempfile.TemporaryDirectory(prefix="runform-bench-") as tmp:
        src = Path(tmp) / "recordings"
        src.mkdir()
        t0 = time.perf_counter()
        for i in range(args.n):
            sc = scenarios[i % len(scenarios)]
            simulate_session(sc, duration_s=args.duration, seed=100 + i).write(
                src / f"{i:03d}_{sc}.h5"
            )
        print(
            f"simulated {args.n} recordings of {args.duration:g} s in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        base = None
        for w in range(1, args.max_workers + 1):
            cluster = LocalCluster(
                n_workers=w,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = Client(cluster)
            try:
                res = run_batch([str(src)], Path(tmp) / f"out{w}", client=client)
            finally:
                client.close()
                cluster.close()
            rpm = res.recordings_per_minute
            base = base or rpm
            hours = args.n * args.duration / 3600.0
            print(
                f"{w} worker(s): {res.analysed} recordings, {res.strides} strides in "
                f"{res.seconds:.1f} s -> {rpm:.1f} recordings/min "
                f"({hours * 3600 / res.seconds:.0f}x real time), speed-up {rpm / base:.2f}x"
            )


if __name__ == "__main__":
    main()
