"""scripts/realdata_pyshoe.py: the PyShoe VICON trials (one shoe IMU, Vicon positions of the foot)
as format-v1 recordings with a stride-length reference that scripts/real_data_check.py scores.

The conversion is tested on a hand-made trial (always). The scoring of the real trials runs when
the data set's ``data/vicon/processed`` folder is at ``$RUNFORM_PYSHOE_SRC`` or
``../extra_realdata/src/pyshoe/vicon`` (not part of the repository: its licence is unclear) and
is skipped otherwise; its thresholds are today's measured figures with a small margin.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runform.evaluation import match_flats, score_foot

from .script_module import load_script

rp = load_script("realdata_pyshoe")

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(
    os.environ.get(
        "RUNFORM_PYSHOE_SRC", ROOT.parent / "extra_realdata" / "src" / "pyshoe" / "vicon"
    )
)
FS = 200.0
STRIDES = (1.20, 1.30, 1.10, 1.25, 1.15, 1.30, 1.20)  # m, hand-made walk


def _walk(strides=STRIDES, stance_s=0.6, swing_s=0.6, lift_m=0.12):
    """Time and foot position (Vicon frame, z up, 0.3 mm of noise) of a hand-made walk: standing
    1 s, then strides of the given lengths along a line at 30 deg (still stances, smooth swings
    that lift the foot), standing 1 s."""
    seg = [(1.0, 0.0, 0.0)]  # (duration, start x, end x): stand
    x = 0.0
    for s in strides:
        seg.append((swing_s, x, x + s))
        x += s
        seg.append((stance_s, x, x))
    seg.append((1.0, x, x))
    t_parts, x_parts, z_parts = [], [], []
    t0 = 0.0
    for dur, a, b in seg:
        n = round(dur * FS)
        u = np.arange(n) / n
        t_parts.append(t0 + u * dur)
        x_parts.append(a + (b - a) * (1 - np.cos(np.pi * u)) / 2)
        z_parts.append(lift_m * np.sin(np.pi * u) ** 2 if b != a else np.zeros(n))
        t0 += dur
    t = np.concatenate(t_parts) + 0.005
    along = np.concatenate(x_parts)
    ang = np.radians(30.0)
    pos = np.column_stack(
        (1.0 + along * np.cos(ang), -2.0 + along * np.sin(ang), 0.11 + np.concatenate(z_parts))
    )
    return t, pos + np.random.default_rng(7).normal(0.0, 3e-4, pos.shape)


def _write_mat(path: Path, t: np.ndarray, pos: np.ndarray) -> None:
    from scipy.io import savemat

    n = t.size
    imu = np.zeros((n, 6))
    imu[:, 2] = -9.81  # a still sensor whose z axis points down
    imu[:, 4] = 2.0  # rad/s
    savemat(str(path), {"imu": imu, "ts": t[None, :], "gt": pos, "zv_shoe_opt": np.ones((1, n))})


def test_a_trial_becomes_a_recording_with_its_stride_reference(tmp_path: Path) -> None:
    from recordings import open_recording

    src = tmp_path / "vicon"
    src.mkdir()
    t, pos = _walk()
    # a lost marker held for 5 rows in the first swing, and a one-sample jump of 0.4 m in the
    # third (a 80 m/s speed spike): neither may disturb the reference
    k = int(np.searchsorted(t, 1.3))
    pos[k : k + 5] = pos[k - 1]
    j = int(np.searchsorted(t, 3.7))
    pos[j, 0] += 0.4
    _write_mat(src / "2017-11-22-11-22-03.mat", t, pos)
    out = tmp_path / "out"
    assert rp.convert(src, out) == 0
    name = "pyshoe_2017-11-22-11-22-03"
    with open_recording(out / f"{name}.h5") as rec:
        (info,) = rec.sensors
        assert info.sensor_id == "right_foot" and info.placement == "right_foot"
        assert info.gyr_range_dps == rp.GYR_RANGE_DPS
        blk = rec.read("right_foot")
        assert blk.t.size == t.size and blk.t[0] == pytest.approx(t[0])
        assert blk.gyr[0, 1] == pytest.approx(math.degrees(2.0))  # rad/s -> deg/s
        assert blk.acc[0, 2] == pytest.approx(-9.81)
    ref = json.loads((out / f"{name}.json").read_text())
    assert ref["match_on_flat"] is True and ref["ic_approximate"] is True
    c = ref["contacts"]
    # the stances between the first and the last swing: one per stride but the last
    assert len(c) == len(STRIDES) - 1
    sl = [x["stride_length"] for x in c]
    assert sl[:-1] == pytest.approx(list(STRIDES[1:-1]), abs=0.005)
    assert sl[-1] is None  # the stance after the last swing is not listed
    # stance k starts when swing k lands (1 s standing, then 1.2 s per stride)
    for i, x in enumerate(c):
        land = 1.0 + 0.6 + 1.2 * i
        assert land - 0.1 < x["t_ic"] <= land
        assert land <= x["t_ms"] <= land + 0.6
        if x["stride_time"] is not None:
            assert x["stride_time"] == pytest.approx(1.2, abs=0.01)
    lo, hi = ref["cover"]["right_foot"]
    assert lo < c[0]["t_ic"] and hi > c[-1]["t_ms"]
    # 1.2 s strides, the foot on the ground 60 % of each: walking
    assert ref["activity"] == "walking" and ref["author_label"] == "walking"
    assert json.loads((out / "index.json").read_text()) == {"pyshoe_walking": [name]}


def test_a_lost_truth_at_a_foot_flat_gives_no_stride_length(tmp_path: Path) -> None:
    t, pos = _walk()
    trial = rp.Trial("x", t, np.zeros((t.size, 3)), np.zeros((t.size, 3)), pos)
    full, _ = rp.reference_contacts(trial)
    # the truth held over the whole second listed stance (2.8-3.4 s): the two strides that end or
    # start there have no reference length (the contact itself is still listed)
    a, b = np.searchsorted(t, [2.82, 3.38])
    pos2 = pos.copy()
    pos2[a:b] = pos2[a - 1]
    held, _ = rp.reference_contacts(rp.Trial("x", t, trial.acc, trial.gyr_dps, pos2))
    assert len(held) == len(full)
    assert held[0]["stride_length"] is None and held[1]["stride_length"] is None
    assert full[0]["stride_length"] is not None and full[1]["stride_length"] is not None
    assert held[2]["stride_length"] == pytest.approx(full[2]["stride_length"])


def test_a_file_that_is_not_a_pyshoe_trial_is_named(tmp_path: Path) -> None:
    from scipy.io import savemat

    bad = tmp_path / "bad.mat"
    savemat(str(bad), {"imu": np.zeros((5, 6)), "ts": np.arange(5.0)[None, :]})
    with pytest.raises(ValueError, match=r"bad\.mat: no field 'gt'"):
        rp.load_trial(bad)


def test_match_flats_pairs_each_foot_flat_with_the_contact_that_holds_it() -> None:
    flats = np.array([1.3, 2.5, 3.9, np.nan, 6.0])
    ic = np.array([1.0, 2.2, 2.45, 3.6, 5.9])
    to = np.array([1.6, 2.4, 2.9, 4.3, np.nan])  # the last contact ends in standing
    i, j = match_flats(flats, ic, to)
    assert i.tolist() == [0, 1, 2, 4] and j.tolist() == [0, 2, 3, 4]


def test_score_foot_on_flats_keeps_per_stride_errors() -> None:
    rows = pd.DataFrame(
        {
            "sensor_id": ["right_foot"] * 3,
            "t_ic": [1.0, 2.2, 3.4],
            "t_to": [1.6, 2.8, 4.0],
            "stride_length": [1.1, np.nan, 1.0],
            "stride_time": [1.25, 1.2, np.nan],
            "foot_strike_angle": [np.nan] * 3,
            "strike_type": [None] * 3,
        }
    )
    ref = [
        # approximate ICs 150 ms off: matched through the foot-flats all the same
        {"sensor_id": "right_foot", "t_ic": 0.85, "t_ms": 1.3, "stride_length": 1.0,
         "stride_time": 1.2},
        {"sensor_id": "right_foot", "t_ic": 2.05, "t_ms": 2.5, "stride_length": 1.0,
         "stride_time": 1.2},
        {"sensor_id": "right_foot", "t_ic": 3.25, "t_ms": 3.7, "stride_length": None,
         "stride_time": None},
    ]  # fmt: skip
    s = score_foot(rows, ref, sensor_id="right_foot", match_on_flat=True)
    assert (s.found, s.false) == (3, 0)
    assert s.stride_length_errors_pct[0] == pytest.approx(10.0)
    assert math.isnan(s.stride_length_errors_pct[1])  # matched, no stride length
    assert len(s.stride_length_errors_pct) == 2
    assert s.stride_time_errors_ms == pytest.approx([50.0, 0.0])
    assert s.stride_length_err_pct == pytest.approx(10.0) and s.n_stride_length == 1
    by_ic = score_foot(rows, ref, sensor_id="right_foot")  # 150 ms: beyond the IC tolerance
    assert by_ic.found == 0


def test_pool_groups_strides_by_activity(tmp_path: Path, capsys) -> None:
    def ref(name, act, n):
        c = [
            {"t_ic": float(k), "t_ms": k + 0.3, "stride_length": 1.0, "stride_time": 1.0}
            for k in range(n)
        ]
        return {"scenario": name, "activity": act, "contacts": c, "cover": {"right_foot": [0, n]}}

    (tmp_path / "pyshoe_a.json").write_text(json.dumps(ref("pyshoe_a", "walking", 3)))
    (tmp_path / "pyshoe_b.json").write_text(json.dumps(ref("pyshoe_b", "running", 2)))
    foot = {"sensor_id": "right_foot", "n_ref": 3, "found": 3, "false": 1, "low_alignment": 0}
    results = [
        {"recording": "pyshoe_a", "foot": [{**foot, "stride_length_errors_pct": [1.0, -3.0, 2.0],
                                            "stride_time_errors_ms": [10.0, -20.0, 30.0]}]},
        {"recording": "pyshoe_b", "foot": [{**foot, "n_ref": 2, "found": 2, "false": 0,
                                            "stride_length_errors_pct": [-4.0, float("nan")],
                                            "stride_time_errors_ms": [5.0, 5.0]}]},
    ]  # fmt: skip
    (tmp_path / "scores.json").write_text(json.dumps(results))
    assert rp.pool(tmp_path / "scores.json", tmp_path) == 0
    text = capsys.readouterr().out
    walk, run = text.splitlines()
    assert walk.startswith("walking (1 trials): contacts found 3/3 (100.0 %), false 1")
    assert "on 3 of 3 reference strides (3 matched): median |error| 2.0 %, mean 2.0 %" in walk
    assert "bias +1.0 %" in walk and "stride time median |error| 20.0 ms" in walk
    assert run.startswith("running (1 trials): contacts found 2/2")
    assert "on 1 of 2 reference strides (2 matched): median |error| 4.0 %" in run


@pytest.mark.skipif(
    not (SRC / "2017-11-22-11-22-03.mat").exists(), reason=f"no PyShoe VICON folder at {SRC}"
)
def test_real_pyshoe_walking_and_running_stride_length(tmp_path: Path) -> None:
    rdc = load_script("real_data_check")
    out = tmp_path / "pyshoe"
    assert rp.convert(SRC, out) == 0
    refs = {p.stem: json.loads(p.read_text()) for p in out.glob("pyshoe_*.json")}
    keep = [n for n, r in refs.items() if r["activity"] in ("walking", "running")]
    results = [rdc.check_recording(out / f"{n}.h5") for n in sorted(keep)]
    groups = {g["activity"]: g for g in rp.pool_rows(results, refs)}
    walk, run = groups["walking"], groups["running"]
    # today: walking 19 trials, found 396/397, 6 false, stride length on 286 of 291 reference
    # strides, median |error| 2.2 %, mean 3.3 %, bias -1.1 %; running 14 trials, 325/325, 0
    # false, 278 of 286, median 3.7 %, mean 4.0 %, bias -3.6 % (the foot still moves forward
    # at ~0.04 m/s at its stillest instant of a running stance: ~2 % of a stride)
    assert walk["recordings"] >= 15 and run["recordings"] >= 10
    assert walk["found"] >= 0.98 * walk["n_ref"] and walk["false"] <= 12
    assert run["found"] >= 0.99 * run["n_ref"] and run["false"] <= 3
    assert walk["n_sl"] >= 0.95 * walk["n_sl_ref"] and run["n_sl"] >= 0.95 * run["n_sl_ref"]
    assert walk["sl_median_abs_pct"] <= 2.6 and walk["sl_mean_abs_pct"] <= 3.8
    assert abs(walk["sl_bias_pct"]) <= 1.6
    assert run["sl_median_abs_pct"] <= 4.2 and abs(run["sl_bias_pct"]) <= 4.2
    assert walk["low_alignment"] == 0 and run["low_alignment"] == 0
