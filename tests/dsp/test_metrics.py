"""The metric registry (dsp.metrics) is the one place of a column's unit, label and decimals."""

from __future__ import annotations

import csv

import pytest

from dsp.alerts import METRICS
from dsp.contact import STRIDE_COLUMNS, ContactRow
from dsp.metrics import METRIC_LIST, cadence_spm, csv_decimals, metric
from runform.analysis_io import StridesCsvWriter
from runform.analysis_run import TEXT_COLUMNS, rows_to_frame
from runform.compare import FOOT_METRICS, PELVIS_METRICS
from runform.report import TIME_METRICS


def test_every_numeric_column_is_registered_in_column_order():
    numeric = [c for c in STRIDE_COLUMNS if c not in TEXT_COLUMNS]
    assert [m.column for m in METRIC_LIST] == numeric


def test_a_row_closing_a_walk_is_no_column():
    """``ContactRow.ends_walk`` feeds the bouts (a walking bout ends at its closing contact)
    but is no STRIDES.csv column (analysis-output v1 unchanged)."""
    row = ContactRow(sensor_id="pelvis", side="left", t_ic=1.0, activity="walk")
    row.ends_walk = True
    assert "ends_walk" not in STRIDE_COLUMNS and "ends_walk" not in row.as_record()
    assert STRIDE_COLUMNS[-1] == "events_source"


def test_csv_and_frame_round_with_the_registry_decimals(tmp_path):
    row = ContactRow(sensor_id="left_foot", side="left", t_ic=1.23456789, cadence=171.123456)
    row.max_pronation_velocity = 401.23456
    path = tmp_path / "S.csv"
    with StridesCsvWriter(path) as w:
        w.write([row])
    rec = next(csv.DictReader(open(path)))
    dec = csv_decimals()
    assert dec["max_pronation_velocity"] == 2 and dec["t_ic"] == 6
    for col in ("t_ic", "cadence", "max_pronation_velocity"):
        assert float(rec[col]) == round(getattr(row, col), dec[col])
    df = rows_to_frame([row])
    assert df["max_pronation_velocity"].iloc[0] == pytest.approx(401.23, abs=1e-12)


def test_alert_rules_reports_and_compare_read_the_registry():
    for m in METRIC_LIST:
        if m.column in METRICS:
            assert METRICS[m.column].unit == m.unit
            want = "auto" if m.feet and m.pelvis else ("feet" if m.feet else "pelvis")
            assert METRICS[m.column].source == want
    for col, label, unit, _ in TIME_METRICS:
        assert label.startswith(metric(col).label) and unit == metric(col).unit
    for col, label, unit in FOOT_METRICS:
        assert (label, unit) == (metric(col).label, metric(col).unit)
    for col, _side, label, unit in PELVIS_METRICS:
        assert label.startswith(metric(col).label) and unit == metric(col).unit


def test_cadence_is_two_steps_per_stride():
    assert cadence_spm(0.75) == 160.0
    with pytest.raises(KeyError, match="no metric 'strike_angle'"):
        metric("strike_angle")
