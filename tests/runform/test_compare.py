"""runform compare: known changes are found (direction and size against the simulator's truth),
a run compared with itself shows nothing, and the JSON equals the report and ``runform analyze``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from firmware_bridge.simulator import simulate_session
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.compare import compare_runs, format_value, run_from_result, split_result

N_BOOT = 2000  # p floor 1/2001: Holm over ~31 metrics still reaches 0.05


@pytest.fixture(scope="module")
def recs(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    out = {}
    for name, scenario, dur, seed in (
        ("rearfoot", "rearfoot", 40.0, 3),
        ("midfoot", "midfoot", 40.0, 4),
        ("chi", "chirunning", 60.0, 1),
        ("easy1", "easy", 30.0, 1),
        ("easy2", "easy", 30.0, 2),
    ):
        sim = simulate_session(scenario, duration_s=dur, seed=seed)
        path = d / f"{name}.h5"
        sim.write(path)
        out[name] = (path, sim.truth)
    return out


def _truth_feet(truth: dict, t0: float = -math.inf, t1: float = math.inf) -> pd.DataFrame:
    df = pd.DataFrame(truth["contacts"])
    df = df[df["sensor_id"].isin(["left_foot", "right_foot"])]
    return df[(df["t_ic"] >= t0) & (df["t_ic"] < t1)]


def test_known_change_rearfoot_to_midfoot(recs):
    (pa, ta), (pb, tb) = recs["rearfoot"], recs["midfoot"]
    a = run_from_result(analyse_recording(pa), "A")
    b = run_from_result(analyse_recording(pb), "B")
    comp = compare_runs(a, b, n_boot=N_BOOT)
    fa, fb = _truth_feet(ta), _truth_feet(tb)

    fsa = comp.get("both feet", "foot strike angle")
    true_d = fb["foot_strike_angle"].median() - fa["foot_strike_angle"].median()
    assert true_d < -15  # the scenarios differ by about 19 deg
    assert fsa.result.diff == pytest.approx(true_d, abs=3.0)
    assert fsa.significant and fsa.result.ci_high < 0

    cad = comp.get("both feet", "cadence")
    true_c = fb["cadence"].median() - fa["cadence"].median()
    assert cad.result.diff == pytest.approx(true_c, abs=3.0)
    assert cad.significant and cad.result.ci_low > 0

    rear = comp.get("both feet", "rearfoot share")
    true_r = (fb["strike_type"] == "rearfoot").mean() - (fa["strike_type"] == "rearfoot").mean()
    assert rear.result.diff == pytest.approx(true_r, abs=0.15)
    assert rear.significant and rear.result.diff < -0.7

    # 2.8 vs 3.4 m/s (+21.4 %): the speed difference is said first, then the strike pattern
    assert re.match(r"speeds differ by \+2[12] %", comp.sentences[0]), comp.sentences[0]
    assert comp.sentences[1].startswith("midfoot strikes rose from")
    assert any(s.startswith("cadence +") for s in comp.sentences)


def test_split_at_marker_finds_the_drill(recs, tmp_path):
    path, truth = recs["chi"]
    out_json = tmp_path / "n.json"
    out_html = tmp_path / "r.html"
    rc = main(
        [
            "compare",
            str(path),
            "--split-at-marker",
            "midfoot drill",
            "--out",
            str(out_html),
            "--json",
            str(out_json),
            "--resamples",
            str(N_BOOT),
        ]
    )
    assert rc == 0
    doc = json.loads(out_json.read_text())
    t_split = float(truth["markers"][0][0])  # (t, label, kind)
    assert doc["a"]["t1"] == pytest.approx(t_split, abs=1e-6)
    m = {(x["group"], x["label"]): x for x in doc["metrics"]}
    fsa = m[("both feet", "foot strike angle")]
    fa = _truth_feet(truth, t1=t_split)
    # part B includes the ~4 s transition: compare with the truth of the same contacts
    fb = _truth_feet(truth, t0=t_split)
    true_d = fb["foot_strike_angle"].median() - fa["foot_strike_angle"].median()
    assert fsa["diff"] == pytest.approx(true_d, abs=3.0)
    assert fsa["significant"] is True
    cad = m[("both feet", "cadence")]
    assert cad["diff"] == pytest.approx(fb["cadence"].median() - fa["cadence"].median(), abs=3.0)
    assert doc["summary"][0].startswith("midfoot strikes rose from")

    # the JSON numbers are the report's numbers ...
    html = out_html.read_text()
    for x in doc["metrics"]:
        assert format_value(x["a"], x["unit"]) in html
        assert format_value(x["b"], x["unit"]) in html
    for s in doc["summary"]:
        assert (s[0].upper() + s[1:]).replace("'", "&#x27;") in html
    # ... and medians of the rows of `runform analyze`
    strides = tmp_path / "s.csv"
    assert main(["analyze", str(path), "--strides", str(strides)]) == 0
    rows = pd.read_csv(strides)
    left_a = rows[(rows["sensor_id"] == "left_foot") & (rows["t_ic"] < t_split)]
    left_b = rows[(rows["sensor_id"] == "left_foot") & (rows["t_ic"] >= t_split)]
    cad_l = m[("left foot", "cadence")]
    assert cad_l["a"] == pytest.approx(left_a["cadence"].median(), abs=1e-9)
    assert cad_l["b"] == pytest.approx(left_b["cadence"].median(), abs=1e-9)
    assert cad_l["n_a"] == left_a["cadence"].notna().sum()


def test_run_against_itself_shows_nothing(recs):
    res = analyse_recording(recs["easy1"][0])
    comp = compare_runs(run_from_result(res, "A"), run_from_result(res, "B"), n_boot=N_BOOT)
    assert comp.metrics
    for m in comp.metrics:
        assert m.result.diff == 0.0
        assert m.result.p == 1.0
        assert not m.significant
    assert all("unchanged" in s for s in comp.sentences)


def test_two_runs_of_the_same_scenario_mostly_unchanged(recs):
    """Different seeds of one scenario: no significant change in the headline metrics."""
    ra = analyse_recording(recs["easy1"][0])
    rb = analyse_recording(recs["easy2"][0])
    comp = compare_runs(run_from_result(ra, "A"), run_from_result(rb, "B"), n_boot=N_BOOT, seed=0)
    for label in ("foot strike angle", "cadence", "rearfoot share", "midfoot share", "speed"):
        m = comp.get("both feet", label)
        assert m is not None and not m.significant, (label, m.result)
    n_sig = sum(m.significant for m in comp.metrics)
    assert n_sig <= 1


def test_whole_run_medians_match_summary(recs):
    res = analyse_recording(recs["rearfoot"][0])
    run = run_from_result(res, "A")
    comp = compare_runs(run, run, n_boot=200)
    feet = [s for s in res.summary["sensors"].values() if s["placement"].endswith("_foot")]
    assert len(feet) == 2
    for s in feet:
        group = s["placement"].replace("_", " ")
        for col, key in (
            ("cadence", "cadence_median"),
            ("foot_strike_angle", "foot_strike_angle_median"),
        ):
            m = next(x for x in comp.metrics if x.group == group and x.metric == col)
            # rows are rounded as in STRIDES.csv (3 decimals); the summary is not
            assert m.result.a == pytest.approx(s[key], abs=1e-3)
        frac = s["strike_type_fraction"]
        for k, v in frac.items():
            m = comp.get(group, f"{k} share")
            assert m.result.a == pytest.approx(v, abs=1e-4)


def test_split_result_partitions_rows(recs):
    res = analyse_recording(recs["chi"][0])
    a, b = split_result(res, 30.0)
    assert len(a.strides) + len(b.strides) == len(res.strides)
    assert (a.strides["t_ic"] < 30.0).all() and (b.strides["t_ic"] >= 30.0).all()
    assert a.label == "before 30.0 s"
    assert np.isfinite(a.t0) and b.t1 > b.t0


def test_cli_errors_are_one_line(recs, tmp_path, capsys):
    path = recs["easy1"][0]
    assert (
        main(
            ["compare", str(path), "--split-at-marker", "nope", "--json", str(tmp_path / "x.json")]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "no marker labelled 'nope'" in err and "\n" not in err
    assert main(["compare", str(path), "--json", str(tmp_path / "x.json")]) == 2
    assert "expected two recordings" in capsys.readouterr().err
    assert (
        main(["compare", str(path), "--split-at", "9999", "--json", str(tmp_path / "x.json")]) == 2
    )
    assert "inside the recording" in capsys.readouterr().err


def test_too_few_strides_is_said_as_such_not_no_placement_in_common(recs):
    """A run of a few seconds (two foot contacts, no full stride) against a long one: the
    only finding read 'the runs share no analysed sensor placement', though both had feet."""
    from runform.compare import Run

    res = analyse_recording(recs["easy1"][0])
    a = run_from_result(res, "A: easy1.h5")
    feet = a.strides[a.strides["placement"].isin(["left_foot", "right_foot"])]
    last = feet.sort_values("t_ic").groupby("placement").tail(1)  # no next contact: no stride
    assert len(last) == 2 and last["stride_time"].isna().all()
    b = Run("B: short.h5", "short.h5", last, float(last["t_ic"].min()), a.t1)
    comp = compare_runs(a, b, n_boot=1000, n_perm=1000)
    assert len(comp.sentences) == 1
    said = comp.sentences[0]
    assert "share no analysed sensor placement" not in said
    assert said.startswith("no metric could be compared: too few strides"), said
    assert "B: short.h5 has 2 foot and 0 pelvis contacts" in said, said


def test_a_difference_that_rounds_to_zero_has_no_sign():
    """The figure title of a speed unchanged to 0.01 mph read 'speed (mph) −0.0 mph'."""
    from runform.compare import format_diff

    assert format_diff(-0.004, "m/s", units="imperial") == "±0.0 mph"
    assert format_diff(-0.0004, "s") == "±0 ms"
    assert format_diff(-0.3, "m/s", units="imperial") == "−0.7 mph"
    assert format_diff(0.002, "s") == "+2 ms"


def test_without_outputs_it_checks_the_inputs_and_prints_a_table(recs, tmp_path, capsys):
    """`compare A B` without --out/--json refused ('nothing to write') before looking at its
    inputs, so a missing file was not named; now the inputs are checked first (before the
    first analysis) and the comparison is printed as a table, as `analyze` prints its medians."""
    a, b = recs["easy1"][0], recs["easy2"][0]
    missing = tmp_path / "nope.h5"
    assert main(["compare", str(a), str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.h5" in err and "\n" not in err, err
    assert main(["compare", str(a), str(b), "--resamples", "1000"]) == 0
    out = capsys.readouterr().out
    for word in ("B − A", "95 % CI", "p (Holm)", "cadence", "A: easy1.h5 vs B: easy2.h5"):
        assert word in out, out
    assert "give --out/--json/--png" in out and "->" not in out, out


def test_two_recordings_of_the_same_file_name_are_told_apart(tmp_path, capsys):
    """A coach comparing two athletes' week 1 (anna/w1.h5, ben/w1.h5): the comparison was
    'A: w1.h5 vs B: w1.h5' (terminal and HTML); clashing names now show their folder."""
    for who, seed in (("anna", 1), ("ben", 2)):
        (tmp_path / who).mkdir()
        simulate_session("easy", duration_s=25, seed=seed, truth=False).write(
            tmp_path / who / "w1.h5"
        )
    out = tmp_path / "c.html"
    a, b = str(tmp_path / "anna" / "w1.h5"), str(tmp_path / "ben" / "w1.h5")
    assert main(["compare", a, b, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("A: anna/w1.h5 vs B: ben/w1.h5:"), said
    assert "A: anna/w1.h5 vs B: ben/w1.h5" in out.read_text()


def test_no_progress_silences_compare_as_report(tmp_path, capsys):
    """report, analyze, history, batch and simulate take --no-progress; compare refused it
    ('unrecognized arguments') and wrote 'analysing X (2 min of data)…' to a script's log."""
    rec = tmp_path / "long.h5"
    simulate_session("easy", duration_s=125, seed=3, truth=False).write(rec)
    argv = ["compare", str(rec), "--split-at", "60", "--out", str(tmp_path / "c.html")]
    capsys.readouterr()
    assert main(argv) == 0
    assert "analysing long.h5 (2 min of data)" in capsys.readouterr().err
    assert main([*argv, "--no-progress"]) == 0
    assert "analysing" not in capsys.readouterr().err


