"""scripts/realdata_voisard.py: the Voisard et al. walking trials as format-v1 recordings with a
reference that scripts/real_data_check.py scores (a hand-made trial: the data set itself is not
part of the repository)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .script_module import load_script

rv = load_script("realdata_voisard")

HEADER = "PacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z\tMag_X\tMag_Y\tMag_Z\n"


def _write_trial(folder: Path, code: str, n: dict[str, np.ndarray]) -> None:
    """Sensor files whose PacketCounter column is ``n[suffix]``."""
    for suffix, k in n.items():
        rows = k.size
        cols = [k, np.zeros(rows), np.zeros(rows), np.full(rows, 9.81)]
        cols += [np.zeros(rows), np.full(rows, np.pi), np.zeros(rows)]  # 180 deg/s about y
        cols += [np.zeros(rows)] * 3
        body = "\n".join("\t".join(f"{v:.6f}" for v in row) for row in np.column_stack(cols))
        (folder / f"{code}_{suffix}.txt").write_text(
            "Acquisition frequency: 100 Hz\n" + HEADER + body + "\n"
        )
    meta = {
        "Subject": 3,
        "Trial": 2,
        "TrialBoundaries": [100, 380],
        "UTurnBoundaries": [200, 250],
        "LeftFootEvents": [[160, 205], [100, 145], [270, 316]],
        "RightFootEvents": [[210, 255]],
    }
    (folder / f"{code}.json").write_text(json.dumps(meta))


def test_a_trial_becomes_a_recording_with_its_reference(tmp_path: Path) -> None:
    from recordings import open_recording

    src = tmp_path / "GaitData"
    src.mkdir()
    # the lower back loses packets 150-152 and receives 200 twice; the right foot starts at 1
    lb = np.concatenate((np.arange(150), np.arange(153, 201), np.arange(200, 405)))
    _write_trial(src, "3-2", {"lf": np.arange(400), "rf": np.arange(1, 399), "lb": lb})
    out = tmp_path / "out"
    assert rv.convert(src, out) == 0
    with open_recording(out / "voisard_3-2.h5") as rec:
        assert sorted(s.sensor_id for s in rec.sensors) == ["left_foot", "pelvis", "right_foot"]
        blk = rec.read("left_foot")
        assert blk.t.size == 400 and blk.t[1] - blk.t[0] == pytest.approx(0.01)
        assert blk.gyr[0, 1] == pytest.approx(180.0, abs=1e-3)  # rad/s -> deg/s
        assert blk.acc[0, 2] == pytest.approx(9.81, abs=1e-4)
        # every sample at its packet's time (the counter shared by the three sensors), not
        # at its row: after the lost packets the rows of the sensors no longer line up
        pel = rec.read("pelvis")
        assert pel.t.size == 402
        assert pel.t[149] == pytest.approx(1.49) and pel.t[150] == pytest.approx(1.53)
        assert pel.t[-1] == pytest.approx(4.04)
        assert np.all(np.diff(pel.t) > 0)  # the repeated packet read once
        assert np.allclose(pel.gaps, [[1.49, 1.53]])
        assert rec.read("right_foot").t[0] == pytest.approx(0.01)
    ref = json.loads((out / "voisard_3-2.json").read_text())
    left = [c for c in ref["contacts"] if c["sensor_id"] == "left_foot"]
    # a swing [toe-off, IC] ends in a contact whose toe-off starts the next swing
    assert [c["t_ic"] for c in left] == [1.45, 2.05, 3.16]
    assert [c["t_to"] for c in left] == [1.60, 2.70, None]
    # the events count the foot's packets from its first one (the right foot's is 1)
    right = [c for c in ref["contacts"] if c["sensor_id"] == "right_foot"]
    assert [c["t_ic"] for c in right] == [pytest.approx(2.56)]
    assert [s["side"] for s in ref["pelvis_steps"]] == ["left", "left", "right", "left"]
    assert ref["bouts"] == [[1.0, 3.8]]
    assert json.loads((out / "index.json").read_text()) == {"voisard": ["voisard_3-2"]}


def test_pooled_scores_add_counts_over_recordings(tmp_path: Path, capsys) -> None:
    def foot(sid: str, n_ref: int, found: int, false: int, ic: float) -> dict:
        return {
            "sensor_id": sid,
            "n_ref": n_ref,
            "found": found,
            "false": false,
            "found_frac": found / n_ref,
            "ic_median_ms": ic,
            "ic_bias_ms": ic,
            "ic_max_ms": 2 * ic,
            "to_median_ms": 5.0,
            "to_bias_ms": -5.0,
            "low_alignment": 0,
        }

    pel = {"sensor_id": "pelvis", "n_ref": 20, "n_rows": 20, "found": 19, "false": 1}
    recs = [
        {
            "recording": "voisard_1-1",
            "foot": [foot("left_foot", 10, 9, 1, 10.0)],
            "pelvis": [{**pel, "side_agree": 1.0, "ic_median_ms": 20.0, "ic_bias_ms": -5.0}],
        },
        {
            "recording": "voisard_1-2",
            "foot": [foot("left_foot", 10, 10, 0, 30.0)],
            "pelvis": [{**pel, "side_agree": 0.5, "ic_median_ms": 40.0, "ic_bias_ms": -5.0}],
        },
        {
            "recording": "voisard_12-1",
            "foot": [{**foot("left_foot", 10, 10, 0, 30.0), "ic_errors_ms": [-61.0, 60.0, 75.0]}],
            "pelvis": [],
        },
    ]
    path = tmp_path / "scores.json"
    path.write_text(json.dumps(recs))
    assert rv.pool(path) == 0
    text = capsys.readouterr().out
    assert "found 29/30 (96.7 %), false 1" in text
    assert "ICs more than 60 ms off: all 2, 1-10 0, 11-19 2" in text
    assert "median 30.0 ms" in text and "worst sensor 30.0 ms" in text
    assert "steps found 38/40 (95.0 %), precision 95.0 %, side 75.0 %" in text
    assert "voisard_1-1:left_foot 9/10" in text
