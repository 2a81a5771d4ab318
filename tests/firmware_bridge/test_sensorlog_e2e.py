"""On-sensor logging end to end on bleak's real client over bumble's virtual controllers:
arm emulated DIY clips, let a (simulated) run fill their flash, download into one recording.

Covers: a download cut in the middle and resumed (in the same run, and by a second run after
the first gave up), a full flash (stop and wrap-around), clocks drifting apart (alignment after
download), and the command line from arming to the analysis.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.logging_rig import LoggingRig
from firmware_bridge.errors import DeviceError
from firmware_bridge.sensorlog.session import (
    ArmState,
    arm_sensors,
    download_sensors,
    sensors_status,
)
from recordings import open_recording
from runform.commands.sensors import write_recording


def _check_against_truth(rig, state, path, tol_s, overwritten=0):
    """Every logged sample (but the ``overwritten`` first ones) once, on the session time base
    within ``tol_s``; returns the errors per sensor."""
    t_ref = min(s.arm_sync.host_s for s in state.sensors.values())
    errs = {}
    with open_recording(path) as rec:
        for sid, per in rig.peripherals.items():
            b = rec.read(sid)
            _tau, t_true = per.log_truth()
            t_true = t_true[overwritten:]
            assert len(b.t) == len(t_true), f"{sid}: {len(b.t)} samples, logged {len(t_true)}"
            assert np.all(np.diff(b.t) > 0)
            err = (b.t + t_ref - rig.host_epoch) - t_true
            assert np.abs(err).max() < tol_s, f"{sid}: max error {np.abs(err).max() * 1e3:.2f} ms"
            errs[sid] = err
    return errs


async def _armed_left_foot(r, tmp_path):
    """The rig's left foot armed at 208 Hz, 60 s of running logged."""
    state = await arm_sensors(
        r.addresses(),
        tmp_path / "armed.json",
        settings=StreamSettings(rate_hz=208),
        connect=r.connector(),
        host_clock=r.host_clock,
    )
    r.advance(60.0)
    return state


def _away_after_first_chunk(per, cuts: list, away_s: float):
    """A download progress callback: after the first chunk the sensor goes out of reach for
    ``away_s`` (noted in ``cuts``)."""

    def progress(sid, done, total):
        if done >= 256 and not cuts:
            cuts.append(done)
            asyncio.get_running_loop().create_task(per.drop_connection(away_s=away_s))

    return progress


def test_download_cut_in_the_middle_is_resumed(tmp_path):
    async def main():
        rig = LoggingRig.create(("left_foot",), signal_duration_s=20, signal_rate_hz=416)
        async with rig.running(speed=10) as r:
            state = await _armed_left_foot(r, tmp_path)
            per = r.peripherals["left_foot"]
            cuts: list = []
            progress = _away_after_first_chunk(per, cuts, 0.5)  # the sensor walks away
            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                progress=progress, write=write_recording,
            )  # fmt: skip
            assert cuts and summary.reconnects["left_foot"] >= 1
            _check_against_truth(r, state, tmp_path / "run.h5", tol_s=0.005)
            assert per.flash.used_bytes == 0  # erased after the file was written
            assert not (tmp_path / "armed.json.journal").exists()

    asyncio.run(main())


def test_download_resumed_by_a_second_run_without_duplicates(tmp_path):
    async def main():
        rig = LoggingRig.create(("right_foot",), signal_duration_s=20, signal_rate_hz=416)
        async with rig.running(speed=10) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            r.advance(90.0)
            per = r.peripherals["right_foot"]

            def progress(sid, done, total):
                if done >= 256 and per.connection is not None:
                    asyncio.get_running_loop().create_task(per.drop_connection(away_s=30.0))

            with pytest.raises(DeviceError, match="run `runform sensors download` again"):
                await download_sensors(
                    state, tmp_path / "run.h5", connect=r.connector(),
                    host_clock=r.host_clock, retries=0, progress=progress, write=write_recording,
                )  # fmt: skip
            assert not (tmp_path / "run.h5").exists()
            assert per.flash.used_bytes > 0  # nothing erased
            r.advance(31.0)
            again = ArmState.load(tmp_path / "armed.json")  # a new process reads the state
            summary = await download_sensors(
                again,
                tmp_path / "run.h5",
                connect=r.connector(),
                host_clock=r.host_clock,
                write=write_recording,
            )
            assert summary.duplicates["right_foot"] >= 0
            _check_against_truth(r, again, tmp_path / "run.h5", tol_s=0.005)

    asyncio.run(main())


