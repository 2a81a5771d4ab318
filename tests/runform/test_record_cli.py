"""``runform record`` / ``runform scan`` end to end: emulated sensors, bleak, bumble, HDF5."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from recordings import open_recording
from runform.cli import main


def test_record_simulate_writes_a_complete_file(tmp_path, capsys):
    out = tmp_path / "run.h5"
    code = main(
        ["record", "--simulate", "--duration", "4", "--speed", "4", "--quiet", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "left_foot" in printed and "lost 0" in printed
    with open_recording(out) as rec:
        assert sorted(s.sensor_id for s in rec.sensors) == ["left_foot", "pelvis", "right_foot"]
        for info in rec.sensors:
            assert info.device_model == "runform-diy" and info.sample_rate_hz == 416.0
            b = rec.read(info.sensor_id)
            assert np.all(np.diff(b.t) > 0)
            # the duration counts from when all three are connected
            assert b.t[-1] - b.t[0] >= 3.5  # minus what is still on its way at the stop
            # after the time sync's warm-up (first offsets include the connection's delays)
            late = b.t[b.t > b.t[0] + 1.5]
            assert len(late) == pytest.approx((late[-1] - late[0]) * 416, rel=0.02)
            assert len(rec.gaps(info.sensor_id)) == 0
            # the simulator's running signal came through: foot impacts, gravity at rest
            assert np.max(np.linalg.norm(b.acc, axis=1)) > 20.0
            assert b.seq is not None and np.all(np.diff(b.seq.astype(np.int64)) == 1)


def test_record_simulate_with_footpod_writes_its_stream(tmp_path):
    out = tmp_path / "pod.h5"
    argv = ["record", "--simulate", "--footpod", "--duration", "6", "--speed", "3", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    with open_recording(out) as rec:
        assert len(rec.sensors) == 3  # the footpod is a stream, not an IMU sensor
    with h5py.File(out, "r") as f:
        g = f["streams/footpod"]
        assert g.attrs["device_model"] == "rsc-footpod"
        t, speed = g["t"][:], g["speed_mps"][:]
        assert len(t) >= 4 and np.all(np.diff(t) > 0)  # stamped on arrival, once a second
        # the pod reads the simulated runner: 0 while standing (the first 5 s), then ~3 m/s
        running = speed > 0
        assert running.sum() >= 1 and np.all(speed[~running] == 0)
        assert np.all((speed[running] > 2.5) & (speed[running] < 4.0))


def test_record_simulate_a_run_walk_program_shorter_than_its_bouts(tmp_path, capsys):
    """``record --simulate --scenario intervals --duration 20``: the emulators stream the
    program (simulated at the shortest length its bouts allow, looped); before,
    the 700 s program was squashed into 21 s and the command ended in 'internal error:
    ValueError ... walk_stop_s'."""
    out = tmp_path / "iv.h5"
    argv = ["record", "--simulate", "--scenario", "intervals", "--duration", "8"]
    assert main([*argv, "--speed", "8", "--quiet", "--out", str(out)]) == 0
    assert "internal error" not in capsys.readouterr().err
    with open_recording(out) as rec:
        b = rec.read("left_foot")
        assert b.t[-1] - b.t[0] >= 6.0
        assert np.max(np.linalg.norm(b.acc, axis=1)) > 15.0  # the simulated walk came through


