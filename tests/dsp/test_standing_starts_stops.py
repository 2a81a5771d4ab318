"""Standing still before, between and after gait: every contact is found, none spans a rest.

The first contact after standing and the last landing before it were missed on real shoe
recordings (gaitmap stairs: the first step up a stair has a 85 deg/s swing, below the
mid-swing threshold; the last landing into standing has no toe-off). The last landing is a
contact without toe-off: ``t_to``, contact time and stride metrics empty.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import analyze_run

from .foot_synth import G, feed_rows, match_ics, synth_run

# (rate Hz, stride time s, contact time s): running and walking, 52-400 Hz
GAITS = [(208.0, 0.72, 0.24), (400.0, 0.70, 0.22), (100.0, 1.1, 0.65), (52.0, 1.0, 0.6)]


@pytest.mark.parametrize(("fs", "stride_time", "contact_time"), GAITS)
@pytest.mark.parametrize("seed", [0, 1])
def test_standing_start_and_stop_every_contact_found(fs, stride_time, contact_time, seed):
    r = synth_run(
        fs=fs,
        n_strides=10,
        stride_time=stride_time,
        contact_time=contact_time,
        still_s=3.0,
        seed=seed,
        noise_gyr=1.0,
        noise_acc=0.05,
        side="left",
        stop_impact=True,
    )
    rows = feed_rows(r.t, r.acc, r.gyr, fs)
    t_stop = r.extra["t_stop"]
    found, extra = match_ics(rows, [*r.t_ic, t_stop], tol_s=0.025)
    assert all(found) and not extra, (found, extra)
    last, before = rows[-1], rows[-2]
    assert abs(last.t_ic - t_stop) <= 0.025
    # the landing into standing: no toe-off, no contact time, no stride; its strike is measured
    assert last.t_to is None and last.contact_time is None and last.stride_length is None
    assert "rejected" not in last.flags
    assert last.foot_strike_angle is not None
    assert abs(last.foot_strike_angle - r.strike_angle) < 4.0
    # the stride before it ends at it
    assert before.stride_time == pytest.approx(stride_time, abs=0.03)
    assert before.stride_length is not None
    # chunking does not change anything
    assert [x.as_record() for x in feed_rows(r.t, r.acc, r.gyr, fs, block_s=0.05)] == [
        x.as_record() for x in rows
    ]


@pytest.mark.parametrize(("fs", "stride_time", "contact_time"), GAITS[:3])
def test_a_pause_between_two_bouts_is_no_contact(fs, stride_time, contact_time):
    kw = dict(fs=fs, stride_time=stride_time, contact_time=contact_time, side="left")
    a = synth_run(n_strides=8, still_s=2.5, seed=3, stop_impact=True, noise_gyr=1.0, **kw)
    b = synth_run(n_strides=8, still_s=2.5, seed=4, stop_impact=True, noise_gyr=1.0, **kw)
    shift = a.t[-1] + 1.0 / fs
    t = np.concatenate([a.t, b.t + shift])
    rows = feed_rows(t, np.concatenate([a.acc, b.acc]), np.concatenate([a.gyr, b.gyr]), fs)
    stops = [a.extra["t_stop"], b.extra["t_stop"] + shift]
    expected = [*a.t_ic, stops[0], *(b.t_ic + shift), stops[1]]
    found, extra = match_ics(rows, expected, tol_s=0.025)
    assert all(found) and not extra, (found, extra)
    for row in rows:
        if any(abs(row.t_ic - s) <= 0.025 for s in stops):
            assert row.t_to is None and row.stride_time is None
        else:  # no contact reaches into the pause
            assert row.t_to is not None and row.contact_time < 1.0


def test_simulated_stand_run_stand_has_no_contact_inside_the_stands():
    run = simulate_session(
        "easy",
        duration_s=60.0,
        rate_hz=208.0,
        seed=1,
        sensors=("left_foot", "right_foot"),
        program=(("stand", 5.0), ("run", 20.0), ("stand", 6.0), ("run", 15.0), ("stand", 5.0)),
    )
    rows = analyze_run(run)
    stands = run.truth["standing"]
    # (the simulated bouts stop at once, mid-stride, without a last landing: a contact whose
    # next swing is cut by a stand is not measurable, and a landing-like cut just before a
    # stand may be reported)
    cut = [t0 for t0, _ in stands]
    for sid in ("left_foot", "right_foot"):
        tic = np.array([r.t_ic for r in rows if r.sensor_id == sid])
        for c in run.truth["contacts"]:
            if c["sensor_id"] != sid or any(0 <= t0 - c["t_to"] < 0.4 for t0 in cut):
                continue
            if c["t_to"] + 0.15 < run.truth["duration_s"]:
                assert np.min(np.abs(tic - c["t_ic"])) <= 0.02, (sid, c)
    for t0, t1 in stands:
        # nothing in a stand (it used to give a rejected contact from mid-stand to the first
        # push-off)
        inside = [r.t_ic for r in rows if t0 + 0.2 < r.t_ic < t1]
        assert not inside, (t0, t1, inside)


def test_a_running_pelvis_step_fused_with_a_landing_into_rest_keeps_its_contact_time() -> None:
    """The feet's last landing before standing has no toe-off; the pelvis row of that step,
    fused with it, keeps the pelvis' own toe-off (it crashed: ``None - float``)."""
    from dsp.session import SessionAnalyzer

    prog = (("stand", 10.0), ("run", 60.0), ("stand", 20.0), ("walk", 30.0), ("stand", 10.0))
    run = simulate_session(
        "easy",
        duration_s=sum(d for _, d in prog),
        rate_hz=400,
        seed=1,
        truth=False,
        acc_range_g=8.0,
        program=prog,
    )
    sa = SessionAnalyzer(run.sensors)
    rows = []
    for b in run.blocks.values():
        rows += sa.feed(b).rows
    rows += sa.finish().rows
    feet_rest = [r for r in rows if r.sensor_id != "pelvis" and r.t_to is None]
    assert feet_rest  # the landings into rest are there
    pelvis_run = [r for r in rows if r.sensor_id == "pelvis" and r.activity == "run"]
    assert pelvis_run
    for r in pelvis_run:
        assert r.t_to is not None and r.contact_time is not None
        assert 0.1 < r.contact_time < 0.45, r


