"""Simulator: truth consistent with the signals, sensor model, CLI, determinism, streaming.

Tolerances (stated here, checked below):
- foot strike angle from the integrated gyro (true mounting, true start pose, true bias/gain,
  known anti-alias group delay): median abs error <= 0.25 deg at >= 100 Hz, <= 0.6 deg at 50 Hz
  (measured: 0.19 deg at 50 Hz, <= 0.04 deg at >= 100 Hz);
- pronation excursion: <= 0.3 deg at >= 100 Hz, <= 1.0 deg at 50 Hz (measured 0.65 / <= 0.08);
- peak pronation velocity from the gyro within 5 % (median) at >= 208 Hz (measured <= 1 %);
- vertical oscillation from the double-integrated pelvis acc (per step, drift removed):
  median abs error <= 0.15 cm at 50 Hz, <= 0.05 cm above (measured 0.08 / <= 0.02 cm);
- standing: acc = gain · R_sb R_bw (0, 0, g) + bias within 0.03 m/s² (averaged over the stand).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.interpolate import BPoly
from scipy.signal import butter, group_delay
from scipy.spatial.transform import Rotation

from dsp.block import STANDARD_GRAVITY as G
from dsp.source import BlockSource
from firmware_bridge.simulator import (
    SCENARIOS,
    Scenario,
    SimulatedSource,
    get_scenario,
    simulate_session,
)
from firmware_bridge.simulator.kinematics import _body_rates, euler_zyx_matrix
from firmware_bridge.simulator.spline import QuinticHermite

RATES = (50.0, 100.0, 208.0, 416.0, 833.0, 1666.0)


# --------------------------------------------------------------------------------------------
# helpers: what an analysis with perfect knowledge of the sensor would do
# --------------------------------------------------------------------------------------------
def _corrected(run, sid):
    """Block of ``sid`` with the true gain/bias removed, in the body frame."""
    s = run.truth["sensors"][sid]
    b = run.blocks[sid]
    Rbs = np.array(s["R_body_from_sensor"])
    acc = np.linalg.solve(np.array(s["acc_gain"]), (b.acc - np.array(s["acc_bias"])).T).T
    gyr = np.linalg.solve(np.array(s["gyr_gain"]), (b.gyr - np.array(s["gyr_bias"])).T).T
    return b.t - s["time_offset_s"], acc @ Rbs.T, gyr @ Rbs.T


def _aa_delay(run):
    """Low-frequency group delay (s) of the device's anti-alias filter."""
    s = (
        run.truth["sensors"]["left_foot"]
        if "left_foot" in run.truth["sensors"]
        else next(iter(run.truth["sensors"].values()))
    )
    if s["aa_cutoff_hz"] is None:
        return 0.0
    fs_int = run.truth["internal_rate_hz"]
    b, a = butter(run.scenario.aa_order, s["aa_cutoff_hz"], fs=fs_int)
    _, gd = group_delay((b, a), w=[1.0], fs=fs_int)
    return float(gd[0]) / fs_int


def _integrate(R0: np.ndarray, t: np.ndarray, gyr_body_dps: np.ndarray) -> np.ndarray:
    """Strap-down integration (trapezoid rate, body-frame increments): (N, 3, 3) R_world_body."""
    w = np.deg2rad(0.5 * (gyr_body_dps[1:] + gyr_body_dps[:-1])) * np.diff(t)[:, None]
    inc = Rotation.from_rotvec(w).as_quat()  # x, y, z, w
    q = np.empty((t.size, 4))
    q[0] = Rotation.from_matrix(R0).as_quat()
    x1, y1, z1, w1 = q[0]
    for k in range(inc.shape[0]):
        x2, y2, z2, w2 = inc[k]
        x1, y1, z1, w1 = (
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        )
        q[k + 1] = (x1, y1, z1, w1)
    return Rotation.from_quat(q).as_matrix()


def _angles_from_gyro(run, sid):
    t, _, gyr = _corrected(run, sid)
    R0 = np.array(run.truth["sensors"][sid]["R_world_from_body_at_start"])
    R = _integrate(R0, t, gyr)
    sign = 1.0 if sid == "left_foot" else -1.0
    pitch = np.rad2deg(np.arcsin(np.clip(R[:, 2, 0], -1, 1)))
    ev = np.rad2deg(np.arcsin(np.clip(sign * R[:, 2, 1], -1, 1)))
    return t, pitch, ev, sign * gyr[:, 0]


