"""Foot accuracy against the simulator's ground truth (targets of issue 5 as tolerances).

A fast subset runs by default; the full matrix (``-m slow``) covers sample rates, strike types,
mountings, noise, treadmill, dropouts and walking. ``scripts/accuracy_matrix.py`` writes the
measured table to ``docs/accuracy.md``.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

FEET = ("left_foot", "right_foot")
RANDOM = {"left_foot": "random", "right_foot": "random", "pelvis": "sacrum"}


def _check(scenario: str, seed: int, duration_s: float = 40.0, **overrides) -> list[dict]:
    run = simulate_session(scenario, duration_s=duration_s, seed=seed, sensors=FEET, **overrides)
    rows = analyze_run(run)
    results = evaluate_run(rows, run.truth)
    rate = float(overrides.get("rate_hz", 208))
    ic_tol, to_tol = (5.0, 10.0) if rate >= 200 else (8.0, 15.0)
    for e in results:
        sid = e["sensor_id"]
        assert e["found_frac"] >= 0.99, (sid, e)
        assert e["false"] == 0, (sid, e)
        assert e["ic_median_abs_ms"] <= ic_tol, (sid, e)
        assert e["to_median_abs_ms"] <= to_tol, (sid, e)
        assert e["fsa_mae_deg"] <= 2.0, (sid, e)
        assert e["exc_mae_deg"] <= 1.5, (sid, e)
        assert e["mpv_mape"] <= 10.0, (sid, e)
        assert e["sl_mape"] <= 2.0, (sid, e)
    return results


FAST = [
    ("rearfoot", 11, {}),
    ("forefoot", 12, {"standing_s": 0.0}),
    ("chirunning", 13, {}),  # heel strike, then a midfoot drill: a strike-type transition
    ("treadmill", 14, {"mounting": RANDOM}),
    ("easy", 15, {"rate_hz": 833, "packet_loss": 0.01}),
    ("walk", 16, {}),  # pronation rates were ~12 % low with the all-sample ml axis
]


@pytest.mark.parametrize(("scenario", "seed", "overrides"), FAST)
def test_accuracy_fast(scenario, seed, overrides):
    _check(scenario, seed, **overrides)


def test_strike_type_classification():
    # rearfoot and forefoot sessions: every contact far from the thresholds must be right
    for scenario, seed in (("rearfoot", 21), ("forefoot", 22), ("midfoot", 23)):
        run = simulate_session(scenario, duration_s=30, seed=seed, sensors=FEET)
        for e in evaluate_run(analyze_run(run), run.truth):
            assert e["strike_type_acc"] >= 0.95, (scenario, e)


SLOW = [
    *[("easy", 100 + k, {"rate_hz": r}) for k, r in enumerate((208, 416, 833, 1666))],
    ("easy", 110, {"rate_hz": 100}),
    ("midfoot", 112, {"rate_hz": 416}),
    ("forefoot", 113, {"rate_hz": 833}),
    ("forefoot", 12, {}),  # with the start from standing
    ("forefoot", 140, {"rate_hz": 100}),  # impact aliased: IC from the heel-drop zero crossing
    ("rearfoot", 111, {"rate_hz": 100}),  # the slow first step after standing
    *[
        ("easy", 120 + k, {"mounting": {"left_foot": m, "right_foot": m}})
        for k, m in enumerate(("random", "upside_down", "heel_counter", "lateral"))
    ],
    ("easy", 130, {"acc_noise_density": 6e-3, "gyr_noise_density": 0.032}),
    ("easy", 131, {"packet_loss": 0.02, "loss_burst_packets": 8}),
    ("treadmill", 132, {"rate_hz": 416}),
    ("chirunning", 133, {"rate_hz": 416, "mounting": RANDOM}),
    ("walk", 114, {"rate_hz": 208}),
    ("walk", 115, {"rate_hz": 100, "mounting": RANDOM}),
]


def _weak(scenario: str, seed: int, overrides: dict, reason: str):
    return pytest.param(scenario, seed, overrides, marks=pytest.mark.xfail(reason=reason))


KNOWN_WEAK = [
    _weak(
        "easy",
        141,
        {"rate_hz": 50},
        "50 Hz: max pronation velocity 12-14 % low (18-19 % before the Gaussian peak "
        "interpolation): the device's 20 Hz low-pass lowers the ~50 ms eversion-rate peak "
        "and the 20 ms sampling misses its top (IC/TO within 8 ms, tests/dsp/test_foot_events.py)",
    ),
    _weak(
        "easy",
        124,
        {"mounting": {"left_foot": "medial", "right_foot": "medial"}},
        "16 g clipping of the swing on a medial mount: stride length ~2.5 % after "
        "de-clipping (rows flagged saturated)",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "seed", "overrides"), SLOW + KNOWN_WEAK)
def test_accuracy_matrix(scenario, seed, overrides):
    _check(scenario, seed, duration_s=60.0, **overrides)


def test_alignment_ml_axis_from_mid_swing():
    # walking and heel strikers pronate during the slap: an ml axis from every moving sample
    # was turned 1.8-3.1 deg about vt on these sessions (mean 2.2), leaking the pitch rate into
    # the eversion rate (walking max pronation velocity 12 % low); now 0.2-1.2 (mean 0.5)
    from dsp.alignment import estimate_alignment

    leaks = []
    for scenario, seed in (("walk", 31), ("rearfoot", 32), ("forefoot", 33)):
        run = simulate_session(scenario, duration_s=22, seed=seed, sensors=FEET)
        for sid in FEET:
            b = run.blocks[sid]
            rate = run.truth["sensors"][sid]["sample_rate_hz"]
            res = estimate_alignment([(b.t, b.acc, b.gyr)], sampling_rate_hz=rate)
            r_true = np.asarray(run.truth["sensors"][sid]["R_body_from_sensor"])
            assert res.ok and res.confidence >= 0.5, (scenario, sid, res.as_dict())
            # the share of the true ml axis in the estimated ap axis (rotation about vt), deg
            leak = float(np.degrees(np.arcsin(res.R_bs[0] @ r_true[1])))
            assert abs(leak) <= 1.5, (scenario, sid, leak)
            leaks.append(abs(leak))
    assert np.mean(leaks) <= 0.8, leaks


@pytest.mark.parametrize("standing_s", [5.0, 0.0])
def test_alignment_short_session_50hz_heel_striker(standing_s):
    # at 50 Hz the device low-pass smears landing and push-off into a heel striker's short
    # foot-flat (0.3-0.6 g off 1 g): no stride for the ml sign (and, without standing, no
    # still data passing the strict test), so the sensors were never aligned and no contact
    # was reported. Without standing the up axis now comes from looser instants: flagged.
    run = simulate_session(
        "rearfoot",
        duration_s=30,
        seed=42,
        sensors=FEET,
        rate_hz=50,
        runner_variation=1.0,
        standing_s=standing_s,
    )
    rows = analyze_run(run)
    for e in evaluate_run(rows, run.truth):
        assert e["found_frac"] >= 0.95, e
        assert e["false"] == 0, e
        assert e["fsa_mae_deg"] <= 2.0, e
        assert e["exc_mae_deg"] <= 1.5, e
    flagged = ["low_alignment" in r.flags for r in rows]
    assert all(flagged) if standing_s == 0.0 else not any(flagged)


def test_alignment_50hz_single_still_samples_when_loose_instants_disagree():
    # a heel striker at 50 Hz without standing whose loose still instants came from the late
    # swing as much as from the foot-flat (gravity directions spread 10-13 deg): the sensors
    # were never aligned and no contact was reported (runner seed 44 of the matrix's
    # "rearfoot @ 50 Hz, no standing": 0 of 105 contacts). The up axis now comes from single
    # still samples (the 3-sample smoothing spans 40 ms at 50 Hz, more than the foot-flat),
    # at low confidence: every row flagged.
    from dsp.alignment import estimate_alignment

    run = simulate_session(
        "rearfoot",
        duration_s=30,
        seed=44,
        sensors=FEET,
        rate_hz=50,
        runner_variation=1.0,
        standing_s=0.0,
    )
    for sid in FEET:
        b = run.blocks[sid]
        m = b.t < 20.0  # the analyzer's first alignment attempt
        res = estimate_alignment([(b.t[m], b.acc[m], b.gyr[m])], sampling_rate_hz=50.0)
        assert res.ok and res.confidence < 0.5, res.as_dict()
        assert "single still samples" in res.reason, res.as_dict()
    rows = analyze_run(run)
    for e in evaluate_run(rows, run.truth):
        assert e["found_frac"] >= 0.95, e
        assert e["false"] == 0, e
        assert e["fsa_mae_deg"] <= 2.0, e
        assert e["exc_mae_deg"] <= 1.5, e
    assert rows and all("low_alignment" in r.flags for r in rows)


def test_max_pronation_velocity_at_100hz_between_samples():
    # at 100 Hz the ~50 ms eversion-rate burst spans a few samples: the parabola through the
    # largest sample and its neighbours left the rate 1.8-4.5 % low on these sessions (mean
    # of the two feet 2.6-3.4 %), the three-point Gaussian estimator 0.9-3.1 % (1.2-2.0 %)
    for scenario, seed in (("rearfoot", 51), ("forefoot", 52), ("easy", 53)):
        run = simulate_session(scenario, duration_s=30, seed=seed, sensors=FEET, rate_hz=100)
        res = evaluate_run(analyze_run(run), run.truth)
        mean = float(np.mean([e["mpv_mape"] for e in res]))
        assert mean <= 2.2, (scenario, [e["mpv_mape"] for e in res])


def test_foot_angles_about_the_shoes_axes_when_the_swing_axis_is_oblique():
    # the real treadmill runner's foot (docs/simulator.md): it swings about an axis ~21 deg
    # from its medio-lateral one, toes out 10 deg and lands 15 deg inverted. About the swing
    # axis's frame the strike angle was 2.7 deg off, the max pronation velocity 39 % and the
    # excursion 5.9 deg (accuracy matrix row); about the shoe's axes found from the direction
    # of progression 0.9 deg, 7 %, 1.2 deg
    run = simulate_session(
        "rearfoot",
        duration_s=30,
        seed=5,
        sensors=FEET,
        rate_hz=208,
        swing_inversion_coupling=0.35,
        foot_progression_deg=10.0,
        eversion_at_ic_deg=-15.0,
    )
    for e in evaluate_run(analyze_run(run), run.truth):
        assert e["found_frac"] >= 0.99 and e["false"] == 0, e
        assert e["fsa_mae_deg"] <= 1.5, e
        assert e["mpv_mape"] <= 12.0, e
        assert e["exc_mae_deg"] <= 2.0, e