def test_scan_simulate_lists_three_clips(capsys):
    assert main(["scan", "--simulate", "--timeout", "0.3"]) == 0
    out = capsys.readouterr().out
    assert out.count("runform DIY clip") == 3
    for name in ("rfclip-L", "rfclip-R", "rfclip-P"):
        assert name in out


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["record", "--out", "x.h5"], "no sensors"),
        (["record", "--sensor", "Left Foot=AA", "--out", "x.h5"], "no placement"),
        (["record", "--sensor", "left_foot", "--out", "x.h5"], "PLACEMENT=ADDRESS"),
        (["record", "--simulate", "--out", "/nonexistent/dir/x.h5"], "does not exist"),
        (["record", "--simulate", "--speed", "0", "--out", "x.h5"], "--speed"),
        # before: ignored without a word (live refused it)
        (
            ["record", "--sensor", "left_foot=C0:52:46:00:00:01", "--footpod", "--out", "x.h5"],
            "--footpod needs --simulate",
        ),
        # a typo in an address: before, a scan for a device that cannot exist, then 'not found'
        (
            ["record", "--sensor", "left_foot=C0:52:46:00:01", "--out", "x.h5"],
            "'C0:52:46:00:01' is no Bluetooth address: expected six hex bytes",
        ),
        # one device given as two sensors: before, both connections were tried
        (
            [
                "record",
                "--sensor",
                "left_foot=C0:52:46:00:00:01",
                "--sensor",
                "right_foot=c0-52-46-00-00-01",
                "--out",
                "x.h5",
            ],
            "c0-52-46-00-00-01 is already given for left_foot",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, msg, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1


def _record_and_kill(path, run_s, sig=signal.SIGKILL):
    """Start a real-time simulated recording, send ``sig`` ``run_s`` s after it started;
    returns the session time of the signal and the exit code."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runform", "record", "--simulate", "--quiet", "--out", str(path)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        started = time.monotonic()
        assert "recording 3 sensors" in line, line
        session_at_start = float(line.split("session time ")[1].split(" s")[0])
        time.sleep(run_s)
        killed = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    return session_at_start + (killed - started), code


def _check_killed_file(path, t_kill):
    with h5py.File(path, "r") as f:  # plain h5py, no SWMR, no repair
        assert f.attrs["format"] == "runform-recording"
        for sid in ("left_foot", "right_foot", "pelvis"):
            t = f[f"sensors/{sid}/t"][:]
            t = t[np.isfinite(t)]
            assert len(t), f"{sid}: no samples on disk, kill at {t_kill:.2f} s"
            assert np.all(np.diff(t) > 0)
            assert t[-1] >= t_kill - 1.0, (
                f"{sid}: last sample {t[-1]:.2f} s, kill at {t_kill:.2f} s"
            )
            assert f[f"sensors/{sid}/acc"].shape[0] >= len(t)


def test_sigkill_during_record_loses_at_most_one_second(tmp_path):
    path = tmp_path / "killed.h5"
    t_kill, code = _record_and_kill(path, 3.0)
    assert code == -signal.SIGKILL
    _check_killed_file(path, t_kill)


@pytest.mark.parametrize(
    "sig",
    # SIGHUP (the terminal closed): it killed the recording with the last second unwritten
    # and left the disk reserve file (.interrupted.h5.runform-reserve) behind
    [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_ctrl_c_stops_cleanly_with_a_complete_file(tmp_path, sig):
    if sig is None:
        pytest.skip("no SIGHUP here")
    path = tmp_path / "interrupted.h5"
    t_int, code = _record_and_kill(path, 2.5, sig)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interrupted.h5"]
    with open_recording(path) as rec:  # validates the whole file
        for info in rec.sensors:
            b = rec.read(info.sensor_id)
            assert b.t[-1] >= t_int - 0.2
            assert len(rec.gaps(info.sensor_id)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("run_s", [1.5, 2.7, 4.2, 6.1, 9.4])
def test_sigkill_repeated(tmp_path, run_s):
    path = tmp_path / "killed.h5"
    t_kill, _ = _record_and_kill(path, run_s)
    _check_killed_file(path, t_kill)


@pytest.mark.parametrize("command", ["record", "live"])
def test_a_minimum_free_space_above_what_is_free_is_refused_before_starting(
    command, tmp_path, capsys, monkeypatch
):
    """--min-free-mb above the free space: record and live started anyway and wrote an empty
    file ('disk full: recording stopped at 0.0 s'); live exited 0, record 1. Both refuse now,
    before any sensor, in one line naming the folder, the free space and the minimum."""
    import shutil

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    ask = f"{free_mb * 2 + 100:.0f}"
    out = tmp_path / "run.h5"
    argv = [command, "--simulate", "--out", str(out), "--min-free-mb", ask, "--duration", "2"]
    argv += ["--quiet"] if command == "record" else ["--mute", "--exit-after", "5"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert str(tmp_path) in err and "MB free" in err and f"--min-free-mb {ask}" in err, err
    assert not out.exists()
    # the default minimum (32 MB) is checked alike
    from recordings import recorder

    monkeypatch.setattr(recorder, "free_bytes", lambda path: 10_500_000)
    argv = [a for a in argv if a not in ("--min-free-mb", ask)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "10.5 MB free, less than the 32.0 MB a recording keeps free" in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["record", "live"])
def test_the_minimum_free_space_default_is_in_the_unit_its_help_gives(command, capsys):
    """--min-free-mb's help said 'MB megabytes ... (default 32)' and the option was converted
    at 10^6 bytes a MB, but the default was 32 MiB (33.6 MB, as the refusal then printed):
    the help, the default and the conversion now agree."""
    import re

    from recordings.recorder import min_free_bytes

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    said = re.search(r"--min-free-mb MB\s.*?megabytes .*?\(default (\d+(?:\.\d+)?)", text)
    assert said, text
    assert (
        min_free_bytes(None) == min_free_bytes(float(said.group(1))) == float(said.group(1)) * 1e6
    )
