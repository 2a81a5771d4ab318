"""``runform sensors`` end to end in separate commands, as a user runs them: arm emulated
logging sensors, check them, download the run (the simulator filled their flash), analyse."""

from __future__ import annotations

import json

from recordings import open_recording


def test_cli_arm_run_download_analyse(tmp_path, capsys):
    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st, "--rate", "208"]) == 0
    assert main(["sensors", "status", "--simulate", "--state", st, "--run-seconds", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("logging, memory") == 3 and "h left at 208 Hz" in out
    rec = str(tmp_path / "run.h5")
    argv = ["sensors", "download", "--simulate", "--state", st, "--run-seconds", "75"]
    assert main([*argv, "--out", rec, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("samples, gaps 0") == 3
    with open_recording(rec) as r:  # t = 0 is the arm time: what FIT export and --watch use
        start = str(r.attrs["start_utc"])
        assert start.endswith("Z") and start[:4] == r.created_utc[:4]
    summary = tmp_path / "s.json"
    assert main(["analyze", rec, "--json", str(summary), "--strides", str(tmp_path / "s.csv")]) == 0
    s = json.loads(summary.read_text())["sensors"]
    for foot in ("left_foot", "right_foot"):
        assert s[foot]["contacts"] > 40, s[foot]
        assert 150 < s[foot]["cadence_median"] < 200
    # everything downloaded: a second download is refused in one line
    assert main([*argv, "--out", rec]) == 2
    assert "downloaded already" in capsys.readouterr().err
