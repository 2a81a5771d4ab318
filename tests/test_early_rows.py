"""Early rows: a contact's contact-only metrics are released about a stride before its row.

The alert latency target (an alert no later than one stride after the contact that caused it)
rests on them: the foot analyzer releases an early row when it detects a contact (next mid-swing
plus a short look-ahead), and the row itself when the next contact is known.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.alerts import AlertEngine, alerts_for_rows, load_profile
from dsp.contact import CONTACT_KEYS
from dsp.session import SessionAnalyzer
from firmware_bridge.simulator import simulate_session

FEET = ("left_foot", "right_foot")

PROFILE = load_profile(
    {
        "rule": [
            # pooled over both feet: waits for the other foot's watermark, not its next row
            {"name": "heel", "metric": "rearfoot_share", "above": 50.0, "window": 6,
             "clear_below": 40.0},
            {"name": "long_contact", "metric": "contact_time", "side": "each", "above": 0.236},
            {"name": "fast", "metric": "cadence", "above": 168.0},
            {"name": "drop", "metric": "pelvic_drop", "side": "each", "above": 6.5},
        ]
    },
    source="test",
)  # fmt: skip


@pytest.fixture(scope="module")
def streamed():
    """50 ms blocks of every sensor in turn (as live): rows, early rows and their data times."""
    run = simulate_session(
        "chirunning", duration_s=60, rate_hz=208, seed=5, truth=False, packet_loss=0.01
    )
    sa = SessionAnalyzer(run.sensors)
    engine = AlertEngine(PROFILE, sensors=run.sensors, early=True)
    rows, early, alerts = [], [], []
    for b in run.iter_blocks(0.05):
        new = sa.feed(b)
        t_data = float(b.t[-1]) if len(b) else -math.inf
        rows += [(r, t_data) for r in new]
        early += [(r, t_data) for r in sa.early_rows_]
        alerts += engine.feed(new, early=sa.early_rows_, watermarks=sa.early_watermarks())
    new = sa.finish()
    rows += [(r, math.inf) for r in new]
    early += [(r, math.inf) for r in sa.early_rows_]
    alerts += engine.feed(new, early=sa.early_rows_, watermarks=sa.early_watermarks())
    alerts += engine.finish()
    return run, rows, early, alerts


def test_every_row_has_one_early_row_with_the_same_contact_metrics(streamed):
    _, rows, early, _ = streamed
    by_key = {}
    for r, _t in early:
        assert r.sensor_id in FEET
        assert (r.sensor_id, r.t_ic) not in by_key
        by_key[(r.sensor_id, r.t_ic)] = r
    foot_rows = [r for r, _t in rows if r.sensor_id in FEET]
    assert len(foot_rows) > 120
    assert len(by_key) == len(foot_rows)
    n_compared = 0
    for r in foot_rows:
        e = by_key[(r.sensor_id, r.t_ic)]
        assert e.t_to == r.t_to
        assert e.stride_length is None and e.stride_time is None
        if "rejected" in r.flags:
            continue
        for k in CONTACT_KEYS:
            assert getattr(e, k) == getattr(r, k), k  # the very same numbers
        n_compared += 1
    assert n_compared > 100


def test_early_rows_come_within_a_stride_of_the_contact(streamed):
    """In data time, the early row is out about when the same foot lands again, the row a stride
    later."""
    _, rows, early, _ = streamed
    t_early = {(r.sensor_id, r.t_ic): t for r, t in early}
    lat_early, lat_row = [], []
    for r, t_row in rows:
        if r.sensor_id not in FEET or not r.stride_time or math.isinf(t_row) or r.t_ic < 25:
            continue
        lat_early.append((t_early[(r.sensor_id, r.t_ic)] - r.t_ic) / r.stride_time)
        lat_row.append((t_row - r.t_ic) / r.stride_time)
    assert len(lat_early) > 60
    # the contact is detected at the next mid-swing (about 0.75 stride after IC) plus the
    # look-ahead that confirms it (EventSettings.swing_lookahead_s, 0.16 s)
    assert 0.8 < np.median(lat_early) < 1.0
    assert np.max(lat_early) < 1.05
    assert np.median(lat_row) > np.median(lat_early) + 0.8


def test_streamed_alerts_equal_alerts_from_the_finished_rows(streamed):
    """Early evaluation changes when an alert is raised, not which stride raises it."""
    run, rows, _, alerts = streamed
    final = [r for r, _t in rows]
    post = alerts_for_rows(PROFILE, final, sensors=run.sensors)
    assert len(alerts) >= 4
    assert {a.rule for a in alerts} >= {"heel", "long_contact", "drop"}
    key = [(a.t, a.rule, a.side, a.sensor_id) for a in alerts]
    assert sorted(key) == sorted((a.t, a.rule, a.side, a.sensor_id) for a in post)


def test_analyze_raises_the_same_alerts(streamed, tmp_path):
    from recordings import RecordingWriter
    from runform.analysis_run import analyse_recording

    run, _, _, alerts = streamed
    path = tmp_path / "run.h5"
    with RecordingWriter(path, run.sensors, live=False) as w:
        for b in run.blocks.values():
            w.append(b)
    res = analyse_recording(path, alert_engine=AlertEngine(PROFILE, sensors=run.sensors,
                                                           hold_s=math.inf, early=True))  # fmt: skip
    got = sorted((a["t"], a["rule"]) for a in res.alerts)
    assert got == sorted((round(a.t, 6), a.rule) for a in alerts)


def test_viewer_model_shows_early_rows_and_replaces_them(streamed):
    """The viewer plots a contact's strike angle as soon as its early row comes; the final row
    takes its place (no duplicate), and pelvis rows go in as before."""
    from viewer.model import StrideModel

    run, rows, early, _ = streamed
    model = StrideModel(placements={s.sensor_id: s.placement for s in run.sensors})
    events = sorted(
        [(t, 0, r) for r, t in early] + [(t, 1, r) for r, t in rows], key=lambda x: (x[0], x[1])
    )
    seen_early = 0
    for _t, kind, r in events:
        new = model.add([r] if kind else [], [], [], [], [] if kind else [r])
        if kind == 0:
            assert new == [r]
            seen_early += 1
        else:
            assert new == ([] if r.sensor_id in FEET else [r])
    assert seen_early > 100
    assert len(model.rows) == len(rows)
    final_ids = {id(r) for r, _ in rows}
    assert all(id(r) in final_ids for r in model.rows)