def _sim(scenario="chirunning", **kw):
    kw.setdefault("duration_s", 24.0)
    kw.setdefault("standing_s", 3.0)
    return simulate_session(scenario, **kw)


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
def test_quintic_hermite_matches_scipy_bpoly():
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.uniform(0.1, 0.5, 8))
    y, dy, ddy = rng.standard_normal((3, 8))
    q = QuinticHermite(t, y, dy, ddy)
    ref = BPoly.from_derivatives(t, np.stack([y, dy, ddy], 1))
    x = np.linspace(t[0], t[-1], 2001)
    for nu in range(3):
        np.testing.assert_allclose(q(x, nu), ref(x, nu), atol=1e-9 * 10**nu)


def test_euler_matrix_and_body_rates_match_scipy_and_finite_differences():
    rng = np.random.default_rng(2)
    a = rng.uniform(-1.2, 1.2, (50, 3))
    R = euler_zyx_matrix(a[:, 0], a[:, 1], a[:, 2])
    np.testing.assert_allclose(R, Rotation.from_euler("ZYX", a).as_matrix(), atol=1e-12)
    rates = rng.uniform(-5, 5, (50, 3))
    h = 1e-6
    R2 = euler_zyx_matrix(*(a + h * rates).T)
    w_fd = Rotation.from_matrix(np.einsum("nji,njk->nik", R, R2)).as_rotvec() / h
    w = _body_rates(rates[:, 0], a[:, 1], rates[:, 1], a[:, 2], rates[:, 2])
    np.testing.assert_allclose(w, w_fd, atol=1e-4)


def test_named_scenarios_exist_and_are_varied():
    for name in ("chirunning", "forefoot", "walk", "treadmill", "easy", "rearfoot", "midfoot"):
        assert name in SCENARIOS
        SCENARIOS[name]().validate()
    sc = [SCENARIOS[n]() for n in SCENARIOS]
    assert len({float(np.mean(s.schedule(s.cadence_spm, np.linspace(0, 100, 5)))) for s in sc}) >= 5
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("nope")
    with pytest.raises(ValueError, match="rate_hz"):
        simulate_session("easy", duration_s=5, rate_hz=20)
    with pytest.raises(ValueError, match="unknown field"):
        simulate_session("easy", duration_s=5, cadense=3)


def test_sole_never_below_ground_in_swing_and_contacts_alternate():
    run = _sim("forefoot", duration_s=20.0, truth=True)
    plan = run.generator.plan
    for _side, foot in plan.feet.items():
        t = np.arange(0.0, 20.0, 1 / 4000)
        z = foot.lowest_z(t)
        i = np.clip(np.searchsorted(foot.t_ic, t, "right") - 1, 0, None)
        nxt = np.minimum(i + 1, foot.t_ic.size - 1)
        swing = (t > foot.t_to[i] + 1e-3) & (t < foot.t_ic[nxt] - 1e-3)
        assert z[swing].min() > 0.0
        assert z[~swing].min() > -0.004  # sole compression only
    sides = [c["side"] for c in run.truth["contacts"]]
    assert all(a != b for a, b in itertools.pairwise(sides))


# --------------------------------------------------------------------------------------------
# truth vs signals
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "mounting"),
    [
        (50.0, "laces"),
        (100.0, "heel_counter"),
        (208.0, "lateral"),
        (416.0, "upside_down"),
        (833.0, "random"),
        (1666.0, "medial"),
        (208.0, "random"),
    ],
)
def test_integrated_gyro_reproduces_strike_angle_and_eversion(rate, mounting):
    run = _sim(
        "chirunning",
        rate_hz=rate,
        seed=int(rate) % 7,
        mounting={"left_foot": mounting, "right_foot": mounting, "pelvis": "sacrum"},
    )
    delay = _aa_delay(run)
    tol_fsa, tol_exc = (0.6, 1.0) if rate < 100 else (0.25, 0.3)
    for sid in ("left_foot", "right_foot"):
        t, pitch, ev, ev_rate = _angles_from_gyro(run, sid)
        te = t - delay
        rows = [c for c in run.truth["contacts"] if c["sensor_id"] == sid]
        assert len(rows) > 15
        fsa_err, exc_err, pv = [], [], []
        for c in rows:
            p_ic = np.interp(c["t_ic"], te, pitch)
            p_ff = np.interp(c["t_foot_flat"], te, pitch)
            fsa_err.append(p_ic - p_ff - c["foot_strike_angle"])
            st = (te >= c["t_ic"]) & (te <= c["t_to"])
            ev_ic = np.interp(c["t_ic"], te, ev)
            exc_err.append(ev[st].max() - ev_ic - c["pronation_excursion"])
            pv.append(ev_rate[st].max() / c["max_pronation_velocity"])
        assert np.median(np.abs(fsa_err)) <= tol_fsa, (sid, np.median(np.abs(fsa_err)))
        assert np.median(np.abs(exc_err)) <= tol_exc, (sid, np.median(np.abs(exc_err)))
        if rate >= 208:
            assert abs(np.median(pv) - 1.0) <= 0.05, np.median(pv)


