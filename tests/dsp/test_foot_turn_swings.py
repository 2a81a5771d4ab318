"""Turning swings (issue 16, point 6): a walker's pivot step at a turn.

At the turn of a walk (real walkers, Voisard et al. data) a foot is often lifted and set down
turned by 45-180 deg with hardly any toes-up rotation: no mid-swing (the pitch rate stays below
its threshold), a peak of the rate about the vertical instead, then a landing. Such a step used
to be missed, with the contact before it or after it. A foot that turns on the ground (a pivot
in stance) is no step. Hand-made signals (``foot_synth``, independent of the simulator).
"""

from __future__ import annotations

import numpy as np

from dsp.foot_events import find_turn_swings

from .foot_synth import G, feed_rows, match_ics, synth_run

FS = 100.0
WALK = dict(fs=FS, stride_time=1.1, contact_time=0.65, side="left", stop_impact=True)


def _bump(t: np.ndarray, c: float, w: float) -> np.ndarray:
    return np.exp(-(((t - c) / w) ** 2))


def test_find_turn_swings_starts_at_the_lift_of_each_yaw_peak():
    t = np.arange(0.0, 4.0, 1.0 / FS)
    yaw = 400 * _bump(t, 1.0, 0.08) + 150 * _bump(t, 2.0, 0.08) + 300 * _bump(t, 3.0, 0.1)
    yaw += 250 * _bump(t, 3.12, 0.03)  # a second hump of the same swing: no second swing
    w = find_turn_swings(yaw, lo=30, hi=370, half_window=22, threshold_dps=200.0)
    # one per peak above the threshold (not the 150 deg/s one), where the rate first
    # exceeds half of the peak
    assert w.size == 2
    for k, c in zip(w.tolist(), (1.0, 3.0), strict=True):
        peak = float(yaw[np.abs(t - c) <= 0.2].max())
        assert yaw[k] >= 0.5 * peak > yaw[k - 1]
        assert c - 0.15 < t[k] < c
    assert find_turn_swings(yaw, lo=30, hi=370, half_window=22, threshold_dps=450.0).size == 0


def _turn_walk(*, lift: bool):
    """Walk, land into a brief stand, turn the foot by ~60 deg (lifted and set down with a
    ringing impact, or turned on the ground), walk on: (t, acc, gyr, expected ICs, t_turn)."""
    a = synth_run(n_strides=4, seed=1, noise_gyr=1.0, noise_acc=0.05, **WALK)
    b = synth_run(n_strides=4, seed=2, noise_gyr=1.0, noise_acc=0.05, **WALK)
    assert np.allclose(a.R_bs, b.R_bs)
    rng = np.random.default_rng(5)
    cut_a = a.t <= a.extra["t_stop"] + 0.5
    tt = np.arange(0.0, 0.7, 1.0 / FS)
    body_g = np.zeros((tt.size, 3))
    body_a = np.zeros((tt.size, 3))
    body_a[:, 2] = G
    body_g[:, 2] = 400 * _bump(tt, 0.25, 0.08)  # the turn about the vertical
    t_land = 0.385
    if lift:
        # lifted a few cm and carried ~30 cm round in ~0.3 s (up 0.4 g, sideways 0.8 g, then
        # braked), then a ringing impact and the foot's wobble
        lift_acc = _bump(tt, 0.2, 0.05) - _bump(tt, 0.33, 0.05)
        body_a[:, 2] += 0.4 * G * lift_acc
        body_a[:, 1] += 0.8 * G * lift_acc
        u = tt - t_land
        ring = np.where(u >= 0, np.exp(-np.clip(u, 0, None) / 0.02) * np.cos(80 * np.pi * u), 0)
        body_a[:, 2] += 3.0 * G * ring
        body_a[:, 0] += 1.5 * G * ring
        body_g[:, 1] += 300 * ring  # (real walkers: 200-400 deg/s bursts after a landing)
    gyr_t = body_g @ a.R_bs + rng.normal(0, 1.0, body_g.shape)  # (rows: R_bs.T @ v)
    acc_t = body_a @ a.R_bs + rng.normal(0, 0.05, body_a.shape)
    cut_b = b.t >= 1.0
    t0 = a.t[cut_a][-1] + 1.0 / FS
    t1 = t0 + tt[-1] + 1.0 / FS - b.t[cut_b][0]
    t = np.concatenate([a.t[cut_a], t0 + tt, b.t[cut_b] + t1])
    acc = np.concatenate([a.acc[cut_a], acc_t, b.acc[cut_b]])
    gyr = np.concatenate([a.gyr[cut_a], gyr_t, b.gyr[cut_b]])
    expected = [*a.t_ic, a.extra["t_stop"], *(b.t_ic + t1), b.extra["t_stop"] + t1]
    return t, acc, gyr, expected, t0 + t_land


def test_a_turning_step_between_two_walking_swings_is_a_contact():
    t, acc, gyr, expected, t_turn = _turn_walk(lift=True)
    rows = feed_rows(t, acc, gyr, FS)
    found, extra = match_ics(rows, [*expected, t_turn], tol_s=0.03)
    assert all(found) and not extra, (found, extra)
    # the same contacts whatever the blocks
    live = feed_rows(t, acc, gyr, FS, block_s=0.05)
    assert [x.as_record() for x in live] == [x.as_record() for x in rows]


def test_a_foot_turning_on_the_ground_is_no_step():
    t, acc, gyr, expected, _ = _turn_walk(lift=False)
    rows = feed_rows(t, acc, gyr, FS)
    found, extra = match_ics(rows, expected, tol_s=0.03)
    assert all(found) and not extra, (found, extra)
