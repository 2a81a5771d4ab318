"""`runform demo` end to end, as a new user runs it (shorter session to keep CI fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from runform.commands.demo import truth_table


def test_demo_writes_every_output_and_agrees_with_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "runform", "demo", "--out", str(out), "--duration", "70",
         "--ble-seconds", "3", "--intervals-duration", "120"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    for name in ("run.h5", "truth.json", "STRIDES.csv", "SUMMARY.json", "report.html",
                 "compare.html", "compare.json", "viewer.png", "ble_run.h5", "intervals.h5",
                 "intervals_STRIDES.csv", "intervals_SUMMARY.json",
                 "intervals_report.html"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    # the drill's change of strike pattern: the largest share change is midfoot rising or
    # rearfoot falling (equal when no contact of the drill is classified forefoot)
    assert "midfoot strikes rose" in res.stdout or "rearfoot strikes fell" in res.stdout
    summary = json.loads((out / "SUMMARY.json").read_text())
    truth = json.loads((out / "truth.json").read_text())
    rows = {(s, m): (a, b) for s, m, a, b in truth_table(truth, summary)}
    for side in ("left_foot", "right_foot"):
        got, ref = rows[(side, "contacts")]
        assert abs(int(got) - int(ref)) <= 1
        got, ref = rows[(side, "cadence_median steps/min")]
        assert abs(float(got) - float(ref)) < 3.0
    got, ref = rows[("pelvis", "pelvic_drop_median left deg")]
    assert abs(float(got) - float(ref)) < 1.0
    strides = pd.read_csv(out / "STRIDES.csv")
    assert set(strides["sensor_id"]) == {"left_foot", "right_foot", "pelvis"}

    # the run/walk interval session: its bouts, running and walking apart, own alerts
    iv = json.loads((out / "intervals_SUMMARY.json").read_text())
    acts = [b["activity"] for b in iv["bouts"]]
    assert acts.count("run") == 4 and acts.count("walk") == 5, acts
    pel = iv["sensors"]["pelvis"]["by_activity"]
    assert pel["run"]["cadence_median"] > 150 > 125 > pel["walk"]["cadence_median"]
    rules = {a["rule"] for a in iv["alerts"]}
    assert {"pelvic_drop", "walk_pelvic_drop"} <= rules, rules
    ivs = pd.read_csv(out / "intervals_STRIDES.csv")
    assert set(ivs["activity"].dropna()) == {"walk", "run"}
    assert "interval session: running and walking apart" in res.stdout