@pytest.mark.parametrize("rate", RATES)
def test_double_integrated_pelvis_reproduces_vertical_oscillation(rate):
    mounting = {100.0: "pelvis_front", 208.0: "pelvis_upside_down", 416.0: "random"}.get(
        rate, "sacrum"
    )
    run = _sim(
        "easy",
        rate_hz=rate,
        seed=3,
        mounting={"left_foot": "laces", "right_foot": "laces", "pelvis": mounting},
    )
    t, acc, gyr = _corrected(run, "pelvis")
    t = t - _aa_delay(run)
    R = _integrate(np.array(run.truth["sensors"]["pelvis"]["R_world_from_body_at_start"]), t, gyr)
    a_vert = np.einsum("nij,nj->ni", R, acc)[:, 2] - G
    errs = []
    for s in run.truth["steps"]:
        if s["vertical_oscillation"] is None or s["t_ic"] < 6.0:
            continue
        nxt = next(x["t_ic"] for x in run.truth["steps"] if x["t_ic"] > s["t_ic"])
        tt = np.linspace(s["t_ic"], nxt, 400)
        aa = np.interp(tt, t, a_vert)
        v = np.concatenate(([0.0], np.cumsum(0.5 * (aa[1:] + aa[:-1]) * np.diff(tt))))
        v -= np.trapezoid(v, tt) / (tt[-1] - tt[0])
        z = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(tt))))
        z -= np.linspace(z[0], z[-1], z.size)
        errs.append(np.ptp(z) * 100 - s["vertical_oscillation"])
    assert len(errs) > 20
    assert np.median(np.abs(errs)) <= (0.15 if rate < 100 else 0.05), np.median(np.abs(errs))


@pytest.mark.parametrize("mounting", ["laces", "heel_counter", "lateral", "upside_down", "random"])
def test_standing_acc_is_gravity_through_true_mounting(mounting):
    run = _sim(
        "easy",
        duration_s=10.0,
        standing_s=4.0,
        seed=5,
        mounting={"left_foot": mounting, "right_foot": mounting, "pelvis": "pelvis_upside_down"},
    )
    t_end = run.truth["standing"][0][1]
    assert t_end > 3.0
    for sid, s in run.truth["sensors"].items():
        b = run.blocks[sid]
        sel = (b.t > 0.3) & (b.t < t_end - 0.2)
        Rws = np.array(s["R_world_from_body_at_start"]) @ np.array(s["R_body_from_sensor"])
        ideal = Rws.T @ np.array([0.0, 0.0, G])
        expect = np.array(s["acc_gain"]) @ ideal + np.array(s["acc_bias"])
        np.testing.assert_allclose(b.acc[sel].mean(axis=0), expect, atol=0.03)
        assert np.linalg.norm(b.acc[sel].mean(axis=0) - ideal) < 0.5
        assert np.abs(b.gyr[sel].mean(axis=0) - np.array(s["gyr_bias"])).max() < 0.05


def test_truth_consistent_with_its_own_definitions():
    run = _sim("chirunning", duration_s=60.0, standing_s=5.0)
    tr = run.truth
    marker_t = tr["markers"][0][0]
    assert tr["markers"][0][1:] == ["midfoot drill", "note"]
    for c in tr["contacts"]:
        assert c["contact_time"] == pytest.approx(c["t_to"] - c["t_ic"], abs=2e-6)
        if c["stride_time"]:
            assert c["cadence"] == pytest.approx(120 / c["stride_time"], rel=1e-4)
            assert c["speed"] == pytest.approx(c["stride_length"] / c["stride_time"], rel=1e-4)
        assert c["t_ic"] < c["t_foot_flat"] < c["t_to"]
        assert abs(c["pitch_at_foot_flat"]) < 0.05
    before = [c for c in tr["contacts"] if 8 < c["t_ic"] < marker_t]
    after = [c for c in tr["contacts"] if c["t_ic"] > marker_t + 8]
    assert np.mean([c["strike_type"] == "rearfoot" for c in before]) > 0.9
    assert np.mean([c["strike_type"] == "midfoot" for c in after]) > 0.8
    assert (
        np.median([c["cadence"] for c in after if c["cadence"]])
        > np.median([c["cadence"] for c in before if c["cadence"]]) + 10
    )
    drop_l = np.median([s["pelvic_drop"] for s in tr["steps"] if s["side"] == "left"])
    drop_r = np.median([s["pelvic_drop"] for s in tr["steps"] if s["side"] == "right"])
    assert 6.5 < drop_l < 8.5 and 3.0 < drop_r < 5.0
    # steady state: speed ~ 3 m/s, stride ~ 2.2 m, vertical oscillation a few cm
    steady = [c for c in tr["contacts"] if c["speed"] and c["t_ic"] > 10]
    assert 2.6 < np.median([c["speed"] for c in steady]) < 3.5
    vo = [
        s["vertical_oscillation"]
        for s in tr["steps"]
        if s["vertical_oscillation"] and s["t_ic"] > 10
    ]
    assert 5.0 < np.median(vo) < 11.0


