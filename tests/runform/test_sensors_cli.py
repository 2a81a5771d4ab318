"""``runform sensors`` end to end in separate commands, as a user runs them: arm emulated
logging sensors, check them, download the run (the simulator filled their flash), analyse."""

from __future__ import annotations

import json

from recordings import open_recording
from tests.processes import killed_if_left


def test_cli_arm_run_download_analyse(tmp_path, capsys):
    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st, "--rate", "208"]) == 0
    # without --simulate, emulated sensors are not looked for over Bluetooth (each read
    # 'unreachable: FileNotFoundError: [Errno 2] No such file or directory'): one line
    assert main(["sensors", "status", "--state", st]) == 2
    err = capsys.readouterr().err
    assert "armed with --simulate" in err and "add --simulate" in err and err.count("\n") == 1
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


def test_cli_with_a_polar_verity_sense(tmp_path, capsys):
    """``--simulate-devices left_foot=polar``: a Verity Sense records offline beside two clips;
    its files survive between the commands (separate processes' worth of state)."""
    from runform.cli import main

    st = str(tmp_path / "armed.json")
    arm = ["sensors", "arm", "--simulate", "--state", st, "--rate", "104"]
    assert main([*arm, "--simulate-devices", "left_foot=polar"]) == 0
    out = capsys.readouterr().out
    assert "armed left_foot (polar-verity-sense" in out and "52 Hz" in out
    assert main(["sensors", "status", "--simulate", "--state", st, "--run-seconds", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("logging, memory") == 3 and "h left at 52 Hz" in out
    rec = str(tmp_path / "run.h5")
    argv = ["sensors", "download", "--simulate", "--state", st, "--run-seconds", "60"]
    assert main([*argv, "--out", rec, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("samples, gaps 0") == 3
    with open_recording(rec) as r:
        info = {i.sensor_id: i for i in r.sensors}["left_foot"]
        assert info.sample_rate_hz == 52.0 and info.device_model == "polar-verity-sense"
        assert len(r.read("left_foot").t) > 52 * 60
    # after the download: stopped by it, not full (the Verity Sense read 'FULL' beside
    # 'memory 0 of 16384 KiB used', as any armed Polar not logging)
    assert main(["sensors", "status", "--simulate", "--state", st]) == 0
    out = capsys.readouterr().out
    assert out.count(": stopped by the download, memory") == 3, out
    assert "FULL" not in out, out


def test_download_never_replaces_an_earlier_recording_without_force(tmp_path, capsys):
    # before: `sensors download --out run.h5` wrote over an existing run.h5 (another day's
    # run) without a word, unlike record, live and simulate
    import hashlib

    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st]) == 0
    earlier = tmp_path / "earlier.h5"
    earlier.write_bytes(b"an earlier recording")
    digest = hashlib.sha256(earlier.read_bytes()).hexdigest()
    argv = ["sensors", "download", "--simulate", "--state", st, "--run-seconds", "10", "--quiet"]
    capsys.readouterr()
    assert main([*argv, "--out", str(earlier)]) == 2
    err = capsys.readouterr().err
    assert "earlier.h5" in err and "--force" in err, err
    assert hashlib.sha256(earlier.read_bytes()).hexdigest() == digest
    assert main([*argv, "--out", str(earlier), "--force"]) == 0  # asked for: replaced
    with open_recording(earlier) as r:
        assert len(r.sensors) == 3


def test_run_seconds_out_of_range_is_one_line(tmp_path, capsys):
    """--run-seconds inf ended in 'internal error: OverflowError'; nan and -5 were taken (the
    run 'since arming' going backwards); without --simulate it was ignored."""
    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st]) == 0
    capsys.readouterr()
    for value in ("inf", "nan", "-5"):
        argv = ["sensors", "status", "--simulate", "--state", st, "--run-seconds", value]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--run-seconds" in err and "expected a number from 0" in err, value
    assert main(["sensors", "status", "--state", st, "--run-seconds", "5"]) == 2
    assert "--run-seconds needs --simulate" in capsys.readouterr().err


