"""Foot contact events (IC/TO) at low sample rates, in walking and for different runners.

Issue targets per condition: IC median absolute error <= 5 ms and TO <= 10 ms at >= 200 Hz,
<= 8 / <= 15 ms at 100 Hz, >= 99 % of the contacts found and none false. Every session draws a
different runner (``runner_variation=1``: heel-off timing, slap duration, push-off, swing,
impact) and starts from standing, so the slow first step and the contact cut by the end of the
data are in every case. The seeds here were not used to tune ``dsp/foot_events.py``.

Only the events are checked here (the metrics have their own tolerances in
``tests/dsp/test_foot_accuracy.py``). At 50 Hz the sensor-to-foot rotation is given: the alignment
is tested elsewhere, this file tests that the events survive a 50 Hz sampling.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.foot_analyzer import FootAnalyzer
from dsp.foot_events import _push_off_trough, _rising_zero
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

FEET = ("left_foot", "right_foot")

# (scenario, rate, seed, IC tolerance ms, TO tolerance ms)
CASES = [
    ("forefoot", 100, 51, 8.0, 15.0),  # impact spike aliased away: heel-drop zero crossing
    ("rearfoot", 100, 52, 8.0, 15.0),  # slow first step after standing
    ("walk", 100, 53, 8.0, 15.0),  # soft landing (no usable impact), ringing lift-off
    ("midfoot", 100, 54, 8.0, 15.0),
    ("walk", 208, 55, 5.0, 10.0),
    ("forefoot", 208, 56, 5.0, 10.0),
    ("treadmill", 208, 57, 5.0, 10.0),
]
HEEL = {"left_foot": "heel_counter", "right_foot": "heel_counter"}


def _check(results: list[dict], ic_tol: float, to_tol: float, found: float = 0.99) -> None:
    for e in results:
        sid = e["sensor_id"]
        assert e["found_frac"] >= found, (sid, e)
        assert e["false"] == 0, (sid, e)
        assert e["ic_median_abs_ms"] <= ic_tol, (sid, e)
        assert e["to_median_abs_ms"] <= to_tol, (sid, e)


@pytest.mark.parametrize(("scenario", "rate", "seed", "ic_tol", "to_tol"), CASES)
def test_events_other_runners(scenario, rate, seed, ic_tol, to_tol):
    run = simulate_session(
        scenario, duration_s=40.0, rate_hz=rate, seed=seed, sensors=FEET, runner_variation=1.0
    )
    _check(evaluate_run(analyze_run(run), run.truth), ic_tol, to_tol)


def test_slap_onset_before_the_impact_at_100_hz():
    # this treadmill runner's foot pitches down just before touching: the slap's onset (the
    # tangent at the pitch rate's steepest fall) comes out a few ms before the impact, and a
    # window ending at it missed the impact by a sample (IC 7.6 / 11.9 ms early, strike angle
    # +1.3 deg, without EventSettings.ic_after_onset_s)
    run = simulate_session(
        "treadmill", duration_s=30.0, rate_hz=104, seed=3000, sensors=FEET, runner_variation=1.0
    )
    for e in evaluate_run(analyze_run(run), run.truth):
        assert e["ic_median_abs_ms"] <= 5.0, e
        assert e["fsa_mae_deg"] <= 0.8, e


def test_heel_counter_mount_heel_off_is_not_lift_off():
    # a sensor on the heel counter is jerked up at heel-off, 80-110 ms before the lift-off
    run = simulate_session(
        "rearfoot",
        duration_s=40.0,
        rate_hz=100,
        seed=58,
        sensors=FEET,
        runner_variation=1.0,
        mounting=HEEL,
    )
    _check(evaluate_run(analyze_run(run), run.truth), 8.0, 15.0)


@pytest.mark.parametrize(("scenario", "seed"), [("rearfoot", 61), ("forefoot", 62), ("walk", 63)])
def test_events_at_50_hz(scenario, seed):
    run = simulate_session(
        scenario, duration_s=40.0, rate_hz=50, seed=seed, sensors=FEET, runner_variation=1.0
    )
    rows = []
    for info in run.sensors:
        r_bs = np.asarray(run.truth["sensors"][info.sensor_id]["R_body_from_sensor"])
        fa = FootAnalyzer(info, R_bs=tuple(map(tuple, r_bs)))
        rows += fa.feed(run.blocks[info.sensor_id]).rows + fa.finish().rows
    # one sample is 20 ms: IC/TO within about 3/4 of a sample
    _check(evaluate_run(rows, run.truth), 15.0, 15.0, found=0.98)


def test_rising_zero_crossing_is_interpolated():
    t = np.arange(10) * 0.01
    x = np.array([5.0, 2.0, -1.0, -4.0, -3.0, -1.0, 3.0, 8.0, 9.0, 9.0])
    k, tz = _rising_zero(t, x, 1, 10)
    assert k == 6
    assert tz == pytest.approx(0.05 + 0.01 * 1.0 / 4.0)
    assert _rising_zero(t, -np.abs(x) - 1.0, 1, 10) is None


def test_toe_off_is_the_first_deep_push_off_trough_between_samples():
    # push-off trough at 0.1025 s (between samples), a second, deeper early-swing trough at
    # 0.17 s (a real runner's knee flexion): TO is the first one, refined by the parabola
    fs = 200.0
    t = np.arange(60) / fs
    om = -430.0 * np.exp(-(((t - 0.1025) / 0.02) ** 2)) - 450.0 * np.exp(
        -(((t - 0.17) / 0.02) ** 2)
    )
    k, t_to = _push_off_trough(t, om, 5, 55, 0.7)
    assert k == 20 or k == 21
    assert t_to == pytest.approx(0.1025, abs=0.0005)
    # a shallow wobble before the push-off is no trough
    om2 = om - 60.0 * np.exp(-(((t - 0.05) / 0.005) ** 2))
    assert _push_off_trough(t, om2, 5, 55, 0.7)[1] == pytest.approx(t_to)


def test_pronation_onset_that_depends_on_the_yaw_is_not_used():
    """The slap's pitch rate leaking into gyr_ap (the shoe turned from the analysis frame)
    delays the eversion's zero crossing: 24 ms here, and 31 ms apart about the axes turned by
    +-15 deg. Such an onset is not used; in the foot's own frame it is (17 ms of spread)."""
    from dsp.foot_events import EventSettings, _robust_pronation_onset

    t = np.arange(200) / 1000.0
    t0 = 0.08  # touch-down: the eversion burst starts, the slap turns the pitch rate down
    ever = np.where(t > t0, 300.0 * np.sin(np.clip((t - t0) / 0.1, 0, 1) * np.pi), -40.0)
    slap = -600.0 * np.sin(np.clip((t - t0) / 0.04, 0, 1) * np.pi)
    pitch = np.where(t > t0, slap, 100.0)

    def gyr_in_frame_turned_by(deg):
        yaw = np.radians(deg)
        gyr = np.zeros((200, 3))
        gyr[:, 0] = np.cos(yaw) * ever + np.sin(yaw) * pitch
        gyr[:, 1] = -np.sin(yaw) * ever + np.cos(yaw) * pitch
        return gyr

    s = EventSettings()
    on = _robust_pronation_onset(t, gyr_in_frame_turned_by(0.0), 10, 190, s)
    assert on == pytest.approx(t0, abs=0.002)
    assert _robust_pronation_onset(t, gyr_in_frame_turned_by(20.0), 10, 190, s) is None
    off = EventSettings(pronation_yaw_check_deg=0.0)
    late = _robust_pronation_onset(t, gyr_in_frame_turned_by(20.0), 10, 190, off)
    assert late is not None and late - t0 > 0.02