def test_signal_shapes_match_published_magnitudes():
    """Mid-swing gyro peak, impact spike, foot-flat plateau, pelvis 0 g flight / 2-3 g stance."""
    run = _sim("rearfoot", duration_s=30.0, rate_hz=833.0, seed=2)
    tr = run.truth
    t, acc, gyr = _corrected(run, "right_foot")
    rows = [
        c
        for c in tr["contacts"]
        if c["sensor_id"] == "right_foot" and c["t_ic"] > 6 and c["stride_time"]
    ]
    swing_pk, imp, plateau = [], [], []
    for c in rows:
        sw = (t > c["t_to"]) & (t < c["t_ic"] + c["stride_time"])
        swing_pk.append(np.abs(gyr[sw, 1]).max())
        post = (t >= c["t_ic"]) & (t < c["t_ic"] + 0.05)
        imp.append(np.linalg.norm(acc[post], axis=1).max() / G)
        st = (t > c["t_ic"]) & (t < c["t_to"])
        plateau.append(np.linalg.norm(gyr[st], axis=1).min())
    assert 300 < np.median(swing_pk) < 1500
    assert np.median(imp) > 5.0
    assert np.median(plateau) < 30.0
    # pelvis: vertical specific force ~0 g in flight, 2-3 g peak in stance
    t, acc, gyr = _corrected(run, "pelvis")
    R = _integrate(np.array(tr["sensors"]["pelvis"]["R_world_from_body_at_start"]), t, gyr)
    f_vert = np.einsum("nij,nj->ni", R, acc)[:, 2] / G
    peaks, flight = [], []
    steps = [s for s in tr["steps"] if s["t_ic"] > 6]
    for s, nxt in itertools.pairwise(steps):
        st = (t > s["t_ic"]) & (t < s["t_to"])
        peaks.append(f_vert[st].max())
        fl = (t > s["t_to"] + 0.02) & (t < nxt["t_ic"] - 0.02)
        if fl.any():
            flight.append(np.median(f_vert[fl]))
    assert 2.0 < np.median(peaks) < 3.2
    assert abs(np.median(flight)) < 0.15


def test_saturation_with_low_range():
    run = _sim("rearfoot", duration_s=12.0, acc_range_g=4.0, gyr_range_dps=500.0)
    b = run.blocks["left_foot"]
    lsb_g = 4.0 * G / 32768
    assert np.any(np.abs(b.acc) >= 4.0 * G - 2 * lsb_g)
    assert np.abs(b.acc).max() <= 4.0 * G + 1e-9
    assert np.any(np.abs(b.gyr) >= 500.0 - 0.1)
    assert np.abs(b.gyr).max() <= 500.0 + 1e-9


# --------------------------------------------------------------------------------------------
# session mechanics
# --------------------------------------------------------------------------------------------
def test_determinism_by_seed():
    a = _sim("easy", duration_s=8.0, seed=11)
    b = _sim("easy", duration_s=8.0, seed=11)
    c = _sim("easy", duration_s=8.0, seed=12)
    for sid in a.blocks:
        np.testing.assert_array_equal(a.blocks[sid].acc, b.blocks[sid].acc)
        np.testing.assert_array_equal(a.blocks[sid].gyr, b.blocks[sid].gyr)
    assert a.truth == b.truth
    assert not np.array_equal(a.blocks["pelvis"].acc, c.blocks["pelvis"].acc)


