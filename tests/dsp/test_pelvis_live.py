"""The pelvis analysis in live use: prompt release, a foot sensor that dies, per-stride traces.

On the example recording (three sensors, 208 Hz, 75 s), fed in 50 ms blocks of all sensors in
time order as the viewer does: pelvis rows come out at most 2.0 s of data after their contact
once the alignment (first 20 s) is done, with or without foot sensors (1.5 s median); with a
foot that stops sending at 30 s the rows keep coming, ``foot_silence_s + feed_skew_s`` (9.5 s)
after their contact; streaming and batch (any chunking, any sensor order) give the same rows.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from dsp.pelvis_analyzer import PelvisSettings
from dsp.session import AnalysisConfig, SessionAnalyzer
from recordings import open_recording

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "recordings" / "examples" / "chirunning_example.h5"

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="example recording not generated")

#: release bound after the alignment: data time at release - t_ic, s
LATENCY_S = 2.0
DEAD_AFTER_S = 30.0


@pytest.fixture(scope="module")
def example():
    """Sensors and whole blocks of the example recording (file order)."""
    with open_recording(EXAMPLE) as rec:
        sensors = list(rec.sensors)
        blocks = {s.sensor_id: rec.read(s.sensor_id) for s in sensors}
        pelvis = next(s.sensor_id for s in sensors if s.placement == "pelvis")
        right = next(s.sensor_id for s in sensors if s.placement == "right_foot")
    return sensors, blocks, pelvis, right


def _kill(blocks: dict, sid: str, t_stop: float) -> dict:
    """The blocks with sensor ``sid`` silent from ``t_stop`` on (it died)."""
    b = blocks[sid]
    out = dict(blocks)
    out[sid] = b.slice(0, int(np.searchsorted(b.t, t_stop)))
    return out


def _windows(blocks: dict, block_s: float):
    """Blocks of every sensor, window by window (like ``Recording.iter_blocks``)."""
    t0 = min(float(b.t[0]) for b in blocks.values() if len(b))
    t1 = max(float(b.t[-1]) for b in blocks.values() if len(b))
    edges = t0 + block_s * np.arange(math.ceil((t1 - t0) / block_s) + 2)
    idx = {sid: np.searchsorted(b.t, edges) for sid, b in blocks.items()}
    for k in range(len(edges) - 1):
        for sid, b in blocks.items():
            a, z = idx[sid][k], idx[sid][k + 1]
            if z > a:
                yield b.slice(a, z)


def _session(sensors, *, lockstep: bool) -> SessionAnalyzer:
    return SessionAnalyzer(
        sensors,
        config=AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": lockstep}}),
    )


def _stream(sensors, blocks, pelvis: str, *, lockstep: bool = True, block_s: float = 0.05):
    """Pelvis rows with the data time at which each came out, and the traces returned."""
    sa = _session(sensors, lockstep=lockstep)
    out, traces, now = [], [], -math.inf

    def pelvis_traces(up):
        return [tr for res in up.results if res.sensor_id == pelvis for tr in res.traces]

    for b in _windows(blocks, block_s):
        now = max(now, float(b.t[-1]))
        up = sa.feed(b)
        rows = [r for r in up.rows if r.sensor_id == pelvis]
        out += [(r, now) for r in rows]
        got = pelvis_traces(up)
        traces += got
        assert len(got) <= len(rows)
    up = sa.finish()
    rows = [r for r in up.rows if r.sensor_id == pelvis]
    out += [(r, math.inf) for r in rows]
    traces += pelvis_traces(up)
    return out, traces, sa


def _batch(sensors, blocks, pelvis: str, chunk_s: float | None):
    """Default (batch) settings: whole sensors one after the other, or in chunks."""
    sa = _session(sensors, lockstep=False)
    rows = []
    feed = blocks.values() if chunk_s is None else _windows(blocks, chunk_s)
    for b in feed:
        rows += sa.feed(b).rows
    rows += sa.finish().rows
    return [r for r in rows if r.sensor_id == pelvis]


def _rec(rows) -> list[dict]:
    return [r.as_record() for r in rows]


@pytest.fixture(scope="module")
def live(example):
    sensors, blocks, pelvis, _ = example
    return _stream(sensors, blocks, pelvis)


@pytest.fixture(scope="module")
def dead(example):
    sensors, blocks, pelvis, right = example
    return _stream(sensors, _kill(blocks, right, DEAD_AFTER_S), pelvis)


def test_pelvis_rows_come_out_within_2_s_of_their_contact(example, live) -> None:
    sensors, blocks, pelvis, _ = example
    out, _, _ = live
    assert len(out) > 180
    lat = np.array([now - r.t_ic for r, now in out if r.t_ic > 22.0 and now < math.inf])
    assert lat.size > 120
    assert lat.max() <= LATENCY_S, np.sort(lat)[-5:]
    # the steps of the alignment period come out right after it
    assert min(now for _, now in out) < 21.0
    # at finish() only the last steps
    assert sum(1 for _, now in out if now == math.inf) <= 6
    assert all(r.events_source == "feet" for r, _ in out)
    # same rows as the batch analysis (1 min chunks; whole sensors one after another)
    rows = [r for r, _ in out]
    assert _rec(rows) == _rec(_batch(sensors, blocks, pelvis, 60.0))
    assert _rec(rows) == _rec(_batch(sensors, blocks, pelvis, None))


def test_pelvis_alone_comes_out_as_promptly(example) -> None:
    sensors, blocks, pelvis, _ = example
    only = [s for s in sensors if s.sensor_id == pelvis]
    out, _, _ = _stream(only, {pelvis: blocks[pelvis]}, pelvis)
    lat = np.array([now - r.t_ic for r, now in out if r.t_ic > 22.0 and now < math.inf])
    assert lat.size > 120 and lat.max() <= LATENCY_S
    assert sum(1 for _, now in out if now == math.inf) <= 6
    assert all(r.events_source == "pelvis" for r, _ in out)


def test_a_foot_that_dies_does_not_hold_the_pelvis_rows(example, dead) -> None:
    sensors, blocks, pelvis, right = example
    out, _, sa = dead
    s = PelvisSettings()
    wait = s.foot_silence_s + s.feed_skew_s
    t_end = float(blocks[pelvis].t[-1])
    released = [(r, now) for r, now in out if now < math.inf]
    # rows keep coming after the foot died, a fixed data time after their contact
    assert max(r.t_ic for r, _ in released) > t_end - wait - 1.0
    lat = np.array([now - r.t_ic for r, now in released if r.t_ic > DEAD_AFTER_S])
    assert lat.size > 80 and lat.max() <= wait + 0.1
    # before: fused and prompt; after: right stances from the pelvis, left ones still fused
    before = [(r, now) for r, now in out if 22.0 < r.t_ic < DEAD_AFTER_S - 2.0]
    assert all(r.events_source == "feet" and now - r.t_ic <= LATENCY_S for r, now in before)
    after = [r for r, _ in out if r.t_ic > DEAD_AFTER_S + 0.5]
    assert {r.events_source for r in after if r.side == "right"} == {"pelvis"}
    assert {r.events_source for r in after if r.side == "left"} == {"feet"}
    # the metrics are still there, and the sides still alternate
    assert sum(r.pelvic_drop is not None for r in after) >= 0.95 * len(after)
    sides = [r.side for r in sorted((r for r, _ in out), key=lambda r: r.t_ic)]
    assert all(a != b for a, b in itertools.pairwise(sides))
    assert sa.diagnostics()[pelvis]["feet_left_out"][right] >= len(after) // 2
    # identical to the batch analysis of the same data, chunked or not
    rows = [r for r, _ in out]
    killed = _kill(blocks, right, DEAD_AFTER_S)
    assert _rec(rows) == _rec(_batch(sensors, killed, pelvis, 60.0))
    assert _rec(rows) == _rec(_batch(sensors, killed, pelvis, None))


def test_dead_foot_any_block_order_gives_the_same_rows(example, dead) -> None:
    """Without ``lockstep_feeds`` (the default) any sensor may run ahead of the others."""
    sensors, blocks, pelvis, right = example
    killed = _kill(blocks, right, DEAD_AFTER_S)
    ref = _rec([r for r, _ in dead[0]])
    rng = np.random.default_rng(3)
    pieces = {}
    for sid, b in killed.items():
        cuts = np.sort(rng.choice(np.arange(1, len(b)), 40, replace=False))
        pieces[sid] = [
            b.slice(a, z) for a, z in zip(np.r_[0, cuts], np.r_[cuts, len(b)], strict=True)
        ]
    sa = _session(sensors, lockstep=False)
    rows = []
    while any(pieces.values()):
        sid = rng.choice(sorted(k for k, v in pieces.items() if v))
        rows += sa.feed(pieces[sid].pop(0)).rows
    rows += sa.finish().rows
    assert _rec([r for r in rows if r.sensor_id == pelvis]) == ref


def test_obliquity_traces_for_the_viewer(live) -> None:
    out, traces, _ = live
    rows = {(r.t_ic, r.side): r for r, _ in out}
    assert len(traces) >= 0.95 * len(rows)
    peaks: dict[str, list[float]] = {"left": [], "right": []}
    diff = []
    for t_ic, values, side in traces:
        assert values.shape == (101,) and np.isfinite(values).all()
        r = rows[(t_ic, side)]  # one per returned row, keyed like it
        # the stance part holds about the row's drop: a peak (left stance) or a trough
        # (right); the trace uses the two-sided attitude, the drop the causal one (the early
        # row's, for alerts within a stride: docs/dsp_pelvis.md)
        stance = values[:40]
        got = stance.max() if side == "left" else -stance.min()
        diff.append(abs(got - r.pelvic_drop))
        peaks[side].append(got)
    assert np.median(diff) < 0.15
    assert np.percentile(diff, 95) < 0.5
    assert max(diff) < 1.0
    # the example's pelvis drops further in a left stance (about 7.6 vs 3.7 deg)
    assert np.median(peaks["left"]) > np.median(peaks["right"]) + 2.0
    assert len(peaks["left"]) > 60 and len(peaks["right"]) > 60


def test_the_viewer_receives_the_pelvis_traces_by_side(live) -> None:
    """What the viewer's per-stride pelvic obliquity overlay draws (replay, no Qt needed)."""
    from recordings import ReplaySource
    from runform.profiles import resolve_profile
    from viewer.worker import AnalysisWorker

    worker = AnalysisWorker(
        lambda: ReplaySource(EXAMPLE, speed=16.0, realtime=False, block_s=0.5),
        resolve_profile("default"),
        replay=True,
        max_queue=100_000,
    )
    worker.start()
    got, rows = [], []
    try:
        while True:
            u = worker.updates.get(timeout=60)
            if u.kind == "strides":
                got += [tr for tr in u.data["traces"] if tr[0] == "pelvis"]
                rows += [r for r in u.data["rows"] if r.sensor_id == "pelvis"]
            assert u.kind != "error", u.data
            if u.kind == "ended":
                break
    finally:
        worker.stop()
    assert len(got) >= 0.95 * len(rows) > 180
    by_row = {(r.t_ic, r.side) for r in rows}
    for _, side, t_ic, values in got:
        assert (t_ic, side) in by_row and values.shape == (101,)
    # the same traces as the analysis fed in 50 ms blocks
    ref = {(t, s): v for t, v, s in live[1]}
    assert len(ref) == len(got)
    for _, side, t_ic, values in got:
        np.testing.assert_array_equal(values, ref[(t_ic, side)])
