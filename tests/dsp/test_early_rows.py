"""Early rows: a contact's contact-only metrics are released about a stride before its row.

The alert latency target (an alert no later than one stride after the contact that caused it)
rests on them: the foot analyzer releases an early row when it detects a contact (next mid-swing
plus a short look-ahead), and the row itself when the next contact is known. The pelvis
analyzer releases a step's pelvic drop once its stance has ended and its side is known (from
the feet's early rows, or its own side vote), and the row, with the same side, IC and drop, when
the same foot's next contact and the fusion are in.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.alerts import AlertEngine, alerts_for_rows, load_profile
from dsp.contact import CONTACT_KEYS
from dsp.session import SessionAnalyzer, SessionUpdate
from firmware_bridge.simulator import simulate_session

FEET = ("left_foot", "right_foot")
PELVIS = "pelvis"

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


def _marks(up: SessionUpdate) -> dict:
    return {"watermarks": up.early_watermarks, "stride_watermarks": up.stride_watermarks}


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
        up = sa.feed(b)
        t_data = float(b.t[-1]) if len(b) else -math.inf
        rows += [(r, t_data) for r in up.rows]
        early += [(r, t_data) for r in up.early_rows]
        alerts += engine.feed(up.rows, early=up.early_rows, **_marks(up))
    up = sa.finish()
    rows += [(r, math.inf) for r in up.rows]
    early += [(r, math.inf) for r in up.early_rows]
    alerts += engine.feed(up.rows, early=up.early_rows, **_marks(up))
    alerts += engine.finish()
    return run, rows, early, alerts


def test_every_row_has_one_early_row_with_the_same_contact_metrics(streamed):
    _, rows, early, _ = streamed
    by_key = {}
    for r, _t in early:
        assert r.sensor_id in (*FEET, PELVIS)
        if r.sensor_id == PELVIS or r.stride_time is not None:
            continue
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


def test_stride_early_rows_carry_the_rows_stride_time(streamed):
    """A contact's second early row (when the next contact is detected) has the row's stride
    time and cadence, the same numbers, and its contact-only metrics; one per row that has a
    stride time, and it comes no later than the row."""
    _, rows, early, _ = streamed
    strides = {}
    for r, t in early:
        if r.sensor_id in FEET and r.stride_time is not None:
            assert (r.sensor_id, r.t_ic) not in strides
            strides[(r.sensor_id, r.t_ic)] = (r, t)
    n = 0
    for r, t_row in rows:
        if r.sensor_id not in FEET or "rejected" in r.flags:
            continue
        got = strides.pop((r.sensor_id, r.t_ic), None)
        if r.stride_time is None:
            assert got is None
            continue
        e, t_e = got
        assert (e.stride_time, e.cadence) == (r.stride_time, r.cadence)
        assert e.stride_length is None
        for k in CONTACT_KEYS:
            assert getattr(e, k) == getattr(r, k), k
        assert t_e <= t_row
        n += 1
    assert n > 100
    assert not strides  # none without a row


def test_stride_early_rows_come_when_the_next_contact_is_detected(streamed):
    """Cadence alerts: the stride time is out about when the next contact's early row is,
    i.e. within a stride of the stride's end (the next initial contact)."""
    _, _rows, early, _ = streamed
    t_contact = {(r.sensor_id, r.t_ic): t for r, t in early if r.stride_time is None}
    lat = []
    for r, t in early:
        if r.sensor_id in FEET and r.stride_time is not None and r.t_ic > 25 and t < math.inf:
            t_next = r.t_ic + r.stride_time
            nxt = [k for k in t_contact if k[0] == r.sensor_id and abs(k[1] - t_next) < 1e-9]
            if nxt:  # (none when the next contact touches lost packets: no early row)
                assert t == t_contact[nxt[0]]  # with the next contact's early row
            lat.append((t - t_next) / r.stride_time)
    assert len(lat) > 60
    assert np.max(lat) < 1.05


def test_early_rows_come_within_a_stride_of_the_contact(streamed):
    """In data time, the early row is out about when the same foot lands again, the row a stride
    later."""
    _, rows, early, _ = streamed
    t_early = {(r.sensor_id, r.t_ic): t for r, t in early if r.stride_time is None}
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
    assert {a.rule for a in alerts} >= {"heel", "long_contact", "drop", "fast"}
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
        if kind == 0 and r.stride_time is not None:
            assert new == []  # a contact's second early row: shown already
        elif kind == 0:
            assert new == [r]
            seen_early += 1
        else:
            assert new == []  # every row (feet and pelvis) had its early row
    assert seen_early > 200
    assert len(model.rows) == len(rows)
    final_ids = {id(r) for r, _ in rows}
    assert all(id(r) in final_ids for r in model.rows)


# --------------------------------------------------------------------------- pelvis early rows
def test_every_pelvis_row_has_one_early_row_with_its_side_ic_and_drop(streamed):
    """In IC order, one early row per pelvis row, out no later than the row, with the very
    side, IC and pelvic drop of the row (so the alerts are the same from either)."""
    _, rows, early, _ = streamed
    pe = [(r, t) for r, t in early if r.sensor_id == PELVIS]
    pr = [(r, t) for r, t in rows if r.sensor_id == PELVIS]
    assert len(pr) > 150
    assert [r.t_ic for r, _ in pe] == [r.t_ic for r, _ in pr]  # one each, same order
    n_drop = 0
    for (e, t_e), (r, t_r) in zip(pe, pr, strict=True):
        assert t_e <= t_r
        assert (e.side, e.t_ic, e.t_to) == (r.side, r.t_ic, r.t_to)
        assert e.events_source == r.events_source
        assert e.pelvic_drop == r.pelvic_drop  # the same number, or both empty
        assert ("rejected" in e.flags) == ("rejected" in r.flags)
        assert e.stride_time is None and e.vertical_oscillation is None
        n_drop += e.pelvic_drop is not None
    assert n_drop > 150


