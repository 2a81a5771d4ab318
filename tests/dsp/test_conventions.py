"""Signs and axes of the foot frame, pinned with hand-made poses (no simulator).

The worked examples are those of ``docs/coordinate_systems.md``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dsp.alignment import estimate_alignment
from dsp.block import STANDARD_GRAVITY as G
from dsp.foot_events import ContactEvents
from dsp.foot_metrics import (
    MetricSettings,
    contact_metrics,
    eversion_deg,
    eversion_rate_dps,
    foot_pitch_deg,
)
from dsp.orientation import StrideKinematics, tilt_from_acc
from tests.dsp.foot_synth import synth_run


def _rest_reading(r_world_from_body: np.ndarray, r_bs: np.ndarray) -> np.ndarray:
    """What a sensor at rest reads (sensor frame) for a shoe pose and a mounting."""
    f_body = r_world_from_body.T @ np.array([0.0, 0.0, G])
    return r_bs.T @ f_body


def _angles_from_reading(acc_sensor: np.ndarray, r_bs: np.ndarray, side: str):
    rot = tilt_from_acc(r_bs @ acc_sensor).as_matrix()[None]
    return float(foot_pitch_deg(rot)[0]), float(eversion_deg(rot, side)[0])


def test_flat_sensor_reads_plus_g_up_and_zero_angles():
    acc = _rest_reading(np.eye(3), np.eye(3))
    np.testing.assert_allclose(acc, [0, 0, G], atol=1e-12)
    for side in ("left", "right"):
        p, e = _angles_from_reading(acc, np.eye(3), side)
        assert p == pytest.approx(0.0, abs=1e-9)
        assert e == pytest.approx(0.0, abs=1e-9)


def test_upside_down_sensor():
    r_bs = np.diag([1.0, -1.0, -1.0])
    acc = _rest_reading(np.eye(3), r_bs)
    np.testing.assert_allclose(acc, [0, 0, -G], atol=1e-12)
    np.testing.assert_allclose(r_bs @ acc, [0, 0, G], atol=1e-12)
    p, e = _angles_from_reading(acc, r_bs, "right")
    assert p == pytest.approx(0.0, abs=1e-9) and e == pytest.approx(0.0, abs=1e-9)


def test_toes_up_10_deg_is_positive_pitch():
    # e_ap = (cos10, 0, sin10): rotation of -10 deg about the (left-pointing) ml axis
    r = Rotation.from_euler("y", -10, degrees=True).as_matrix()
    np.testing.assert_allclose(r[:, 0], [np.cos(np.radians(10)), 0, np.sin(np.radians(10))])
    acc = _rest_reading(r, np.eye(3))
    np.testing.assert_allclose(
        acc, G * np.array([np.sin(np.radians(10)), 0, np.cos(np.radians(10))])
    )
    p, e = _angles_from_reading(acc, np.eye(3), "left")
    assert p == pytest.approx(10.0, abs=1e-9)
    assert e == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("side", "about_ap_deg"), [("right", -5.0), ("left", 5.0)])
def test_lateral_edge_up_5_deg_is_positive_eversion(side, about_ap_deg):
    r = Rotation.from_euler("x", about_ap_deg, degrees=True).as_matrix()
    acc = _rest_reading(r, np.eye(3))
    p, e = _angles_from_reading(acc, np.eye(3), side)
    assert e == pytest.approx(5.0, abs=1e-9)
    assert p == pytest.approx(0.0, abs=1e-9)
    # the same pose on the other shoe is an inversion
    other = "left" if side == "right" else "right"
    assert _angles_from_reading(acc, np.eye(3), other)[1] == pytest.approx(-5.0, abs=1e-9)


def _integrate(gyr_body_dps: np.ndarray, fs: float = 200.0, seconds: float = 1.0):
    n = int(seconds * fs) + 1
    t = np.arange(n) / fs
    gyr = np.tile(gyr_body_dps, (n, 1))
    acc = np.tile([0.0, 0.0, G], (n, 1))  # still and level at the anchor (sample 0)
    kin = StrideKinematics(sampling_rate_hz=fs).fit(t, acc, gyr, 0, None)
    return kin.rot_


def test_negative_gyr_ml_raises_the_toes():
    rot = _integrate(np.array([0.0, -10.0, 0.0]))
    assert foot_pitch_deg(rot)[-1] == pytest.approx(10.0, abs=1e-6)


@pytest.mark.parametrize(("side", "gyr_ap"), [("right", -10.0), ("left", 10.0)])
def test_eversion_rate_sign(side, gyr_ap):
    rot = _integrate(np.array([gyr_ap, 0.0, 0.0]))
    assert eversion_deg(rot, side)[-1] == pytest.approx(10.0, abs=1e-6)
    rate = eversion_rate_dps(np.array([[gyr_ap, 0.0, 0.0]]), side)
    assert rate[0] == pytest.approx(10.0)


MOUNTS = {
    "flat": np.eye(3),
    "upside_down": np.diag([1.0, -1.0, -1.0]),
    # heel counter: sensor z points backward (-ap), x up (vt), y to the left (ml)
    "heel_counter": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    # lateral side of the right shoe: sensor z points to the right (-ml), x forward
    "lateral_right": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
    "random": Rotation.from_euler("xyz", [137, -41, 73], degrees=True).as_matrix(),
}


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.linalg.norm(Rotation.from_matrix(a @ b.T).as_rotvec())))


@pytest.mark.parametrize("mount", sorted(MOUNTS))
@pytest.mark.parametrize("side", ["left", "right"])
def test_alignment_finds_any_mounting(mount, side):
    r_bs = MOUNTS[mount]
    run = synth_run(side=side, R_bs=r_bs, n_strides=20, noise_gyr=1.0, noise_acc=0.1)
    res = estimate_alignment([(run.t, run.acc, run.gyr)], sampling_rate_hz=208.0)
    assert res.ok
    assert res.confidence > 0.5
    assert _angle_between(res.R_bs, r_bs) < 4.0


def _stride_metrics(run, r_body_from_sensor: np.ndarray, side: str, heading_deg: float = 0.0):
    """(metrics, trace) of strides 2-17 of the hand-made ``run`` (208 Hz, known events),
    analysed in the body frame ``r_body_from_sensor`` with the shoe's heel-toe axis at
    ``heading_deg``."""
    fs = 208.0
    acc_b = run.acc @ r_body_from_sensor.T
    gyr_b = run.gyr @ r_body_from_sensor.T
    out = []
    for k in range(2, 18):
        ic = int(np.ceil(run.t_ic[k] * fs))
        to = round(run.t_to[k] * fs)
        ms = round((run.t_ic[k] + 0.4 * (run.t_to[k] - run.t_ic[k])) * fs)
        nic = int(np.ceil(run.t_ic[k + 1] * fs))
        nms = nic + (ms - ic)
        lo, hi = ic - 20, nms + 20
        sh = -lo
        ev = ContactEvents(ic + sh, ms + sh, to + sh, t_ic=run.t_ic[k], t_to=run.t_to[k])
        nxt = ContactEvents(nic + sh, nms + sh, nms + sh + 20, t_ic=run.t_ic[k + 1])
        out.append(
            contact_metrics(
                run.t[lo:hi],
                acc_b[lo:hi],
                gyr_b[lo:hi],
                ev,
                nxt,
                side=side,
                sampling_rate_hz=fs,
                settings=MetricSettings(),
                heading_deg=heading_deg,
            )
        )
    return out


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize(("strike", "expected_type"), [(15.0, "rearfoot"), (-8.0, "forefoot")])
def test_metric_signs_with_hand_made_strides(side, strike, expected_type):
    """Strike angle, strike type, excursion and pronation velocity from known events: signs
    follow the spec on both shoes, whatever the mounting (alignment found from the data)."""
    r_bs = MOUNTS["upside_down"] if side == "left" else MOUNTS["random"]
    run = synth_run(side=side, R_bs=r_bs, strike_angle=strike, n_strides=20)
    res = estimate_alignment([(run.t, run.acc, run.gyr)], sampling_rate_hz=208.0)
    fsa, exc, mpv = [], [], []
    for m, trace in _stride_metrics(run, res.R_bs, side):
        assert m["strike_type"] == expected_type
        assert trace is not None and trace.shape == (101,)
        fsa.append(m["foot_strike_angle"])
        exc.append(m["pronation_excursion"])
        mpv.append(m["max_pronation_velocity"])
    assert np.median(fsa) == pytest.approx(strike, abs=1.5)
    # the synthetic shoe everts by eversion_peak - eversion_ic = 10 deg in stance
    assert np.median(exc) == pytest.approx(run.excursion, abs=2.0)
    assert np.median(mpv) > 50.0


def test_alignment_ignores_the_table_before_the_sensor_is_clipped_on():
    """Recording started with the sensor lying on a table (another orientation), then run."""
    r_bs = MOUNTS["random"]
    run = synth_run(side="right", R_bs=r_bs, n_strides=20)
    fs = 208.0
    n_table = int(30 * fs)  # 30 s on the table, upside down relative to the shoe mounting
    rng = np.random.default_rng(1)
    table_acc = np.tile([0.0, 0.0, -G], (n_table, 1)) + rng.normal(0, 0.02, (n_table, 3))
    table_gyr = rng.normal(0, 0.3, (n_table, 3))
    t = np.concatenate([np.arange(n_table) / fs, run.t + n_table / fs + 5.0])
    acc = np.concatenate([table_acc, run.acc])
    gyr = np.concatenate([table_gyr, run.gyr])
    res = estimate_alignment([(t, acc, gyr)], sampling_rate_hz=fs)
    assert res.ok
    assert _angle_between(res.R_bs, r_bs) < 4.0


def test_foot_flat_reference_is_the_foot_frame_not_the_instant_specific_force():
    """A foot flat and still, whose sensor reads a 1.5 m/s² forward acceleration at the first
    foot-flat (a real stance is never still: the sensor ~0.15 m from the rotation point
    accelerates): from the instant's specific force the foot seems pitched by ~8.7°, from the
    pooled reference (the foot frame's vertical) it is flat; the stride then has no travel."""
    from dsp.orientation import integrate_windows

    fs = 200.0
    n = 160
    t = np.arange(n)[None, :] / fs
    acc = np.zeros((3, 1, n))
    acc[2] = G
    acc[0, 0, 15:26] = 1.5  # around the first foot-flat (sample 20)
    gyr = np.zeros((3, 1, n))
    a, b = np.array([20]), np.array([140])
    travel = []
    for up, pitch0 in ((None, 8.7), (np.array([0.0, 0.0, 1.0]), 0.0)):
        kin = integrate_windows(t, acc, gyr, np.array([n]), a, b, still_half_window=1, anchor_up=up)
        pitch = float(foot_pitch_deg(_rot_at(kin, 20))[0])
        assert abs(pitch) == pytest.approx(pitch0, abs=0.2)
        travel.append(float(np.hypot(*kin.pos[:2, 0, 140])))
    # the pooled reference leaves the sensor's own bump (1.2 cm); the instant's tilt, removed
    # linearly up to the second foot-flat, leaks gravity into the horizontal: far more
    assert travel[1] < 0.015
    assert travel[0] > 2.5 * travel[1]  # 3.3 cm


def _rot_at(kin, i: int) -> np.ndarray:
    """Body-to-world rotation (1, 3, 3) of window 0 at sample ``i``."""
    return np.asarray(kin.rot)[:, :, 0, i][None]


def _foot_angles(run, r_body_from_sensor: np.ndarray, side: str, heading_deg: float):
    """Median foot strike angle, pronation excursion and max pronation velocity of strides
    2-17 of ``run`` analysed in the body frame ``r_body_from_sensor`` with the shoe's heel-toe
    axis at ``heading_deg``."""
    ms = [m for m, _ in _stride_metrics(run, r_body_from_sensor, side, heading_deg=heading_deg)]
    return tuple(
        float(np.median([m[k] for m in ms]))
        for k in ("foot_strike_angle", "pronation_excursion", "max_pronation_velocity")
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_foot_angles_are_measured_about_the_shoes_axes_not_the_swing_axis(side):
    """A shoe landing 15° toes up and 12° inverted, everting by 19° in stance. The analysis
    frame's ``ap`` is 20° off the shoe's heel-toe axis about the vertical (on the real
    treadmill runner the swing axis was ~20° from the heel-toe axis's normal): the elevation
    of that ``ap`` picks up sin(20°) x the inversion (~4°), the elevation of its ``ml`` a third
    of the pitch, its roll rate a third of the pitch rate. With the heel-toe axis's direction
    (``heading_deg``) the angles are the shoe's."""
    run = synth_run(side=side, strike_angle=15.0, eversion_ic=-12.0, n_strides=20)
    yaw = 20.0
    # body frame whose ap points 20° towards -ml of the shoe's: the shoe's ap is at +20° in it
    r_off = Rotation.from_euler("z", -yaw, degrees=True).as_matrix().T
    fsa, exc, mpv = _foot_angles(run, r_off, side, heading_deg=yaw)
    fsa0, exc0, mpv0 = _foot_angles(run, np.eye(3), side, heading_deg=0.0)
    old_fsa, old_exc, old_mpv = _foot_angles(run, r_off, side, heading_deg=0.0)
    assert fsa == pytest.approx(15.0, abs=0.5)
    assert fsa0 == pytest.approx(15.0, abs=0.5)
    assert exc == pytest.approx(run.excursion, abs=1.0)
    assert exc == pytest.approx(exc0, abs=0.1)
    assert mpv == pytest.approx(mpv0, rel=0.02)
    assert abs(old_fsa - 15.0) > 2.0
    assert abs(old_exc - run.excursion) > 2.0
    assert abs(old_mpv / mpv0 - 1.0) > 0.05


@pytest.mark.parametrize(("side", "toe_out"), [("left", 8.0), ("right", 8.0), ("right", -5.0)])
def test_alignment_reports_the_direction_of_progression(side, toe_out):
    """A shoe turned out by ``toe_out`` from the direction of travel (foot progression angle):
    the alignment's ``ap`` is the shoe's (its swing axis), and the strides travel at
    ``toe_out`` towards the medial side of it: towards ``+ml`` (left) on the right shoe and
    towards ``-ml`` (right) on the left shoe."""
    yaw = toe_out if side == "left" else -toe_out
    r_bs = MOUNTS["random"]
    run = synth_run(side=side, R_bs=r_bs, yaw_deg=yaw, n_strides=20)
    res = estimate_alignment([(run.t, run.acc, run.gyr)], sampling_rate_hz=208.0)
    assert res.ok and res.confidence > 0.5
    assert _angle_between(res.R_bs, r_bs) < 4.0
    assert res.heading_deg == pytest.approx(-yaw, abs=1.0)
    assert res.as_dict()["heading_deg"] == pytest.approx(res.heading_deg, abs=1e-3)


def test_foot_heading_turns_laterally_by_the_toe_out_and_keeps_a_near_swing_axis():
    from dsp.foot_metrics import foot_heading_deg

    # the travel 14 deg towards +ml of the swing axis's forward: the left shoe's heel-toe axis
    # lies 6 deg further laterally (+ml), the right shoe's travel -9 deg: its axis at -15 deg
    assert foot_heading_deg(14.0, "left", 6.0) == pytest.approx(20.0)
    assert foot_heading_deg(-9.0, "right", 6.0) == pytest.approx(-15.0)
    # the shoe's axis within 2 deg of the swing axis: kept; 2-5 deg: turned part of the way
    assert foot_heading_deg(-6.5, "left", 6.0) == 0.0
    assert foot_heading_deg(7.0, "right", 6.0) == 0.0
    assert foot_heading_deg(-2.5, "left", 6.0) == pytest.approx(3.5 * 0.5)
    assert foot_heading_deg(-1.0, "left", 6.0) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        foot_heading_deg(0.0, "centre", 6.0)
