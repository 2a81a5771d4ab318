"""Streaming = batch: any block boundaries give bit-identical rows (simulated data)."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import SampleBlock
from dsp.session import SessionAnalyzer
from firmware_bridge.simulator.eval_feet import analyze_run


@pytest.fixture(scope="module")
def run(chirunning_lossy):
    return chirunning_lossy


def _chunked(run, rng: np.random.Generator, max_block: int) -> list:
    sa = SessionAnalyzer(run.sensors)
    cuts = {}
    for sid, b in run.blocks.items():
        c = [0]
        while c[-1] < len(b):
            c.append(min(len(b), c[-1] + int(rng.integers(1, max_block))))
        cuts[sid] = c
    pos = dict.fromkeys(cuts, 0)
    rows = []
    while True:
        live = [s for s in cuts if pos[s] < len(cuts[s]) - 1]
        if not live:
            break
        sid = live[int(rng.integers(len(live)))]
        a, z = cuts[sid][pos[sid]], cuts[sid][pos[sid] + 1]
        blk = run.blocks[sid]
        g = blk.gaps
        lo = blk.t[a - 1] if a > 0 else -np.inf
        sel = (g[:, 1] > lo) & (g[:, 1] <= blk.t[z - 1]) if g.size else np.zeros(0, bool)
        rows += sa.feed(
            SampleBlock(sid, blk.t[a:z], blk.acc[a:z], blk.gyr[a:z], None, g[sel].reshape(-1, 2))
        ).rows
        pos[sid] += 1
    rows += sa.finish().rows
    return rows


def _records(rows):
    return sorted((r.as_record() for r in rows), key=lambda d: (d["sensor_id"], d["t_ic"]))


@pytest.mark.parametrize(("seed", "max_block"), [(0, 900), (1, 40), (2, 5000)])
def test_random_chunks_equal_one_batch_call(run, seed, max_block):
    ref = _records(analyze_run(run))
    assert len(ref) > 100
    got = _records(_chunked(run, np.random.default_rng(seed), max_block))
    assert got == ref


def test_iter_blocks_equals_batch(run):
    assert _records(analyze_run(run, block_s=0.05)) == _records(analyze_run(run))


def test_latest_traces_follow_the_rows(run):
    """The viewer's per-stride pitch curves: one per returned contact with a full stride."""
    sa = SessionAnalyzer(run.sensors)
    n_traces = 0
    n_rows = 0
    for b in run.iter_blocks(0.2):
        up = sa.feed(b)
        if b.sensor_id != "left_foot":
            continue
        res = up.results[0]
        assert res.sensor_id == "left_foot"
        own = res.rows
        for t_ic, pitch, side in res.traces:
            assert side == "left"
            assert pitch.shape == (101,)
            assert any(r.t_ic == t_ic for r in own)
            # from toes up at a heel strike, down at push-off, back up before the next contact
            assert pitch.min() < -20.0
            n_traces += 1
        n_rows += sum(1 for r in own if r.stride_time is not None and not r.flags)
    assert n_traces >= n_rows > 20


def _whole_blocks(run, piece_s: float) -> tuple[list, list, int]:
    """Every sensor's data in one feed, analysed internally in pieces of ``piece_s``."""
    sa = SessionAnalyzer(run.sensors)
    for a in sa.analyzers.values():
        a.feed_piece_s = piece_s
        # the pieces each analyzer takes (checked below: the cut really happens)
        a.piece_lengths = []
        one = a._feed_one
        a._feed_one = lambda b, a=a, one=one: (a.piece_lengths.append(len(b)), one(b))[1]
    rows, early, traces = [], [], 0
    for b in run.blocks.values():
        up = sa.feed(b)
        rows += up.rows
        early += [r.as_record() for r in up.early_rows]
        traces += len(up.results[0].traces)
    rows += sa.finish().rows
    for sid, a in sa.analyzers.items():
        longest = max(a.piece_lengths)
        if piece_s == float("inf"):
            assert longest == len(run.blocks[sid])
        else:
            assert longest <= piece_s * a.info.sample_rate_hz + 1, (sid, longest)
    # (a contact's two early rows, one without and one with its stride time, may come in
    # different feeds: compared as a set)
    early.sort(key=lambda d: (d["sensor_id"], d["t_ic"], d["stride_time"] is not None))
    return _records(rows), early, traces


def test_long_blocks_are_analysed_in_pieces_with_the_same_results(run):
    """A block longer than ``feed_piece_s`` (e.g. ``runform analyze``'s 60 s windows) is cut
    inside the analyzer, which bounds the size of its temporary arrays: same rows, same early
    rows (a feed returns those of all its pieces), same per-stride traces."""
    assert len(run.blocks["left_foot"]) > 40 * 208  # longer than the pieces below
    ref = _whole_blocks(run, float("inf"))
    assert len(ref[0]) > 100 and len(ref[1]) > 30 and ref[2] > 30
    for piece_s in (30.0, 7.3):
        assert _whole_blocks(run, piece_s) == ref
