"""One recording on several cores (``runform.parallel``): the results of the one-process path.

Every output of :func:`runform.analysis_run.analyse_recording` (rows in release order and in
the batches given to ``on_rows``, summary, alerts, diagnostics, traces, progress calls) must
be the same with worker processes; errors in a worker must be the one-process error; workers
must not outlive the analysis; the one-process path is used where workers are not possible.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import h5py
import numpy as np
import pandas as pd
import pytest

import runform.parallel as par
from dsp.feed import FeedResult
from dsp.foot_analyzer import FootAnalyzer
from firmware_bridge.simulator import simulate_session
from recordings import RecordingError
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.errors import UsageError


@pytest.fixture(scope="module")
def rec3(recording_of):
    """Both feet and the pelvis, 40 s at 208 Hz, with packet loss (gaps in every sensor)."""
    return recording_of("easy", duration_s=40, rate_hz=208, seed=11, packet_loss=0.02)


STRICT = """
name = "strict"
description = "fires often, so that the alerts are compared too"

[[rule]]
name = "low_cadence"
metric = "cadence"
window = 4
below = 400.0
clear_above = 401.0
unit = "steps/min"
level = "info"
message = "Cadence {value:.0f}"

[[rule]]
name = "pelvic_drop"
metric = "pelvic_drop"
side = "each"
window = 3
statistic = "median"
above = 0.5
clear_below = 0.4
unit = "deg"
level = "warning"
message = "Pelvic drop on {side} stance: {value:.1f} deg"
"""


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    path = tmp_path_factory.mktemp("prof") / "strict.toml"
    path.write_text(STRICT)
    return path


@pytest.fixture
def pools(monkeypatch):
    """Records the worker pools started (their sensor groups and processes)."""
    started: list[par.WorkerPool] = []

    class Spy(par.WorkerPool):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)

    monkeypatch.setattr(par, "WorkerPool", Spy)
    return started


def _run(path, workers, **kw):
    batches: list[list[dict]] = []
    progress: list[tuple[float, float]] = []
    res = analyse_recording(
        path,
        workers=workers,
        collect_traces=True,
        on_rows=lambda rows: batches.append([r.as_record() for r in rows]),
        on_progress=lambda done, total: progress.append((done, total)),
        **kw,
    )
    return res, batches, progress


def _assert_same(a, b):
    (ra, ba, pa), (rb, bb, pb) = a, b
    assert len(ra.strides) > 50
    pd.testing.assert_frame_equal(ra.strides, rb.strides, check_exact=True)
    assert ba == bb  # same rows, released in the same batches
    assert pa == pb and len(pa) >= 3
    assert json.dumps(ra.summary, sort_keys=True) == json.dumps(rb.summary, sort_keys=True)
    assert ra.alerts == rb.alerts
    assert json.dumps(ra.diagnostics, sort_keys=True) == json.dumps(rb.diagnostics, sort_keys=True)
    assert sorted(ra.traces) == sorted(rb.traces) == ["left_foot", "right_foot"]
    for sid, tr in ra.traces.items():
        other = rb.traces[sid]
        assert len(tr) == len(other) > 10
        for (t1, p1), (t2, p2) in zip(tr, other, strict=True):
            assert t1 == t2
            np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize("chunk_s", [3.7, 60.0])
def test_workers_give_the_one_process_results(rec3, pools, strict, chunk_s):
    one = _run(rec3, 1, chunk_s=chunk_s, profile=strict)
    assert pools == []
    assert len(one[0].alerts) >= 2
    many = _run(rec3, 3, chunk_s=chunk_s, profile=strict)
    assert [sorted(p.analyzers) for p in pools] == [["left_foot", "right_foot"]]
    assert len(pools[0]._procs) == 0  # joined
    _assert_same(many, one)
    assert multiprocessing.active_children() == []


def test_one_worker_for_two_feet_when_capped(rec3, pools):
    one = _run(rec3, 1, chunk_s=9.0)
    two = _run(rec3, 2, chunk_s=9.0)  # this process and one worker analysing both feet
    assert len(pools) == 1 and sorted(pools[0].analyzers) == ["left_foot", "right_foot"]
    _assert_same(two, one)


def test_cli_output_files_identical(rec3, tmp_path, monkeypatch, capsys):
    outs = {}
    monkeypatch.chdir(tmp_path)
    for w in ("1", "3"):
        monkeypatch.setenv("RUNFORM_WORKERS", w)
        assert main(["analyze", str(rec3), "--strides", "s.csv", "--json", "s.json"]) == 0
        outs[w] = (
            (tmp_path / "s.csv").read_bytes(),
            (tmp_path / "s.json").read_bytes(),
            capsys.readouterr(),
        )
    assert outs["1"] == outs["3"]
    # the same choice from the command line (the option wins over the variable)
    monkeypatch.setenv("RUNFORM_WORKERS", "3")
    assert (
        main(["analyze", str(rec3), "--strides", "s.csv", "--json", "s.json", "--workers", "1"])
        == 0
    )
    assert (tmp_path / "s.csv").read_bytes() == outs["1"][0]
    capsys.readouterr()
    assert main(["analyze", str(rec3), "--json", "s.json", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--workers 0" in err


@pytest.fixture
def nan_rec(tmp_path):
    """A recording whose right foot has a NaN sample 25 s in."""
    path = tmp_path / "nan.h5"
    simulate_session("easy", duration_s=40, rate_hz=208, seed=12, truth=False).write(path)
    with h5py.File(path, "r+") as f:
        f["sensors/right_foot/acc"][25 * 208, 1] = np.nan
    return path


def test_worker_error_is_the_one_process_error(nan_rec, pools, tmp_path, monkeypatch, capsys):
    with pytest.raises(RecordingError) as e1:
        analyse_recording(nan_rec, workers=1, chunk_s=5.0)
    with pytest.raises(RecordingError) as e3:
        analyse_recording(nan_rec, workers=3, chunk_s=5.0)
    assert len(pools) == 1
    assert str(e3.value) == str(e1.value)
    assert "NaN or infinite value" in str(e1.value)
    assert multiprocessing.active_children() == []
    # and on the command line: the same one line, and the rows written before it
    lines = {}
    monkeypatch.chdir(tmp_path)
    for w in ("1", "3"):
        monkeypatch.setenv("RUNFORM_WORKERS", w)
        assert main(["analyze", str(nan_rec), "--strides", "s.csv", "--chunk-s", "5"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        lines[w] = (err, (tmp_path / "s.csv").read_bytes())
    assert lines["1"] == lines["3"]
    assert len(lines["3"][0]) == 1 and lines["3"][0][0].startswith("runform analyze: error: ")


def test_internal_error_in_a_worker(rec3, pools, monkeypatch):
    """A bug in a worker: the same exception type and message, the worker's traceback chained."""
    parent = os.getpid()
    real = FootAnalyzer.summary

    def summary(self):
        if self.info.sensor_id == "left_foot":
            raise ZeroDivisionError("summary of a bug")
        return real(self)

    monkeypatch.setattr(FootAnalyzer, "summary", summary)
    seen: list[str] = []
    with pytest.raises(ZeroDivisionError, match="summary of a bug"):
        analyse_recording(rec3, workers=1, on_rows=lambda r: seen.append("1"))
    with pytest.raises(ZeroDivisionError, match="summary of a bug") as e3:
        analyse_recording(rec3, workers=3, on_rows=lambda r: seen.append("3"))
    assert os.getpid() == parent and len(pools) == 1
    assert "ZeroDivisionError" in str(e3.value.__cause__)  # the worker's traceback
    # raised at the same point: after the same rows were delivered
    assert seen.count("1") == seen.count("3") > 0
    assert multiprocessing.active_children() == []