@pytest.mark.parametrize("fs", [833.0, 400.0])
def test_a_long_standing_start_fed_live_finds_the_first_steps(fs):
    """Standing longer than the analyzer keeps buffered before the first mid-swing (its buffer
    is trimmed meanwhile): the rests before the first mid-swing are searched in the samples
    still held (a search from the segment's start read the wrong samples and crashed in live
    feeding: IndexError in _after_rest, the simulated rearfoot run at 833 Hz)."""
    r = synth_run(
        fs=fs,
        n_strides=8,
        stride_time=0.72,
        contact_time=0.24,
        still_s=16.0,
        seed=3,
        noise_gyr=1.0,
        noise_acc=0.05,
        side="left",
    )
    live = feed_rows(r.t, r.acc, r.gyr, fs, block_s=0.05)
    found, extra = match_ics(live, [*r.t_ic, r.extra["t_stop"]], tol_s=0.025)
    assert all(found) and not extra
    assert [x.as_record() for x in live] == [
        x.as_record() for x in feed_rows(r.t, r.acc, r.gyr, fs)
    ]


@pytest.mark.parametrize(("fs", "stride_time", "contact_time"), [GAITS[0], GAITS[2]])
def test_a_pivot_while_standing_or_in_stance_is_no_step(fs, stride_time, contact_time):
    """The foot turning on the ground (about the vertical, 400 deg/s, ~55 deg) while standing
    before the first step and in the flat phase of a contact: no contact is added or lost (a
    turning swing needs the foot lifted and a landing: ``FootAnalyzer._turn_contacts``)."""
    r = synth_run(
        fs=fs,
        n_strides=6,
        stride_time=stride_time,
        contact_time=contact_time,
        still_s=3.0,
        seed=2,
        noise_gyr=1.0,
        noise_acc=0.05,
        side="left",
        stop_impact=True,
    )
    k = 3  # a contact's flat phase: after its landing, before its heel rise
    t_mid = r.t_ic[k] + 0.45 * (r.t_to[k] - r.t_ic[k])
    yaw = sum(400.0 * np.exp(-(((r.t - c) / 0.08) ** 2)) for c in (1.2, t_mid))
    # the rate about the vertical in the sensor frame (rows: R_bs.T @ v); the foot is flat,
    # so gravity stays on the vertical and the specific force is unchanged
    gyr = r.gyr + np.outer(yaw, r.R_bs[2])
    rows = feed_rows(r.t, r.acc, gyr, fs)
    found, extra = match_ics(rows, [*r.t_ic, r.extra["t_stop"]], tol_s=0.025)
    assert all(found) and not extra, (found, extra)


