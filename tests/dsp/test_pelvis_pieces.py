"""The named pieces of the pelvis analyzer (dsp.pelvis_segment, dsp.pelvis_steps): each gives the
same values whatever the chunking, and decides as its docstring says."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dsp.orientation import chain_rotations, rotate_rows
from dsp.pelvis_alignment import estimate_pelvis_alignment
from dsp.pelvis_segment import (
    EpochGeometry,
    GyroChain,
    MeanDecimation,
    PelvisPiece,
    SegmentContacts,
    SegmentSamples,
    bridge_gaps,
)
from dsp.pelvis_steps import (
    PelvisStep,
    StepLinker,
    baseline_from_steps,
    vote_sides,
    whole_steps,
)
from firmware_bridge.simulator import simulate_session


def _step(t_ic: float, next_ic: float = math.nan, **kw: float) -> PelvisStep:
    vals = dict(obl_max=math.nan, obl_min=math.nan, obl_ic=math.nan, obl_mean=0.0, lat_mean=0.0)
    vals.update(kw)
    return PelvisStep(
        t_ic=t_ic, t_to=t_ic + 0.2, next_ic=next_ic, next2_ic=math.nan, vo_cm=8.0, flight=True,
        **vals,
    )  # fmt: skip


def test_bridge_gaps_bridges_short_gaps_and_splits_long_ones():
    fs = 100.0
    t = np.arange(300) / fs
    keep = np.ones(300, dtype=bool)
    keep[50:60] = False  # 0.11 s lost: bridged
    keep[150:190] = False  # 0.41 s lost: a new segment
    t = t[keep]
    acc = np.column_stack([t, 2 * t, np.full_like(t, 9.8)])
    gyr = np.column_stack([t, -t, 3 * t])
    pieces = bridge_gaps(
        t, acc, gyr, np.empty((0, 2)), None, sampling_rate_hz=fs, bridge_max_s=0.25
    )
    assert len(pieces) == 2
    a, b = pieces
    assert bool(a.new_segment) and bool(b.new_segment)
    np.testing.assert_allclose(np.diff(a.t), 1 / fs, atol=1e-9)  # on the nominal grid
    assert a.t.shape[0] == 150 and a.bridged.sum() == 10
    np.testing.assert_allclose(a.acc[:, 0], a.t, atol=1e-12)  # linear interpolation
    assert a.gap[50:60].all() and a.gap.sum() == 10  # no gap reported: the bridged samples
    assert b.t[0] == pytest.approx(1.9) and not b.bridged.any()
    # the previous block's last sample: a gap at the block start is seen, not a new segment
    more = bridge_gaps(
        np.array([3.05, 3.06]),
        acc[:2],
        gyr[:2],
        np.empty((0, 2)),
        (3.0, acc[-1], gyr[-1]),
        sampling_rate_hz=fs,
        bridge_max_s=0.25,
    )
    assert len(more) == 1 and not bool(more[0].new_segment) and more[0].bridged.sum() == 4


def test_gyro_chain_is_the_same_for_any_chunking():
    rng = np.random.default_rng(1)
    n = 2500
    t = np.arange(n) / 200.0
    gyr = 200 * rng.standard_normal((n, 3))
    whole = GyroChain(block=512).advance(t, gyr)
    chain = GyroChain(block=512)
    cuts = [0, 1, 7, 511, 512, 513, 1400, 2100, n]
    parts = [chain.advance(t[a:b], gyr[a:b]) for a, b in itertools.pairwise(cuts)]
    assert np.array_equal(np.concatenate(parts), whole)
    np.testing.assert_allclose(np.linalg.norm(whole, axis=1), 1.0, atol=1e-12)
    # a constant rate about z for 1 s: 90 deg
    t2 = np.arange(201) / 200.0
    q = GyroChain().advance(t2, np.tile([0.0, 0.0, 90.0], (201, 1)))
    assert 2 * math.degrees(math.atan2(q[-1, 2], q[-1, 3])) == pytest.approx(90.0, abs=1e-9)


def test_chain_rotations_blocked_scan_is_the_doubling_scan_up_to_rounding():
    # GyroChain chains by the blocked scan: the same rotations as the doubling scan to ~1e-16
    # (products in another order), and each element depends only on the increments before it
    rng = np.random.default_rng(3)
    rv = np.radians(300 * rng.standard_normal((4096, 3))) / 400.0
    half = 0.5 * np.linalg.norm(rv, axis=1)
    inc = np.column_stack((rv * (np.sin(half) / (2 * half))[:, None], np.cos(half)))
    fast = chain_rotations(inc, work_efficient=True)
    ref = chain_rotations(inc)
    assert not np.array_equal(fast, ref)  # (really the other scan)
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-13)
    for m in (1, 2, 9, 1000, 4095):
        assert np.array_equal(chain_rotations(inc[:m], work_efficient=True), fast[:m])


def test_segment_contacts_do_not_depend_on_the_block_sizes():
    sim = simulate_session("easy", duration_s=30, rate_hz=104, seed=5, sensors=("pelvis",))
    info = sim.sensors[0]
    block = sim.blocks[info.sensor_id]
    fs = info.sample_rate_hz
    geo = EpochGeometry.at(fs, epoch_s=0.5, pad_s=3.0, lookahead_s=1.1)
    al = estimate_pelvis_alignment([(block.t, block.acc, block.gyr)], sampling_rate_hz=fs)
    acc, gyr = rotate_rows(block.acc, al.R_bs), rotate_rows(block.gyr, al.R_bs)  # body frame

    def run(step: int) -> SegmentContacts:
        smp, ev = SegmentSamples(), SegmentContacts()
        n = len(block)
        for a in range(0, n, step):
            b = min(n, a + step)
            z = np.zeros(b - a, dtype=bool)
            smp.add(block.t[a:b], acc[a:b], gyr[a:b], z, z, z)
            ev.detect(smp, geo, sampling_rate_hz=fs, gravity=9.80665, final=b == n)
        return ev

    ref = run(len(block))
    assert len(ref) > 60
    for step in (13, 200):
        got = run(step)
        for k in SegmentContacts._COLUMNS:
            assert np.array_equal(getattr(got, k), getattr(ref, k)), k


def test_whole_steps_and_linker():
    assert whole_steps(0.66, 0.33) == 2
    assert whole_steps(0.50, 0.33) == 0  # 1.5 steps: not a whole number
    assert whole_steps(2.0, 0.33) == 0  # more than 4 steps
    assert whole_steps(0.33, None) == 0
    lk = StepLinker()
    a = _step(1.0, next_ic=1.33)
    b = _step(1.33, next_ic=1.66)
    c = _step(1.99)  # one contact (1.66) missed
    d = _step(5.0)  # after a pause: a new run
    prev = None
    for st in (a, b, c, d):
        lk.link(st, prev)
        prev = st
    assert [(s.run, s.step_no) for s in (a, b, c, d)] == [(1, 0), (1, 1), (1, 3), (2, 4)]
    assert lk.step_s == pytest.approx(0.33)


def test_vote_sides_waits_for_the_open_run_and_follows_the_cues():
    # alternating cues, left first: obliquity high and sideways force low in a left stance
    steps = [
        _step(0.35 * i, obl_mean=(2.0 if i % 2 == 0 else -2.0), lat_mean=(-1.0 if i % 2 == 0 else 1.0))
        for i in range(30)
    ]  # fmt: skip
    for i, st in enumerate(steps):
        st.run, st.step_no = 1, i
    vote_sides(steps[:10], 0, half_window=8, lookahead=0, open_segment=True)
    assert all(s.left is None for s in steps[:10])  # the run has fewer than 2K + 1 steps
    vote_sides(steps, 0, half_window=8, lookahead=2, open_segment=True)
    decided = [s for s in steps if s.left is not None]
    assert len(decided) == 28  # the last two wait for the two later steps that vote on them
    assert [s.left for s in decided] == [i % 2 == 0 for i in range(len(decided))]
    vote_sides(steps, 0, half_window=8, lookahead=2, open_segment=False)
    assert [s.left for s in steps] == [i % 2 == 0 for i in range(30)]


def test_baseline_from_steps_needs_both_sides():
    def st(left: bool, obl_ic: float, peak: float) -> PelvisStep:
        s = _step(0.0, obl_ic=obl_ic, obl_max=peak, obl_min=peak)
        s.left = left
        return s

    # pelvis level at contact (IC 1 deg on both sides): the baseline is that level
    steps = [st(i % 2 == 0, 1.0, 6.0 if i % 2 == 0 else -3.0) for i in range(12)]
    assert baseline_from_steps(steps, n_half=6, final=False, stop_when_enough=True) == 1.0
    assert baseline_from_steps(steps, n_half=7, final=False, stop_when_enough=True) is None
    assert baseline_from_steps(steps, n_half=7, final=True, stop_when_enough=True) == 1.0
    only_left = [s for s in steps if s.left]
    assert baseline_from_steps(only_left, n_half=1, final=True, stop_when_enough=False) is None


def _piece(t, new: bool, sat=None, gap=None) -> PelvisPiece:
    n = t.shape[0]
    return PelvisPiece(
        t,
        np.column_stack([t, 2 * t, -t]),
        np.column_stack([t, t, t]) * 10.0,
        np.zeros(n, bool) if gap is None else gap,
        np.asarray(new),
        np.zeros(n, bool),
        np.zeros(n, bool) if sat is None else sat,
    )


def test_mean_decimation_groups_each_segment_from_its_start_whatever_the_chunking():
    t = np.arange(23) / 400.0
    sat = np.zeros(23, bool)
    sat[5] = True
    gap = np.zeros(23, bool)
    gap[12] = True
    whole = MeanDecimation(4)(_piece(t, True, sat, gap))
    assert whole is not None and whole.t.shape == (5,)  # 23 // 4 groups; 3 samples left open
    assert np.allclose(whole.t, t[:20].reshape(5, 4).mean(axis=1))
    assert np.allclose(whole.acc[:, 1], 2 * whole.t)
    assert whole.sat.tolist() == [False, True, False, False, False]
    assert whole.gap.tolist() == [False, False, False, True, False]
    assert bool(whole.new_segment)
    for cuts in ([1, 2, 3], [7], [3, 9, 10, 17, 22]):
        dec = MeanDecimation(4)
        out = []
        for a, b in itertools.pairwise([0, *cuts, 23]):
            q = dec(_piece(t[a:b], a == 0, sat[a:b], gap[a:b]))
            if q is not None:
                out.append(q)
        assert [bool(q.new_segment) for q in out] == [True] + [False] * (len(out) - 1)
        for name in ("t", "acc", "gyr", "gap", "sat"):
            got = np.concatenate([getattr(q, name) for q in out])
            assert np.array_equal(got, getattr(whole, name)), (cuts, name)
    # a new segment drops the open group of the last one and groups from its own start
    dec = MeanDecimation(4)
    dec(_piece(t[:6], True))
    q = dec(_piece(t[10:18], True))
    assert q is not None and bool(q.new_segment)
    assert np.allclose(q.t, t[10:18].reshape(2, 4).mean(axis=1))