def test_arm_checks_its_numbers_in_one_line(tmp_path, capsys):
    """arm took --rate nan or -5 (armed at 104 Hz without a word) and --acc-range -1; --seed -1,
    --flash-kib 0 and --rate 1666 (a rate the DIY sensor has) ended in internal errors."""
    from runform.cli import main

    st = tmp_path / "armed.json"
    for argv, words in [
        (["--rate", "nan"], "--rate nan: expected a number from 10 to 4000 Hz"),
        (["--rate", "-5"], "--rate -5.0: expected"),
        (["--acc-range", "-1"], "--acc-range -1.0: expected"),
        (["--seed", "-1"], "--seed -1: expected a whole number 0 or more"),
        (["--flash-kib", "0"], "--flash-kib 0: expected a number from 1 to 1048576 KiB"),
        # 1e9 ended in 'logging did not start', inf in a GATT timeout after 30 s
        (["--speed", "1e9"], "--speed 1000000000.0: expected a number from 0.01 to 1000"),
        # 'internal error: ValueError: simulator scenario 'easy' has no sensor 'foo''
        (["--placements", "foo"], "'foo' is no placement (expected left_foot, right_foot, pelvis)"),
        # armed one of the two emulated sensors without a word
        (["--placements", "pelvis,pelvis"], "--placements 'pelvis,pelvis': pelvis given twice"),
    ]:
        assert main(["sensors", "arm", "--simulate", "--state", str(st), *argv]) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "internal error" not in err, err
        assert not st.exists()
    assert main(["sensors", "arm", "--simulate", "--state", str(st), "--rate", "1666"]) == 0
    assert "1666 Hz" in capsys.readouterr().out


def test_arm_simulate_devices_needs_simulate(tmp_path, capsys):
    """Without --simulate it was ignored without a word (record refuses it)."""
    from runform.cli import main

    argv = ["sensors", "arm", "--sensor", "left_foot=C0:52:46:00:00:01", "--simulate-devices"]
    assert main([*argv, "polar", "--state", str(tmp_path / "armed.json")]) == 2
    assert "--simulate-devices needs --simulate" in capsys.readouterr().err


def test_arming_again_before_the_download_keeps_the_run(tmp_path, capsys):
    """A second ``sensors arm --simulate`` before the download is refused, and must leave the
    emulated sensors as they are: it made them anew (their logs empty, stopped) and the
    download of the run then failed with 'cannot map its clock'."""
    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st]) == 0
    capsys.readouterr()
    assert main(["sensors", "arm", "--simulate", "--state", st]) == 2
    err = capsys.readouterr().err
    assert "not downloaded yet" in err and err.count("\n") == 1
    assert main(["sensors", "status", "--simulate", "--state", st, "--run-seconds", "20"]) == 0
    out = capsys.readouterr().out
    assert out.count(": logging, memory") == 3, out
    rec = tmp_path / "run.h5"
    argv = ["sensors", "download", "--simulate", "--state", st, "--run-seconds", "20"]
    assert main([*argv, "--out", str(rec), "--quiet"]) == 0, capsys.readouterr().err
    with open_recording(rec) as r:
        assert len(r.sensors) == 3
        assert all(len(r.read(s.sensor_id).t) > 200 * 15 for s in r.sensors)