def test_pelvis_early_rows_come_within_a_stride_of_the_contact(streamed):
    """With the feet, a step's early row waits for the foot's early row of the same contact
    (its side): out about when the foot's is, within a stride; the row about two strides.
    (1 % packet loss: a few steps wait for a stride after a lost burst, and the ones after
    them for them.)"""
    _, rows, early, _ = streamed
    t_early = {r.t_ic: t for r, t in early if r.sensor_id == PELVIS}
    t_foot = {r.t_ic: t for r, t in early if r.sensor_id in FEET and r.stride_time is None}
    lat, lat_row, lag = [], [], []
    for r, t_row in rows:
        if r.sensor_id != PELVIS or not r.stride_time or math.isinf(t_row) or r.t_ic < 25:
            continue
        if r.events_source != "feet":  # the foot's contact was lost (1 % packet loss)
            continue
        lat.append((t_early[r.t_ic] - r.t_ic) / r.stride_time)
        lat_row.append((t_row - r.t_ic) / r.stride_time)
        lag.append(t_early[r.t_ic] - t_foot[r.t_ic])
    assert len(lat) > 50
    assert np.median(lat) < 1.0
    assert np.percentile(lat, 95) < 1.05
    # a step whose last strides lost a burst of packets waits for a stride after it
    assert np.max(lat) < 1.5
    assert np.median(lat_row) > np.median(lat) + 0.8
    # not before the foot's early row (block ends of the sensors differ by a few ms), and
    # mostly with the next pelvis block
    assert min(lag) > -0.01
    assert np.median(lag) < 0.06


@pytest.fixture(scope="module")
def pelvis_only():
    """The pelvis alone, fed in 50 ms blocks: rows and early rows with their data times."""
    run = simulate_session(
        "easy", duration_s=60, rate_hz=104, seed=3, truth=False, sensors=("pelvis",)
    )
    sa = SessionAnalyzer(run.sensors)
    rows, early = [], []
    for b in run.iter_blocks(0.05):
        up = sa.feed(b)
        t_data = float(b.t[-1]) if len(b) else -math.inf
        rows += [(r, t_data) for r in up.rows]
        early += [(r, t_data) for r in up.early_rows]
    up = sa.finish()
    rows += [(r, math.inf) for r in up.rows]
    early += [(r, math.inf) for r in up.early_rows]
    return run, rows, early


def test_pelvis_only_early_rows_come_before_the_same_foots_next_contact(pelvis_only):
    """Alone, the pelvis knows a step's side from its own side vote: the early row is out
    about half a stride after the IC (the stance plus the contact's detection), before the same
    foot lands again; its drop uses strides that ended by the IC only."""
    _, rows, early = pelvis_only
    t_early = {r.t_ic: t for r, t in early}
    by_t = {r.t_ic: r for r, _ in early}
    lat = []
    for r, t_row in rows:
        assert by_t[r.t_ic].pelvic_drop == r.pelvic_drop and by_t[r.t_ic].side == r.side
        if r.stride_time and r.t_ic > 25 and not math.isinf(t_row):
            lat.append((t_early[r.t_ic] - r.t_ic) / r.stride_time)
            assert t_early[r.t_ic] < r.t_ic + r.stride_time  # before the next same-side IC
    assert len(lat) > 80
    assert np.median(lat) < 0.6


def test_pelvis_early_rows_do_not_depend_on_the_chunking(pelvis_only):
    """Early rows (values, sides, order) are the same whatever the block sizes."""
    run, _, early = pelvis_only
    ref = [(r.t_ic, r.side, r.pelvic_drop, tuple(r.flags)) for r, _ in early]
    for chunk in (0.37, 7.0, None):
        sa = SessionAnalyzer(run.sensors)
        got = []
        blocks = run.iter_blocks(chunk) if chunk else run.blocks.values()
        for b in blocks:
            got += sa.feed(b).early_rows
        got += sa.finish().early_rows
        assert [(r.t_ic, r.side, r.pelvic_drop, tuple(r.flags)) for r in got] == ref, chunk


def test_alert_engine_takes_the_pelvic_drop_from_the_early_rows(streamed):
    """With ``early=True`` the pelvic drop rules read the pelvis' early rows only: fed the
    early rows alone they raise every drop alert, fed the rows alone none."""
    run, rows, early, alerts = streamed
    drop = sorted((a.t, a.side) for a in alerts if a.rule == "drop")
    assert len(drop) >= 2
    eng = AlertEngine(PROFILE, sensors=run.sensors, early=True)
    got = eng.feed([], early=[r for r, _ in early]) + eng.finish()
    assert sorted((a.t, a.side) for a in got if a.rule == "drop") == drop
    eng = AlertEngine(PROFILE, sensors=run.sensors, early=True)
    got = eng.feed([r for r, _ in rows]) + eng.finish()
    assert not [a for a in got if a.rule == "drop"]
