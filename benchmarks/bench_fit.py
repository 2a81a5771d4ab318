"""Speed of the FIT export and of the watch alignment on long runs (a benchmark, not a test).

Usage::

    .venv/bin/python benchmarks/bench_fit.py              # 60 min
    .venv/bin/python benchmarks/bench_fit.py --minutes 240

Analyses a 60 s simulated session once, repeats its stride rows to ``--minutes`` (the export's
cost depends on the number of seconds and rows, not on the signals), then times
:func:`runform.fit.activity.activity_fit` (per-second values + encoding), the read-back with
fitdecode, and :func:`runform.fit.watch.align_by_cadence` on a 1 Hz watch cadence of the same
length (a random-walk cadence, per-stride curve with 1.2 % noise, 2 s clock offset).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    a = ap.parse_args()
    from firmware_bridge.simulator import simulate_session
    from runform.analysis_run import analyse_recording
    from runform.fit.activity import activity_fit, parse_utc
    from runform.fit.readback import fit_overview
    from runform.fit.watch import align_by_cadence

    with tempfile.TemporaryDirectory() as d:
        rec = Path(d) / "run.h5"
        simulate_session("easy", duration_s=60.0, seed=1).write(rec)
        res = analyse_recording(rec)
        n = int(np.ceil(a.minutes))
        df = res.strides
        res.strides_ = pd.concat(
            [df.assign(t_ic=df.t_ic + 60.0 * k, t_to=df.t_to + 60.0 * k) for k in range(n)],
            ignore_index=True,
        )
        res.duration_s = 60.0 * n
        t0 = time.perf_counter()
        act = activity_fit(res, start_unix_s=parse_utc(res.attrs["created_utc"]))
        t_export = time.perf_counter() - t0
        fit = Path(d) / "run.fit"
        fit.write_bytes(act.data)
        t0 = time.perf_counter()
        ov = fit_overview(fit)
        t_read = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    secs = np.arange(0.0, 60.0 * n)
    cad = 170 + np.cumsum(rng.standard_normal(secs.size)) * 0.3
    t_mid = np.arange(0.0, secs[-1], 0.35)
    rc = np.interp(t_mid, secs, cad) * (1 + 0.012 * rng.standard_normal(t_mid.size))
    t0 = time.perf_counter()
    al = align_by_cadence(secs + 2.0, cad, t_mid, rc)
    t_align = time.perf_counter() - t0
    run_s = 60.0 * n
    print(
        f"{n} min run, {len(res.strides_)} stride rows, {act.records} records, {len(act.data)} bytes"
    )
    print(
        f"export (per-second values + FIT encoding): {t_export:.2f} s ({run_s / t_export:.0f}x real time)"
    )
    print(
        f"read back (fitdecode, CRC checked): {t_read:.2f} s, {ov.messages.get('record', 0)} records"
    )
    print(
        f"watch alignment (±30 s search): {t_align:.2f} s, offset found {al.offset_s:+.2f} s for +2.00 s"
    )


if __name__ == "__main__":
    main()
