"""Per-second values from hand-made stride rows (independent of the simulator): window means,
stride middles, left/right balance, strike-type majority, distance with a rejected stride."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runform.fit.timeline import distance_curve, per_second, stride_cadence

PLACEMENTS = {"lf": "left_foot", "rf": "right_foot", "pv": "pelvis"}


def _rows(n=20, stride_time=0.7, stride_length=2.1):
    rows = []
    for i in range(n):
        for sid, side, shift in (("lf", "left", 0.0), ("rf", "right", stride_time / 2)):
            t = 1.0 + i * stride_time + shift
            rows.append(
                {
                    "sensor_id": sid,
                    "side": side,
                    "t_ic": t,
                    "stride_time": stride_time,
                    "cadence": 120 / stride_time,
                    "stride_length": stride_length,
                    "speed": stride_length / stride_time,
                    "contact_time": 0.24 if side == "left" else 0.26,
                    "foot_strike_angle": 10.0 if side == "left" else 0.0,
                    "strike_type": "rearfoot" if side == "left" or i % 2 else "midfoot",
                    "pronation_excursion": 8.0,
                    "max_pronation_velocity": 300.0,
                }
            )
        rows.append(
            {
                "sensor_id": "pv",
                "side": "left",
                "t_ic": 1.0 + i * stride_time,
                "stride_time": stride_time,
                "cadence": 120 / stride_time,
                "pelvic_drop": 7.0,
                "vertical_oscillation": 8.0,
                "strike_type": "",
            }
        )
    return pd.DataFrame(rows)


def test_window_means_and_derived_values():
    df = _rows()
    t = np.arange(0.0, 17.0)
    tl = per_second(df, PLACEMENTS, t)
    v = tl.values
    run = (t >= 3) & (t <= 13)
    assert np.allclose(v["cadence_spm"][run], 120 / 0.7)
    assert np.allclose(v["speed_mps"][run], 3.0)
    assert np.allclose(v["stride_length_m"][run], 2.1)
    assert np.allclose(v["contact_time_left_pct"][run], 100 * 0.24 / 0.50)
    assert np.allclose(v["vertical_ratio_pct"][run], 8.0 / 1.05)  # VO cm / step length m
    assert np.allclose(v["pelvic_drop_left_deg"][run], 7.0)
    assert np.isnan(v["pelvic_drop_right_deg"]).all()
    assert np.allclose(v["foot_strike_angle_deg"][run], 5.0, atol=1.0)  # left 10, right 0
    # majority of rearfoot (left always, right every other stride)
    assert set(tl.strike_type[run]) == {"rearfoot"}
    # before the first contact (window ±1.5 s) there is nothing
    before = per_second(df, PLACEMENTS, np.array([-1.0]))
    assert np.isnan(before.values["cadence_spm"][0]) and before.strike_type[0] == ""


def test_distance_spreads_strides_and_fills_a_rejected_one():
    df = _rows(n=10)
    t = np.arange(0.0, 10.0, 0.5)
    d = distance_curve(df, ["lf", "rf"], t)
    assert np.all(np.diff(d) >= 0)
    # 9 whole strides of each foot between its first and last contact: 9 x 2.1 m
    assert d[-1] == pytest.approx(9 * 2.1)
    # a rejected stride (no length) counts at its neighbours' speed
    rej = df.copy()
    k = rej.index[(rej["sensor_id"] == "lf")][4]
    rej.loc[k, ["stride_length", "speed"]] = np.nan
    assert distance_curve(rej, ["lf", "rf"], t)[-1] == pytest.approx(9 * 2.1)
    # a pause: the stride before it ends after its own time, the distance stays flat
    paused = df.copy()
    paused.loc[paused["t_ic"] > 5.0, "t_ic"] += 30.0
    d = distance_curve(paused, ["lf", "rf"], np.array([7.0, 20.0, 34.5, 60.0]))
    assert d[0] == d[1] == d[2]
    assert d[-1] == pytest.approx(9 * 2.1)
    # without foot sensors there is no distance
    assert np.isnan(distance_curve(df, [], t)).all()


def test_stride_cadence_prefers_feet_then_pelvis():
    df = _rows(n=5)
    t, _ = stride_cadence(df, PLACEMENTS)
    assert len(t) == 10 and np.all(np.diff(t) > 0)
    assert t[0] == pytest.approx(1.0 + 0.35)  # at the middle of the stride
    t, _ = stride_cadence(df[df["sensor_id"] == "pv"], PLACEMENTS)
    assert len(t) == 5


def test_empty_and_garbage_rows_give_empty_values():
    empty = _rows().iloc[:0]
    tl = per_second(empty, PLACEMENTS, np.arange(5.0))
    assert all(np.isnan(a).all() for a in tl.values.values())
    bad = _rows(n=3)
    bad["cadence"] = np.nan
    bad["t_ic"] = bad["t_ic"].where(bad.index % 2 == 0, np.nan)
    tl = per_second(bad, PLACEMENTS, np.arange(5.0))
    assert np.isnan(tl.values["cadence_spm"]).all()
