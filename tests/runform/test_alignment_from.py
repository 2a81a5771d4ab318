"""``runform analyze --alignment-from OTHER.h5``: a short trial (a few contacts, too few to
estimate the mounting) gets its contacts with the mounting of another recording of the same
session (issue 16, point 7)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from dsp.block import SampleBlock
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import FOOT
from recordings import RecordingWriter
from runform.cli import main


def _write(path, run, t0: float, t1: float) -> None:
    with RecordingWriter(path, run.sensors, notes="slice", live=False) as w:
        for sid, b in run.blocks.items():
            m = (b.t >= t0) & (b.t < t1)
            w.append(SampleBlock(sid, b.t[m], b.acc[m], b.gyr[m]))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trial")
    run = simulate_session("easy", duration_s=60, rate_hz=208, seed=8, sensors=FOOT)
    warm, trial = d / "warmup.h5", d / "trial.h5"
    _write(warm, run, 0.0, 40.0)
    _write(trial, run, 50.0, 52.5)  # a 2.5 s trial: two or three contacts per foot
    return run, warm, trial


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_short_trial_gets_its_contacts_with_the_warmup_mounting(files, tmp_path, capsys):
    run, warm, trial = files
    alone, given = tmp_path / "alone.csv", tmp_path / "given.csv"
    assert main(["analyze", str(trial), "--strides", str(alone)]) == 0
    # alone, the message says why (too few gait cycles) and what to do
    err = capsys.readouterr().err
    assert "gait cycle" in err and "--alignment-from OTHER.h5" in err
    code = main(["analyze", str(trial), "--strides", str(given), "--alignment-from", str(warm)])
    assert code == 0
    rows = _rows(given)
    truth = [
        c
        for c in run.truth["contacts"]
        if c["sensor_id"] in FOOT and 50.1 <= c["t_ic"] and c["t_to"] < 52.35
    ]
    assert len(truth) >= 4
    # alone, 2.5 s are too little to find the mountings
    assert len(_rows(alone)) < len(truth) / 2
    for c in truth:
        near = [r for r in rows if r["sensor_id"] == c["sensor_id"]]
        err = min(abs(float(r["t_ic"]) - c["t_ic"]) for r in near)
        assert err < 0.01, c
    fsa = [float(r["foot_strike_angle"]) for r in rows if r["foot_strike_angle"]]
    assert fsa and all(np.isfinite(fsa))
    assert not any("low_alignment" in r["flags"] for r in rows)


def test_alignment_from_a_file_without_feet_is_one_line(files, tmp_path, capsys):
    run, _warm, trial = files
    other = tmp_path / "still.h5"
    t = np.arange(2000) / 208.0
    with RecordingWriter(other, run.sensors, notes="still", live=False) as w:
        for sid in FOOT:
            w.append(SampleBlock(sid, t, np.tile([0.0, 0.0, 9.81], (2000, 1)), np.zeros((2000, 3))))
    code = main(
        [
            "analyze",
            str(trial),
            "--strides",
            str(tmp_path / "x.csv"),
            "--alignment-from",
            str(other),
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "--alignment-from" in err and "\n" not in err.strip()


def test_alignment_from_names_the_sensors_or_their_absence(files, tmp_path, capsys, caplog):
    # before: a pelvis-only recording was told 'no foot sensor of pelvis.h5 has a confident
    # mounting there' (it has no foot sensor at all), and a file without the trial's feet gave
    # a warning per foot sensor and then the error saying the same
    _run, warm, trial = files
    pelvis = tmp_path / "pelvis.h5"
    simulate_session("easy", duration_s=10, rate_hz=104, seed=1, sensors=["pelvis"]).write(pelvis)
    code = main(["analyze", str(pelvis), "--alignment-from", str(warm)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--alignment-from {warm}: {pelvis} has no foot sensor" in err, err
    caplog.clear()
    code = main(["analyze", str(trial), "--alignment-from", str(pelvis)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"no foot sensor of {trial} (left_foot, right_foot) has a confident" in err, err
    assert "no confident mounting" not in caplog.text  # said once, in the error