def test_worker_log_records_are_replayed_in_order(rec3, pools, monkeypatch, caplog):
    import logging

    real = FootAnalyzer.feed
    lg = logging.getLogger("dsp.foot_analyzer")

    def feed(self, block):
        lg.warning("fed %s up to %.3f", self.info.sensor_id, block.t_end)
        return real(self, block)

    monkeypatch.setattr(FootAnalyzer, "feed", feed)
    got = {}
    for w in (1, 3):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            analyse_recording(rec3, workers=w, chunk_s=6.0)
        got[w] = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert len(pools) == 1
    assert got[3] == got[1] and len(got[1]) >= 14


def test_proxy_ships_results_not_attributes(rec3, pools):
    """The stand-in of a remote analyzer answers feed/finish with the worker's FeedResult and
    has none of the analyzer's attributes: the session reads nothing else."""
    res = analyse_recording(rec3, workers=3, chunk_s=20.0)
    proxy = pools[0].analyzers["left_foot"]
    assert proxy.summary() == res.summary["sensors"]["left_foot"]
    for name in ("watermark_", "info", "alignment_", "early_rows_", "detected_ics_"):
        assert not hasattr(proxy, name)
    last = proxy.finish()  # a second finish: nothing more, every contact known
    assert isinstance(last, FeedResult) and last.rows == () and last.watermark == np.inf


def test_worker_that_dies_does_not_hang(rec3, pools, monkeypatch):
    parent = os.getpid()
    real = FootAnalyzer.feed

    def feed(self, block):
        if os.getpid() != parent and self.info.sensor_id == "right_foot" and block.t[0] > 20:
            os._exit(7)
        return real(self, block)

    monkeypatch.setattr(FootAnalyzer, "feed", feed)
    with pytest.raises(RuntimeError, match=r"right_foot ended unexpectedly \(exit code 7\)"):
        analyse_recording(rec3, workers=3, chunk_s=5.0)
    assert multiprocessing.active_children() == []


