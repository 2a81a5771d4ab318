"""Short sessions without a standing period (e.g. a 15 s treadmill trial, as in a gait lab).

The sensor-to-foot alignment then has only the foot-flat phases of a few tens of strides to find
the up axis, each 10-30 ms of still samples. It must still align (any clip orientation) and
find the contacts; the seeds, rates and runners here were not used to tune anything.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.alignment import estimate_alignment
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

FEET = ("left_foot", "right_foot")
RANDOM = {"left_foot": "random", "right_foot": "random"}

CASES = [
    ("easy", 208, 15.0, 1007),
    ("rearfoot", 833, 40.0, 1008),
    ("midfoot", 208, 20.0, 2001),
    ("chirunning", 400, 15.0, 2002),
]


def _run(scenario: str, rate: int, duration: float, seed: int):
    return simulate_session(
        scenario,
        duration_s=duration,
        rate_hz=rate,
        seed=seed,
        sensors=FEET,
        runner_variation=1.0,
        standing_s=0.0,
        mounting=RANDOM,
    )


@pytest.mark.parametrize(("scenario", "rate", "duration", "seed"), CASES)
def test_short_run_without_standing_aligns_and_finds_the_contacts(scenario, rate, duration, seed):
    run = _run(scenario, rate, duration, seed)
    for e in evaluate_run(analyze_run(run), run.truth):
        assert e["found_frac"] >= 0.95, e
        assert e["false"] == 0, e
        assert e["fsa_mae_deg"] <= 2.0, e


def test_alignment_counts_foot_flat_phases_not_still_time():
    """15 s of running: about 20 foot-flats of ~20 ms each (0.4 s of still samples in all)."""
    run = _run("easy", 208, 15.0, 1007)
    for sid in FEET:
        b = run.blocks[sid]
        res = estimate_alignment([(b.t, b.acc, b.gyr)], sampling_rate_hz=208.0)
        assert res.ok, res.reason
        assert res.n_still < 0.5 * 208  # less than the 0.5 s of still data once required
        # the up axis is the shoe's, within the few degrees the shoe is rolled (pronated) at
        # foot-flat (2.5 deg with a standing period, 5.8 without: the strike angle and the
        # pronation excursion are differences of angles and cancel it)
        true_r = np.asarray(run.truth["sensors"][sid]["R_body_from_sensor"], dtype=float)
        cos_vt = float(res.R_bs[2] @ true_r[2])
        assert cos_vt > np.cos(np.radians(10.0))


def test_a_few_steps_are_not_enough():
    """Three seconds of running (4 foot-flats) give no alignment, and say why."""
    run = _run("easy", 208, 3.0, 1007)
    b = run.blocks["left_foot"]
    res = estimate_alignment([(b.t, b.acc, b.gyr)], sampling_rate_hz=208.0)
    assert not res.ok
    assert "still" in res.reason