@pytest.mark.parametrize("wrap", [False, True])
def test_full_flash_stops_or_wraps_and_is_reported(tmp_path, wrap):
    async def main():
        rig = LoggingRig.create(
            ("pelvis",), signal_duration_s=20, signal_rate_hz=416, flash_bytes=64 * 1024
        )  # 256 records = 4864 samples = 46.8 s at 104 Hz
        async with rig.running(speed=10) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                connect=r.connector(), host_clock=r.host_clock, wrap=wrap,
            )  # fmt: skip
            r.advance(80.0)
            st = (await sensors_status(state, connect=r.connector()))["pelvis"]
            assert st.full and st.used_bytes == st.capacity_bytes == 64 * 1024
            assert st.logging == wrap and (st.overwritten > 0) == wrap
            summary = await download_sensors(
                state,
                tmp_path / "run.h5",
                connect=r.connector(),
                host_clock=r.host_clock,
                write=write_recording,
            )
            assert summary.full["pelvis"]
            assert summary.samples["pelvis"] == 256 * 19 or wrap  # stop: exactly what fits
            errs = _check_against_truth(
                r, state, tmp_path / "run.h5", 0.005, summary.overwritten["pelvis"]
            )
            with open_recording(tmp_path / "run.h5") as rec:
                gaps = rec.gaps("pelvis")
                b = rec.read("pelvis")
            assert len(gaps) == 1
            if wrap:  # data lost at the start: the gap runs from arming to the first sample
                assert summary.overwritten["pelvis"] > 0
                assert gaps[0][1] == pytest.approx(b.t[0]) and gaps[0][0] < b.t[0] - 20
            else:  # logging stopped when full: the gap runs from the last sample to the stop
                assert gaps[0][0] == pytest.approx(b.t[-1]) and gaps[0][1] > b.t[-1] + 20
            assert len(errs["pelvis"])

    asyncio.run(main())


def _drift_case(tmp_path, run_s: float, drift_ppm: float):
    async def main():
        rig = LoggingRig.create(
            ("left_foot", "right_foot"),
            signal_duration_s=20,
            signal_rate_hz=416,
            drift_ppm={"left_foot": drift_ppm, "right_foot": -drift_ppm},
            flash_bytes=16 * 1024 * 1024,
        )
        async with rig.running(speed=4) as r:  # slow link: precise clock reads
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            for per in r.peripherals.values():
                per.log_records_per_event = 64  # keep the download short in wall time
            r.advance(run_s)
            summary = await download_sensors(
                state,
                tmp_path / "run.h5",
                connect=r.connector(),
                host_clock=r.host_clock,
                write=write_recording,
            )
            errs = _check_against_truth(r, state, tmp_path / "run.h5", tol_s=0.005)
            diverged = 2 * drift_ppm * 1e-6 * run_s
            return summary, errs, diverged

    return asyncio.run(main())


def test_clocks_drifting_apart_are_aligned_after_download(tmp_path):
    # ±240 ppm over 10 min: the clocks drift 288 ms apart, as ±40 ppm do in an hour
    summary, errs, diverged = _drift_case(tmp_path, 600.0, 240.0)
    assert diverged > 0.25
    assert summary.drift_ppm["left_foot"] == pytest.approx(240.0, abs=10.0)
    assert summary.drift_ppm["right_foot"] == pytest.approx(-240.0, abs=10.0)
    # the two feet agree with each other within 5 ms at the end of the run too
    tail = [e[-1000:] for e in errs.values()]
    assert abs(float(np.median(tail[0]) - np.median(tail[1]))) < 0.005


