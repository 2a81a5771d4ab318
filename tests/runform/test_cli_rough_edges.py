"""The rough edges of issue 20, each pinned: simulate --list, analyze without outputs, the
record status line, record/live option names, the alignment explained, falling behind, batch's
Dask lines and exit status, contacts counted apart, progress lines."""

from __future__ import annotations

import pandas as pd
import pytest

from dsp.source import SensorStatus
from firmware_bridge.simulator import write_simulated_recording
from recordings.recorder import falling_behind, format_status
from runform.cli import build_parser, main


def test_simulate_list_needs_no_out(capsys):
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    assert "chirunning" in out and "easy" in out
    assert main(["simulate", "--scenario", "easy"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and "\n" not in err


def test_simulate_set_and_date(tmp_path, capsys):
    out = tmp_path / "s.h5"
    argv = ["simulate", "--duration", "8", "--out", str(out), "--date", "2026-09-07T07:00"]
    assert main([*argv, "--set", "pelvic_drop_deg=8,4", "--set", "cadence_spm=172"]) == 0
    from recordings import open_recording

    with open_recording(out) as rec:
        assert rec.attrs["created_utc"] == "2026-09-07T07:00:00Z"
    assert main([*argv, "--set", "no_such_field=1"]) == 2
    assert "no_such_field" in capsys.readouterr().err
    assert main([*argv, "--set", "pelvic_drop_deg=x"]) == 2


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    path = tmp_path_factory.mktemp("rough") / "easy.h5"
    write_simulated_recording(path, "easy", duration_s=25.0, seed=3)
    return path


def test_analyze_without_outputs_prints_the_table(rec, capsys):
    assert main(["analyze", str(rec)]) == 0
    cap = capsys.readouterr()
    assert "medians per sensor" in cap.out and "pace" in cap.out and "/km" in cap.out
    assert "contacts (give --strides" in cap.out
    # the alignment is explained where it is printed
    assert "sensor alignment" in cap.err and "how sure the mounting axes are" in cap.err


def test_status_line_fits_80_columns_and_says_behind():
    status = {
        sid: SensorStatus(
            sensor_id=sid,
            connected=True,
            rate_hz=410.0,
            lost_samples=12345,
            battery_pct=81.0,
            reconnects=2,
            bad_packets=7,
        )
        for sid in ("left_foot", "right_foot", "pelvis", "footpod")
    }
    line = format_status(status, 3599.5)
    assert len(line) <= 80
    nominal = {sid: 416.0 for sid in status}
    assert "BEHIND" not in format_status(status, 12.0, nominal_hz=nominal)
    status["pelvis"].rate_hz = 280.0  # an emulation at 4x that cannot keep up
    assert falling_behind(status["pelvis"], 416.0) == pytest.approx(280 / 416)
    line = format_status(status, 12.0, nominal_hz=nominal)
    assert "BEHIND 67%" in line and len(line) <= 80
    short = {"left_foot": status["left_foot"]}
    assert format_status(short, 1.0).startswith("    1.0 s | left_foot:")


def test_record_and_live_share_option_names():
    rec_args = build_parser("record").parse_args(["record", "--simulate", "--out", "x.h5",
                                                   "--sim-speed", "3"])  # fmt: skip
    old = build_parser("record").parse_args(["record", "--simulate", "--out", "x.h5",
                                             "--speed", "2"])  # fmt: skip
    live = build_parser("live").parse_args(["live", "--simulate", "--speed", "4"])
    assert (rec_args.sim_speed, old.sim_speed, live.sim_speed) == (3.0, 2.0, 4.0)
    assert rec_args.rate == live.rate == 416.0


def test_contacts_are_counted_apart():
    from runform.report import contacts_text

    df = pd.DataFrame({"sensor_id": ["L", "R", "R", "P", "P", "P"]})
    got = contacts_text(df, {"L": "left_foot", "R": "right_foot", "P": "pelvis"})
    assert got == "3 foot contacts (1 left, 2 right), 3 pelvis steps"


def test_report_says_what_it_is_doing(rec, tmp_path, capsys):
    from runform.console import work_progress

    assert main(["report", str(rec), "--out", str(tmp_path / "r.html")]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith(("Work on", "Nothing to fix"))
    assert "analysing" not in cap.err  # 25 s of data: a second's work, no line
    # a long file says what is going on (once), a short one stays quiet
    with work_progress("analysing long.h5") as progress:
        for done in (60.0, 120.0, 3600.0):
            progress(done, 3600.0)
    with work_progress("analysing short.h5") as progress:
        progress(10.0, 25.0)
    err = capsys.readouterr().err
    assert err == "analysing long.h5 (60 min of data)…\n"


def test_batch_hides_dask_info_and_fails_when_a_file_fails(rec, tmp_path, capfd):
    bad = tmp_path / "bad.h5"
    bad.write_text("not a recording")
    out = tmp_path / "out"
    rc = main(["batch", str(rec), str(bad), "--out", str(out), "--workers", "1", "--no-progress"])
    cap = capfd.readouterr()
    assert rc == 1
    assert "INFO" not in cap.err
    assert "bad.h5" in cap.err
    assert (out / "strides.parquet").exists()
    assert " on 1 worker -> " in cap.out, cap.out  # (was "on 1 workers")


def test_a_long_simulation_says_what_it_is_doing(tmp_path, capsys):
    # the line comes before the work; a bad rate then fails in one more line
    assert (
        main(["simulate", "--duration", "400", "--rate", "5000", "--out", str(tmp_path / "x.h5")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("simulating 7 min of 'easy'") and "rate_hz" in err
    assert (
        main(["simulate", "--duration", "20", "--rate", "5000", "--out", str(tmp_path / "y.h5")])
        == 2
    )
    assert capsys.readouterr().err.count("\n") == 1  # short: only the error
