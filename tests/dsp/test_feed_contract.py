"""The contract between the analyzers is one immutable FeedResult per call: the pelvis gets
the feet's results as an argument and reads nothing else of them."""

from __future__ import annotations

import dataclasses

import pytest

from dsp.feed import FeedResult
from dsp.foot_analyzer import FootAnalyzer
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.session import SessionAnalyzer


def test_feed_results_are_immutable(chirunning_lossy):
    info = next(s for s in chirunning_lossy.sensors if s.placement == "left_foot")
    res = FootAnalyzer(info).feed(chirunning_lossy.blocks[info.sensor_id])
    assert isinstance(res, FeedResult) and isinstance(res.rows, tuple) and res.rows
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.watermark = 0.0  # type: ignore[misc]


def test_pelvis_with_the_feet_results_by_hand_equals_the_session(chirunning_lossy):
    """Wiring the analyzers by hand with nothing but FeedResults gives the session's rows."""
    run = chirunning_lossy
    feet = {s.sensor_id: FootAnalyzer(s) for s in run.sensors if s.placement.endswith("_foot")}
    pinfo = next(s for s in run.sensors if s.placement == "pelvis")
    pa = PelvisAnalyzer(pinfo, feet={sid: str(a.info.side) for sid, a in feet.items()})
    rows, early = [], []
    for b in run.iter_blocks(0.5):
        if b.sensor_id in feet:
            got = pa.feed(None, feet=[feet[b.sensor_id].feed(b)])
        else:
            got = pa.feed(b)
        rows += got.rows
        early += got.early_rows
    for a in feet.values():
        got = pa.feed(None, feet=[a.finish()])
        early += got.early_rows
    got = pa.finish()
    rows += got.rows
    early += got.early_rows

    sa = SessionAnalyzer(run.sensors)
    ups = [sa.feed(b) for b in run.iter_blocks(0.5)] + [sa.finish()]
    want = [r.as_record() for up in ups for r in up.rows if r.sensor_id == pinfo.sensor_id]
    want_early = [
        r.as_record() for up in ups for r in up.early_rows if r.sensor_id == pinfo.sensor_id
    ]
    assert [r.as_record() for r in rows] == want and len(want) > 50
    assert [r.as_record() for r in early] == want_early
    assert sum(r["events_source"] == "feet" for r in want) > 40