@pytest.mark.parametrize("scenario", ["midfoot", "treadmill", "rearfoot"])
def test_ic_and_to_hold_when_the_foot_is_toed_out_of_the_analysis_frame(scenario):
    """The alignment's ``ap`` axis is perpendicular to the swing rotation; a real shoe's own axis
    can be turned from it (the treadmill runner of the real-data folder: +20 deg on the left,
    -22 deg on the right, toe-out on both). Analysed in a frame turned by 20 deg that way, a
    simulated runner keeps IC within 5 ms and TO within 10 ms (the strike angle does not: it
    picks up the roll at the touch-down, see docs/accuracy.md). Toe-in (the other way) is not
    covered: midfoot IC then comes ~22 ms early."""
    from scipy.spatial.transform import Rotation

    run = simulate_session(scenario, duration_s=20.0, seed=58, sensors=FEET, rate_hz=208)
    rows = []
    for info in run.sensors:
        r_bs = np.asarray(run.truth["sensors"][info.sensor_id]["R_body_from_sensor"])
        sgn = 1.0 if info.side == "left" else -1.0
        rz = Rotation.from_euler("z", sgn * 20.0, degrees=True).as_matrix()
        fa = FootAnalyzer(info, R_bs=tuple(map(tuple, rz @ r_bs)))
        rows += fa.feed(run.blocks[info.sensor_id]).rows + fa.finish().rows
    _check(evaluate_run(rows, run.truth), 5.0, 10.0)
