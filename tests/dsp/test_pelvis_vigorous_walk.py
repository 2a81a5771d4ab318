"""Walking whose pelvis dips far below 1 g in single support is still walking (issue 17, the
Voisard et al. walks: the smoothed specific force at L5 falls to 0.44-0.6 g in 8 % of the steps
of 110 trials, and in most steps of some walkers), while running keeps its flight phases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dsp.block import STANDARD_GRAVITY
from dsp.pelvis_events import FLIGHT_MAX_G, detect_stances, detect_walk_steps
from firmware_bridge.simulator.eval_pelvis import run_pelvis_only, score_pelvis
from firmware_bridge.simulator.session import simulate_session

G = STANDARD_GRAVITY


def _vigorous_walk_norm(fs: float = 100.0, step_s: float = 0.55, n_steps: int = 30):
    """A hand-made walking pelvis: 1 g standing, then steps whose specific force peaks at
    1.5 g after each contact and falls to 0.47 g in single support (a smooth inverted-pendulum
    valley, no flight), then standing."""
    t = np.arange(int((2.0 + n_steps * step_s + 2.0) * fs)) / fs
    ph = (t - 2.0) / step_s
    walking = (ph >= 0) & (ph < n_steps)
    x = np.ones_like(t)
    x[walking] += 0.53 * np.cos(2 * np.pi * (ph[walking] - 0.15)) - 0.02
    ic = 2.0 + np.arange(n_steps) * step_s
    return t, x * G, ic


def test_a_deep_single_support_valley_is_no_flight_phase() -> None:
    t, f, ic = _vigorous_walk_norm()
    assert f.min() / G < 0.5  # below the former flight level of 0.6 g
    w = detect_walk_steps(t, f, sampling_rate_hz=100.0)
    # every step of the walk but the first and last (no valley on both sides)
    assert len(w) >= len(ic) - 2
    # and no running contact: the valley is no flight phase
    ev = detect_stances(t, f, sampling_rate_hz=100.0)
    assert not ev.flight.any()


def test_the_flight_level_sits_between_walking_and_running() -> None:
    # the deepest smoothed single-support reading of the real walks is 0.44 g; the shallowest
    # smoothed flight of the simulator's runs is 0.32 g (forefoot)
    assert 0.32 < FLIGHT_MAX_G < 0.44


@pytest.fixture(scope="module")
def vigorous_walk():
    """The simulator's walk with its vertical oscillation made 2.3 times larger: single support
    down to 0.44 g (as the most vigorous real walkers), peaks at 2.4 g, no flight."""
    sim = simulate_session("walk", duration_s=40.0, rate_hz=100.0, seed=3, sensors=("pelvis",))
    b = sim.blocks["pelvis"]
    r = np.asarray(sim.truth["sensors"]["pelvis"]["R_body_from_sensor"])
    acc_b = b.acc @ r.T
    acc_b[:, 2] += 1.3 * (acc_b[:, 2] - acc_b[:, 2].mean())
    sim.blocks["pelvis"] = dataclasses.replace(b, acc=acc_b @ r)
    return sim


def test_a_vigorous_walk_is_walking_from_the_pelvis_alone(vigorous_walk) -> None:
    b = vigorous_walk.blocks["pelvis"]
    assert np.linalg.norm(b.acc[500:], axis=1).min() / G < 0.46
    pa, rows = run_pelvis_only(vigorous_walk)
    sc = score_pelvis(rows, vigorous_walk.truth, t_end=b.t_end)
    assert {r.activity for r in rows} == {"walk"}
    assert pa.alignment_.gait == "walk"
    assert sc.found >= 0.97 and sc.false <= 1 and sc.side >= 0.97, sc


@pytest.mark.parametrize("scenario", ["forefoot", "chirunning"])
def test_running_with_short_flights_stays_running(scenario: str) -> None:
    """The runs with the shallowest flight phases of the simulator (forefoot, ChiRunning's
    high cadence) give running contacts only, no walking step."""
    sim = simulate_session(scenario, duration_s=30.0, rate_hz=208.0, seed=2, sensors=("pelvis",))
    b = sim.blocks["pelvis"]
    w = detect_walk_steps(b.t, np.linalg.norm(b.acc, axis=1), sampling_rate_hz=208.0)
    assert len(w) == 0
    _, rows = run_pelvis_only(sim)
    assert rows and {r.activity for r in rows} == {"run"}
    sc = score_pelvis(rows, sim.truth, t_end=b.t_end)
    assert sc.found >= 0.97, sc


def _rattling(sim, peak_dps: float = 750.0):
    """The simulated walk's pelvis sensor rattling at every contact: a 40 ms burst about the
    sideways axis, +peak then -peak (no net tilt), as a loosely strapped real sensor
    (voisard_17-4: 600-850 deg/s spikes at each heel strike)."""
    b = sim.blocks["pelvis"]
    r = np.asarray(sim.truth["sensors"]["pelvis"]["R_body_from_sensor"])
    gyr_b = b.gyr @ r.T
    fs = 1.0 / float(np.median(np.diff(b.t)))
    for s in sim.truth["steps"]:
        i = int(np.searchsorted(b.t, s["t_ic"]))
        n = max(2, round(0.02 * fs))
        gyr_b[i : i + n, 1] += peak_dps
        gyr_b[i + n : i + 2 * n, 1] -= peak_dps
    return dataclasses.replace(b, gyr=gyr_b @ r)


def test_a_rattling_pelvis_sensor_is_no_foot() -> None:
    sim = simulate_session("walk", duration_s=40.0, rate_hz=100.0, seed=4, sensors=("pelvis",))
    sim.blocks["pelvis"] = _rattling(sim)
    b = sim.blocks["pelvis"]
    assert np.percentile(np.linalg.norm(b.gyr, axis=1), 99) > 500.0
    pa, rows = run_pelvis_only(sim)
    assert not pa.alignment_.foot_like and pa.alignment_.ok
    sc = score_pelvis(rows, sim.truth, t_end=b.t_end)
    assert sc.found >= 0.95 and sc.side >= 0.97, sc


def test_a_walking_foot_labelled_pelvis_is_reported() -> None:
    from dsp.block import SampleBlock, SensorInfo
    from dsp.pelvis_analyzer import PelvisAnalyzer

    sim = simulate_session("walk", duration_s=40.0, rate_hz=100.0, seed=4, sensors=("left_foot",))
    b = sim.blocks["left_foot"]
    pa = PelvisAnalyzer(SensorInfo("hip", "pelvis", "sim", 100.0))
    rows = [*pa.feed(SampleBlock("hip", b.t, b.acc, b.gyr)).rows, *pa.finish().rows]
    assert rows == []
    assert "is it on a foot" in pa.summary()["problem"]