def test_a_gentle_last_step_before_standing_is_a_contact():
    """A walker's closing step is often a shuffle whose swing stays below the mid-swing
    threshold (real walkers: 50-100 deg/s; Voisard et al. data): after the last landing, a
    short stand, the shuffle (80 deg/s toes-up, a ringing landing), then standing. The shuffle's
    landing used to be missed (one contact from the last landing into the rest)."""
    fs = 100.0
    kw = dict(fs=fs, stride_time=1.1, contact_time=0.65, side="left", stop_impact=True)
    a = synth_run(n_strides=4, seed=1, noise_gyr=1.0, noise_acc=0.05, **kw)
    b = synth_run(n_strides=4, seed=2, noise_gyr=1.0, noise_acc=0.05, **kw)
    rng = np.random.default_rng(7)
    cut_a = a.t <= a.extra["t_stop"] + 0.6
    tt = np.arange(0.0, 2.2, 1.0 / fs)  # the shuffle (0-0.6 s), then standing

    def bump(c, w):
        return np.exp(-(((tt - c) / w) ** 2))

    t_land = 0.455
    u = tt - t_land
    ring = np.where(u >= 0, np.exp(-np.clip(u, 0, None) / 0.02) * np.cos(80 * np.pi * u), 0)
    omega = -70 * bump(0.12, 0.04) + 80 * bump(0.3, 0.06)  # heel rise, a small swing
    body_g = np.zeros((tt.size, 3))
    body_g[:, 1] = -omega + 250 * ring  # (omega = -gyr_ml)
    body_a = np.zeros((tt.size, 3))
    body_a[:, 2] = G * (1.0 + 0.3 * bump(0.22, 0.04) - 0.3 * bump(0.38, 0.04) + 2.5 * ring)
    body_a[:, 0] = G * (0.3 * bump(0.25, 0.06) - 0.3 * bump(0.4, 0.04) + 1.0 * ring)
    gyr_s = body_g @ a.R_bs + rng.normal(0, 1.0, body_g.shape)  # (rows: R_bs.T @ v)
    acc_s = body_a @ a.R_bs + rng.normal(0, 0.05, body_a.shape)
    cut_b = b.t >= 1.0
    t0 = a.t[cut_a][-1] + 1.0 / fs
    t1 = t0 + tt[-1] + 1.0 / fs - b.t[cut_b][0]
    t = np.concatenate([a.t[cut_a], t0 + tt, b.t[cut_b] + t1])
    acc = np.concatenate([a.acc[cut_a], acc_s, b.acc[cut_b]])
    gyr = np.concatenate([a.gyr[cut_a], gyr_s, b.gyr[cut_b]])
    expected = [*a.t_ic, a.extra["t_stop"], t0 + t_land, *(b.t_ic + t1), b.extra["t_stop"] + t1]
    rows = feed_rows(t, acc, gyr, fs)
    found, extra = match_ics(rows, expected, tol_s=0.025)
    assert all(found) and not extra, (found, extra)
    last = min(rows, key=lambda r: abs(r.t_ic - (t0 + t_land)))
    assert last.t_to is None and "rejected" not in last.flags  # a landing into standing
    assert [x.as_record() for x in feed_rows(t, acc, gyr, fs, block_s=0.05)] == [
        x.as_record() for x in rows
    ]