def test_interrupt_stops_the_workers(rec3, pools):
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyse_recording(rec3, workers=3, chunk_s=2.0, on_progress=progress)
    assert len(pools) == 1
    assert multiprocessing.active_children() == []
    assert pools[0]._procs == []  # terminated and joined (no zombies)


def _sensors(path):
    from recordings import open_recording

    with open_recording(path) as rec:
        return list(rec.sensors), rec.duration_s


def test_plan(rec3, monkeypatch):
    sensors, dur = _sensors(rec3)
    by = {s.sensor_id: s for s in sensors}
    feet_pelvis = [by["left_foot"], by["right_foot"], by["pelvis"]]
    assert par.plan_workers(feet_pelvis, duration_s=dur, workers=3)[0] == [
        ["left_foot"],
        ["right_foot"],
    ]
    assert par.plan_workers(feet_pelvis, duration_s=dur, workers=2)[0] == [
        ["left_foot", "right_foot"]
    ]
    assert par.plan_workers(feet_pelvis, duration_s=dur, workers=1)[0] == []
    # automatic: not for short recordings, one worker per foot for long ones
    assert par.plan_workers(feet_pelvis, duration_s=par.MIN_PARALLEL_S - 1)[0] == []
    assert len(par.plan_workers(feet_pelvis, duration_s=par.MIN_PARALLEL_S)[0]) == 2
    short_windows = par.plan_workers(feet_pelvis, duration_s=3600.0, chunk_s=1.0)
    assert short_windows[0] == [] and "windows" in short_windows[1]
    with monkeypatch.context() as m:
        m.setattr(par, "_cores", lambda: 1)
        assert par.plan_workers(feet_pelvis, duration_s=3600.0)[0] == []
        assert len(par.plan_workers(feet_pelvis, duration_s=3600.0, workers=3)[0]) == 2
    # one foot and the pelvis: the foot in a worker; two feet: one stays here
    assert par.plan_workers([by["left_foot"], by["pelvis"]], duration_s=dur, workers=3)[0] == [
        ["left_foot"]
    ]
    assert par.plan_workers([by["left_foot"], by["right_foot"]], duration_s=dur, workers=3)[0] == [
        ["right_foot"]
    ]
    # one process: a single sensor, the pelvis alone, no analysed sensor
    for one in ([by["left_foot"]], [by["pelvis"]], []):
        assert par.plan_workers(one, duration_s=dur, workers=3)[0] == []
    # where forking is not safe or not allowed
    box: list = []
    th = threading.Thread(
        target=lambda: box.append(par.plan_workers(feet_pelvis, duration_s=dur, workers=3))
    )
    th.start()
    th.join()
    assert box[0][0] == [] and "main thread" in box[0][1]

    class Daemon:
        daemon = True

    monkeypatch.setattr(multiprocessing, "current_process", lambda: Daemon())
    groups, why = par.plan_workers(feet_pelvis, duration_s=dur, workers=3)
    assert groups == [] and "daemonic" in why


def test_one_foot_sensor_is_analysed_in_this_process(tmp_path, pools):
    path = tmp_path / "one.h5"
    simulate_session("easy", duration_s=30, rate_hz=104, seed=2, sensors=("left_foot",)).write(path)
    one = analyse_recording(path, workers=1)
    auto = analyse_recording(path, workers=3)
    assert pools == []
    pd.testing.assert_frame_equal(one.strides, auto.strides, check_exact=True)
    assert len(auto.strides) > 20


def test_no_process_can_be_started(rec3, monkeypatch):
    def refuse(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.get_context("fork").Process, "start", refuse)
    one = analyse_recording(rec3, workers=1, chunk_s=30.0)
    res = analyse_recording(rec3, workers=3, chunk_s=30.0)  # falls back to one process
    pd.testing.assert_frame_equal(res.strides, one.strides, check_exact=True)
    assert res.summary == one.summary


def test_workers_setting(monkeypatch):
    monkeypatch.delenv("RUNFORM_WORKERS", raising=False)
    assert par.workers_setting(None) is None
    assert par.workers_setting(2) == 2
    monkeypatch.setenv("RUNFORM_WORKERS", "1")
    assert par.workers_setting(None) == 1
    assert par.workers_setting(3) == 3  # the keyword wins
    with pytest.raises(ValueError, match="at least 1"):
        par.workers_setting(0)
    monkeypatch.setenv("RUNFORM_WORKERS", "many")
    with pytest.raises(UsageError, match="RUNFORM_WORKERS='many'"):
        par.workers_setting(None)


def test_env_opt_out_uses_one_process(rec3, pools, monkeypatch):
    monkeypatch.setenv("RUNFORM_WORKERS", "1")
    analyse_recording(rec3, chunk_s=20.0)
    assert pools == []
