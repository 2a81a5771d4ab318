"""Write the small example recording shipped in ``recordings/examples/`` (and its truth JSON).

The ``chirunning`` scenario: 5 s standing, heel strike at ~160 spm, a "midfoot drill" marker,
then midfoot strikes at ~176 spm; weak left hip (bigger pelvic drop on left-stance steps).
Both shoes (laces) and the pelvis (sacrum) at 208 Hz, 75 s. Deterministic (seed 0).

Usage: ``python scripts/make_example_recording.py [OUT_DIR]``
"""

from __future__ import annotations

import os
import sys

from firmware_bridge.simulator import simulate_session

NAME = "chirunning_example"


def main(argv: list[str]) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = argv[0] if argv else os.path.join(root, "recordings", "examples")
    os.makedirs(out_dir, exist_ok=True)
    run = simulate_session("chirunning", duration_s=75.0, rate_hz=208.0, seed=0, standing_s=5.0)
    h5 = os.path.join(out_dir, f"{NAME}.h5")
    js = os.path.join(out_dir, f"{NAME}.truth.json")
    run.write(
        h5,
        notes=(
            "simulated (runform simulate --scenario chirunning --duration 75 --seed 0): "
            "heel strike, then a ChiRunning midfoot drill; weak left hip; truth in "
            f"{NAME}.truth.json"
        ),
    )
    run.write_truth(js)
    size = os.path.getsize(h5)
    print(f"{h5}: {size / 1e6:.2f} MB; {js}: {len(run.truth['contacts'])} contacts")
    if size >= 2_000_000:
        print("error: the example must stay below 2 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