def test_packet_loss_gaps_and_seq():
    run = _sim(
        "easy",
        duration_s=40.0,
        packet_loss=0.05,
        loss_burst_packets=3.0,
        samples_per_packet=4,
        truth=True,
    )
    for sid, b in run.blocks.items():
        seq = b.seq.astype(np.int64)
        d = np.diff(seq)
        assert np.all(d >= 1)
        jumps = np.flatnonzero(d > 1)
        lost = int(np.sum(d[jumps] - 1)) + int(seq[0])
        n_total = len(b) + lost
        assert 0.025 < lost / n_total < 0.09
        assert np.all((d[jumps] - 1) % 4 == 0)  # whole packets
        # one gap per jump, lying strictly between the two samples around it
        assert b.gaps.shape[0] == jumps.size + (1 if seq[0] > 0 else 0)
        inner = b.gaps[-jumps.size :] if jumps.size else b.gaps[:0]
        assert np.all(inner[:, 0] > b.t[jumps]) and np.all(inner[:, 1] < b.t[jumps + 1])
        assert run.truth["sensors"][sid]["lost_samples"] == int(seq[-1]) + 1 - len(b)


def test_iter_blocks_interleaves_and_reassembles():
    run = _sim("easy", duration_s=6.0, packet_loss=0.05, truth=False)
    got: dict[str, list] = {}
    last_win = -1.0
    for blk in run.iter_blocks(block_s=0.1):
        w = math.floor(blk.t[0] / 0.1 + 1e-9)
        assert w >= last_win
        last_win = w
        got.setdefault(blk.sensor_id, []).append(blk)
    for sid, blocks in got.items():
        ref = run.blocks[sid]
        np.testing.assert_array_equal(np.concatenate([b.t for b in blocks]), ref.t)
        np.testing.assert_array_equal(np.concatenate([b.seq for b in blocks]), ref.seq)
        assert sum(b.gaps.shape[0] for b in blocks) == ref.gaps.shape[0]


def test_simulated_source_matches_session_and_is_a_block_source():
    run = _sim("walk", duration_s=5.0, standing_s=1.0, seed=4, truth=False)

    async def collect():
        src = SimulatedSource(
            "walk", seed=4, realtime=False, duration_s=5.0, standing_s=1.0, block_s=0.2
        )
        assert isinstance(src, BlockSource)
        out: dict[str, list] = {}
        async with src:
            assert [s.sensor_id for s in src.sensors] == [s.sensor_id for s in run.sensors]
            async for blk in src.blocks():
                out.setdefault(blk.sensor_id, []).append(blk)
            st = src.status()
        return out, st

    out, st = asyncio.run(collect())
    for sid, ref in run.blocks.items():
        t = np.concatenate([b.t for b in out[sid]])
        acc = np.concatenate([b.acc for b in out[sid]])
        np.testing.assert_array_equal(t, ref.t)
        np.testing.assert_allclose(acc, ref.acc, atol=1e-9)
        assert st[sid].samples == len(ref)


def test_simulated_source_paces_in_real_time():
    async def run_for():
        src = SimulatedSource("easy", realtime=True, speed=10.0, duration_s=2.0, standing_s=0.5)
        import time

        t0 = time.monotonic()
        n = 0
        async with src:
            async for _ in src.blocks():
                n += 1
        return time.monotonic() - t0, n

    wall, n = asyncio.run(run_for())
    assert n > 20
    assert 0.15 < wall < 2.0


