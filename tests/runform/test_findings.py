"""Findings first: segments at markers and activity bouts, traffic lights against the alert
profile and published ranges, alert shares, cues, the next step, runner's units; the
speed-aware and like-with-like compare with honest effect words and unfloored p-values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dsp.form_ranges import rate
from dsp.metrics import fmt_duration
from runform.compare import Run, compare_runs
from runform.findings import (
    MIN_CONTACTS,
    Segment,
    alert_shares,
    fmt,
    make_segments,
    next_step,
    running_contacts,
    segment_findings,
    share_cell,
    summary_by_activity,
)
from runform.profiles import resolve_profile
from runform.stats import compare_series, holm

PROFILE = resolve_profile("default")


def test_durations_never_show_60_seconds():
    from runform.report import _fmt_duration

    assert fmt_duration(59.97) == "1:00.0"
    assert fmt_duration(119.96) == "2:00.0"
    assert fmt_duration(3599.96) == "1:00:00.0"
    assert fmt_duration(61.24) == "1:01.2"
    assert _fmt_duration(3599.99) == "1:00:00.0"
    assert fmt_duration(math.nan) == "-"


def test_runner_units():
    assert fmt("pace", 300.0) == "5:00 /km"
    assert fmt("pace", 300.0, "imperial") == "8:03 /mi"  # 300 s/km x 1.609344
    assert fmt("pace", 299.7) == "5:00 /km"  # never 4:60
    assert fmt("distance", 1609.344, "imperial") == "1.00 mi"
    assert fmt("distance", 5000.0) == "5.00 km"
    assert fmt("stride_length", 2.0, "imperial") == "6.6 ft"
    assert fmt("contact_time", 0.2514) == "251 ms"
    assert fmt("pelvic_drop", 7.46) == "7.5°"
    assert fmt("vertical_oscillation", 8.0, "imperial") == "3.1 in"


def test_lights_against_the_profile_and_published_ranges():
    assert rate("pelvic_drop", 7.5, profile=PROFILE, side="left").level == "red"
    assert rate("pelvic_drop", 6.0, profile=PROFILE, side="left").level == "amber"
    assert rate("pelvic_drop", 5.0, profile=PROFILE, side="left").level == "green"
    assert rate("cadence", 150.0, profile=PROFILE).level == "red"
    assert rate("cadence", 157.0, profile=PROFILE).level == "amber"
    assert rate("rearfoot_share", 80.0, profile=PROFILE).level == "red"
    # no rule in the default profile: published ranges
    assert rate("contact_time", 0.32, profile=PROFILE).level == "amber"
    assert rate("contact_time", 0.25, profile=PROFILE).level == "green"
    assert rate("contact_time_balance", 53.0).level == "red"
    assert rate("contact_time_balance", 48.5).level == "amber"
    assert rate("contact_time_balance", 50.4).level == "green"
    assert rate("vertical_ratio", 11.0).level == "amber"
    assert rate("peak_impact", 9.0, profile=PROFILE).level == "info"
    # the chirunning profile has a contact-time rule: it wins over the published range
    chi = resolve_profile("chirunning")
    got = rate("contact_time", 0.29, profile=chi)
    assert got.level == "red" and "chirunning" in got.source


def _table(activity: bool = True, drop_left: float = 8.0) -> pd.DataFrame:
    """Two feet and a pelvis, 300 s: running, walking 100-160 s, running; a drill marker at
    200 s after which the heel strikes stop."""
    rng = np.random.default_rng(0)
    rows = []
    t = 0.0
    k = 0
    while t < 300.0:
        walking = 100.0 <= t < 160.0
        side = "left" if k % 2 == 0 else "right"
        heel = t < 200.0
        fsa = (16.0 if heel else 3.0) + rng.normal(0, 1.0)
        common = {"t_ic": t, "side": side, "flags": ""}
        foot = {
            **common,
            "sensor_id": f"{side}_foot",
            "placement": f"{side}_foot",
            "cadence": (110.0 if walking else 168.0) + rng.normal(0, 1),
            "contact_time": (0.6 if walking else 0.25) + rng.normal(0, 0.005),
            "foot_strike_angle": fsa,
            "strike_type": "rearfoot" if fsa > 8 else "midfoot",
            "speed": (1.4 if walking else 3.0) + rng.normal(0, 0.03),
            "stride_length": (1.5 if walking else 2.14) + rng.normal(0, 0.02),
            "flight_time": math.nan if walking else 0.11,
            "peak_impact": 6.0,
            "max_pronation_velocity": 350.0,
            "pronation_excursion": 9.0,
        }
        pelvis = {
            **common,
            "sensor_id": "pelvis",
            "placement": "pelvis",
            "cadence": foot["cadence"],
            "pelvic_drop": (drop_left if side == "left" else 4.0) + rng.normal(0, 0.3),
            "vertical_oscillation": 8.0 + rng.normal(0, 0.2),
        }
        if activity:
            foot["activity"] = pelvis["activity"] = "walk" if walking else "run"
        rows += [foot, pelvis]
        t += 60.0 / foot["cadence"]
        k += 1
    return pd.DataFrame(rows)


MARKERS = [(200.0, "midfoot drill", "note")]


def test_segments_split_at_markers_and_activity_bouts():
    df = _table()
    segs = make_segments(df, t_start=0.0, t_end=300.0, markers=MARKERS)
    assert [s.activity for s in segs] == ["run", "walk", "run", "run"]
    assert segs[1].t0 == pytest.approx(100.0, abs=0.6) and segs[1].t1 == pytest.approx(160, abs=0.6)
    assert "walking" in segs[1].label and "before 'midfoot drill'" in segs[1].label
    assert "after 'midfoot drill'" in segs[3].label
    fs = [segment_findings(s, profile=PROFILE) for s in segs]
    # walking is shown, not judged against running limits
    assert {f.light.level for f in fs[1].findings} == {"info"}
    # no median mixes the halves: heel strikes before the drill, none after
    assert fs[2].get("rearfoot_share").value == pytest.approx(100.0)
    assert fs[3].get("rearfoot_share").value == pytest.approx(0.0)
    assert fs[2].get("rearfoot_share").light.level == "red"
    assert fs[3].get("rearfoot_share").light.level == "green"
    # without an activity column only the marker splits
    plain = make_segments(_table(activity=False), t_start=0.0, t_end=300.0, markers=MARKERS)
    assert [s.activity for s in plain] == [None, None]


def test_next_step_names_the_problem_that_is_left_and_what_got_better():
    df = _table(drop_left=8.0)
    segs = make_segments(df, t_start=0.0, t_end=300.0, markers=MARKERS)
    fs = [segment_findings(s, profile=PROFILE) for s in segs]
    text = next_step(fs)
    assert text.startswith("Work on pelvic drop next")
    assert "left-stance pelvic drop" in text and "7.0° limit" in text
    assert "Already better: heel strikes" in text
    good = _table(drop_left=4.5)
    segs = make_segments(good, t_start=0.0, t_end=300.0, markers=MARKERS)
    fs = [segment_findings(s, profile=PROFILE) for s in segs]
    assert next_step(fs).startswith("Nothing to fix")


def test_alert_share_counts_the_time_each_alert_was_on():
    alerts = [
        {"t": 10.0, "rule": "heel_strike", "t_clear": 30.0},
        {"t": 50.0, "rule": "heel_strike"},  # never cleared: on to the end
        {"t": 0.0, "rule": "pelvic_drop", "side": "left", "t_clear": 100.0},
    ]
    got = alert_shares(alerts, 0.0, 100.0)
    assert got["heel_strike"] == pytest.approx(0.7)
    assert got["pelvic_drop (left)"] == pytest.approx(1.0)
    assert alert_shares(alerts, 40.0, 60.0)["heel_strike"] == pytest.approx(0.5)


def test_a_rule_has_no_time_share_in_an_activity_it_does_not_watch():
    # a running rule on when a walk break begins is not evaluated during the walk (and the
    # walking pelvic-drop rule not during a run): its share there is left empty, not 100 %
    alerts = [
        {"t": 10.0, "rule": "heel_strike"},  # on from 10 s, never cleared
        {"t": 5.0, "rule": "walk_pelvic_drop", "side": "left"},
    ]
    rows = _table()
    walk = Segment(60.0, 100.0, "walk", "walking", rows[rows["t_ic"] >= 60.0])
    run = Segment(0.0, 60.0, "run", "running", rows[rows["t_ic"] < 60.0])
    got_walk = segment_findings(walk, profile=PROFILE, alerts=alerts).alert_share
    got_run = segment_findings(run, profile=PROFILE, alerts=alerts).alert_share
    assert got_walk == {"walk_pelvic_drop (left)": pytest.approx(1.0)}
    assert got_run == {"heel_strike": pytest.approx(50.0 / 60.0)}
    assert share_cell(got_walk.get("heel_strike")) == "–"
    assert share_cell(got_run["heel_strike"]) == "83 % of the time"
    # without a profile (or an activity) every alert counts, as before
    assert set(segment_findings(walk, alerts=alerts).alert_share) == {
        "heel_strike",
        "walk_pelvic_drop (left)",
    }


def _run(df: pd.DataFrame, label: str) -> Run:
    return Run(label, "x.h5", df.reset_index(drop=True), 0.0, 300.0)


def test_compare_takes_running_with_running():
    df = _table()
    a = _run(df[df["t_ic"] < 200], "A")  # running and walking
    b = _run(df[df["t_ic"] >= 200], "B")  # running only
    comp = compare_runs(a, b, n_boot=1000, n_perm=1000, profile=PROFILE)
    assert comp.activity == "run"
    cad = comp.get("both feet", "cadence")
    # with the walk mixed in, A's median cadence would fall; running only it equals B's
    assert cad.result.a == pytest.approx(168.0, abs=1.0)
    assert cad.practical == "trivial" or not cad.significant


def test_compare_is_speed_aware():
    rng = np.random.default_rng(3)

    def run(speed: float) -> pd.DataFrame:
        n = 400
        sp = speed + rng.normal(0, 0.25, n)
        side = np.where(np.arange(n) % 2 == 0, "left", "right")
        return pd.DataFrame(
            {
                "sensor_id": [f"{s}_foot" for s in side],
                "placement": [f"{s}_foot" for s in side],
                "side": side,
                "t_ic": np.arange(n) * 0.35,
                # the same runner: cadence and contact time follow speed alone
                "cadence": 130.0 + 12.0 * sp + rng.normal(0, 1.0, n),
                "contact_time": 0.40 - 0.05 * sp + rng.normal(0, 0.004, n),
                "speed": sp,
                "stride_length": sp * 120 / (130.0 + 12.0 * sp),
                "strike_type": "midfoot",
                "foot_strike_angle": 3.0 + rng.normal(0, 1, n),
                "flags": "",
            }
        )

    a, b = _run(run(2.9), "A"), _run(run(3.4), "B")
    comp = compare_runs(a, b, n_boot=1000, n_perm=1000)
    assert comp.speeds_differ and comp.speed_change == pytest.approx(0.17, abs=0.03)
    assert comp.sentences[0].startswith("speeds differ by +17 %")
    raw = comp.get("both feet", "cadence").result.diff
    matched = comp.get("speed-matched", "cadence").result.diff
    assert raw == pytest.approx(6.0, abs=1.0)  # 12 spm per m/s x 0.5 m/s
    assert abs(matched) < raw / 2  # at the same speed the cadence hardly differs
    assert comp.as_dict()["speed"]["differ"] is True


def test_p_values_are_not_floored_by_the_resample_count():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 300)
    y = rng.normal(1.0, 1, 300)
    p1 = compare_series(x, y, n_boot=1000, seed=1).p
    p2 = compare_series(x, y, n_boot=4000, seed=1).p
    assert p1 < 1 / 1001 and p2 < 1 / 4001
    assert p1 == pytest.approx(p2, rel=0.5, abs=1e-12)
    # Holm over 31 metrics no longer sticks at 31/(R+1)
    assert holm([p1] + [0.5] * 30)[0] < 0.001
    # a difference inside the noise keeps its counted p-value
    z = rng.normal(0, 1, 300)
    assert compare_series(x, z, n_boot=1000, seed=1).p > 0.05


def test_a_clear_but_tiny_difference_is_called_trivial():
    rng = np.random.default_rng(2)
    df = _table()
    a = df[df["t_ic"] < 100].copy()
    b = df[df["t_ic"] < 100].copy()
    b["speed"] = b["speed"] + 0.07 + rng.normal(0, 0.001, len(b))
    comp = compare_runs(_run(a, "A"), _run(b, "B"), n_boot=1000, n_perm=1000)
    m = comp.get("both feet", "speed")
    assert m.significant and m.result.effect_size == "large"
    assert m.practical == "trivial"
    assert any("speed about the same" in s and "trivial" in s for s in comp.sentences)


def test_compare_says_when_a_metric_is_still_beyond_its_limit():
    df = _table(drop_left=8.0)
    a, b = _run(df[df["t_ic"] < 200], "A"), _run(df[df["t_ic"] >= 200], "B")
    comp = compare_runs(a, b, n_boot=1000, n_perm=1000, profile=PROFILE)
    left = next(s for s in comp.sentences if s.startswith("left-stance pelvic drop"))
    assert "still above the 7.0° limit" in left


def _summary(run: int, walk: int) -> dict:
    def part(n: int, cadence: float) -> dict:
        return {"placement": "left_foot", "contacts": n, "cadence_median": cadence}

    foot = {"placement": "left_foot", "contacts": run + walk, "cadence_median": 120.0}
    foot["by_activity"] = {"run": part(run, 165.0), "walk": part(walk, 110.0)}
    return {"recording": "r.h5", "sensors": {"left_foot": foot}, "balance": {"x": 1}}


def test_summary_by_activity_splits_walking_and_running():
    parts = summary_by_activity(_summary(40, 60))
    assert [w for w, _ in parts] == ["running", "walking"]
    assert parts[0][1]["sensors"]["left_foot"]["cadence_median"] == 165.0
    assert parts[1][1]["sensors"]["left_foot"]["cadence_median"] == 110.0
    assert "balance" in parts[0][1] and "balance" not in parts[1][1]


def test_summary_by_activity_gives_a_lone_contact_no_table():
    # gaitmap stair descent: 1 of 38 contacts taken for running had a "running" table
    parts = summary_by_activity(_summary(1, 37))
    assert [w for w, _ in parts] == ["walking"]
    assert summary_by_activity(_summary(40, 0))[0][0] is None  # a run: as it always was
    # a walk alone: its walking medians (the session-level pace is of running, so empty)
    assert [w for w, _ in summary_by_activity(_summary(0, 37))] == ["walking"]
    assert summary_by_activity(_summary(3, 5))[0][0] is None


def test_a_stretch_needs_its_contacts_of_one_sensor_not_of_all_together():
    # before: a 5 s run with three sensors (8 + 7 + 15 contacts, 30 together) was judged: the
    # minimum of 20 counted the contacts of all sensors, each sensor's medians being of its own
    run = _table()
    run = run[run["t_ic"] < 4.8]  # about 14 steps: 7 of each foot, 14 of the pelvis
    assert len(run) >= MIN_CONTACTS > run.groupby("sensor_id").size().max()
    assert make_segments(run, t_start=0.0, t_end=5.0) == []
    assert running_contacts(run) == run.groupby("sensor_id").size().max()
    assert next_step([], running_contacts=running_contacts(run)).startswith("Too few running")
    longer = _table()
    longer = longer[longer["t_ic"] < 8.0]  # 22 steps: the pelvis has 22
    assert [s.activity for s in make_segments(longer, t_start=0.0, t_end=8.0)] == ["run"]
    # the Summary's tables by activity count the same way (SUMMARY by_activity contacts)
    both = _summary(12, 40)
    both["sensors"]["right_foot"] = {**both["sensors"]["left_foot"], "placement": "right_foot"}
    assert [w for w, _ in summary_by_activity(both)] == ["walking"]  # 12 + 12 running: none
