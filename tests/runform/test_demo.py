"""`runform demo` end to end, as a new user runs it (shorter session to keep CI fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from runform.commands.demo import truth_table


def test_demo_writes_every_output_and_agrees_with_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "runform", "demo", "--out", str(out), "--duration", "70",
         "--ble-seconds", "3", "--intervals-duration", "120", "--logging-seconds", "45"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    for name in ("run.h5", "truth.json", "STRIDES.csv", "SUMMARY.json", "report.html",
                 "compare.html", "compare.json", "viewer.png", "ble_run.h5", "intervals.h5",
                 "intervals_STRIDES.csv", "intervals_SUMMARY.json",
                 "intervals_report.html", "logged_run.h5", "LOGGED_SUMMARY.json",
                 "logged_run.fit"):  # fmt: skip
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

    # the on-sensor logging step: three emulated sensors armed, run, downloaded and analysed
    logged = json.loads((out / "LOGGED_SUMMARY.json").read_text())["sensors"]
    assert {"left_foot", "right_foot", "pelvis"} <= set(logged)
    for side in ("left_foot", "right_foot"):
        assert logged[side]["contacts"] > 40
    # ... and exported as a FIT activity that an independent decoder reads back
    import fitdecode

    with fitdecode.FitReader(out / "logged_run.fit") as fit:
        records = [f for f in fit if isinstance(f, fitdecode.FitDataMessage) and f.name == "record"]
    assert len(records) > 30


_QUICK = ["--no-viewer", "--duration", "5", "--ble-seconds", "0", "--logging-seconds", "0"]


def test_demo_runs_again_in_its_folder(tmp_path: Path, capsys) -> None:
    # before: a second demo in the same folder stopped at step 5 ('--out .../intervals.h5: file
    # exists; ... add --force'), after redoing steps 1-4
    from runform.cli import main

    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), *_QUICK, "--intervals-duration", "60"]
    assert main(argv) == 0
    assert main(argv) == 0, capsys.readouterr().err
    assert (out / "intervals_report.html").exists()


def test_demo_never_replaces_files_it_did_not_write(tmp_path: Path, capsys) -> None:
    # before: 'demo --out runs/' replaced the user's runs/run.h5 with the simulated run
    from runform.cli import main

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "run.h5").write_bytes(b"my recording")
    assert main(["demo", "--out", str(runs), *_QUICK, "--intervals-duration", "0"]) == 2
    err = capsys.readouterr().err
    assert f"--out {runs}: the folder holds run.h5 not written by a demo" in err, err
    assert (runs / "run.h5").read_bytes() == b"my recording"
    assert sorted(p.name for p in runs.iterdir()) == ["run.h5"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["demo", "--out", str(afile), *_QUICK]) == 2
    assert "is a file, expected a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        # before: negative and nan values skipped the step without a word
        ("--ble-seconds", "-1", "--ble-seconds -1.0: expected a number from 0 to 3600 s"),
        ("--ble-seconds", "nan", "--ble-seconds nan: expected"),
        ("--logging-seconds", "-1", "--logging-seconds -1.0: expected"),
        ("--intervals-duration", "nan", "--intervals-duration nan: expected"),
        # before: the step's own option, after the earlier steps ran ('--run-seconds 1e9',
        # 'scenario intervals: duration_s 10 s is too short ...')
        ("--logging-seconds", "1e9", "--logging-seconds 1000000000.0: expected"),
        ("--intervals-duration", "10", "--intervals-duration 10.0: expected a number from 37.8"),
        ("--rate", "3000", "--rate 3000.0: expected a number from 50 to 1666 Hz"),
        ("--duration", "0", "--duration 0.0: expected"),
        ("--seed", "-1", "--seed -1: expected a whole number 0 or more"),
    ],
)
def test_demo_checks_every_number_first(
    option: str, value: str, words: str, tmp_path: Path, capsys
) -> None:
    from runform.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *_QUICK, option, value]) == 2
    err = capsys.readouterr().err
    assert words in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_folder_of_an_earlier_demo_without_the_mark_is_taken(tmp_path: Path) -> None:
    from runform.commands.demo import MARK, OUTPUTS, check_out

    out = tmp_path / "demo-output"
    out.mkdir()
    for name in OUTPUTS[:8]:
        (out / name).write_text("x")
    check_out(out)  # only a demo's outputs, with its truth.json: a demo's folder
    (out / "mine.h5").write_text("x")
    with pytest.raises(Exception, match="not written by a demo"):
        check_out(out)
    (out / MARK).write_text("")
    check_out(out)
