"""``runform analyze`` writes the pelvis rows and summary keys of analysis-output v1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from firmware_bridge.simulator import simulate_session
from runform.cli import main


@pytest.mark.parametrize("sensors", [("pelvis",), ("left_foot", "right_foot", "pelvis")])
def test_analyze_writes_pelvis_rows_and_summary(tmp_path: Path, sensors, capsys) -> None:
    sim = simulate_session("chirunning", duration_s=45.0, rate_hz=104.0, seed=3, sensors=sensors)
    rec = tmp_path / "run.h5"
    sim.write(rec)
    out_csv, out_json = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["analyze", str(rec), "--strides", str(out_csv), "--json", str(out_json)]) == 0
    with out_csv.open() as f:
        rows = [r for r in csv.DictReader(f) if r["sensor_id"] == "pelvis"]
    assert len(rows) > 90
    fused = len(sensors) == 3
    src = [r["events_source"] for r in rows]
    if fused:  # a step without a usable foot contact keeps the pelvis' own events
        assert src.count("feet") >= 0.95 * len(rows) and set(src) <= {"feet", "pelvis"}
    else:
        assert set(src) == {"pelvis"}
    for r in rows:
        assert r["side"] in ("left", "right")
        assert r["foot_strike_angle"] == "" and r["stride_length"] == ""
    good = [r for r in rows if not r["flags"]]
    assert len(good) > 80
    for r in good:
        assert float(r["pelvic_drop"]) > 0
    for r in good[:-1]:  # the last step has no next contact: no vertical oscillation
        assert 3.0 < float(r["vertical_oscillation"]) < 15.0
    for r in good:
        assert float(r["contact_time"]) == pytest.approx(
            float(r["t_to"]) - float(r["t_ic"]), abs=3e-6
        )
    summ = json.loads(out_json.read_text())["sensors"]["pelvis"]
    assert summ["placement"] == "pelvis"
    assert summ["baseline"] == "standing"
    assert summ["events_source"] == ("feet" if fused else "pelvis")
    # chirunning: weak left gluteus minimus, 7.5 vs 4 deg of drop
    assert summ["pelvic_drop_median"]["left"] == pytest.approx(7.5, abs=1.0)
    assert summ["pelvic_drop_median"]["right"] == pytest.approx(4.0, abs=1.0)
    assert summ["pelvic_drop_asymmetry"] == pytest.approx(
        summ["pelvic_drop_median"]["left"] - summ["pelvic_drop_median"]["right"]
    )
    for key in ("vertical_oscillation_median", "cadence_median", "contact_time_median"):
        assert summ[key] > 0
    assert summ["contacts"] == len(rows)
    assert "foot_strike_angle_median" not in summ


def test_analyze_reports_a_foot_sensor_labelled_pelvis(tmp_path: Path, capsys) -> None:
    from dsp.block import SampleBlock, SensorInfo
    from recordings import RecordingWriter

    sim = simulate_session("easy", duration_s=40.0, rate_hz=104.0, seed=3, sensors=("left_foot",))
    b = sim.blocks["left_foot"]
    rec = tmp_path / "mislabelled.h5"
    with RecordingWriter(rec, [SensorInfo("hip", "pelvis", "simulated", 104.0)]) as w:
        w.append(SampleBlock("hip", b.t, b.acc, b.gyr))
    assert main(["analyze", str(rec), "--json", str(tmp_path / "s.json")]) == 0
    err = capsys.readouterr().err
    assert "hip: no contacts" in err and "is it on a foot?" in err
    summ = json.loads((tmp_path / "s.json").read_text())["sensors"]["hip"]
    assert summ["contacts"] == 0 and "problem" in summ
