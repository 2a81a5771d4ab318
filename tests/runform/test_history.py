"""runform history: change points and session-to-session changes on hand-made medians, and a
simulated season whose foot strike angle and pelvic drop change at a known session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from runform.cli import main
from runform.history import change_point


def test_change_point_finds_the_step_and_ignores_noise():
    dates = [datetime(2026, 9, 7, tzinfo=UTC) + timedelta(days=3 * i) for i in range(10)]
    rng = np.random.default_rng(0)
    y = np.r_[np.full(4, 16.0), np.full(6, 4.0)] + rng.normal(0, 0.4, 10)
    cp = change_point(dates, y, swc=2.0)
    assert cp is not None and cp.index == 4 and cp.date == dates[4]
    assert cp.before == pytest.approx(16.0, abs=0.5) and cp.after == pytest.approx(4.0, abs=0.5)
    flat = 10.0 + rng.normal(0, 0.4, 10)
    assert change_point(dates, flat, swc=2.0) is None
    # a clear step smaller than the smallest worthwhile change is not a change
    small = np.r_[np.full(5, 10.0), np.full(5, 10.5)]
    assert change_point(dates, small, swc=1.0) is None


def test_history_of_a_simulated_season(tmp_path, capsys):
    """Six weeks, one run a week; the runner lands midfoot and the left hip holds from week 4."""
    folder = tmp_path / "season"
    folder.mkdir()
    monday = datetime(2026, 9, 7)
    for week in range(1, 7):
        after = week >= 4
        day = (monday + timedelta(days=7 * (week - 1))).strftime("%Y-%m-%d")
        argv = [
            "simulate", "--scenario", "easy", "--duration", "25", "--seed", str(week),
            "--date", day, "--no-progress", "--out", str(folder / f"run{week}.h5"),
            "--set", f"foot_strike_angle_deg={4.0 if after else 16.0}",
            "--set", f"pelvic_drop_deg={5.0 if after else 8.5},4.5",
        ]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "history.html"
    csv = tmp_path / "history.csv"
    rc = main(["history", str(folder), "--out", str(out), "--csv", str(csv), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "6 running sessions" in text
    week4 = (monday + timedelta(days=21)).strftime("%Y-%m-%d")
    assert "foot strike angle fell from" in text and f"from week 4 ({week4})" in text
    line = next(s for s in text.splitlines() if "left-stance pelvic drop" in s)
    assert "fell" in line and "week 4" in line
    assert "right-stance pelvic drop" not in text  # unchanged
    html = out.read_text()
    assert "What changed over the season" in html and "Per week" in html
    import pandas as pd

    t = pd.read_csv(csv)
    fsa = t[t["metric"] == "foot_strike_angle"].sort_values("date")
    assert fsa["changed"].tolist() == [False, False, False, True, False, False]
    # the season again from the batch tables: the same sessions without analysing again
    bout = tmp_path / "bout"
    assert main(["batch", str(folder), "--out", str(bout), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["history", str(bout), "--out", str(tmp_path / "h2.html"), "--no-progress"]) == 0
    text2 = capsys.readouterr().out
    assert "6 running sessions" in text2 and f"from week 4 ({week4})" in text2


def test_history_dates_every_iso_time_and_says_when_it_cannot(tmp_path, capsys, caplog):
    # before: a created_utc with a fraction of a second (valid ISO 8601, as the FIT export
    # reads it) was not understood, and that session silently took the file's modification
    # time (today) instead
    import shutil

    import h5py

    from firmware_bridge.simulator import simulate_session

    base = tmp_path / "base.h5"
    simulate_session("easy", duration_s=30, seed=1, truth=False).write(base)
    frac, bad = tmp_path / "frac.h5", tmp_path / "bad.h5"
    for path, value in ((frac, "2026-10-05T08:00:00.250Z"), (bad, "last tuesday")):
        shutil.copy(base, path)
        with h5py.File(path, "r+") as f:
            f.attrs["created_utc"] = value
    csv_out = tmp_path / "h.csv"
    args = ["history", str(frac), str(bad), "--out", str(tmp_path / "h.html"), "--csv"]
    assert main([*args, str(csv_out), "--no-progress"]) == 0
    table = csv_out.read_text()
    assert "2026-10-05" in table, table
    said = capsys.readouterr().err + caplog.text
    assert "bad.h5" in said and "last tuesday" in said and "modification time" in said, said


def test_history_dates_a_downloaded_run_by_its_start(tmp_path):
    # a run logged on the sensors and downloaded a week later: created_utc is the download,
    # start_utc the run (as the FIT export reads it); before, the session took the download day
    import h5py

    from firmware_bridge.simulator import simulate_session

    path = tmp_path / "logged.h5"
    simulate_session("easy", duration_s=30, seed=1, truth=False).write(path)
    with h5py.File(path, "r+") as f:
        f.attrs["created_utc"] = "2026-10-12T18:00:00Z"
        f.attrs["start_utc"] = "2026-10-05T07:30:00.125Z"
    csv_out = tmp_path / "h.csv"
    args = ["history", str(path), "--out", str(tmp_path / "h.html"), "--csv", str(csv_out)]
    assert main([*args, "--no-progress"]) == 0
    assert "2026-10-05 07:30" in csv_out.read_text()


def test_history_leaves_out_an_empty_recording(tmp_path, capsys, caplog):
    # analyze refuses a recording without samples; history goes on without it (a folder of a
    # season may hold a recording stopped at once), and says so
    import h5py

    from firmware_bridge.simulator import simulate_session

    good, empty = tmp_path / "good.h5", tmp_path / "empty.h5"
    for p in (good, empty):
        simulate_session("easy", duration_s=30, seed=1, truth=False).write(p)
    with h5py.File(empty, "r+") as f:
        for g in f["sensors"].values():
            for name in ("t", "acc", "gyr", "seq"):
                if name in g:
                    g[name].resize(0, axis=0)
    assert main(["history", str(tmp_path), "--out", str(tmp_path / "h.html")]) == 0
    said = capsys.readouterr().err + caplog.text
    assert "empty.h5" in said and "no samples" in said and "left out" in said, said


def test_history_leaves_out_files_it_cannot_read(tmp_path, capsys, caplog):
    # before: one corrupt file in a season's folder failed the whole history ('bad.h5: not an
    # HDF5 file'), while batch goes on and lists it in errors.csv
    from firmware_bridge.simulator import simulate_session

    good = tmp_path / "good.h5"
    simulate_session("easy", duration_s=30, seed=1, truth=False).write(good)
    (tmp_path / "bad.h5").write_text("not a recording\n")
    (tmp_path / "cut.h5").write_bytes(good.read_bytes()[:50_000])
    (tmp_path / "zero.h5").write_bytes(b"")
    assert main(["history", str(tmp_path), "--out", str(tmp_path / "h.html")]) == 0
    said = capsys.readouterr()
    assert said.out.startswith("1 running session:"), said.out
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for name in ("bad.h5", "cut.h5", "zero.h5"):
        assert any(name in w and "left out" in w for w in warned), (name, warned)
    # nothing readable at all: one error line that says why
    bad_only = tmp_path / "bad_only"
    bad_only.mkdir()
    (bad_only / "bad.h5").write_text("not a recording\n")
    assert main(["history", str(bad_only), "--out", str(tmp_path / "h2.html")]) == 2
    err = capsys.readouterr().err
    assert "no sessions (1 left out" in err, err


@pytest.mark.parametrize("given", ["folder", "glob"])
def test_history_never_writes_over_a_recording_it_reads(given, tmp_path, capsys):
    # before: 'history runs/ --out h.html --csv runs/easy.h5' replaced the recording with the
    # CSV: outputs were checked against the names given (the folder), not the files in it
    from firmware_bridge.simulator import simulate_session

    runs = tmp_path / "runs"
    runs.mkdir()
    rec = runs / "easy.h5"
    simulate_session("easy", duration_s=30, seed=1, truth=False).write(rec)
    before = rec.read_bytes()
    src = str(runs) if given == "folder" else str(runs / "*.h5")
    for outs in (["--out", str(tmp_path / "h.html"), "--csv", str(rec)], ["--out", str(rec)]):
        code = main(["history", src, *outs, "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "easy.h5: is the input" in err, err
        assert rec.read_bytes() == before


def test_a_walk_is_not_counted_as_a_running_session(tmp_path, capsys):
    # before: '3 sessions over 1 weeks' and 3 sessions in the week of two runs and a walk (the
    # walk adds no running contact); a history of walks only ended in 'internal error:
    # KeyError: metric'
    import h5py

    from firmware_bridge.simulator import simulate_session

    for name, scenario, day in [("a", "easy", 5), ("w", "walk", 6), ("b", "easy", 7)]:
        path = tmp_path / f"{name}.h5"
        simulate_session(scenario, duration_s=40, seed=day, truth=False).write(path)
        with h5py.File(path, "r+") as f:
            f.attrs["created_utc"] = f"2026-10-0{day}T08:00:00Z"
    out = tmp_path / "h.html"
    assert main(["history", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("2 running sessions (1 walking session not in the trends):"), said
    html = out.read_text()
    assert "2 running sessions (1 walking session not in the trends) over 1 week " in html
    assert "<td>2</td>" in html and "<td>3</td>" not in html  # the week's running sessions
    assert "walking only: not in the trends" in html  # w.h5 in the sessions table

    walk = tmp_path / "w.h5"
    assert main(["history", str(walk), "--out", str(tmp_path / "w.html")]) == 2
    err = capsys.readouterr().err
    assert "no running session: 1 session walking only (w.h5)" in err, err
    assert "internal error" not in err


def test_imperial_history_draws_its_trends_in_imperial_units(tmp_path, figure_titles):
    # before: with --units imperial the tables said 8:58 /mi and 7.0 ft but the trends were
    # drawn in min/km and m ('pace (min/km)', 'stride length (m)')
    from firmware_bridge.simulator import simulate_session

    rec = tmp_path / "a.h5"
    simulate_session("easy", duration_s=40, seed=1, truth=False).write(rec)
    titles = figure_titles
    argv = ["history", str(rec), "--out", str(tmp_path / "h.html"), "--no-progress"]
    assert main([*argv, "--units", "imperial"]) == 0
    assert "pace (min/mi)" in titles and "stride length (ft)" in titles, titles
    titles.clear()
    assert main(argv) == 0
    assert "pace (min/km)" in titles and "stride length (m)" in titles, titles


def test_sessions_left_out_of_the_trends_are_named_by_why():
    # before: a session with a few running contacts (too few for a median) was called
    # 'without running contacts' / 'no running contacts'
    import pandas as pd

    from runform.history import History, Session

    day = datetime(2026, 10, 5, tzinfo=UTC)
    few = pd.DataFrame({"activity": ["run", "run"]})
    sessions = [
        Session("walk.h5", day, pd.DataFrame(), walk_contacts=40),
        Session("short.h5", day, few),
        Session("still.h5", day, pd.DataFrame()),
    ]
    h = History(sessions, pd.DataFrame())
    assert h.counts() == (
        "0 running sessions (1 walking session, 1 session with too few running contacts, "
        "1 session without running contacts not in the trends)"
    )


def test_history_leaves_out_a_run_too_short_for_report_to_judge(tmp_path, capsys):
    # before: a 4 s run (5 contacts of each foot) was trended by history while report said
    # 'Too few running contacts to judge ... at least 20'; the minimum is now one fact
    # (runform.findings.MIN_CONTACTS) both use
    from firmware_bridge.simulator import simulate_session
    from runform.findings import MIN_CONTACTS

    rec = tmp_path / "short.h5"
    session = simulate_session("easy", duration_s=12, seed=0, truth=False, standing_s=8.0)
    session.write(rec)
    assert main(["report", str(rec), "--out", str(tmp_path / "r.html"), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("Too few running contacts to judge"), said
    assert f"at least {MIN_CONTACTS} of one sensor" in said, said
    out = tmp_path / "h.html"
    assert main(["history", str(rec), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "1 session with too few running contacts (short.h5)" in err, err
    assert not out.exists()


def test_too_few_sessions_for_a_lasting_change_are_not_called_unchanged(tmp_path, capsys):
    """Three weekly runs whose foot strike angle fell 20 -> 16 -> 12 deg: history said 'no
    lasting change beyond noise' (CLI and HTML) while its sessions table marked both steps as
    changes beyond noise: a lasting change needs at least four running sessions (two on each
    side), and with fewer it says so."""
    from runform.history import MIN_SESSIONS_FOR_CHANGE

    monday = datetime(2026, 9, 7)
    for week, angle in ((1, 20.0), (2, 16.0), (3, 12.0)):
        day = (monday + timedelta(days=7 * (week - 1))).strftime("%Y-%m-%d")
        argv = [
            "simulate", "--scenario", "easy", "--duration", "25", "--seed", str(week),
            "--date", day, "--no-progress", "--out", str(tmp_path / f"run{week}.h5"),
            "--set", f"foot_strike_angle_deg={angle}",
        ]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "history.html"
    assert main(["history", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    html = out.read_text()
    assert "no lasting change" not in text.lower() and "no lasting change" not in html.lower()
    want = f"3 running sessions, a lasting change needs at least {MIN_SESSIONS_FOR_CHANGE}"
    assert want in text and want in html, text
    assert "foot strike angle" in html.split("Sessions")[-1]  # the session-to-session marks


def test_sessions_of_the_same_file_name_are_told_apart(tmp_path, capsys):
    """A coach's folder of athletes (anna/w1.h5, ben/w1.h5): the sessions table named both
    'w1.h5', so nobody could tell whose run changed; clashing names now show their folder."""
    for who in ("anna", "ben"):
        (tmp_path / who).mkdir()
        for day in (1, 8):
            argv = [
                "simulate", "--scenario", "easy", "--duration", "25", "--seed", str(day),
                "--date", f"2026-09-{day:02d}T{'07' if who == 'anna' else '18'}:00",
                "--no-progress", "--out", str(tmp_path / who / f"w{day}.h5"),
            ]  # fmt: skip
            assert main(argv) == 0
    argv = ["simulate", "--scenario", "easy", "--duration", "25", "--seed", "9", "--date",
            "2026-09-09", "--no-progress", "--out", str(tmp_path / "anna" / "solo.h5")]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "h.html"
    assert main(["history", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    sessions = out.read_text().split("<h2>Sessions</h2>")[-1]
    for name in ("anna/w1.h5", "ben/w1.h5", "anna/w8.h5", "ben/w8.h5", ">solo.h5<"):
        assert name in sessions, sessions


def test_the_csv_says_each_metrics_unit(tmp_path, capsys):
    """--csv gave 'pace,358.3' and 'rearfoot_share,100.0' with no unit (pace in s/km where the
    HTML says 5:58 /km; the share in % where SUMMARY.json and compare's JSON give fractions):
    a unit column says it, from the one list of history metrics."""
    import pandas as pd

    from firmware_bridge.simulator import simulate_session
    from runform.history import HISTORY_METRICS

    rec = tmp_path / "a.h5"
    simulate_session("easy", duration_s=40, seed=1, truth=False).write(rec)
    csv = tmp_path / "h.csv"
    argv = ["history", str(rec), "--out", str(tmp_path / "h.html"), "--csv", str(csv)]
    assert main([*argv, "--no-progress"]) == 0
    t = pd.read_csv(csv)
    units = dict(zip(t["metric"], t["unit"], strict=True))
    assert units["pace"] == "s/km" and units["rearfoot_share"] == "%", units
    assert units == {k: u for k, _lab, u, _p in HISTORY_METRICS if k in units}


def test_a_copy_of_a_recording_is_one_session(tmp_path, capsys, caplog):
    """The same run in two folders (a coach's copy): history counted it twice, so a season of
    three runs read as four, and the copy's weight alone could make a 'lasting change'. batch
    analyses a copy once, compare says 'copies of one recording?'; history now counts it once
    and says which file it left out."""
    import logging
    import shutil

    import h5py

    from firmware_bridge.simulator import simulate_session

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for day in (1, 8):
        rec = tmp_path / "a" / f"w{day}.h5"
        session = simulate_session("easy", duration_s=25, seed=day, truth=False)
        session.write(rec)
        with h5py.File(rec, "r+") as f:
            f.attrs["created_utc"] = f"2026-09-{day:02d}T07:00:00Z"
    shutil.copy(tmp_path / "a" / "w1.h5", tmp_path / "b" / "copy.h5")
    out = tmp_path / "h.html"
    with caplog.at_level(logging.WARNING, logger="runform.history"):
        assert main(["history", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("2 running sessions"), said
    warned = [r.getMessage() for r in caplog.records if "copy.h5" in r.getMessage()]
    assert warned and "w1.h5" in warned[0], [r.getMessage() for r in caplog.records]
    assert "copy.h5" not in out.read_text().split("<h2>Sessions</h2>")[-1]
