"""End-to-end rough edges of the command line found by using it as a new user would."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import time
from pathlib import Path

import h5py
import pytest

from firmware_bridge.simulator import simulate_session
from runform.cli import main


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "easy.h5"
    simulate_session("easy", duration_s=30, rate_hz=104, seed=3, truth=False).write(path)
    return path


def _emptied(src: Path, dst: Path, sensor_ids: list[str] | None = None) -> Path:
    """A copy of ``src`` whose sensors (all, or ``sensor_ids``) hold zero samples."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in sensor_ids or list(f["sensors"]):
            g = f["sensors"][sid]
            for name in ("t", "acc", "gyr", "seq"):
                if name in g:
                    g[name].resize(0, axis=0)
    return dst


@pytest.mark.parametrize("command", ["analyze", "report", "export", "replay"])
def test_a_recording_without_samples_is_one_line_not_an_empty_result(
    command: str, easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _emptied(easy, tmp_path / "empty.h5")
    out = {
        "analyze": ["--json", str(tmp_path / "s.json")],
        "report": ["--out", str(tmp_path / "r.html")],
        "export": ["--fit", str(tmp_path / "r.fit")],
        "replay": ["--mute", "--exit-after", "0.5"],
    }[command]
    code = main([command, str(rec), *out])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    assert "empty.h5" in lines[0] and "no samples" in lines[0], lines[0]
    assert not list(tmp_path.glob("s.json")) + list(tmp_path.glob("r.*"))


def test_one_empty_sensor_is_named_as_empty(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _emptied(easy, tmp_path / "no_pelvis.h5", ["pelvis"])
    code = main(["analyze", str(rec), "--json", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 0, err
    line = next(ln for ln in err.splitlines() if ln.startswith("pelvis:"))
    assert "no samples" in line, line
    assert "foot" not in line, line  # not "could not be aligned to the foot"


def test_no_sensor_to_analyse_names_the_file(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "none.h5"
    shutil.copy(easy, rec)
    with h5py.File(rec, "r+") as f:
        for sid in list(f["sensors"]):
            del f["sensors"][sid]
    code = main(["analyze", str(rec)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "none.h5" in err and "no sensor" in err, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.timeout(60)
def test_compare_refuses_an_absurd_number_of_resamples(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10^8 resamples ran for hours without a word (the bootstrap is linear in them)
    argv = ["compare", str(easy), str(easy), "--json", str(tmp_path / "c.json")]
    code = main([*argv, "--resamples", "100000000"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "--resamples" in line and "100000" in line, line
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--seed", "-1"], ["--seed", "-1"]),
        (["--duration", "1e9"], ["--duration", "at most"]),
        # before: "internal error: TypeError: ... got multiple values for 'duration_s'"
        (["--set", "duration_s=1e9"], ["--duration", "at most"]),
        (["--set", "rate_hz=5"], ["rate_hz 5", "50 to 1666"]),
        (["--set", "rate_hz=inf"], ["rate_hz inf", "50 to 1666"]),
        # before: internal errors (TypeError, AttributeError), or a scenario named "1.0"
        (["--set", "markers=1"], ["markers", "not a number"]),
        (["--set", "mounting=1"], ["mounting", "not a number"]),
        (["--set", "name=1"], ["name", "not a number"]),
        (["--set", "program=1"], ["program", "not a number"]),
        # before: silently shortened to a quarter of the session (a 5 s standing start)
        (
            ["--duration", "20", "--standing", "25"],
            ["--standing 25", "less than the session's 20 s"],
        ),
        (["--duration", "20", "--set", "standing_s=1e9"], ["--set standing_s=1e+09", "20 s"]),
    ],
)
def test_simulate_names_the_bad_option(
    argv: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim.h5"
    code = main(["simulate", "--out", str(out), "--no-progress", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line
    assert not out.exists()


def test_simulate_set_makes_a_scheduled_field_constant(tmp_path: Path) -> None:
    # before: "internal error: TypeError: cannot unpack non-iterable float object"
    out = tmp_path / "chi.h5"
    argv = ["simulate", "--scenario", "chirunning", "--set", "cadence_spm=170", "--set"]
    assert main([*argv, "pelvic_drop_deg=6,4", "--duration", "10", "--out", str(out)]) == 0
    assert out.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--show", "left_foot,nosuch"], ["--show", "nosuch", "left_foot, pelvis, right_foot"]),
        (["--at", "99999"], ["--at", "99999", "30"]),
        (["--at", "-5"], ["--at", "-5"]),
    ],
)
def test_replay_refuses_what_the_recording_does_not_have(
    argv: list[str],
    words: list[str],
    easy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: the window opened on an empty plot (an unknown id) or at the end of the file
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    code = main(["replay", str(easy), "--mute", "--exit-after", "0.5", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line


# ------------------------------------------------------------- walking and running apart
@pytest.fixture(scope="module")
def intervals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run/walk intervals: walking, then 4 x (running, walking)."""
    path = tmp_path_factory.mktemp("e2e") / "intervals.h5"
    simulate_session("intervals", duration_s=240, seed=0, truth=False).write(path)
    return path


def test_analyze_table_shows_walking_and_running_apart(
    intervals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: one table of medians over both (a walking cadence of 113 beside a running pace)
    js = tmp_path / "s.json"
    assert main(["analyze", str(intervals), "--json", str(js)]) == 0
    by = json.loads(js.read_text())["sensors"]["left_foot"]["by_activity"]
    capsys.readouterr()
    assert main(["analyze", str(intervals)]) == 0
    out = capsys.readouterr().out
    run_part = out.split("medians per sensor, running")[1].split("medians per sensor, walking")
    assert len(run_part) == 2, out
    running, walking = run_part
    assert f"{by['run']['cadence_median']:.0f} steps/min" in running
    assert f"{by['walk']['cadence_median']:.0f} steps/min" in walking
    assert f"{by['walk']['cadence_median']:.0f} steps/min" not in running


def test_report_summary_shows_walking_and_running_apart(intervals: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(intervals), "--out", str(out)]) == 0
    html = out.read_text()
    assert "median, running" in html and "median, walking" in html


def test_walking_segments_hold_only_walking_contacts(intervals: Path) -> None:
    # before: a running contact whose initial contact fell just inside a walking bout counted
    # in the walking segment, which then showed its flight time (walking has none)
    from runform.analysis_run import analyse_recording
    from runform.compare import _with_placement
    from runform.findings import make_segments, segment_values

    res = analyse_recording(intervals)
    segs = make_segments(
        _with_placement(res),
        t_start=res.t_start,
        t_end=res.t_start + res.duration_s,
        summary=res.summary,
    )
    assert {s.activity for s in segs} == {"run", "walk"}
    for s in segs:
        assert set(s.rows["activity"]) <= {s.activity, ""}, s.label
        if s.activity == "walk":
            assert segment_values(s.rows)["flight_time"] is None, s.label


def test_compare_report_names_each_run_once(easy: Path, tmp_path: Path) -> None:
    # before: "A: A: easy.h5 — easy.h5" and a column "A: A: easy.h5"
    out = tmp_path / "c.html"
    assert main(["compare", str(easy), str(easy), "--out", str(out)]) == 0
    html = out.read_text()
    assert "A: A:" not in html and "B: B:" not in html
    assert "easy.h5 — easy.h5" not in html
    assert "A: easy.h5" in html


def test_compare_of_walks_does_not_judge_them_against_running_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: "cadence unchanged (112 vs 112 steps/min, ...); still below the 155 steps/min
    # limit" on two walks (the report says walking is shown, not judged)
    walks = []
    for seed in (1, 2):
        p = tmp_path / f"walk{seed}.h5"
        simulate_session("walk", duration_s=40, seed=seed, truth=False).write(p)
        walks.append(str(p))
    js = tmp_path / "c.json"
    assert main(["compare", *walks, "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert json.loads(js.read_text())["activity"] == "walk"
    assert "cadence" in out
    assert "limit" not in out, out


def test_report_left_right_of_a_run_walk_session_is_running(
    intervals: Path, tmp_path: Path
) -> None:
    # before: the left/right medians mixed walking and running (cadence 113 steps/min)
    out, js = tmp_path / "r.html", tmp_path / "s.json"
    assert main(["analyze", str(intervals), "--json", str(js)]) == 0
    run = json.loads(js.read_text())["sensors"]["left_foot"]["by_activity"]["run"]
    assert main(["report", str(intervals), "--out", str(out)]) == 0
    html = out.read_text()
    section = html.split("<h2>Left / right</h2>")[1].split("<h2>")[0]
    assert "running contacts" in section
    cadence_row = next(r for r in section.split("<tr>") if "cadence" in r)
    assert f"{run['cadence_median']:.0f} steps/min" in cadence_row, cadence_row


def test_record_status_line_ends_its_line_when_not_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: the last status frame had no line end, so in a log (2>&1) it ran into the next
    # line: "... | P 416Hz -0 73%wrote run.h5: 2.2 s"
    out = tmp_path / "run.h5"
    argv = ["record", "--simulate", "--duration", "1", "--speed", "4", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "Hz" in err and err.endswith("\n"), repr(err[-80:])


def test_compare_of_a_walk_with_a_run_says_so_and_judges_neither_as_the_other(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: gaitmap_ms_left (a walk) vs a run read "cadence +38 steps/min (131 -> 169);
    # now within the 155 steps/min limit", as if the walker had learnt to run
    walk = tmp_path / "walk.h5"
    simulate_session("walk", duration_s=40, seed=1, truth=False).write(walk)
    js = tmp_path / "c.json"
    assert main(["compare", str(walk), str(easy), "--json", str(js)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "A is walking and B running" in lines[1], lines
    assert not any("limit" in ln for ln in lines), lines
    assert json.loads(js.read_text())["activities"] == ["walk", "run"]


@pytest.mark.parametrize("workers", ["0", "100000"])
def test_batch_refuses_an_absurd_worker_count_before_starting_anything(
    workers: str,
    easy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: --workers 100000 asked Dask for 100000 local worker processes (the check only
    # refused < 1, after the output folder was made and the progress bar drawn)
    import distributed

    started: list[int] = []

    def no_cluster(*args: object, n_workers: int = 0, **kw: object) -> None:
        started.append(n_workers)
        raise RuntimeError(f"the test refused to start {n_workers} workers")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    out = tmp_path / "batch"
    code = main(["batch", str(easy), "--out", str(out), "--workers", workers, "--no-progress"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert f"--workers {workers}" in line, line
    assert started == [] and not out.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        # before: the raw-signal buffers were sized for 10^7 s (about 190 GB per sensor);
        # 10^5 s would have filled some 11 GB of memory before a window showed
        (["--exit-after", "0.5", "--window", "1e7"], ["--window", "600"]),
        # before: "internal error: OverflowError" (Qt's timer takes 32-bit milliseconds)
        (["--exit-after", "3000000"], ["--exit-after", "604800"]),
    ],
)
def test_viewer_options_have_an_upper_bound(
    argv: list[str],
    words: list[str],
    easy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    code = main(["replay", str(easy), "--mute", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line


@pytest.mark.parametrize("start", ["1800-01-01T00:00:00Z", "1995-06-01T00:00:00Z", "2200-01-01"])
def test_export_refuses_a_date_a_fit_file_cannot_hold(
    start: str, easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: exit 0 and a FIT file whose every timestamp read back as invalid (None)
    out = tmp_path / "run.fit"
    code = main(["export", str(easy), "--fit", str(out), "--start", start])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "FIT file holds dates from" in line and "--start" in line, line
    assert not out.exists()


def test_report_header_shows_the_start_and_escapes_once(easy: Path, tmp_path: Path) -> None:
    # before: a run downloaded from the sensors showed only the download time (created_utc),
    # and the created_utc text was escaped twice ("&" became "&amp;amp;")
    rec = tmp_path / "logged.h5"
    shutil.copy(easy, rec)
    with h5py.File(rec, "r+") as f:
        f.attrs["created_utc"] = "2026-10-12T18:00:00Z & later"
        f.attrs["start_utc"] = "2026-10-05T07:30:00Z"
    out = tmp_path / "r.html"
    assert main(["report", str(rec), "--out", str(out)]) == 0
    html = out.read_text()
    assert "started 2026-10-05T07:30:00Z" in html
    assert "2026-10-12T18:00:00Z &amp; later" in html and "&amp;amp;" not in html


# ------------------------------------------------------------- outputs that are not files
def _drain(fifo: Path, got: list[bytes], stop: threading.Event) -> None:
    """Read a FIFO without blocking anyone: collect what a writer sends until told to stop."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while not stop.is_set():
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            if chunk:
                got.append(chunk)
            else:
                time.sleep(0.01)
    finally:
        os.close(fd)


def test_an_output_that_is_a_pipe_is_written_not_replaced(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: --json /dev/stdout (or /dev/null, or a named pipe) was replaced by a regular
    # file (the staged output renamed over it): run as root, `--json /dev/null` left
    # /dev/null a 4 kB text file for every program on the machine
    fifo = tmp_path / "summary.pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(fifo, got, stop), daemon=True)
    reader.start()
    time.sleep(0.1)  # the reader holds the pipe open
    try:
        assert main(["analyze", str(easy), "--json", str(fifo)]) == 0
        time.sleep(0.2)
    finally:
        stop.set()
        reader.join(5)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the pipe was replaced by a file"
    assert json.loads(b"".join(got))["format"] == "runform-analysis"
    assert not [p for p in tmp_path.iterdir() if "runform-tmp" in p.name]


def test_a_recording_is_not_written_over_a_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "rec.pipe"
    os.mkfifo(fifo)
    code = main(["simulate", "--duration", "5", "--out", str(fifo), "--force", "--no-progress"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "rec.pipe" in line and "not a regular file" in line, line
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_compare_alert_time_is_of_the_compared_activity(
    intervals: Path, easy: Path, tmp_path: Path
) -> None:
    # before: running compared with running, but "alert heel_strike on" was the share of the
    # whole run/walk session's time (walking and standing included)
    from runform.findings import alert_shares

    js, out = tmp_path / "s.json", tmp_path / "c.html"
    assert main(["analyze", str(intervals), "--json", str(js)]) == 0
    summary = json.loads(js.read_text())
    assert main(["compare", str(intervals), str(easy), "--out", str(out)]) == 0
    row = next(r for r in out.read_text().split("<tr>") if "<i>heel_strike</i> on" in r)
    shown = int(row.split("% of the time")[0].rsplit(">", 1)[1])
    runs = [(b["t0"], b["t1"]) for b in summary["bouts"] if b["activity"] == "run"]
    alerts = summary["alerts"]
    on = sum(alert_shares(alerts, a, b).get("heel_strike", 0.0) * (b - a) for a, b in runs)
    want = round(100 * on / sum(b - a for a, b in runs))
    whole = round(100 * alert_shares(alerts, 0.0, summary["duration_s"])["heel_strike"])
    assert want != whole  # the test tells the two apart
    assert shown == want, (shown, want, whole)


def test_report_in_imperial_units_has_no_metric_lengths_or_speeds(
    easy: Path, tmp_path: Path
) -> None:
    # before: the findings were in ft / in / min per mile, but the Summary and Left / right
    # tables still said "8.1 cm" and "3.00 m/s"
    import re

    out = tmp_path / "r.html"
    assert main(["report", str(easy), "--out", str(out), "--units", "imperial"]) == 0
    html = out.read_text()
    tables = html.split("<h2>Summary</h2>")[1].split("<h2>Per-stride overlays</h2>")[0]
    cells = " ".join(re.findall(r"<td[^>]*>(.*?)</td>", tables, flags=re.S))
    assert not re.search(r"\d (cm|m/s|m)\b", cells), re.findall(r"[\d.]+ (?:cm|m/s|m)\b", cells)
    assert " in" in cells and " mph" in cells
    metric = tmp_path / "m.html"
    assert main(["report", str(easy), "--out", str(metric)]) == 0
    assert " m/s" in metric.read_text()  # metric as it was


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--simulate", "--show", "left_foot,nosuch"],
            ["--show", "nosuch", "left_foot, right_foot, pelvis"],
        ),
        (["--simulate", "--show", ","], ["--show", "expected sensor ids"]),
        (["--sensor", "left_foot=C0:52:46:00:00:01", "--show", "pelvis"], ["--show", "left_foot"]),
        # a footpod has no raw signal: before, accepted and nothing plotted
        (
            ["--sensor", "footpod=C0:52:46:00:00:09", "--show", "footpod"],
            ["--show footpod: the footpod 'footpod'", "no raw signal", "no sensor has one"],
        ),
        (
            ["--simulate", "--footpod", "--show", "footpod,pelvis"],
            ["the footpod 'footpod'", "sensors with one: left_foot, right_foot, pelvis"],
        ),
    ],
)
def test_live_refuses_a_sensor_it_will_not_stream(
    argv: list[str],
    words: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: the window opened (and streamed) with an empty plot for the unknown id, exit 0
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.chdir(tmp_path)
    code = main(["live", *argv, "--no-record", "--mute", "--exit-after", "0.5"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("copy", [False, True])
def test_compare_of_one_recording_with_itself_says_so(
    copy: bool, easy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # before: the same file twice (or a copy) compared without a word: every metric "unchanged"
    other = tmp_path / "copy.h5" if copy else easy
    if copy:
        shutil.copy(easy, other)
    with caplog.at_level("WARNING"):
        code = main(["compare", str(easy), str(other), "--json", str(tmp_path / "c.json")])
    assert code == 0
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1, said
    assert "nothing can differ" in said[0], said
    assert ("copies" in said[0]) == copy, said
    assert json.loads((tmp_path / "c.json").read_text())["metrics"]


def test_compare_in_imperial_units_has_no_metric_lengths_or_speeds(
    easy: Path, intervals: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: 'compare --units imperial' said "speed unchanged (3.00 m/s vs 3.00 m/s ...)",
    # "stride length ... 2.14 m", "vertical oscillation ... 8.0 cm" in its sentences, its
    # report's table and figures (only the 'Where each run stands' lights followed --units)
    import re

    out, js = tmp_path / "c.html", tmp_path / "c.json"
    argv = ["compare", str(easy), str(intervals), "--out", str(out), "--json", str(js)]
    assert main([*argv, "--units", "imperial"]) == 0
    said = capsys.readouterr().out
    html = out.read_text()
    summary = " ".join(json.loads(js.read_text())["summary"])
    table = html.split("<h2>All metrics</h2>")[1].split("<h2>Strike pattern</h2>")[0]
    for text in (said, summary, table):
        assert not re.search(r"\d (cm|m/s|m)\b", text), re.findall(r"[\d.]+ (?:cm|m/s|m)\b", text)
        for unit in ("mph", "ft", "in"):
            assert re.search(rf"\d {unit}\b", text), (unit, text)
    assert main([*argv, "--units", "metric"]) == 0
    assert " m/s" in capsys.readouterr().out  # metric as it was


def test_compare_figure_shows_every_time_in_ms(easy: Path) -> None:
    # before: the flight time box plot was titled '(ms)' over values in seconds (0.08-0.16)
    from runform.analysis_run import analyse_recording
    from runform.compare import compare_runs, run_from_result
    from runform.report import fig_compare_distributions

    res = analyse_recording(str(easy))
    comp = compare_runs(run_from_result(res, "A"), run_from_result(res, "B"), n_boot=1000)
    fig = fig_compare_distributions(comp)
    assert fig is not None
    axes = {ax.get_title().split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}
    for title in ("flight time (ms)", "contact time (ms)"):
        lo, hi = axes[title].get_ylim()
        assert 50 < lo < hi < 400, (title, lo, hi)


def test_compare_split_near_the_end_does_not_call_the_strikes_unchanged(easy: Path) -> None:
    # before: B of 3 contacts read 'strike pattern unchanged: ... (difference not significant)'
    # although nothing could be tested, the other metrics saying 'too few contacts to test'
    from runform.analysis_run import analyse_recording
    from runform.compare import compare_runs, split_result

    res = analyse_recording(str(easy))
    feet = res.strides[res.strides["sensor_id"] != "pelvis"]
    t = float(feet["t_ic"].sort_values().iloc[-3])
    comp = compare_runs(*split_result(res, t), n_boot=1000)
    assert len(comp.b.rows("both feet")) == 3
    strike = next(s for s in comp.sentences if s.startswith("strike pattern"))
    assert "too few contacts to test" in strike and "unchanged" not in strike, strike


@pytest.mark.parametrize("window", ["inf", "1e9", "nan", "0"])
def test_export_bounds_the_record_window(
    window: str, easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: --window inf (or 1e9) wrote a FIT file whose every 1 Hz record held the mean of
    # the whole session, exit 0
    code = main(["export", str(easy), "--fit", str(tmp_path / "r.fit"), "--window", window])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "--window" in line and "600" in line, line
    assert not (tmp_path / "r.fit").exists()


def test_batch_out_that_is_a_file_is_named_as_such(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: '--out notes.txt: cannot create the folder (File exists)'
    out = tmp_path / "notes.txt"
    out.write_text("mine\n")
    code = main(["batch", str(easy), "--out", str(out), "--workers", "1", "--no-progress"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "--out" in line and "is a file, expected a folder" in line, line
    assert out.read_text() == "mine\n"


def test_replay_of_a_recording_without_sensors_is_one_line(
    easy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: an empty window, exit 0 (analyze says 'no sensor to analyse')
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    rec = tmp_path / "none.h5"
    shutil.copy(easy, rec)
    with h5py.File(rec, "r+") as f:
        for sid in list(f["sensors"]):
            del f["sensors"][sid]
    code = main(["replay", str(rec), "--mute", "--exit-after", "0.5"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "none.h5" in line and "no sensor" in line and "left_foot" in line, line


def test_compare_split_at_a_marker_set_several_times_says_which(
    easy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # before: '--split-at-marker lap' with a 'lap' marker at 10 s and 20 s split at the first
    # without a word
    import numpy as np

    rec = tmp_path / "laps.h5"
    shutil.copy(easy, rec)
    with h5py.File(rec, "r+") as f:
        if "markers" in f:
            del f["markers"]
        g = f.create_group("markers")
        g.create_dataset("t", data=np.array([10.0, 20.0]), maxshape=(None,))
        str_t = h5py.string_dtype()
        g.create_dataset("label", data=np.array(["lap", "lap"], dtype=object), dtype=str_t)
        g.create_dataset("kind", data=np.array(["user", "user"], dtype=object), dtype=str_t)
    with caplog.at_level("WARNING"):
        code = main(
            ["compare", str(rec), "--split-at-marker", "lap", "--json", str(tmp_path / "c.json")]
        )
    assert code == 0
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("2 markers labelled 'lap'" in s and "10.0, 20.0" in s for s in said), said
    assert json.loads((tmp_path / "c.json").read_text())["a"]["t1"] == 10.0


@pytest.mark.parametrize("command", ["batch", "history"])
def test_a_folder_that_cannot_be_read_is_named_as_such(
    command: str,
    easy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before (as a user without read permission): batch said 'runs: folder holds no recording
    # (*.h5, *.hdf5)' and history 'runs/strides.parquet: permission denied'. Root reads any
    # folder, so the refusal is made here by os.scandir, as the kernel makes it for a user.
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(easy, runs / "easy.h5")
    real = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        if Path(os.fspath(path)).resolve() == runs.resolve():
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = ["--out", str(tmp_path / ("b" if command == "batch" else "h.html")), "--no-progress"]
    extra = ["--workers", "1"] if command == "batch" else []
    code = main([command, str(runs), *out, *extra])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "runs: cannot read the folder (permission denied)" in line, line


@pytest.mark.parametrize("command", ["record", "live"])
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        # before: "internal error: ValueError: expected non-negative integer" (numpy)
        (["--seed", "-1"], ["--seed -1", "0 or more"]),
        # before: "internal error: ValueError: scenario easy: rate_hz 3000.0, ..."
        (["--rate", "3000"], ["--rate 3000", "50 to 1666 Hz"]),
        (["--rate", "20"], ["--rate 20", "50 to 1666 Hz"]),
    ],
)
def test_simulated_sensors_name_the_bad_option(
    command: str,
    argv: list[str],
    words: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    out = tmp_path / "run.h5"
    extra = ["--quiet"] if command == "record" else ["--exit-after", "1"]
    code = main(
        [command, "--simulate", "--duration", "1", "--out", str(out), *extra, *argv]
        if command == "record"
        else [command, "--simulate", "--out", str(out), *extra, *argv]
    )
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line
    assert not out.exists()


def _without(src: Path, dst: Path, sensor_ids: list[str]) -> Path:
    """A copy of ``src`` without the sensors ``sensor_ids``."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in sensor_ids:
            del f["sensors"][sid]
    return dst


def test_compare_of_runs_without_a_sensor_in_common_is_one_line(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: exit 0 and a report whose only finding was 'no metric could be compared: the
    # runs share no analysed sensor placement'
    pelvis = _without(easy, tmp_path / "pelvis.h5", ["left_foot", "right_foot"])
    feet = _without(easy, tmp_path / "feet.h5", ["pelvis"])
    out = tmp_path / "c.html"
    code = main(["compare", str(pelvis), str(feet), "--out", str(out)])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "A: pelvis.h5 holds pelvis contacts only" in line, line
    assert "B: feet.h5 left_foot and right_foot contacts only" in line, line
    assert "no sensor placement in common" in line, line
    assert not out.exists()


def test_report_of_a_few_seconds_of_running_says_too_few_not_no_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: 'No running was recognised in this recording, so there is nothing to judge yet'
    # above a Summary of 9 running contacts (flight time 130 ms): a 5 s run is running, too
    # short to judge
    rec = tmp_path / "short.h5"
    simulate_session("easy", duration_s=5, seed=0, truth=False).write(rec)
    out = tmp_path / "r.html"
    assert main(["report", str(rec), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("Too few running contacts to judge: "), said
    assert "at least 20 of one sensor in one stretch of running" in said, said
    html = out.read_text()
    assert "No running was recognised" not in html
    assert "Too few contacts to judge." not in html  # said once, in the next step


def test_compare_of_pelvis_only_runs_says_the_cadence(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: two pelvis-only halves were compared on cadence (in the JSON) but the sentences
    # left it out: only pelvic drop and vertical oscillation were said
    pelvis = _without(easy, tmp_path / "pelvis.h5", ["left_foot", "right_foot"])
    code = main(["compare", str(pelvis), "--split-at", "15", "--json", str(tmp_path / "c.json")])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  - cadence "), lines
    assert "steps/min" in lines[1], lines


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e9", "0"])
def test_scan_timeout_is_checked(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    # before: 'scan --simulate --timeout -1' said 'no usable sensors found in -1 s', nan scanned
    # for no time, and inf or 1e9 never ended
    code = main(["scan", "--simulate", "--timeout", value])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert f"--timeout {float(value)}: expected a number from 0.1 to 3600 s" in line, line


def test_compare_seed_is_checked(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: 'internal error: ValueError: expected non-negative integer' (numpy), after the
    # analysis of both runs
    out = tmp_path / "c.json"
    code = main(["compare", str(easy), "--split-at", "15", "--json", str(out), "--seed", "-1"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "--seed -1: expected a whole number 0 or more" in line, line
    assert not out.exists()


def test_report_says_why_a_sensor_has_no_contacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: a 2 s run read 'No running was recognised in this recording' and 'Too few
    # contacts to judge'; why (no sensor could be aligned on so short a trial) was only in
    # what analyze prints
    rec = tmp_path / "two.h5"
    simulate_session("easy", duration_s=2, seed=0, truth=False, standing_s=0.0).write(rec)
    out = tmp_path / "r.html"
    assert main(["report", str(rec), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("No contacts were found in this recording"), said
    html = out.read_text()
    assert "No running was recognised" not in html
    assert "left_foot: no contacts: the sensor could not be aligned to the foot" in html
    assert "Too few contacts to judge." not in html


def test_replay_show_of_a_footpod_says_it_has_no_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: '--show footpod: no sensor footpod in fp.h5' about a recording holding one
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    rec = tmp_path / "fp.h5"
    argv = ["record", "--simulate", "--footpod", "--duration", "3", "--sim-speed", "10"]
    assert main([*argv, "--quiet", "--out", str(rec)]) == 0
    capsys.readouterr()
    code = main(["replay", str(rec), "--show", "footpod", "--mute", "--exit-after", "0.5"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "--show footpod: the footpod 'footpod' gives speed and cadence only" in line, line


def test_report_figures_follow_units(
    easy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: with --units imperial the tables said mph and in, but the figures over time and
    # the left / right box plots were titled and drawn 'speed (m/s)', 'vertical oscillation (cm)'
    import matplotlib.axes

    titles: list[str] = []
    real = matplotlib.axes.Axes.set_title

    def set_title(self: matplotlib.axes.Axes, label: str, *args: object, **kw: object) -> object:
        titles.append(str(label))
        return real(self, label, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", set_title)
    out = tmp_path / "r.html"
    assert main(["report", str(easy), "--out", str(out), "--units", "imperial"]) == 0
    assert titles.count("speed (mph)") == 2, titles  # over time and left / right
    assert titles.count("vertical oscillation (in)") == 2, titles
    assert not any("(m/s)" in t or "(cm)" in t for t in titles), titles


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_start_without_what_it_sets_is_one_line(
    command: str, easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: '--start garbage' was taken without a word (it only sets the wall clock for
    # --watch, and for analyze's --timeline)
    out = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code = main([command, str(easy), *out, "--start", "garbage"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert "--start needs --watch" in line, line
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("given", [["--out", "run.h5"], ["--notes", "week 2"]])
def test_live_no_record_refuses_options_of_the_recording(
    given: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: `live --no-record --out run.h5` opened the window and recorded nothing, without
    # a word (a runner expecting run.h5 found no file); --notes was dropped the same way
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.chdir(tmp_path)
    code = main(["live", "--simulate", "--no-record", *given, "--mute", "--exit-after", "0.5"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    assert f"{given[0]} with --no-record" in line, line
    assert not list(tmp_path.iterdir())
