"""Foot event and strike-angle errors over different simulated runners (not a test).

Usage::

    .venv/bin/python scripts/runner_sweep.py                       # default conditions
    .venv/bin/python scripts/runner_sweep.py --seeds 4 --conditions midfoot:104,treadmill:104

Each condition ``scenario:rate`` is simulated for ``--seeds`` runners (``runner_variation=1``,
seeds 3000 on, ``--duration`` s, both feet) and analysed; per condition it prints the median
and worst of the per-sensor IC median absolute error (ms), the median IC bias, the mean and
worst strike-angle MAE (deg), the worst strike-type agreement, the worst share of contacts
found and the false contacts. The runners here are not used to tune anything: they show how
the methods generalise beyond the accuracy matrix's default runner (``docs/accuracy.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT = (
    "rearfoot:104,midfoot:104,forefoot:104,walk:104,treadmill:104,"
    "rearfoot:208,midfoot:208,forefoot:208,treadmill:208,rearfoot:50,midfoot:50,forefoot:50,"
    "walk:50,treadmill:50"
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=4, help="runners per condition (4)")
    ap.add_argument("--duration", type=float, default=30.0, help="session length, s (30)")
    ap.add_argument("--conditions", default=DEFAULT, help="scenario:rate,... (see the source)")
    args = ap.parse_args()

    from firmware_bridge.simulator import simulate_session
    from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

    print("condition        IC med/max ms  IC bias  FSA mean/max deg  type min  found min  false")
    for cond in args.conditions.split(","):
        scenario, rate = cond.split(":")
        res = []
        for seed in range(3000, 3000 + args.seeds):
            run = simulate_session(
                scenario,
                duration_s=args.duration,
                rate_hz=float(rate),
                seed=seed,
                sensors=("left_foot", "right_foot"),
                runner_variation=1.0,
            )
            res += evaluate_run(analyze_run(run), run.truth)
        ic = np.array([e["ic_median_abs_ms"] for e in res])
        fsa = np.array([e["fsa_mae_deg"] for e in res])
        print(
            f"{scenario:>9s} {float(rate):5.0f}  {np.median(ic):5.1f} / {ic.max():5.1f}  "
            f"{np.median([e['ic_bias_ms'] for e in res]):+7.1f}  "
            f"{fsa.mean():5.2f} / {fsa.max():5.2f}  "
            f"{min(e['strike_type_acc'] for e in res):8.3f}  "
            f"{min(e['found_frac'] for e in res):9.3f}  {sum(e['false'] for e in res):5d}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
