"""Walking and run/walk interval sessions against the simulator's truth (issue 17).

Pelvis alone (and, for the interval session, with both feet too): walking and running steps
scored apart (``firmware_bridge/simulator/eval_pelvis.py``), the activity bouts against the
per-bout truth (``firmware_bridge/simulator/eval_bouts.py``: share of the time with the right
activity, distance of each boundary to the detected one). Prints markdown tables (the ones in ``docs/accuracy.md``).

    .venv/bin/python scripts/walk_accuracy.py            # walk 60 s x 2 seeds, intervals 680 s
    .venv/bin/python scripts/walk_accuracy.py --quick    # intervals at half length
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.session import SessionAnalyzer  # noqa: E402
from firmware_bridge.simulator import simulate_session  # noqa: E402
from firmware_bridge.simulator.eval_bouts import boundary_errors, bout_agreement  # noqa: E402
from firmware_bridge.simulator.eval_pelvis import score_pelvis  # noqa: E402


def analyse(sim, sensors: set[str]) -> tuple[SessionAnalyzer, list]:
    sa = SessionAnalyzer([s for s in sim.sensors if s.sensor_id in sensors])
    rows = []
    for b in sim.iter_blocks(30.0):
        if b.sensor_id in sensors:
            rows += sa.feed(b).rows
    rows += sa.finish().rows
    return sa, rows


def step_line(label: str, rows: list, truth: dict, t_end: float, act: str | None) -> str:
    if act is not None:
        truth = dict(truth, steps=[s for s in truth["steps"] if s.get("activity") == act])
        rows = [r for r in rows if r.activity == act]
    s = score_pelvis(rows, truth, t_end=t_end)
    return (
        f"| {label} | {s.n_truth} | {s.found:.1%} | {s.false} | {s.side:.1%} | "
        f"{s.drop_mae:.2f} | {s.vo_mae:.2f} | {s.ic_mae_ms:.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    steps = [
        "| session (pelvis steps) | steps | found | false | side | drop MAE (deg) | "
        "VO MAE (cm) | IC MAE (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    bouts = [
        "| session | sensors | bouts correct (time) | largest boundary error (s) |",
        "|---|---|---|---|",
    ]
    for seed in (1, 2):
        sim = simulate_session("walk", duration_s=60.0, seed=seed, sensors=("pelvis",))
        _, rows = analyse(sim, {"pelvis"})
        rows = [r for r in rows if r.sensor_id == "pelvis"]
        steps.append(step_line(f"walk 60 s @ 208 Hz, seed {seed}", rows, sim.truth, 60.0, None))
    dur = 340.0 if args.quick else 680.0
    sim = simulate_session("intervals", duration_s=dur, seed=1)
    t_end = sim.truth["duration_s"]
    for sensors, name in (
        ({"pelvis"}, "pelvis alone"),
        ({s.sensor_id for s in sim.sensors}, "feet + pelvis"),
    ):
        sa, rows = analyse(sim, sensors)
        got = [b.as_dict() for b in sa.bouts(0.0, t_end)]
        agree = bout_agreement(got, sim.truth["bouts"], t0=0.0, t1=t_end)
        worst = max(boundary_errors(got, sim.truth["bouts"]))
        bouts.append(f"| intervals {dur:.0f} s | {name} | {agree:.2%} | {worst:.2f} |")
        pr = [r for r in rows if r.sensor_id == "pelvis"]
        for act in ("walk", "run"):
            steps.append(
                step_line(f"intervals {dur:.0f} s, {name}, {act}", pr, sim.truth, t_end, act)
            )
    print("\n".join(steps))
    print()
    print("\n".join(bouts))
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
