"""Batched contact detection equals the one-at-a-time path, bit for bit.

:func:`dsp.foot_events.detect_contacts` integrates the orientations of many contacts in one
call, and :class:`dsp.foot_analyzer.FootAnalyzer` uses it to detect all the contacts of a feed
ahead of time (assuming every mid-swing candidate is accepted; a skipped candidate falls back to
one detection at a time). Neither may change a single bit of any result.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dsp.filters import centered_moving_average, samples_for
from dsp.foot_analyzer import FootAnalyzer
from dsp.foot_events import EventSettings, detect_contact, detect_contacts, find_swing_peaks
from dsp.session import SessionAnalyzer
from firmware_bridge.simulator import simulate_session

FEET = ("left_foot", "right_foot")


@pytest.fixture(scope="module")
def run():
    # forefoot landings: the heel drop is a mid-swing candidate that detection rejects, so
    # the look-ahead pairs are sometimes wrong; packet losses cut the data into segments
    return simulate_session(
        "forefoot",
        duration_s=60.0,
        rate_hz=100,
        seed=21,
        truth=False,
        sensors=FEET,
        packet_loss=0.02,
    )


def _feed_random_chunks(run, rng: np.random.Generator, max_block: int) -> list[dict]:
    sa = SessionAnalyzer(run.sensors)
    rows = []
    for sid, blk in run.blocks.items():
        a = 0
        while a < len(blk):
            z = min(len(blk), a + int(rng.integers(1, max_block)))
            lo = blk.t[a - 1] if a > 0 else -np.inf
            g = blk.gaps
            sel = (g[:, 1] > lo) & (g[:, 1] <= blk.t[z - 1]) if g.size else np.zeros(0, bool)
            rows += sa.feed(
                type(blk)(sid, blk.t[a:z], blk.acc[a:z], blk.gyr[a:z], None, g[sel].reshape(-1, 2))
            ).rows
            a = z
    rows += sa.finish().rows
    return sorted((r.as_record() for r in rows), key=lambda d: (d["sensor_id"], d["t_ic"]))


def test_feeds_detected_ahead_equal_one_at_a_time(run, monkeypatch):
    looked_up = {"hit": 0, "rejected": 0, "miss": 0, "batches": 0}
    detect = FootAnalyzer._detect
    ahead = FootAnalyzer._detect_ahead

    def counting_detect(self, a, b, *, a_swing, b_swing, known=None):
        ev = detect(self, a, b, a_swing=a_swing, b_swing=b_swing, known=known)
        if known:
            if (a, b) in known:
                looked_up["hit"] += 1
                looked_up["rejected"] += ev is None
            else:
                looked_up["miss"] += 1
        return ev

    def counting_ahead(self, peaks):
        known = ahead(self, peaks)
        looked_up["batches"] += bool(known)
        return known

    monkeypatch.setattr(FootAnalyzer, "_detect", counting_detect)
    monkeypatch.setattr(FootAnalyzer, "_detect_ahead", counting_ahead)
    batched = [
        _feed_random_chunks(run, np.random.default_rng(s), m) for s, m in ((0, 6000), (1, 2500))
    ]
    # the batches were used, including a rejected candidate whose next pair was not foreseen
    assert looked_up["batches"] > 5
    assert looked_up["hit"] > 100
    assert looked_up["rejected"] > 0 and looked_up["miss"] > 0

    monkeypatch.setattr(FootAnalyzer, "_detect_ahead", lambda self, peaks: {})
    one_at_a_time = _feed_random_chunks(run, np.random.default_rng(2), 300)
    assert len(one_at_a_time) > 100
    for rows in batched:
        assert rows == one_at_a_time


def _foot_arrays(run, sid: str):
    """Foot-frame signals of one sensor (sensor-to-foot rotation from the analyzer)."""
    info = next(s for s in run.sensors if s.sensor_id == sid)
    fa = FootAnalyzer(info)
    blk = run.blocks[sid]
    fa.feed(blk)
    fa.finish()
    r = fa.alignment_.R_bs
    fs = float(info.sample_rate_hz)
    acc, gyr = blk.acc @ r.T, blk.gyr @ r.T
    ev = EventSettings()
    h_om = samples_for(ev.omega_smooth_ms / 2000.0, sampling_rate_hz=fs, minimum=0)
    h_n = samples_for(ev.norm_smooth_ms / 2000.0, sampling_rate_hz=fs, minimum=0)
    om = centered_moving_average(-gyr[:, 1], window=2 * h_om + 1)
    gn = centered_moving_average(np.linalg.norm(gyr, axis=1), window=2 * h_n + 1)
    return blk.t, om, gn, acc, gyr, fs, ev


@pytest.mark.parametrize("sid", FEET)
def test_detect_contacts_does_not_depend_on_the_other_ranges(run, sid):
    t, om, gn, acc, gyr, fs, ev = _foot_arrays(run, sid)
    n = t.shape[0]
    half = samples_for(ev.swing_half_window_s, sampling_rate_hz=fs)
    peaks = find_swing_peaks(
        om, half_window=half, threshold_dps=ev.swing_threshold_dps, lo=0, hi=n
    ).tolist()
    ranges = [(a, b, True, True) for a, b in itertools.pairwise(peaks)]
    # a pair skipping a peak, and the edges of the data
    ranges += [
        (peaks[3], peaks[5], True, True),
        (0, peaks[0], False, True),
        (peaks[-1], n - 1, True, False),
    ]
    kw = {"sampling_rate_hz": fs, "settings": ev}
    alone = [
        detect_contact(t, om, gn, acc, gyr, a, b, a_is_swing=sa, b_is_swing=sb, **kw)
        for a, b, sa, sb in ranges
    ]
    assert sum(e is not None for e in alone) > 50
    assert any(e is None for e in alone)
    rng = np.random.default_rng(5)
    for _ in range(4):
        order = rng.permutation(len(ranges))[: int(rng.integers(2, len(ranges)))]
        together = detect_contacts(t, om, gn, acc, gyr, [ranges[i] for i in order], **kw)
        for i, got in zip(order, together, strict=True):
            assert repr(got) == repr(alone[i])  # repr: floats to the last bit, None too