def test_cli_writes_recording_that_info_reads(tmp_path):
    out = tmp_path / "chi.h5"
    truth = tmp_path / "chi.json"
    cmd = [
        sys.executable,
        "-m",
        "runform",
        "simulate",
        "--scenario",
        "chirunning",
        "--out",
        str(out),
        "--truth",
        str(truth),
        "--duration",
        "30",
        "--rate",
        "104",
        "--seed",
        "3",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    from recordings import open_recording

    with open_recording(out) as rec:
        assert sorted(s.sensor_id for s in rec.sensors) == ["left_foot", "pelvis", "right_foot"]
        assert all(s.device_model == "simulated" and s.sample_rate_hz == 104.0 for s in rec.sensors)
        labels = [(label, kind) for _, label, kind in rec.markers]
        assert ("midfoot drill", "note") in labels
        assert rec.duration_s == pytest.approx(30.0, abs=0.05)
    tr = json.loads(truth.read_text())
    assert tr["format"] == "runform-truth" and tr["format_version"] == 1
    again = simulate_session("chirunning", duration_s=30.0, rate_hz=104.0, seed=3)
    assert json.loads(json.dumps(again.truth)) == tr
    info = subprocess.run(
        [sys.executable, "-m", "runform", "info", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    assert "midfoot drill" in info.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "runform", "simulate", "--scenario", "nope", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_scenario_dataclass_roundtrip_and_overrides():
    sc = get_scenario("treadmill")
    assert isinstance(sc, Scenario) and sc.treadmill
    run = simulate_session(sc, duration_s=15.0, seed=1, pelvic_drop_deg=(9.0, 2.0))
    drops = {
        s: np.median([x["pelvic_drop"] for x in run.truth["steps"] if x["side"] == s])
        for s in ("left", "right")
    }
    assert drops["left"] > drops["right"] + 5
    assert run.truth["treadmill"] is True


def test_no_standing_period_and_clock_offset():
    run = simulate_session(
        "midfoot", duration_s=10.0, standing_s=0.0, seed=2, clock_offset_s={"pelvis": 0.02}
    )
    assert run.truth["standing"] == []
    assert run.truth["contacts"][0]["t_ic"] < 0.8  # running from the start
    assert run.truth["sensors"]["pelvis"]["time_offset_s"] == 0.02
    tp, tf = run.blocks["pelvis"].t, run.blocks["left_foot"].t
    assert tp[0] >= 0.02 and tf[0] < 1 / 208.0
    mags = np.linalg.norm(run.blocks["left_foot"].gyr[:200], axis=1)
    assert mags.max() > 200  # already moving


@pytest.mark.slow
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    "mounting", ["laces", "heel_counter", "lateral", "medial", "upside_down", "random"]
)
def test_full_rate_mounting_matrix(rate, mounting):
    test_integrated_gyro_reproduces_strike_angle_and_eversion(rate, mounting)


def test_runner_variation_changes_style_but_truth_stays_consistent():
    a = _sim("easy", duration_s=20.0, seed=1, runner_variation=1.0, rate_hz=416.0)
    b = _sim("easy", duration_s=20.0, seed=2, runner_variation=1.0, rate_hz=416.0)
    assert a.generator.plan.style != b.generator.plan.style
    for run in (a, b):
        d = _aa_delay(run)
        t, pitch, _, _ = _angles_from_gyro(run, "right_foot")
        errs = [
            np.interp(c["t_ic"], t - d, pitch)
            - np.interp(c["t_foot_flat"], t - d, pitch)
            - c["foot_strike_angle"]
            for c in run.truth["contacts"]
            if c["sensor_id"] == "right_foot"
        ]
        assert np.median(np.abs(errs)) < 0.25


def test_shipped_example_recording():
    import os

    from recordings import open_recording

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    h5 = os.path.join(root, "recordings", "examples", "chirunning_example.h5")
    js = os.path.join(root, "recordings", "examples", "chirunning_example.truth.json")
    assert os.path.getsize(h5) < 2_000_000
    with open_recording(h5) as rec:
        assert sorted(s.placement for s in rec.sensors) == ["left_foot", "pelvis", "right_foot"]
        assert 60 <= rec.duration_s <= 90
        drill = [t for t, label, kind in rec.markers if label == "midfoot drill" and kind == "note"]
        assert len(drill) == 1
    tr = json.loads(open(js, encoding="utf-8").read())
    assert tr["standing"] and tr["standing"][0][1] > 3.0
    types_before = {c["strike_type"] for c in tr["contacts"] if 8 < c["t_ic"] < drill[0]}
    types_after = {c["strike_type"] for c in tr["contacts"] if c["t_ic"] > drill[0] + 8}
    assert "rearfoot" in types_before and "midfoot" in types_after


def test_streamed_recording_equals_session(tmp_path):
    from firmware_bridge.simulator import write_simulated_recording
    from recordings import open_recording

    kw = dict(duration_s=12.0, seed=9, standing_s=2.0, packet_loss=0.03)
    run = simulate_session("forefoot", **kw)
    _, tr, n = write_simulated_recording(
        tmp_path / "f.h5", "forefoot", truth_path=tmp_path / "f.json", piece_s=5.0, **kw
    )
    assert tr == run.truth
    assert json.loads((tmp_path / "f.json").read_text()) == json.loads(json.dumps(run.truth))
    with open_recording(tmp_path / "f.h5") as rec:
        for sid, ref in run.blocks.items():
            assert n[sid] == len(ref)
            blk = rec.read(sid)
            np.testing.assert_array_equal(blk.t, ref.t)
            np.testing.assert_allclose(blk.acc, ref.acc, atol=1e-5)
            np.testing.assert_array_equal(blk.seq, ref.seq)
            np.testing.assert_allclose(rec.gaps(sid), ref.gaps)


def test_device_knobs_have_one_default_and_reach_every_sensor():
    """The device knobs' defaults live in DeviceSpec; a scenario's values reach each sensor."""
    from dataclasses import fields

    from firmware_bridge.simulator.scenarios import Scenario, get_scenario
    from firmware_bridge.simulator.sensor_model import DeviceSpec
    from firmware_bridge.simulator.session import SignalGenerator

    base = Scenario()
    for f in fields(DeviceSpec):
        assert getattr(base, f.name) == f.default, f.name
    sc = get_scenario("easy").with_overrides(acc_range_g=4.0, packet_loss=0.03, aa_order=3)
    gen = SignalGenerator(sc, 1)
    assert gen.models
    for model in gen.models.values():
        assert model.spec == sc.device_spec()
        assert (model.spec.acc_range_g, model.spec.packet_loss, model.spec.aa_order) == (
            4.0,
            0.03,
            3,
        )


def test_oblique_swing_turns_the_swing_axis_and_keeps_the_stance():
    """``swing_inversion_coupling``: the foot inverts as it dorsiflexes in late swing, so the
    mid-swing rotation axis leaves the shoe's medio-lateral axis (its forward turned medially,
    as on the real treadmill runner); the stance, the touch-down and the truth stay as they
    are, and integrating the gyroscope still gives the truth's angles."""
    kw = {"duration_s": 16.0, "seed": 3, "rate_hz": 416.0}
    flat = _sim("rearfoot", **kw)
    obl = _sim("rearfoot", swing_inversion_coupling=0.35, **kw)
    for a, b in zip(flat.truth["contacts"], obl.truth["contacts"], strict=True):
        for key in ("t_ic", "foot_strike_angle", "pronation_excursion", "max_pronation_velocity"):
            assert a[key] == pytest.approx(b[key], abs=1e-9)
    for sid in ("left_foot", "right_foot"):
        sign = 1.0 if sid == "left_foot" else -1.0
        axes = []
        for run in (flat, obl):
            _, _, gyr = _corrected(run, sid)
            g = np.linalg.norm(gyr, axis=1)
            pk = g >= np.percentile(g, 99.0)  # the mid-swing peaks
            # the forward of the swing axis (+ towards the medial side), deg
            axes.append(np.degrees(np.median(np.arctan2(-sign * gyr[pk, 0], -gyr[pk, 1]))))
        assert abs(axes[0]) < 3.0
        assert axes[1] > 10.0, axes
        t, pitch, _, _ = _angles_from_gyro(obl, sid)
        d = _aa_delay(obl)
        rows = [c for c in obl.truth["contacts"] if c["sensor_id"] == sid]
        errs = [
            np.interp(c["t_ic"], t - d, pitch)
            - np.interp(c["t_foot_flat"], t - d, pitch)
            - c["foot_strike_angle"]
            for c in rows
        ]
        assert np.median(np.abs(errs)) < 0.25


def test_a_walk_stop_closes_with_the_trailing_foot_and_stands_still():
    """``walk_stop_s``: the last contact at or before the stop is the closing one, the
    trailing foot set down beside the other a short step (``WALK_CLOSING_STEP``) after the
    last contact; neither foot lifts again and every sensor is still after it."""
    from firmware_bridge.simulator.kinematics import WALK_CLOSING_STEP

    sim = simulate_session("walk", duration_s=30.0, seed=1, walk_stop_s=24.0, rate_hz=104.0)
    tr = sim.truth
    c = tr["contacts"]
    t_stop = tr["t_stop"]
    assert 22.5 < t_stop <= 24.0
    assert c[-1]["closing"] and abs(c[-1]["t_ic"] - t_stop) < 0.02
    assert c[-1]["side"] != c[-2]["side"] and not c[-2]["closing"]
    assert c[-1]["t_to"] is None and c[-2]["t_to"] is None
    assert all(x["t_to"] is not None and x["t_to"] < x["t_ic"] + 1.0 for x in c[:-2])
    step = c[-2]["t_ic"] - c[-3]["t_ic"]
    assert c[-1]["t_ic"] - c[-2]["t_ic"] == pytest.approx(WALK_CLOSING_STEP * step, abs=0.02)
    # the pelvis steps list both last contacts (no drop: no single support after them)
    assert [s["t_ic"] for s in tr["steps"]][-2:] == [c[-2]["t_ic"], c[-1]["t_ic"]]
    assert tr["steps"][-1]["closing"] and tr["steps"][-1]["pelvic_drop"] is None
    for sid, b in sim.blocks.items():
        late = b.t > t_stop + 0.3
        assert np.abs(b.gyr[late]).max() < 3.0, sid  # noise and bias only
        an = np.linalg.norm(b.acc[late], axis=1)
        assert np.ptp(an) < 0.05 * G, sid


def test_a_program_walk_before_standing_stops_at_its_closing_contact():
    """In a program, a walk followed by standing stops: its truth bout ends at the closing
    contact and the stand after it is one bout."""
    sim = simulate_session("intervals", duration_s=340.0, rate_hz=52.0, seed=2)
    bouts = sim.truth["bouts"]
    assert [b[2] for b in bouts[-2:]] == ["walk", "stand"]
    closing = [s for s in sim.truth["steps"] if s.get("closing")]
    assert len(closing) == 1 and bouts[-1][0] == pytest.approx(closing[0]["t_ic"], abs=0.02)
    assert all(a[2] != b[2] for a, b in itertools.pairwise(bouts))


def test_a_program_scaled_below_its_shortest_bout_is_one_clear_error():
    """A duration that shortens a program's walking or running bouts below MIN_PROGRAM_BOUT_S
    (a walk before standing below MIN_STOPPING_WALK_S) is refused with the shortest duration
    that works (before: 'walk_stop_s 1.15, expected a walk stopping at least 3 s after
    standing_s' about a bout the user never named); that duration simulates, every bout
    scaled alike."""
    from firmware_bridge.simulator.scenarios import (
        MIN_PROGRAM_BOUT_S,
        MIN_STOPPING_WALK_S,
        get_scenario,
    )

    sc = get_scenario("intervals")
    total = sum(d for _, d in sc.program)
    # the last walk (90 s) stops before the closing stand; the shortest bouts are 60 s
    assert sc.program[-2] == ("walk", 90.0) and sc.program[-1][0] == "stand"
    need = sc.min_duration_s()
    assert need == pytest.approx(
        max(total * MIN_STOPPING_WALK_S / 90.0, total * MIN_PROGRAM_BOUT_S / 60.0), abs=0.1
    )
    with pytest.raises(ValueError, match=rf"at least {need:g} s") as err:
        simulate_session("intervals", duration_s=20.0, rate_hz=52.0, seed=0, truth=False)
    assert "\n" not in str(err.value) and "walk_stop_s" not in str(err.value)
    sim = simulate_session("intervals", duration_s=need, rate_hz=52.0, seed=0)
    moving = [b for b in sim.truth["bouts"] if b[2] != "stand"]
    assert len(moving) == sum(1 for a, _ in sc.program if a != "stand")
    bouts = sim.scenario.program_bouts()
    assert min(d for a, d in bouts if a != "stand") >= MIN_PROGRAM_BOUT_S
    assert bouts[-2][1] >= MIN_STOPPING_WALK_S
    # a program whose walk before standing is its shortest bout
    custom = sc.with_overrides(
        program=(("stand", 5.0), ("run", 60.0), ("walk", 20.0), ("stand", 5.0)), duration_s=90.0
    )
    need = custom.min_duration_s()
    assert need == pytest.approx(90.0 * MIN_STOPPING_WALK_S / 20.0, abs=0.1)
    simulate_session(custom.with_overrides(duration_s=need), rate_hz=52.0, seed=0, truth=False)
    with pytest.raises(ValueError, match="too short for its program"):
        simulate_session(custom.with_overrides(duration_s=need - 1.0), rate_hz=52.0, seed=0)
    assert get_scenario("easy").min_duration_s() == 0.0


@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        ({"acc_range_g": 0.0}, "acc_range_g 0, expected 0.5 to 1000 g"),
        ({"gyr_range_dps": -5.0}, "gyr_range_dps -5, expected 10 to 100000 deg/s"),
        ({"pelvic_drop_deg": (100.0, 100.0)}, "pelvic_drop_deg value 100"),
        ({"mount_jitter_deg": 1e9}, "mount_jitter_deg"),
        ({"standing_s": 30.0, "duration_s": 20.0}, "standing_s 30.0, expected"),
    ],
)
def test_knobs_that_make_no_readable_recording_are_refused(overrides, msg):
    """acc_range_g 0 (or gyr_range_dps -5) was simulated and written as a recording that every
    runform command then refused ('acc_range_g is 0, expected 0.5 to 1000 g'); a pelvic drop of
    100 deg or a jitter of 1e9 deg went through; a standing period asked for that is longer
    than the session was silently cut to a quarter of it."""
    with pytest.raises(ValueError, match=re.escape(msg)):
        simulate_session(
            "easy", rate_hz=52.0, seed=0, truth=False, **{"duration_s": 10.0, **overrides}
        )
    # a scenario's own standing period still gives way to a short duration
    sim = simulate_session("easy", duration_s=3.0, rate_hz=52.0, seed=0, truth=False)
    assert sim.scenario.standing_s < 3.0
