"""Foot contact events (IC/TO) over different simulated runners, per gait and sample rate.

Every seed draws a different runner (``runner_variation=1``: heel-off timing, slap duration,
push-off, swing, impact) who starts from standing. Sessions go through the streaming
:class:`dsp.session.SessionAnalyzer`; at 50 Hz the sensor-to-foot rotation is given (the
alignment is measured elsewhere; this isolates the events). Prints a Markdown table: share of
contacts found, false rows, and the IC/TO median absolute error and bias in ms (mean over feet
and seeds) with the worst foot-session.

Usage::

    .venv/bin/python scripts/foot_event_runners.py                       # seeds 41-44
    .venv/bin/python scripts/foot_event_runners.py --seeds 1,2,3 --rates 100,208
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge.simulator import simulate_session  # noqa: E402
from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run, rows_given_alignment  # noqa: E402

FEET = ("left_foot", "right_foot")


def condition(scenario: str, rate: float, seeds: list[int], duration_s: float) -> str:
    res = []
    for seed in seeds:
        run = simulate_session(
            scenario,
            duration_s=duration_s,
            rate_hz=rate,
            seed=seed,
            sensors=FEET,
            runner_variation=1.0,
        )
        rows = rows_given_alignment(run) if rate < 100 else analyze_run(run)
        res += evaluate_run(rows, run.truth)
    found = sum(e["found"] for e in res) / max(1, sum(e["expected"] for e in res))
    false = sum(e["false"] for e in res)

    def stat(key: str) -> float:
        v = [e[key] for e in res if np.isfinite(e[key])]
        return float(np.mean(v)) if v else float("nan")

    def worst(key: str) -> float:
        v = [e[key] for e in res if np.isfinite(e[key])]
        return float(np.max(v)) if v else float("nan")

    return (
        f"| {scenario} @ {rate:.0f} Hz | {found:.1%} | {false} | "
        f"{stat('ic_median_abs_ms'):.1f} | {stat('ic_bias_ms'):+.1f} | "
        f"{worst('ic_median_abs_ms'):.1f} | {stat('to_median_abs_ms'):.1f} | "
        f"{stat('to_bias_ms'):+.1f} | {worst('to_median_abs_ms'):.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="41,42,43,44")
    p.add_argument("--rates", default="50,100,208")
    p.add_argument("--scenarios", default="rearfoot,midfoot,forefoot,walk,treadmill")
    p.add_argument("--duration-s", type=float, default=30.0)
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        "| condition | found | false | IC abs ms | IC bias | IC worst | TO abs ms | TO bias "
        "| TO worst |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for sc in args.scenarios.split(","):
        for rate in (float(r) for r in args.rates.split(",")):
            print(condition(sc, rate, seeds, args.duration_s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
