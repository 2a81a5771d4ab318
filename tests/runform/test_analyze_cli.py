"""``runform analyze``: outputs exactly as ``shared/spec/analysis-output.md``, errors as one line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dsp.contact import STRIDE_COLUMNS
from firmware_bridge.simulator import simulate_session
from runform.cli import main

FIXED = (
    "sensor_id side t_ic t_to contact_time stride_time cadence foot_strike_angle strike_type "
    "pronation_excursion max_pronation_velocity stride_length speed peak_impact pelvic_drop "
    "vertical_oscillation flags"
).split()
FOOT_KEYS = {
    "placement",
    "contacts",
    "cadence_median",
    "contact_time_median",
    "foot_strike_angle_median",
    "strike_type_fraction",
    "max_pronation_velocity_median",
    "pronation_excursion_median",
    "speed_median",
    # the runner's metrics (analysis-output v1 added keys)
    "stride_length_median",
    "flight_time_median",
    "peak_impact_median",
    "pace_median",
    "distance",
}


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "run.h5"
    run = simulate_session("easy", duration_s=40, rate_hz=208, seed=5)
    run.write(path)
    return path, run


def test_analyze_writes_spec_outputs(rec, tmp_path, capsys):
    path, run = rec
    out_csv, out_json, out_pq = tmp_path / "s.csv", tmp_path / "s.json", tmp_path / "s.parquet"
    code = main(
        [
            "analyze",
            str(path),
            "--strides",
            str(out_csv),
            "--json",
            str(out_json),
            "--parquet",
            str(out_pq),
        ]
    )
    assert code == 0
    with open(out_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header[: len(FIXED)] == FIXED
    assert tuple(header) == STRIDE_COLUMNS
    body = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    n_truth = sum(1 for c in run.truth["contacts"] if c["sensor_id"].endswith("foot"))
    feet = [r for r in body if r["sensor_id"] in ("left_foot", "right_foot")]
    assert abs(len(feet) - n_truth) <= 2
    assert {r["sensor_id"] for r in feet} == {"left_foot", "right_foot"}
    for r in feet:
        assert r["side"] in ("left", "right")
        assert r["pelvic_drop"] == "" and r["vertical_oscillation"] == ""
        if r["stride_time"]:
            assert float(r["cadence"]) == pytest.approx(120 / float(r["stride_time"]), rel=1e-3)
        if r["flags"]:
            assert set(r["flags"].split(";")) <= {"saturated", "gap", "low_alignment", "rejected"}
    summary = json.loads(out_json.read_text())
    assert summary["format"] == "runform-analysis" and summary["format_version"] == 1
    assert summary["recording"] == str(path)
    assert summary["duration_s"] == pytest.approx(40, abs=0.1)
    assert isinstance(summary["alerts"], list)
    # the bouts cover the recording: standing, then running (issue 17)
    assert [b["activity"] for b in summary["bouts"]][-1] == "run"
    assert summary["bouts"][0]["t0"] == pytest.approx(0.0, abs=0.01)
    assert summary["bouts"][-1]["t1"] == pytest.approx(summary["duration_s"], abs=0.01)
    assert {r["activity"] for r in feet if "rejected" not in r["flags"]} == {"run"}
    for a in summary["alerts"]:
        assert {"t", "rule", "message"} <= set(a)
    assert {"left_foot", "right_foot"} <= set(summary["sensors"])
    for sid in ("left_foot", "right_foot"):
        s = summary["sensors"][sid]
        assert set(s) == FOOT_KEYS | {"by_activity"}
        # the same keys over the running contacts (all of them: an easy run)
        assert set(s["by_activity"]) == {"run"}
        assert set(s["by_activity"]["run"]) == FOOT_KEYS
        assert s["by_activity"]["run"]["contacts"] == s["contacts"]
        assert s["by_activity"]["run"]["cadence_median"] == s["cadence_median"]
        assert set(s["strike_type_fraction"]) == {"rearfoot", "midfoot", "forefoot"}
        assert sum(s["strike_type_fraction"].values()) == pytest.approx(1.0, abs=1e-3)
        assert 150 < s["cadence_median"] < 190
    import pyarrow.parquet as pq

    table = pq.read_table(out_pq)
    assert table.column_names == list(STRIDE_COLUMNS)
    assert table.num_rows == len(body)
    err = capsys.readouterr().err
    assert "left_foot:" in err and "right_foot:" in err


def test_session_without_analysable_sensor_is_a_clear_error():
    from dsp.errors import AnalysisError
    from dsp.session import SessionAnalyzer

    with pytest.raises(AnalysisError, match="no sensor to analyse"):
        SessionAnalyzer([])


def test_recording_without_foot_sensors_has_no_foot_rows(tmp_path, capsys):
    path = tmp_path / "pelvis.h5"
    simulate_session("easy", duration_s=10, seed=1, truth=False, sensors=("pelvis",)).write(path)
    out_csv = tmp_path / "s.csv"
    code = main(["analyze", str(path), "--strides", str(out_csv)])
    assert code == 0
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["sensor_id"] == "pelvis" for r in rows)
    assert "no foot sensor" in capsys.readouterr().err


def test_missing_file_and_nothing_to_write(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.h5"), "--json", str(tmp_path / "x")]) == 2
    assert main(["analyze", str(tmp_path / "nope.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("error" in e for e in err)


def test_still_sensor_reports_no_contacts_without_crash(tmp_path, capsys):
    from dsp.block import SampleBlock, SensorInfo
    from recordings import RecordingWriter

    path = tmp_path / "still.h5"
    info = SensorInfo("lf", "left_foot", "simulated", 100.0, acc_range_g=16, gyr_range_dps=2000)
    n = 6000
    rng = np.random.default_rng(0)
    acc = np.tile([0.3, -0.2, 9.8], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    gyr = rng.normal(0, 0.3, (n, 3))
    with RecordingWriter(path, [info]) as w:
        w.append(SampleBlock("lf", np.arange(n) / 100.0, acc, gyr))
    out = tmp_path / "s.json"
    assert main(["analyze", str(path), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "lf: no contacts" in err
    s = json.loads(out.read_text())
    assert s["sensors"]["lf"]["contacts"] == 0
    assert s["sensors"]["lf"]["cadence_median"] is None


def test_every_strides_column_is_documented():
    """The repository's copy of the contract lists every column STRIDES.csv writes, in order
    (events_source was written but documented nowhere)."""
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[2] / "docs/spec/analysis-output.md").read_text()
    table = spec.split("## STRIDES.csv")[1].split("## SUMMARY.json")[0]
    documented = [ln.split("`")[1] for ln in table.splitlines() if ln.startswith("| `")]
    assert documented == list(STRIDE_COLUMNS)
