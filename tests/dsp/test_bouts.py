"""Activity bouts (dsp/bouts.py), the ``activity`` of rows, SUMMARY ``bouts``/``by_activity``
and alert rules per activity (issue 17)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dsp.alerts import AlertEngine, load_profile
from dsp.bouts import BoutTracker, block_motion, foot_activity, segment_bouts
from dsp.contact import ContactRow
from dsp.session import SessionAnalyzer
from dsp.summary import ActivitySummaries
from firmware_bridge.simulator.eval_bouts import boundary_errors, bout_agreement
from firmware_bridge.simulator.eval_pelvis import score_pelvis
from firmware_bridge.simulator.session import simulate_session


def _steps(t0: float, t1: float, step: float, act: str) -> list[tuple[float, str]]:
    return [(float(t), act) for t in np.arange(t0, t1, step)]


def test_segment_bouts_from_steps_and_motion() -> None:
    steps = _steps(10.0, 40.0, 0.55, "walk") + _steps(40.2, 70.0, 0.36, "run")
    steps += _steps(70.3, 90.0, 0.55, "walk")
    still = {e: (e < 10 or e >= 95) for e in range(0, 120)}
    for e in range(91, 95):
        still[e] = False  # fidgeting after the walk
    got = segment_bouts(steps, still, t_start=0.0, t_end=120.0)
    acts = [(b.activity, round(b.t0, 2), round(b.t1, 2)) for b in got]
    assert [a for a, _, _ in acts] == ["stand", "walk", "run", "walk", "other", "stand"]
    assert acts[1][1] == 10.0 and acts[2][1] == pytest.approx(40.2)
    # the bouts cover the recording without overlap
    assert got[0].t0 == 0.0 and got[-1].t1 == 120.0
    assert all(a.t1 == b.t0 for a, b in itertools.pairwise(got))


def test_a_few_contacts_of_another_activity_make_no_bout() -> None:
    steps = [*_steps(0.0, 20.0, 0.55, "walk"), (20.1, "run"), (20.5, "run")]
    steps += _steps(20.9, 40.0, 0.55, "walk")
    got = segment_bouts(steps, {}, t_start=0.0, t_end=40.0)
    assert [b.activity for b in got] == ["walk"]


def test_a_walk_closed_by_its_closing_contact_ends_there() -> None:
    """A walking bout whose last contact closes the walk (the trailing foot set down beside
    the other, ``ContactRow.ends_walk``) ends at that contact; without it, a step later."""
    steps = _steps(10.0, 20.0, 0.5, "walk")
    t_last = steps[-1][0]
    still = {e: e < 10 or e >= 21 for e in range(30)}
    plain = segment_bouts(steps, still, t_start=0.0, t_end=30.0)
    closed = segment_bouts(steps, still, t_start=0.0, t_end=30.0, walk_ends=[t_last])
    assert [b.activity for b in plain] == [b.activity for b in closed] == ["stand", "walk", "stand"]
    assert plain[1].t1 == pytest.approx(t_last + 0.5)
    assert closed[1].t1 == pytest.approx(t_last) and closed[2].t0 == closed[1].t1
    # the closing contact seen by another sensor too (within 0.15 s): still the walk's end
    both = segment_bouts(
        [*steps, (t_last + 0.05, "walk")], still, t_start=0.0, t_end=30.0, walk_ends=[t_last]
    )
    assert both[1].t1 == pytest.approx(t_last + 0.05)
    # a closing contact inside a walk that goes on (a pause) does not end it
    mid = segment_bouts(steps, still, t_start=0.0, t_end=30.0, walk_ends=[steps[5][0]])
    assert mid[1].t1 == pytest.approx(t_last + 0.5)
    # the tracker takes it from the rows
    tr = BoutTracker()
    rows = [ContactRow("pelvis", "left", t, activity="walk") for t, _ in steps]
    rows[-1].ends_walk = True
    tr.add_rows(rows)
    tr.set_span(0.0, 30.0)
    assert next(b for b in tr.bouts() if b.activity == "walk").t1 == pytest.approx(t_last)


def test_foot_activity_from_contact_time() -> None:
    run = ContactRow("lf", "left", 1.0, contact_time=0.24)
    walk = ContactRow("lf", "left", 1.0, contact_time=0.66)
    rej = ContactRow("lf", "left", 1.0, contact_time=0.3, flags=["rejected"])
    assert foot_activity(run) == "run"
    assert foot_activity(walk) == "walk"
    assert foot_activity(rej) is None


def test_motion_epochs_do_not_depend_on_the_blocks() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(2000) / 100.0
    acc = 9.81 + rng.standard_normal((2000, 3))
    gyr = 30 * rng.standard_normal((2000, 3))
    whole = BoutTracker()
    whole.add_motion("p", block_motion(t, acc, gyr))
    parts = BoutTracker()
    for a, b in ((0, 37), (37, 1013), (1013, 1999), (1999, 2000)):
        parts.add_motion("p", block_motion(t[a:b], acc[a:b], gyr[a:b]))
    assert whole.still() == parts.still()


@pytest.fixture(scope="module")
def intervals():
    # the intervals program at half length: bouts of 5 s stand, 30 s walk, 30 s run, 45 s walk
    return simulate_session("intervals", duration_s=340.0, rate_hz=104.0, seed=2)


def _analyse(sim, sensors, block_s: float):
    sa = SessionAnalyzer([s for s in sim.sensors if s.sensor_id in sensors])
    rows = []
    for b in sim.iter_blocks(block_s):
        if b.sensor_id in sensors:
            rows += sa.feed(b).rows
    rows += sa.finish().rows
    return sa, rows


def test_intervals_pelvis_alone(intervals) -> None:
    sim = intervals
    sa, rows = _analyse(sim, {"pelvis"}, 30.0)
    dur = sim.truth["duration_s"]
    bouts = [b.as_dict() for b in sa.bouts(0.0, dur)]
    assert bout_agreement(bouts, sim.truth["bouts"], t0=0.0, t1=dur) >= 0.98
    # every boundary within one stride (about 1.1 s walking, 0.73 s running)
    assert max(boundary_errors(bouts, sim.truth["bouts"])) <= 0.73
    for act in ("walk", "run"):
        truth = dict(sim.truth, steps=[s for s in sim.truth["steps"] if s["activity"] == act])
        sc = score_pelvis([r for r in rows if r.activity == act], truth, t_end=dur)
        # one step at each simulated switch is neither gait's (the bouts are joined at once)
        assert sc.found >= 0.97 and sc.side >= 0.97 and sc.drop_mae <= 1.0, (act, sc)


def test_intervals_streaming_equals_batch_with_feet(intervals) -> None:
    sim = intervals
    sensors = {s.sensor_id for s in sim.sensors}
    sa1, rows1 = _analyse(sim, sensors, 60.0)
    sa2, rows2 = _analyse(sim, sensors, 0.7)
    assert sorted((r.as_record() for r in rows1), key=str) == sorted(
        (r.as_record() for r in rows2), key=str
    )
    assert sa1.bouts() == sa2.bouts()
    dur = sim.truth["duration_s"]
    bouts = [b.as_dict() for b in sa1.bouts(0.0, dur)]
    assert bout_agreement(bouts, sim.truth["bouts"], t0=0.0, t1=dur) >= 0.98
    assert {r.activity for r in rows1} == {"walk", "run"}
    assert all(r.activity is not None for r in rows1 if "rejected" not in r.flags)
    # by activity: the walking and running medians apart
    acc = ActivitySummaries()
    acc.add(rows1)
    pel = acc.by_activity("pelvis", "pelvis")
    assert pel["run"]["cadence_median"] > 150 and pel["walk"]["cadence_median"] < 125
    lf = acc.by_activity("left_foot", "left_foot")
    assert lf["run"]["contact_time_median"] < 0.35 < lf["walk"]["contact_time_median"]
    # walking pelvis rows take their side and events from the feet, as running ones do
    pw = [r for r in rows1 if r.sensor_id == "pelvis" and r.activity == "walk"]
    fused = [r for r in pw if r.events_source == "feet"]
    assert len(fused) >= 0.95 * len(pw), (len(fused), len(pw))
    foot = {(r.t_ic, r.side) for r in rows1 if r.sensor_id != "pelvis"}
    assert all((r.t_ic, r.side) in foot and r.contact_time is not None for r in fused)


def test_alert_rules_watch_their_activity() -> None:
    prof = load_profile(
        {
            "rule": [
                {"name": "run_drop", "metric": "pelvic_drop", "above": 7.0},
                {"name": "walk_drop", "metric": "pelvic_drop", "above": 7.0, "activity": "walk"},
                {"name": "any_drop", "metric": "pelvic_drop", "above": 7.0, "activity": "any"},
            ]
        }
    )
    rows = []
    for k in range(10):
        r = ContactRow("pelvis", "left" if k % 2 else "right", float(k), pelvic_drop=9.0)
        r.activity = "walk"
        rows.append(r)
    got = {a.rule for a in AlertEngine(prof).feed(rows)}
    assert got == {"walk_drop", "any_drop"}
    for r in rows:
        r.activity = "run"
    got = {a.rule for a in AlertEngine(prof).feed(rows)}
    assert got == {"run_drop", "any_drop"}
    with pytest.raises(Exception, match="activity"):
        load_profile({"rule": [{"name": "x", "metric": "cadence", "below": 1, "activity": "swim"}]})


def test_intervals_feet_alone(intervals) -> None:
    sim = intervals
    sa, rows = _analyse(sim, {"left_foot", "right_foot"}, 30.0)
    dur = sim.truth["duration_s"]
    bouts = [b.as_dict() for b in sa.bouts(0.0, dur)]
    assert bout_agreement(bouts, sim.truth["bouts"], t0=0.0, t1=dur) >= 0.98
    # within a stride (a walking one: the simulated walk stops at once, mid-step, and the feet
    # may not see the cut contact)
    assert max(boundary_errors(bouts, sim.truth["bouts"])) <= 1.07
    walk = [r for r in rows if r.activity == "walk"]
    assert walk and all(r.flight_time is None for r in walk)  # empty in walking (spec)
