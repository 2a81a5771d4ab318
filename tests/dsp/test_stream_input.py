"""dsp.stream_input: the block checks shared by the foot and pelvis analysers."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import SampleBlock
from dsp.errors import AnalysisError
from dsp.stream_input import BlockInput, RateCheck


def _block(t, gaps=None):
    t = np.asarray(t, dtype=np.float64)
    acc = np.tile([0.0, 0.0, 9.81], (t.size, 1))
    gyr = np.zeros((t.size, 3))
    g = np.empty((0, 2)) if gaps is None else np.asarray(gaps, dtype=np.float64)
    return SampleBlock("s1", t, acc, gyr, None, g)


def test_accept_returns_arrays_and_previous_time():
    bi = BlockInput("s1", 100.0, rate_tolerance=0.05)
    a = bi.accept(_block(np.arange(10) / 100.0))
    assert a is not None and a.prev_t is None and a.t.shape == (10,)
    b = bi.accept(_block(np.arange(10, 20) / 100.0))
    assert b is not None and b.prev_t == pytest.approx(0.09)
    assert bi.last_t == pytest.approx(0.19)


def test_non_finite_samples_are_dropped_and_an_empty_block_is_none():
    bi = BlockInput("s1", 100.0, rate_tolerance=0.05)
    blk = _block(np.arange(5) / 100.0)
    blk.acc[2, 1] = np.nan
    got = bi.accept(blk)
    assert got is not None and got.t.tolist() == pytest.approx([0.0, 0.01, 0.03, 0.04])
    bad = _block([0.05])
    bad.gyr[0, 0] = np.inf
    assert bi.accept(bad) is None
    assert bi.last_t == pytest.approx(0.04)  # unchanged by the empty block


def test_time_order_errors_name_the_sensor():
    bi = BlockInput("s1", 100.0, rate_tolerance=0.05)
    with pytest.raises(AnalysisError, match=r"sensor s1: time stamps must increase"):
        bi.accept(_block([0.0, 0.01, 0.01]))
    bi.accept(_block([0.0, 0.01]))
    with pytest.raises(AnalysisError, match=r"sensor s1: block starts at t=0\.010000 s"):
        bi.accept(_block([0.01, 0.02]))


def test_reported_gaps_are_kept_until_the_data_pass_them():
    bi = BlockInput("s1", 100.0, rate_tolerance=0.05)
    a = bi.accept(_block(np.arange(10) / 100.0, gaps=[[0.2, 0.3]]))
    assert a is not None and a.gaps.tolist() == [[0.2, 0.3]]
    b = bi.accept(_block(np.arange(10, 25) / 100.0))
    assert b is not None and b.gaps.tolist() == [[0.2, 0.3]]  # still ahead of the block
    c = bi.accept(_block(np.arange(31, 40) / 100.0))
    assert c is not None and c.gaps.tolist() == [[0.2, 0.3]]
    d = bi.accept(_block(np.arange(40, 45) / 100.0))
    assert d is not None and d.gaps.shape == (0, 2)


def test_rate_check_raises_once_enough_intervals_disagree():
    rc = RateCheck("s1", 100.0, tolerance=0.05)
    rc.add(np.full(40, 1 / 100.0))
    assert not rc.done
    rc.add(np.full(40, 1 / 100.0))
    assert rc.done
    bad = RateCheck("s2", 100.0, tolerance=0.05)
    with pytest.raises(AnalysisError, match=r"sensor s2: sample_rate_hz is 100 Hz .* 50 Hz"):
        bad.add(np.full(70, 1 / 50.0))


def test_rate_check_ignores_lost_packets():
    rc = RateCheck("s1", 100.0, tolerance=0.05)
    d = np.full(80, 1 / 100.0)
    d[::3] = 0.5  # long losses are not intervals of the rate
    rc.add(d)
    rc.add(np.full(30, 1 / 100.0))
    assert rc.done  # and no error


def test_both_analysers_use_it():
    from dsp.block import SensorInfo
    from dsp.foot_analyzer import FootAnalyzer
    from dsp.pelvis_analyzer import PelvisAnalyzer

    for placement, cls in (("left_foot", FootAnalyzer), ("pelvis", PelvisAnalyzer)):
        info = SensorInfo("s1", placement, "test", 100.0)
        an = cls(info)
        assert isinstance(an._input, BlockInput)
        with pytest.raises(AnalysisError, match="sample_rate_hz is 100 Hz"):
            an.feed(_block(np.arange(200) / 50.0))


def _buf(initial=10, most=40):
    from dsp.stream_input import AlignBuffer

    return AlignBuffer(
        initial,
        most,
        size=lambda p: p[0].size,
        cut=lambda p, k: (p[0][:k], p[1]),
        new_segment=lambda p: p[1],
    )


def test_align_buffer_takes_exactly_the_first_target_samples_by_segment():
    buf = _buf()
    assert not buf.add((np.arange(4), True))
    assert not buf.add((np.arange(4, 8), False))
    assert buf.add((np.arange(100, 107), True))  # a new segment; 15 >= 10
    segs = buf.first(buf.target)
    assert [[p[0].tolist() for p in g] for g in segs] == [
        [[0, 1, 2, 3], [4, 5, 6, 7]],
        [[100, 101]],
    ]
    assert buf.n == 15  # nothing consumed
    assert [p[0].size for p in buf.take()] == [4, 4, 7] and buf.n == 0


def test_align_buffer_doubles_then_drops_and_starts_over():
    buf = _buf(10, 40)
    buf.add((np.arange(12), True))
    assert buf.failed() == 0 and buf.target == 20
    assert buf.failed() == 0 and buf.target == 40 and buf.at_max
    buf.add((np.arange(30), False))
    assert buf.failed() == 42  # at the largest target: the stretch is dropped
    assert buf.target == 10 and buf.n == 0 and not buf.pieces


def test_gap_policy_splits_long_gaps_and_keeps_short_ones():
    from dsp.stream_input import classify_gaps

    fs = 100.0
    dt = np.array([0.01, 0.014, 0.016, 0.05, 0.06, 0.061, 0.25, 0.3])
    split, short = classify_gaps(dt, sampling_rate_hz=fs, split_s=0.06)
    assert split.tolist() == [False, False, False, False, False, True, True, True]
    assert short.tolist() == [False, False, True, True, True, False, False, False]
    # the pelvis' parameter: bridged up to 0.25 s
    split, short = classify_gaps(dt, sampling_rate_hz=fs, split_s=0.25)
    assert split.tolist() == [False] * 7 + [True]
    # both analysers cut a segment at a 0.3 s loss and carry a 0.03 s loss across
    from dsp.block import SensorInfo
    from dsp.foot_analyzer import FootAnalyzer
    from dsp.pelvis_analyzer import PelvisAnalyzer

    t = np.concatenate([np.arange(100), np.arange(103, 200), np.arange(230, 300)]) / fs
    for placement, cls in (("left_foot", FootAnalyzer), ("pelvis", PelvisAnalyzer)):
        an = cls(SensorInfo("s1", placement, "test", fs))
        pieces = an._split(_block(t))
        assert [bool(p.new_segment) for p in pieces] == [True, True], placement


def test_saturation_marks_any_axis_at_the_range():
    from dsp.stream_input import saturated_samples

    acc = np.array([[0.0, 0.0, 9.8], [0.0, 156.9, 9.8], [0.0, 0.0, 9.8], [0.0, 0.0, 9.8]])
    gyr = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-2000.0, 0.0, 0.0]])
    got = saturated_samples(acc, gyr, acc_full_scale=16 * 9.80665, gyr_full_scale=2000.0)
    assert got.tolist() == [False, True, False, True]
    none = saturated_samples(acc, gyr, acc_full_scale=None, gyr_full_scale=None)
    assert not none.any()


def test_alignment_retry_policy_is_shared():
    """Adopt a good rotation; grow the buffer after a failed try, then drop the stretch; a
    usable but unsure one once the buffer is at its largest; give up at the end."""
    from types import SimpleNamespace

    from dsp.block import SensorInfo
    from dsp.foot_analyzer import FootAnalyzer
    from dsp.pelvis_analyzer import PelvisAnalyzer

    def res(ok, conf):
        return SimpleNamespace(ok=ok, confidence=conf, reason=f"r{conf}")

    for placement, cls in (("left_foot", FootAnalyzer), ("pelvis", PelvisAnalyzer)):
        an = cls(SensorInfo("s1", placement, "test", 100.0))
        buf = an._align_buf
        piece = _piece_of(an, 3000)
        buf.add(piece)
        judge = an._judge_alignment
        assert judge(res(True, 0.9), final=False, min_confidence=0.5) == "adopt"
        t0 = buf.target
        assert judge(res(True, 0.2), final=False, min_confidence=0.5) == "wait"
        assert buf.target == 2 * t0 and an._align_attempts == ["r0.2"]
        while not buf.at_max:
            buf.failed()
        assert judge(res(True, 0.2), final=False, min_confidence=0.5) == "adopt"
        assert judge(res(False, 0.0), final=False, min_confidence=0.5) == "wait"
        assert buf.n == 0 and buf.target == buf.initial  # the stretch dropped
        buf.add(piece)
        assert judge(res(False, 0.0), final=True, min_confidence=0.5) == "give_up"
        assert buf.n == 0


def _piece_of(an, n):
    """A piece of ``n`` regular samples as the analyser's own ``_split`` makes it."""
    (p,) = an._split(_block(np.arange(n) / 100.0))
    return p


def test_rate_check_default_accepts_a_settling_time_sync():
    """A live recording's time sync slews by up to 5 % while it settles: its first intervals
    are that much short (a sensor whose first packets came late, under load) and must not be
    taken for a wrong sample rate; a rate off by a factor still is."""
    from dsp.stream_input import RATE_TOLERANCE

    settling = RateCheck("pelvis", 208.0, tolerance=RATE_TOLERANCE)
    settling.add(np.full(300, (1 - 0.05) / 208.0))
    assert settling.done
    wrong = RateCheck("pelvis", 208.0, tolerance=RATE_TOLERANCE)
    with pytest.raises(AnalysisError, match="sample_rate_hz is 208 Hz"):
        wrong.add(np.full(300, 1 / 104.0))
