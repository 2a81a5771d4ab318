"""Non-physical samples are gaps, never stillness, and no input crashes the analysis.

Dropouts written as all-zero six-axis samples, NaN and readings beyond the stated range are
treated as lost samples; the analysers fed random garbage blocks (hypothesis) either give rows
or a clear :class:`dsp.errors.AnalysisError`, never another exception.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp.block import SampleBlock, SensorInfo
from dsp.errors import AnalysisError
from dsp.session import SessionAnalyzer
from dsp.stream_input import physical_samples
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import evaluate

FS = 104.0
SENSORS = [
    SensorInfo("lf", "left_foot", "simulated", FS, acc_range_g=16, gyr_range_dps=2000),
    SensorInfo("rf", "right_foot", "simulated", FS, acc_range_g=8, gyr_range_dps=2000),
    SensorInfo("pv", "pelvis", "simulated", FS, acc_range_g=8, gyr_range_dps=2000),
]


@pytest.fixture(scope="module")
def easy():
    return simulate_session("easy", duration_s=40, rate_hz=208, seed=2, sensors=("left_foot",))


def test_physical_samples_mask():
    t = np.arange(7) / FS
    acc = np.array(
        [[0, 0, 9.8], [0, 0, 0], [0, 0, 0], [np.nan, 0, 9.8], [0, 0, 200.0], [0, 0, 0], [0, 0, 0]]
    )
    gyr = np.array([[1, 2, 3], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1e-3], [0, 0, 0]])
    ok = physical_samples(t, acc, gyr, acc_range_ms2=16 * 9.80665, gyr_range_dps=2000)
    # a run of zeros on all six axes, NaN and beyond the range are not physical; a zero acc
    # with a moving gyro is kept (only the six-axis zero is a dropout signature), and so is a
    # single all-zero sample (an ideal free-fall sample of a simulation)
    assert ok.tolist() == [True, False, False, False, False, True, True]
    # without a stated range the 200 m/s² sample is kept
    assert physical_samples(t, acc, gyr)[4]


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_zero_runs_dropped_whatever_the_blocks(step):
    """Zero runs are dropped, single zeros kept, the same for any block size (a trailing
    single zero waits for the next block)."""
    from dsp.stream_input import BlockInput

    n = 40
    t = np.arange(n) / FS
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    gyr = np.ones((n, 3))
    for a, b in ((5, 6), (10, 13), (20, 22), (30, 31)):  # one single zero, three runs... and
        acc[a:b] = 0.0
        gyr[a:b] = 0.0
    acc[39] = gyr[39] = 0.0  # a single zero at the very end is held back (never released)
    inp = BlockInput("lf", FS, rate_tolerance=0.05, zero_dropouts=True)
    got = []
    for i in range(0, n, step):
        out = inp.accept(SampleBlock("lf", t[i : i + step], acc[i : i + step], gyr[i : i + step]))
        if out is not None:
            got += out.t.tolist()
    dropped = set(range(10, 13)) | set(range(20, 22)) | {39}
    assert got == [t[i] for i in range(n) if i not in dropped]


def test_zero_dropouts_are_gaps_not_stillness(easy):
    """Radio dropouts written as zeros (runs of 5-40 samples) used to end in LinAlgError in the
    alignment; now they are lost samples: the contacts around them are flagged or left out,
    the others are found as without them. (Losses up to ``gap_split_s``, 0.1 s, are bridged: a
    contact overlapping one is reported, flagged ``gap``.)"""
    b = easy.blocks["left_foot"]
    acc, gyr = b.acc.copy(), b.gyr.copy()
    rng = np.random.default_rng(1)
    acc[:2000] = 0.0  # the recording starts with zeros (10 s)
    gyr[:2000] = 0.0
    for s in rng.integers(2000, len(b.t) - 50, 40):
        n = rng.integers(5, 40)
        acc[s : s + n] = 0.0
        gyr[s : s + n] = 0.0
    sa = SessionAnalyzer(easy.sensors)
    rows = [*sa.feed(SampleBlock("left_foot", b.t, acc, gyr)).rows, *sa.finish().rows]
    d = sa.diagnostics()["left_foot"]
    assert d["alignment"] is not None and not d["low_alignment"]
    zeros = (acc == 0).all(axis=1)
    for r in rows:
        i0, i1 = np.searchsorted(b.t, [r.t_ic - 0.01, r.t_to + 0.01])
        if zeros[i0:i1].any():
            assert "gap" in r.flags, f"a contact at {r.t_ic:.2f} s over a dropout, not flagged"
    truth_gaps = []
    k = np.flatnonzero(np.diff(np.concatenate(([0], zeros.astype(np.int8), [0]))))
    for a, z in zip(k[::2], k[1::2], strict=True):
        truth_gaps.append([b.t[max(0, a - 1)], b.t[min(len(b.t) - 1, z)]])
    truth = dict(easy.truth)
    truth["sensors"] = {"left_foot": {"gaps": truth_gaps}}
    ev = evaluate(rows, truth, "left_foot")
    assert ev["false"] == 0
    assert ev["found_frac"] >= 0.9


_garbage_kind = st.sampled_from(["zeros", "nan", "huge", "noise", "constant", "spikes", "real"])


@st.composite
def garbage_blocks(draw):
    """A few blocks of one sensor, each made of random garbage kinds in pieces."""
    n_blocks = draw(st.integers(1, 4))
    sid = draw(st.sampled_from(["lf", "rf", "pv"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    blocks = []
    t0 = draw(st.floats(0.0, 1000.0))
    for _ in range(n_blocks):
        n = draw(st.integers(1, 900))
        acc = np.empty((n, 3))
        gyr = np.empty((n, 3))
        cuts = np.sort(rng.integers(0, n + 1, draw(st.integers(0, 4))))
        for lo, hi in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [n])), strict=True):
            kind = draw(_garbage_kind)
            m = hi - lo
            if kind == "zeros":
                a, g = np.zeros((m, 3)), np.zeros((m, 3))
            elif kind == "nan":
                a, g = np.full((m, 3), np.nan), rng.normal(0, 100, (m, 3))
            elif kind == "huge":
                a, g = rng.normal(0, 1e6, (m, 3)), rng.normal(0, 1e7, (m, 3))
            elif kind == "noise":
                a, g = rng.normal(0, 30, (m, 3)), rng.normal(0, 500, (m, 3))
            elif kind == "constant":
                a, g = np.tile([0.0, 0.0, 9.81], (m, 1)), np.zeros((m, 3))
            elif kind == "spikes":
                a = np.where(rng.random((m, 3)) < 0.1, 156.9, 0.0) + np.array([0.0, 0.0, 9.81])
                g = np.where(rng.random((m, 3)) < 0.1, -2000.0, 1.0)
            else:  # a running-like foot signal
                tt = (t0 + np.arange(m) / FS) * 2 * np.pi * 1.4
                a = np.stack([8 * np.sin(tt), 2 * np.cos(tt), 9.81 + 20 * np.sin(2 * tt)], 1)
                g = np.stack([50 * np.cos(tt), 600 * np.sin(tt), 30 * np.sin(3 * tt)], 1)
            acc[lo:hi], gyr[lo:hi] = a, g
        t = t0 + np.arange(n) / FS
        blocks.append(SampleBlock(sid, t, acc, gyr))
        t0 = t[-1] + draw(st.sampled_from([1.0 / FS, 1.0 / FS, 0.05, 2.0]))
    return blocks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage_blocks())
def test_garbage_never_crashes_the_analyzers(blocks):
    sa = SessionAnalyzer(SENSORS)
    try:
        rows = []
        for b in blocks:
            rows += sa.feed(b).rows
        rows += sa.finish().rows
    except AnalysisError as exc:  # a clear one-line message is fine, any other error is not
        assert "\n" not in str(exc)
        return
    for r in rows:
        assert np.isfinite(r.t_ic)
        for k in ("stride_length", "foot_strike_angle", "contact_time", "cadence"):
            v = getattr(r, k)
            assert v is None or np.isfinite(v)