def test_a_download_killed_midway_resumes_to_the_whole_run(tmp_path, capsys):
    """SIGTERM (``kill``, or SIGHUP: the terminal closing) during ``sensors download`` ends it
    as Ctrl-C does, and running it again writes the whole run. It killed the process: the
    emulated sensors lost what the download had done, and the resumed download wrote 2 s of a
    200 s pelvis log ('log was FULL')."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from runform.cli import main

    st = str(tmp_path / "armed.json")
    assert main(["sensors", "arm", "--simulate", "--state", st]) == 0
    rec = tmp_path / "run.h5"
    argv = ["sensors", "download", "--simulate", "--state", st, "--out", str(rec)]
    p = subprocess.Popen(
        [sys.executable, "-m", "runform", *argv, "--speed", "1", "--run-seconds", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    with killed_if_left(p):
        t0 = time.monotonic()
        assert p.stderr is not None
        for line in p.stderr:  # the first sensor is in, the second under way
            if line.strip().startswith("right_foot:"):
                break
            assert time.monotonic() - t0 < 120
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "runform: interrupted" in err and "Traceback" not in err
    assert not rec.exists()
    capsys.readouterr()
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("samples, gaps 0") == 3 and "FULL" not in out, out
    with open_recording(rec) as r:
        for s in r.sensors:  # 200 s at 208 Hz each
            assert len(r.read(s.sensor_id).t) > 208 * 195, s.sensor_id


def test_download_without_a_sensor_lost_for_good(tmp_path, capsys):
    """A sensor gone for good (lost on the run): the download retried it for 1.5 min and
    failed, and the other sensors' data stayed in the journals with no way to write them.
    ``--without SENSOR`` writes the others; the recording's notes name the missing one."""
    from firmware_bridge.emulator.logging_rig import LoggingRig
    from runform.cli import main

    st = tmp_path / "armed.json"
    assert main(["sensors", "arm", "--simulate", "--state", str(st)]) == 0
    rig_path = tmp_path / "armed.json.emulated.json"
    rig = LoggingRig.load(rig_path)
    del rig.sensors["left_foot"]  # lost: nothing answers at its address any more
    rig.save(rig_path)
    capsys.readouterr()
    rec = tmp_path / "run.h5"
    argv = ["sensors", "download", "--simulate", "--state", str(st), "--run-seconds", "20"]
    assert main([*argv, "--out", str(rec), "--quiet", "--without", "pelvis,x"]) == 2
    assert "--without pelvis,x: not armed" in capsys.readouterr().err
    assert not rec.exists()
    assert main([*argv, "--out", str(rec), "--quiet", "--without", "left_foot"]) == 0
    out = capsys.readouterr().out
    assert out.count("samples, gaps 0") == 2, out
    assert "left_foot (runform-diy" in out and "left out (--without)" in out, out
    with open_recording(rec) as r:
        assert sorted(i.sensor_id for i in r.sensors) == ["pelvis", "right_foot"]
        assert "without left_foot" in r.notes
        assert len(r.read("right_foot").t) > 19 * 208
    # done: a second download is refused, and the sensors can be armed again
    assert main([*argv, "--out", str(rec)]) == 2
    assert "downloaded already" in capsys.readouterr().err
    assert main(["sensors", "arm", "--simulate", "--state", str(st)]) == 0


def test_a_sensor_lost_for_good_is_named_while_the_download_still_retries(tmp_path, capsys):
    """A sensor lost on the run (the middle one of three): the download retried it for ~1.5 min
    (six connections of 10 s, with the others' downloads waiting behind it) before the user
    heard of --without. Now the sensors that answer are downloaded first, and the first failed
    retry of the lost one says --without while it still retries; stopping there (Ctrl-C) and
    running again with --without keeps what was downloaded."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    from firmware_bridge.emulator.logging_rig import LoggingRig
    from runform.cli import main

    st = tmp_path / "armed.json"
    assert main(["sensors", "arm", "--simulate", "--state", str(st)]) == 0
    rig_path = tmp_path / "armed.json.emulated.json"
    rig = LoggingRig.load(rig_path)
    del rig.sensors["right_foot"]  # lost: nothing answers at its address any more
    rig.save(rig_path)
    rec = tmp_path / "run.h5"
    argv = ["sensors", "download", "--simulate", "--state", str(st), "--run-seconds", "20"]
    p = subprocess.Popen(
        [sys.executable, "-m", "runform", *argv, "--out", str(rec)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    seen: list[str] = []
    with killed_if_left(p):
        t0 = time.monotonic()
        assert p.stderr is not None
        for line in p.stderr:
            seen.append(line)
            if "--without right_foot" in line:
                break
        told_s = time.monotonic() - t0
        # told while it still retries, not in the error at the end
        assert p.poll() is None and "error:" not in seen[-1], "".join(seen)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    text = "".join(seen)
    assert "right_foot (" in seen[-1] and "not reachable" in seen[-1], text
    assert "still trying" in seen[-1] and "Traceback" not in text + err, text
    # both that answer were downloaded before: stopping here loses nothing
    for sid in ("left_foot", "pelvis"):
        assert re.search(rf"{sid}: (\d+)/\1 records \(100%\)", text), text
    assert text.count("right_foot:") <= 2, text  # 'could not stop' and one failed retry
    assert told_s < 60, told_s
    assert p.returncode == 130 and not rec.exists(), err
    capsys.readouterr()
    assert main([*argv, "--out", str(rec), "--quiet", "--without", "right_foot"]) == 0
    out = capsys.readouterr().out
    assert out.count("samples, gaps 0") == 2, out
    with open_recording(rec) as r:
        assert sorted(i.sensor_id for i in r.sensors) == ["left_foot", "pelvis"]
        assert all(len(r.read(sid).t) > 19 * 208 for sid in ("left_foot", "pelvis"))
