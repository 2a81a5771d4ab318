"""The runner's metrics (pace, distance, stride length, flight time, impact, vertical ratio,
contact-time balance): hand-made rows with known answers, and SUMMARY.json of a simulated run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.contact import ContactRow
from dsp.metrics import METRICS, metric, metrics_for
from dsp.runner_metrics import (
    RunnerMetrics,
    contact_time_balance,
    foot_metrics,
    pace_s_per_km,
    vertical_ratio,
)


def test_pace_is_1000_over_speed():
    assert pace_s_per_km(4.0) == 250.0
    assert pace_s_per_km(0.0) is None
    assert pace_s_per_km(None) is None


def test_foot_metrics_by_hand():
    got = foot_metrics(
        stride_length=[2.0, 2.2, np.nan, 2.4],
        speed=[3.0, 3.2, np.nan, 3.4],
        flight_time=[0.10, 0.12, np.nan, 0.14],
        peak_impact=[5.0, 6.0, 7.0, 8.0],
    )
    assert got["stride_length_median"] == pytest.approx(2.2)
    assert got["distance"] == pytest.approx(6.6)
    assert got["pace_median"] == pytest.approx(1000 / 3.2)
    assert got["flight_time_median"] == pytest.approx(0.12)
    assert got["peak_impact_median"] == pytest.approx(6.5)


def test_vertical_ratio_uses_the_nearest_foot_stride():
    # 8 cm of oscillation over steps of 1.0 m (strides of 2.0 m) = 8 %
    vr = vertical_ratio([1.0, 1.35, 9.0], [8.0, 8.0, 8.0], [0.99, 1.34], [2.0, 2.0])
    assert vr[0] == pytest.approx(8.0)
    assert vr[1] == pytest.approx(8.0)
    assert math.isnan(vr[2])  # no foot contact within a second


def test_balance_is_the_left_share():
    assert contact_time_balance([0.25, 0.25], [0.25]) == pytest.approx(50.0)
    assert contact_time_balance([0.26], [0.24]) == pytest.approx(52.0)
    assert contact_time_balance([0.26], []) is None


def _row(sid, side, t, **kw):
    return ContactRow(sensor_id=sid, side=side, t_ic=t, **kw)


def test_accumulator_leaves_walking_out_of_running_metrics():
    acc = RunnerMetrics({"L": "left_foot", "R": "right_foot", "P": "pelvis"})
    rows = []
    for k in range(10):
        t = float(k)
        rows.append(_row("L", "left", t, contact_time=0.26, stride_length=2.0, speed=3.0,
                         flight_time=0.1, peak_impact=6.0))  # fmt: skip
        rows.append(_row("R", "right", t + 0.5, contact_time=0.24, stride_length=2.0, speed=3.0,
                         flight_time=0.1, peak_impact=6.0))  # fmt: skip
        rows.append(_row("P", "left", t, vertical_oscillation=8.0))
    walk = _row("L", "left", 20.0, contact_time=0.6, stride_length=1.4, speed=1.2)
    walk.activity = "walk"  # the column issue 17 adds; absent = running
    rows.append(walk)
    rejected = _row("R", "right", 21.0, stride_length=50.0)
    rejected.add_flag("rejected")
    rows.append(rejected)
    acc.add(rows)
    summary = {"sensors": {"L": {}, "R": {}, "P": {}}}
    acc.update_summary(summary)
    assert summary["sensors"]["L"]["pace_median"] == pytest.approx(1000 / 3.0)
    assert summary["sensors"]["L"]["distance"] == pytest.approx(21.4)  # walking adds distance
    assert summary["sensors"]["R"]["distance"] == pytest.approx(20.0)  # rejected adds none
    assert summary["sensors"]["P"]["vertical_ratio_median"] == pytest.approx(8.0)
    assert summary["balance"]["contact_time_left_pct"] == pytest.approx(52.0)


def test_registry_has_every_csv_column_with_decimals():
    from dsp.contact import STRIDE_COLUMNS
    from runform.analysis_io import _DECIMALS

    for col in STRIDE_COLUMNS:
        if col in ("sensor_id", "side", "strike_type", "flags", "events_source", "activity"):
            continue
        assert METRICS[col].decimals == _DECIMALS[col]
    assert metric("contact_time").shown(0.25) == pytest.approx(250.0)
    assert "pelvic_drop" in [m.column for m in metrics_for("pelvis")]
    with pytest.raises(KeyError, match="no metric 'nope'"):
        metric("nope")


def test_summary_json_has_the_runner_keys(tmp_path):
    from firmware_bridge.simulator import write_simulated_recording
    from runform.analysis_run import analyse_recording

    rec = tmp_path / "easy.h5"
    write_simulated_recording(rec, "easy", duration_s=40.0, seed=1)
    res = analyse_recording(rec, workers=1)
    s = res.summary
    feet = [v for v in s["sensors"].values() if v["placement"].endswith("_foot")]
    pelvis = [v for v in s["sensors"].values() if v["placement"] == "pelvis"]
    for f in feet:
        # the easy scenario runs at 3.0 m/s: 333 s/km
        assert f["pace_median"] == pytest.approx(1000 / 3.0, rel=0.08)
        assert 1.8 < f["stride_length_median"] < 2.5
        assert 0.03 < f["flight_time_median"] < 0.2
        assert f["peak_impact_median"] > 1.0
        assert f["distance"] == pytest.approx(3.0 * 35.0, rel=0.12)  # 5 s standing
    assert 5.0 < pelvis[0]["vertical_ratio_median"] < 11.0
    assert s["balance"]["contact_time_left_pct"] == pytest.approx(50.0, abs=2.0)


def test_alerts_say_when_they_cleared(tmp_path):
    """The chirunning runner stops heel striking after the drill: the heel-strike alert has a
    ``t_clear`` after the drill marker; the weak left hip's alert never clears."""
    from firmware_bridge.simulator import write_simulated_recording
    from runform.analysis_run import analyse_recording

    rec = tmp_path / "chi.h5"
    write_simulated_recording(rec, "chirunning", duration_s=80.0, seed=2)
    res = analyse_recording(rec, workers=1)
    drill = next(t for t, lab, _k in res.markers if lab == "midfoot drill")
    heel = [a for a in res.alerts if a["rule"] == "heel_strike"]
    assert heel and drill < heel[0]["t_clear"] < drill + 20.0
    assert heel[0]["t"] < heel[0]["t_clear"]
    hip = [a for a in res.alerts if a["rule"] == "pelvic_drop" and a.get("side") == "left"]
    assert hip and "t_clear" not in hip[-1]