@pytest.mark.slow
def test_clocks_drifting_apart_over_an_hour(tmp_path):
    _summary, errs, diverged = _drift_case(tmp_path, 3600.0, 40.0)
    assert diverged > 0.25
    for sid, e in errs.items():
        assert np.abs(e).max() < 0.005, sid


def test_metawear_logging_cut_resumed_and_aligned(tmp_path):
    """A MetaMotion logging beside a DIY clip: its readout is cut in the middle and resumed
    (the board restarts the readout; entries already journalled are dropped), and both land
    on one time base within 5 ms of the truth."""

    async def main():
        rig = LoggingRig.create(
            ("left_foot", "pelvis"),
            models={"left_foot": "metawear"},
            signal_duration_s=20,
            signal_rate_hz=416,
            drift_ppm={"left_foot": 150.0, "pelvis": -150.0},
        )
        async with rig.running(speed=5) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=100),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            assert state.sensors["left_foot"].device_model == "metawear"
            assert state.sensors["left_foot"].config.extra["acc_ids"] == [0, 1]
            r.advance(60.0)
            mw = r.peripherals["left_foot"]
            mw.log_packets_per_event = 12
            st = (await sensors_status(state, connect=r.connector()))["left_foot"]
            assert st.logging and st.records > 4 * 100 * 55  # four entries per sample
            cut = []

            def progress(sid, done, total):
                if sid == "left_foot" and done > total // 3 and not cut:
                    cut.append(done)
                    asyncio.get_running_loop().create_task(mw.drop_connection(away_s=0.3))

            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                progress=progress, write=write_recording,
            )  # fmt: skip
            assert cut and summary.reconnects["left_foot"] >= 1
            assert summary.duplicates["left_foot"] > 0  # the restarted readout repeated entries
            errs = _check_against_truth(r, state, tmp_path / "run.h5", tol_s=0.005)
            assert summary.gaps == {"left_foot": 0, "pelvis": 0}
            assert len(mw.flash.records) == 0  # erased after the file was written
            return errs

    errs = asyncio.run(main())
    assert abs(float(np.median(errs["left_foot"]) - np.median(errs["pelvis"]))) < 0.005


@pytest.mark.parametrize("wrap", [False, True])
def test_metawear_full_log(tmp_path, wrap):
    async def main():
        rig = LoggingRig.create(
            ("right_foot",), models={"right_foot": "metawear"}, signal_duration_s=20,
            signal_rate_hz=416, flash_bytes=9 * 4 * 100 * 30,  # 30 s at 100 Hz
        )  # fmt: skip
        async with rig.running(speed=5) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=100),
                connect=r.connector(), host_clock=r.host_clock, wrap=wrap,
            )  # fmt: skip
            r.advance(60.0)
            summary = await download_sensors(
                state,
                tmp_path / "run.h5",
                connect=r.connector(),
                host_clock=r.host_clock,
                write=write_recording,
            )
            assert summary.full["right_foot"]
            assert 2990 <= summary.samples["right_foot"] <= 3000
            _check_against_truth(r, state, tmp_path / "run.h5", tol_s=0.005)
            with open_recording(tmp_path / "run.h5") as rec:
                (gap,) = rec.gaps("right_foot")
                t0, t1 = rec.time_range("right_foot")
            if wrap:  # the newest 30 s are kept: the start is lost
                assert gap[1] == pytest.approx(t0) and t0 - gap[0] > 25
            else:  # the board stopped adding entries when full: the end is lost
                assert gap[0] == pytest.approx(t1) and gap[1] - t1 > 25

    asyncio.run(main())