def test_a_large_difference_that_is_not_significant_is_not_called_unchanged(recs):
    """The ChiRunning run split 30 contacts before its end (B: 15 midfoot strides a foot):
    'foot strike angle unchanged (14.9° vs 1.9°, difference not significant)', 'cadence
    unchanged (162 vs 177 steps/min ...)', 'strike pattern unchanged: midfoot on 42 % vs
    100 %'. A difference beyond the smallest worthwhile change that the test cannot tell from
    noise is 'not a clear change', not 'unchanged' (the statistics are as they were)."""
    res = analyse_recording(recs["chi"][0])
    feet = res.strides[res.strides["sensor_id"] != "pelvis"]
    t = float(feet["t_ic"].sort_values().iloc[-30])
    comp = compare_runs(*split_result(res, t), n_boot=1000, seed=0)
    big = [
        m
        for m in comp.metrics
        if m.group == "both feet"
        and not m.significant
        and m.smallest_change is not None
        and abs(m.result.diff) >= m.smallest_change
    ]
    assert {"foot strike angle", "cadence"} <= {m.label for m in big}, [m.label for m in big]
    for label in ("foot strike angle", "cadence"):
        said = next(s for s in comp.sentences if s.startswith(label))
        assert "unchanged" not in said and "not a clear change" in said, said
    strike = next(s for s in comp.sentences if "strike" in s.split("(")[0])
    assert "unchanged" not in strike, strike
    # a small difference that is not significant is still 'unchanged'
    small = [m for m in comp.metrics if m.group == "both feet" and m.label == "contact time"]
    said = next(s for s in comp.sentences if s.startswith("contact time"))
    assert small and not small[0].significant and "unchanged" in said, said