def test_metamotion_s_last_page_flushed(tmp_path):
    """A MetaMotion S keeps entries in a RAM page of 512 until full: the driver flushes the
    last, partial page (PAGE_FLUSH, logging module revision 3) before downloading."""

    async def main():
        rig = LoggingRig.create(
            ("pelvis",), models={"pelvis": "metawear-s"}, signal_duration_s=20, signal_rate_hz=416
        )
        async with rig.running(speed=5) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=50),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            assert state.sensors["pelvis"].config.extra["revision"] == 3
            r.advance(20.3)
            per = r.peripherals["pelvis"]
            per.fill_log()
            assert per._page_buf  # a partial page waits in RAM
            summary = await download_sensors(
                state,
                tmp_path / "run.h5",
                connect=r.connector(),
                host_clock=r.host_clock,
                write=write_recording,
            )
            assert (bytes([0x0B, 0x10, 0x01])) in per.commands
            _check_against_truth(r, state, tmp_path / "run.h5", tol_s=0.005)
            assert summary.samples["pelvis"] == len(per.log_truth()[0])
            assert summary.reconnects["pelvis"] == 0, summary

    asyncio.run(main())


def test_arm_refuses_what_cannot_log_in_one_line(tmp_path):
    """A Movesense (standard GATT firmware: no logging over GATT) and an absent sensor: one
    clear DeviceError each, nothing half-armed left unreported."""
    from firmware_bridge.emulator.movesense import EmulatedMovesense

    async def main():
        rig = LoggingRig.create(("left_foot",), signal_duration_s=10, signal_rate_hz=416)
        async with rig.running(speed=5) as r:
            ms = EmulatedMovesense(r.link, signal=r.peripherals["left_foot"].signal)
            await ms.start()
            try:
                with pytest.raises(DeviceError, match="movesense: cannot log on the sensor"):
                    await arm_sensors(
                        {"left_foot": r.addresses()["left_foot"], "pelvis": ms.address},
                        tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                        connect=r.connector(), host_clock=r.host_clock,
                    )  # fmt: skip
                # the clip armed before the refusal is in the state file, to be downloaded
                assert list(ArmState.load(tmp_path / "armed.json").sensors) == ["left_foot"]
                with pytest.raises(DeviceError, match="not downloaded yet"):
                    await arm_sensors(
                        {"left_foot": r.addresses()["left_foot"]}, tmp_path / "armed.json",
                        settings=StreamSettings(), connect=r.connector(), host_clock=r.host_clock,
                    )  # fmt: skip
                with pytest.raises(DeviceError, match=r"right_foot \(C0:52:4C:00:00:77\): could"):
                    await arm_sensors(
                        {"right_foot": "C0:52:4C:00:00:77"}, tmp_path / "other.json",
                        settings=StreamSettings(), connect=r.connector(), host_clock=r.host_clock,
                    )  # fmt: skip
            finally:
                await ms.close()

    asyncio.run(main())


def test_erase_failure_keeps_the_written_file(tmp_path):
    """A sensor out of reach when its log is to be erased: the recording stays as written,
    and the next `download` only erases (it must not rewrite the file from partial journals)."""

    async def main():
        rig = LoggingRig.create(
            ("left_foot", "right_foot"), signal_duration_s=10, signal_rate_hz=416
        )
        async with rig.running(speed=10) as r:
            state = await arm_sensors(
                r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
                connect=r.connector(), host_clock=r.host_clock,
            )  # fmt: skip
            r.advance(30.0)
            rf = r.peripherals["right_foot"]

            def write_then_lose_right_foot(out, infos, blocks, notes, start_utc):
                write_recording(out, infos, blocks, notes, start_utc)
                r.link.set_advertising(rf.address, False)  # the sensor went out of range

            await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                write=write_then_lose_right_foot,
            )  # fmt: skip
            again = ArmState.load(tmp_path / "armed.json")
            assert again.written_to == str(tmp_path / "run.h5")
            assert (
                again.sensors["left_foot"].downloaded and not again.sensors["right_foot"].downloaded
            )
            assert len(rf.flash.records) > 0  # not erased
            before = (tmp_path / "run.h5").read_bytes()
            r.link.set_advertising(rf.address, True)  # back in range

            def must_not_write(*_a):
                raise AssertionError("the recording must not be written again")

            await download_sensors(
                again, tmp_path / "other.h5", connect=r.connector(), host_clock=r.host_clock,
                write=must_not_write,
            )  # fmt: skip
            assert len(rf.flash.records) == 0
            assert (tmp_path / "run.h5").read_bytes() == before
            _check_against_truth(r, again, tmp_path / "run.h5", tol_s=0.005)

    asyncio.run(main())


def test_arm_without_bluetooth_says_so(tmp_path):
    # before: 'left_foot (C0:...): could not arm (FileNotFoundError: [Errno 2] No such file or
    # directory); armed so far: none (...)', where record and live say Bluetooth is missing
    import contextlib

    from firmware_bridge.sensorlog.session import arm_sensors

    @contextlib.asynccontextmanager
    async def connect(address):
        raise FileNotFoundError(2, "No such file or directory")
        yield  # pragma: no cover

    with pytest.raises(DeviceError, match=r"Bluetooth is not available on this machine"):
        asyncio.run(
            arm_sensors(
                {"left_foot": "C0:52:46:00:00:01"},
                tmp_path / "armed.json",
                settings=StreamSettings(),
                connect=connect,
            )
        )


def test_a_sensor_lost_during_its_download_is_named_with_without(tmp_path, caplog):
    """A sensor that drops out in the middle of its download and never comes back (battery
    dead): the retries went on with 'download interrupted ... resuming' and only the final
    error named --without. After its first failed reconnection a warning names it while the
    retries go on; the packets it sent are kept in its journal."""
    import logging

    async def main():
        rig = LoggingRig.create(("left_foot",), signal_duration_s=20, signal_rate_hz=416)
        async with rig.running(speed=10) as r:
            state = await _armed_left_foot(r, tmp_path)
            per = r.peripherals["left_foot"]
            cuts: list = []
            progress = _away_after_first_chunk(per, cuts, 1e9)  # gone for good
            with pytest.raises(DeviceError) as err:
                await download_sensors(
                    state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                    progress=progress, write=write_recording, retries=3,
                )  # fmt: skip
            return cuts, str(err.value), len(state.journal("left_foot"))

    with caplog.at_level(logging.WARNING, logger="firmware_bridge.sensorlog.session"):
        cuts, err, kept = asyncio.run(main())
    assert cuts and kept >= 1
    told = [r.getMessage() for r in caplog.records if "--without left_foot" in r.getMessage()]
    assert len(told) == 1 and "still trying" in told[0], [r.getMessage() for r in caplog.records]
    assert "--without left_foot" in err and "interrupted" in err, err
    assert not (tmp_path / "run.h5").exists()


def test_download_and_status_without_bluetooth_say_so_at_once(tmp_path):
    """No adapter or no BlueZ: status printed 'left_foot: unreachable: left_foot (C0:...):
    FileNotFoundError: [Errno 2] No such file or directory' for each sensor, and download
    tried every sensor 7 times (a minute and more) and then advised --without left_foot, as if
    that sensor were lost. Both now say in one line that Bluetooth is missing, at once, and
    the arm state is left as it was."""
    import contextlib
    import time

    @contextlib.asynccontextmanager
    async def no_bt(address):
        raise FileNotFoundError(2, "No such file or directory")
        yield  # pragma: no cover

    async def main():
        rig = LoggingRig.create(("left_foot", "pelvis"), signal_duration_s=20)
        async with rig.running(speed=10) as r:
            return await arm_sensors(
                r.addresses(),
                tmp_path / "armed.json",
                settings=StreamSettings(rate_hz=208),
                connect=r.connector(),
                host_clock=r.host_clock,
            )

    state = asyncio.run(main())
    before = (tmp_path / "armed.json").read_text()
    with pytest.raises(DeviceError, match=r"Bluetooth is not available on this machine"):
        asyncio.run(sensors_status(state, connect=no_bt))
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=r"Bluetooth is not available on this machine") as e:
        asyncio.run(
            download_sensors(state, tmp_path / "run.h5", connect=no_bt, write=write_recording)
        )
    assert time.monotonic() - t0 < 2.0  # no retries
    assert "--without" not in str(e.value) and "\n" not in str(e.value)
    assert (tmp_path / "armed.json").read_text() == before
