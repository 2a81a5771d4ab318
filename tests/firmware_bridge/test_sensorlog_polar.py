"""Polar Verity Sense offline recording: PFTP framing and offline files (pure, byte vectors,
fuzzed) and the whole path on bleak's real client over bumble's virtual controllers (arm,
status, download cut and resumed, full memory, erase, other apps' files left alone)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.devices import StreamSettings
from firmware_bridge.devices import polar as pl
from firmware_bridge.devices.base import DecodeError
from firmware_bridge.emulator.logging_rig import LoggingRig
from firmware_bridge.errors import DeviceError
from firmware_bridge.sensorlog import capacity_bytes_per_second, log_driver, pftp
from firmware_bridge.sensorlog import polar as plog
from firmware_bridge.sensorlog.base import LogConfig
from firmware_bridge.sensorlog.session import (
    ArmState,
    arm_sensors,
    download_sensors,
    sensors_status,
)
from recordings import open_recording
from runform.commands.sensors import write_recording

CONFIG = LogConfig(rate_hz=52.0, acc_range_g=8.0, gyr_range_dps=2000.0)


# --- PFTP: byte vectors -----------------------------------------------------------------------
def test_rfc60_request_and_query_vectors():
    # PbPFtpOperation{command: GET (0), path: "/U/0/"}: field 1 varint 0, field 2 "/U/0/"
    op = pftp.encode_operation(pftp.GET, "/U/0/")
    assert op == bytes.fromhex("0800") + bytes.fromhex("1205") + b"/U/0/"
    assert pftp.request_message(op) == bytes([9, 0]) + op
    assert pftp.decode_operation(op) == (pftp.GET, "/U/0/")
    # a query: id | 0x8000, little endian (GET_LOCAL_TIME = 4, GET_DISK_SPACE = 5)
    assert pftp.query_message(4) == bytes.fromhex("0480")
    assert pftp.parse_host_message(bytes.fromhex("0580")) == ("query", 5, b"", b"")
    assert pftp.parse_host_message(pftp.request_message(op))[2] == op


def test_rfc76_frame_headers():
    # 12 bytes in frames of 5 (4 data bytes each): MORE (0x06) first, then next bit and the
    # sequence number in the high nibble; LAST = 0x02
    f = pftp.split_frames(bytes(range(12)), 5)
    assert [x[0] for x in f] == [0x06, 0x17, 0x23]
    assert b"".join(x[1:] for x in f) == bytes(range(12))
    r = pftp.ResponseReader()
    assert [r.feed(x) for x in f] == [False, False, True] and r.data == bytes(range(12))
    # one frame with everything: LAST, next 0, sequence 0
    assert pftp.split_frames(b"ab", 20) == [b"\x02ab"]
    # an empty answer is one LAST frame; a response without data carries an error code
    assert pftp.split_frames(b"", 20) == [b"\x02"]
    assert pftp.error_frame(103) == bytes.fromhex("006700")


def test_rfc76_sequence_wraps_after_15():
    msg = bytes(range(200))
    frames = pftp.split_frames(msg, 10)
    assert len(frames) == 23 and (frames[16][0] >> 4) == 0
    r = pftp.ResponseReader()
    done = [r.feed(x) for x in frames]
    assert done[-1] and not any(done[:-1]) and r.data == msg


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([pftp.error_frame(103)], 103),  # NO_SUCH_FILE_OR_DIRECTORY
        ([b"\x06ab", b"\x27cd"], 303),  # sequence 2 after 0: a frame lost
        ([b"\x06ab", b"\x12cd"], 200),  # a first frame (next 0) in the middle
        ([b"\x04ab"], 200),  # status 2 is undefined
    ],
)
def test_rfc76_errors_name_the_problem(frames, code):
    r = pftp.ResponseReader("polar AA: GET /U/0/")
    with pytest.raises(pftp.PftpError) as e:
        for f in frames:
            r.feed(f)
    assert e.value.code == code and "polar AA: GET /U/0/" in str(e.value)
    assert "\n" not in str(e.value)


def test_directory_disk_space_and_time_messages():
    d = pftp.encode_directory([("20240607/", 0), ("ACC.REC", 70000)])
    # entry 1: field 1 (len 13) { name "20240607/", size 0 }
    assert d[:4] == bytes.fromhex("0a0d0a09")
    assert pftp.decode_directory(d) == [("20240607/", 0), ("ACC.REC", 70000)]
    assert pftp.decode_disk_space(pftp.encode_disk_space(4096, 1000, 250)) == (
        4096000,
        1024000,
    )
    t = 12 * 86400 + 3723.456  # 2000-01-13 01:02:03.456
    raw = pftp.encode_local_time(t)
    # date {2000, 1, 13}: 0a 07 08 d0 0f 10 01 18 0d
    assert raw[:10] == bytes.fromhex("0a0708d00f1001180d12")
    assert pftp.decode_local_time(raw) == pytest.approx(t, abs=1e-9)


@pytest.mark.parametrize(
    ("fn", "raw", "what"),
    [
        (pftp.decode_directory, b"\x0a\x05\x0a\x03ab", "PFTP directory"),
        (pftp.decode_local_time, b"\x0a\x02\x08\x01", "PFTP local time"),
        (pftp.decode_disk_space, b"\x08\x01\x10\x01\x18\x05", "PFTP disk space"),
        (pftp.decode_directory, b"\x0f", "wire type 7"),
        (pftp.parse_frame, b"", "RFC76"),
    ],
)
def test_bad_pftp_messages_name_what(fn, raw, what):
    with pytest.raises(DecodeError, match=what):
        fn(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_pftp_decoders_raise_only_decode_error(raw):
    for fn in (
        pftp.decode_directory,
        pftp.decode_disk_space,
        pftp.decode_local_time,
        pftp.decode_operation,
        pftp.parse_frame,
        pftp.parse_host_message,
    ):
        try:
            fn(raw)
        except DecodeError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=30), max_size=8))
def test_fuzz_response_reader(frames):
    r = pftp.ResponseReader()
    try:
        for f in frames:
            if r.feed(f):
                break
    except pftp.PftpError as exc:  # the only error a frame sequence may raise
        assert "\n" not in str(exc) and exc.code >= 0


# --- offline files ----------------------------------------------------------------------------
def _acc_file(t0_ns=700_000_000_000_000_000, n_frames=3, per=20, rate=52.0, start_k=0):
    factor = float(np.float32(8000.0 / 32768.0))
    frames = []
    k = start_k
    for _ in range(n_frames):
        raw = np.stack([np.arange(k, k + per)] * 3, axis=1) * np.array([1, -2, 3])
        ts = t0_ns + round((k + per - 1) * 1e9 / rate)
        frames.append(pl.encode_data_frame(2, ts, 0x81, pl.encode_delta_frame(raw)))
        k += per
    settings_ = {0: 52, 1: 16, 2: 8, 4: 3, 5: factor}
    return plog.encode_offline_file("2022-03-04 05:06:07", settings_, frames), factor


def test_offline_file_vector_and_samples():
    data, factor = _acc_file()
    # strategy 0, magic 0x3D7C4C2B little endian, version 1
    assert data[:9] == bytes.fromhex("002b4c7c3d01000000")
    f = plog.parse_offline_file(data, "ACC.REC")
    assert f.start_time == "2022-03-04 05:06:07" and len(f.frames) == 3 and not f.truncated
    assert f.settings[0] == [52.0] and f.settings[5][0] == pytest.approx(factor)
    t, v, bad = plog.file_samples([("ACC.REC", data)], 2, 52.0)
    assert bad == 0 and len(t) == 60
    assert np.allclose(np.diff(t), 1 / 52.0, atol=1e-9)
    assert v[5, 1] == pytest.approx(-2 * 5 * factor / 1000 * 9.80665)


def test_split_files_continue_the_timestamps():
    a, _ = _acc_file(n_frames=2, start_k=0)
    b, _ = _acc_file(n_frames=2, start_k=40)
    t, _v, _bad = plog.file_samples([("ACC0.REC", a), ("ACC1.REC", b)], 2, 52.0)
    assert len(t) == 80 and np.allclose(np.diff(t), 1 / 52.0, atol=1e-9)


@pytest.mark.parametrize(
    ("mutate", "what"),
    [
        (lambda d: b"", "empty file"),
        (lambda d: b"\x01" + d[1:], "encrypted"),
        (lambda d: d[:1] + b"\0\0\0\0" + d[5:], "magic"),
        (lambda d: d[:30], "meta data"),
    ],
)
def test_bad_offline_files_name_the_file(mutate, what):
    data, _ = _acc_file()
    with pytest.raises(DecodeError, match=f"GYRO0.REC: .*{what}"):
        plog.parse_offline_file(mutate(data), "GYRO0.REC")


def test_truncated_file_keeps_whole_frames():
    data, _ = _acc_file()
    f = plog.parse_offline_file(data[:-5], "ACC.REC")
    assert f.truncated and len(f.frames) == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 199))
def test_fuzz_offline_file(raw, cut):
    data, _ = _acc_file()
    for blob in (raw, data[:cut] + raw, data[: len(data) - cut % 40] + raw[:5]):
        try:
            plog.file_samples([("ACC.REC", blob)], 2, 52.0)
        except DecodeError as exc:
            assert str(exc).startswith("ACC.REC: ") and "\n" not in str(exc)


# --- journal ----------------------------------------------------------------------------------
def _journal(acc: bytes, gyr: bytes, cut_first: bool = False) -> list[bytes]:
    files = [
        ("/U/0/20220304/R/050607/ACC.REC", len(acc)),
        ("/U/0/20220304/R/050607/GYRO.REC", len(gyr)),
    ]
    out = [*plog.dir_records(files)]
    for idx, data in enumerate((acc, gyr)):
        attempts = [0, 1] if cut_first and idx == 0 else [0]
        for att in attempts:
            whole = att == attempts[-1]
            end = len(data) if whole else len(data) // 2
            for off in range(0, end, 50):
                out.append(plog.chunk_record(idx, att, off, data[off : min(off + 50, end)]))
            if whole:
                out.append(plog.done_record(idx, att, data))
    return out


def _gyr_file(n=60):
    factor = float(np.float32(2000 / 32768))
    frames = []
    for k in range(0, n, 20):
        raw = np.stack([np.arange(k, k + 20)] * 3, axis=1)
        ts = 700_000_000_000_000_000 + round((k + 19) * 1e9 / 52.0)
        frames.append(pl.encode_data_frame(5, ts, 0x80, pl.encode_delta_frame(raw)))
    return plog.encode_offline_file("2022-03-04 05:06:07", {0: 52, 5: factor}, frames)


def test_journal_cut_attempt_is_dropped_not_doubled():
    acc, _ = _acc_file()
    gyr = _gyr_file()
    s1 = plog.decode_log(_journal(acc, gyr), CONFIG)
    s2 = plog.decode_log(_journal(acc, gyr, cut_first=True), CONFIG)
    assert len(s1) == len(s2) == 60 and s2.duplicates > 0 and s1.duplicates == 0
    assert np.array_equal(s1.acc, s2.acc) and np.array_equal(s1.gyr, s2.gyr)
    assert np.array_equal(s1.seq, np.arange(60))
    # a damaged copy (CRC mismatch) does not count as the file
    bad = _journal(acc, gyr)
    bad[1] = bad[1][:-1] + bytes([bad[1][-1] ^ 0xFF])
    assert len(plog.decode_log(bad, CONFIG)) == 0


def test_long_file_list_spans_records_and_counts_only_when_whole():
    files = [(f"/U/0/20220304/R/050607/ACC{k}.REC", 1000 + k) for k in range(2000)]
    recs = plog.dir_records(files)
    assert len(recs) > 3 and all(len(r) < 65535 for r in recs)
    assert plog.decode_journal(recs).files == files
    assert plog.decode_journal(recs[:-1]).files == []  # killed while writing the list


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=10))
def test_fuzz_journal(packets):
    acc, _ = _acc_file()
    for ps in (packets, _journal(acc, _gyr_file())[:3] + packets):
        out = plog.decode_log(ps, CONFIG)
        assert len(out.acc) == len(out.gyr) == len(out)


# --- end to end on the bumble link ------------------------------------------------------------
def _check(rig, state, path, tol_s):
    t_ref = min(s.arm_sync.host_s for s in state.sensors.values())
    errs = {}
    with open_recording(path) as rec:
        for sid, per in rig.peripherals.items():
            b = rec.read(sid)
            _tau, t_true = per.log_truth()
            assert len(b.t) == len(t_true), f"{sid}: {len(b.t)} samples, logged {len(t_true)}"
            assert np.all(np.diff(b.t) > 0)
            err = (b.t + t_ref - rig.host_epoch) - t_true
            assert np.abs(err).max() < tol_s, f"{sid}: max error {np.abs(err).max() * 1e3:.2f} ms"
            errs[sid] = err
    return errs


def _arm(r, tmp_path, **kw):
    return arm_sensors(
        r.addresses(), tmp_path / "armed.json", settings=StreamSettings(rate_hz=104),
        connect=r.connector(), host_clock=r.host_clock, **kw,
    )  # fmt: skip


def test_polar_offline_recording_cut_resumed_and_aligned(tmp_path):
    """A Verity Sense beside a DIY clip: files split, the download cut in the middle of a file
    and resumed, other apps' recordings left alone, both sensors on one time base."""

    async def main():
        rig = LoggingRig.create(
            ("left_foot", "pelvis"),
            models={"left_foot": "polar"},
            signal_duration_s=20,
            signal_rate_hz=416,
            drift_ppm={"left_foot": 120.0, "pelvis": -80.0},
            polar_options={"split_bytes": 16 * 1024},
        )
        async with rig.running(speed=10) as r:
            vs = r.peripherals["left_foot"]
            other = "/U/0/20200101/R/101010/PPG.REC"
            vs.files[other] = bytearray(b"someone else's")
            vs.files["/U/0/20200101/DSUM/DSUM.BPB"] = bytearray(b"daily summary")  # not walked
            state = await _arm(r, tmp_path)
            s = state.sensors["left_foot"]
            assert s.device_model == "polar-verity-sense" and s.config.rate_hz == 52.0
            assert s.config.extra["before"] == [other]
            # arming set the sensor's clock to UTC (s since 2000-01-01) from the host's
            utc_2000 = time.time() - 946_684_800
            assert abs(float(vs.local_time_s()) - utc_2000) < 60
            r.advance(120.0)
            st_ = (await sensors_status(state, connect=r.connector()))["left_foot"]
            assert st_.logging and not st_.full and st_.records >= 3
            # whole 512-byte fragments, read a few frames before now (the sensor goes on recording)
            assert st_.capacity_bytes == vs.disk_bytes
            assert st_.used_bytes - 512 < vs.used_bytes < st_.used_bytes + 4096
            seen = []
            vs.fill_log()
            ours = vs.used_bytes - len(vs.files[other]) - 13
            vs.cut_after_bytes = ours // 2 + 3000  # inside a file, not at its end

            def progress(sid, done, total):
                seen.append((sid, done, total))

            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                progress=progress, write=write_recording,
            )  # fmt: skip
            assert summary.reconnects["left_foot"] >= 1 and vs.cut_after_bytes is None
            left = [(d, t) for sid, d, t in seen if sid == "left_foot"]
            assert left[-1][0] == left[-1][1] >= ours  # progress ends at 100 %
            assert summary.duplicates["left_foot"] > 0  # the cut file's first copy, dropped
            errs = _check(r, state, tmp_path / "run.h5", tol_s=0.005)
            assert summary.gaps["left_foot"] == 0 and summary.samples["left_foot"] > 52 * 115
            assert sorted(vs.files) == ["/U/0/20200101/DSUM/DSUM.BPB", other]  # ours erased
            return errs

    errs = asyncio.run(main())
    assert abs(float(np.median(errs["left_foot"]) - np.median(errs["pelvis"]))) < 0.005


def test_polar_download_resumed_by_a_second_run(tmp_path):
    async def main():
        rig = LoggingRig.create(
            ("right_foot",), models={"right_foot": "polar"}, signal_duration_s=20,
            signal_rate_hz=416, polar_options={"split_bytes": 6 * 1024},
        )  # fmt: skip
        async with rig.running(speed=10) as r:
            state = await _arm(r, tmp_path)
            r.advance(90.0)
            vs = r.peripherals["right_foot"]

            def progress(sid, done, total):
                if done > total // 3 and vs.connection is not None:
                    asyncio.get_running_loop().create_task(vs.drop_connection(away_s=30.0))

            with pytest.raises(DeviceError, match="run `runform sensors download` again"):
                await download_sensors(
                    state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                    retries=0, progress=progress, write=write_recording,
                )  # fmt: skip
            assert not (tmp_path / "run.h5").exists() and vs.removed == []
            r.advance(31.0)
            again = ArmState.load(tmp_path / "armed.json")  # a new process reads the state
            summary = await download_sensors(
                again, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                write=write_recording,
            )  # fmt: skip
            _check(r, again, tmp_path / "run.h5", tol_s=0.005)
            assert summary.samples["right_foot"] > 52 * 85

    asyncio.run(main())


def test_polar_memory_limit_stops_the_recording_and_is_reported(tmp_path):
    async def main():
        rig = LoggingRig.create(
            ("pelvis",), models={"pelvis": "polar"}, signal_duration_s=20, signal_rate_hz=416,
            polar_options={
                "disk_bytes": 160 * 1024, "start_limit_bytes": 100 * 1024,
                "stop_limit_bytes": 60 * 1024,
            },
        )  # fmt: skip
        async with rig.running(speed=10) as r:
            state = await _arm(r, tmp_path)
            r.advance(600.0)  # ~100 KiB fit: a few minutes at 52 Hz
            vs = r.peripherals["pelvis"]
            st_ = (await sensors_status(state, connect=r.connector()))["pelvis"]
            assert st_.full and not st_.logging and vs.free_bytes < 61 * 1024
            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                write=write_recording,
            )  # fmt: skip
            assert summary.full["pelvis"]
            _check(r, state, tmp_path / "run.h5", tol_s=0.005)
            with open_recording(tmp_path / "run.h5") as rec:
                gaps = rec.gaps("pelvis")
                b = rec.read("pelvis")
            assert len(gaps) == 1 and gaps[0][0] == pytest.approx(b.t[-1])
            assert gaps[0][1] > b.t[-1] + 100  # the stop came long after the memory filled

    asyncio.run(main())


def test_polar_refusals_are_one_line(tmp_path):
    async def main():
        rig = LoggingRig.create(
            ("left_foot",), models={"left_foot": "polar"}, signal_duration_s=10,
            polar_options={"disk_bytes": 3 * 1024 * 1024},
        )  # fmt: skip
        async with rig.running(speed=10) as r:
            with pytest.raises(DeviceError, match="cannot overwrite") as e:
                await _arm(r, tmp_path, wrap=True)
            assert "\n" not in str(e.value)
            vs = r.peripherals["left_foot"]
            vs.own_recording_mode = True
            with pytest.raises(DeviceError, match=r"SYSTEM_BUSY.*sensor mode") as e:
                await _arm(r, tmp_path)
            assert "\n" not in str(e.value) and not vs.rec
            vs.own_recording_mode = False
            vs.files["/U/0/20200101/R/101010/ACC.REC"] = bytearray(2 * 1024 * 1024)
            with pytest.raises(DeviceError, match="memory full") as e:
                await _arm(r, tmp_path)
            assert "\n" not in str(e.value) and not vs.rec  # nothing left recording
            del vs.files["/U/0/20200101/R/101010/ACC.REC"]
            state = await _arm(r, tmp_path)
            r.advance(30.0)
            vs.own_recording_mode = True  # the runner pressed its button: recording mode
            with pytest.raises(DeviceError, match=r"SYSTEM_BUSY.*sensor mode") as e:
                await download_sensors(
                    state, tmp_path / "run.h5", connect=r.connector(),
                    host_clock=r.host_clock, write=write_recording,
                )  # fmt: skip
            assert "\n" not in str(e.value) and not (tmp_path / "run.h5").exists()
            vs.own_recording_mode = False  # back in sensor mode: the download completes
            await download_sensors(
                ArmState.load(tmp_path / "armed.json"), tmp_path / "run.h5",
                connect=r.connector(), host_clock=r.host_clock, write=write_recording,
            )  # fmt: skip
            _check(r, state, tmp_path / "run.h5", tol_s=0.005)

    asyncio.run(main())


def test_polar_is_a_logging_family_with_a_capacity_estimate():
    assert isinstance(log_driver("polar-verity-sense"), plog.PolarLogDriver)
    # Polar's documented 968 kB/h for ACC at 50 Hz, doubled for GYRO, at 52 Hz: ~1.9 MB/h
    per_hour = capacity_bytes_per_second("polar-verity-sense", 52.0) * 3600
    assert per_hour == pytest.approx(2 * 968_000 * 52 / 50)


def _drift_case(tmp_path, run_s, drift_ppm):
    async def main():
        rig = LoggingRig.create(
            ("left_foot", "right_foot"), models={"left_foot": "polar"}, signal_duration_s=20,
            signal_rate_hz=416, drift_ppm={"left_foot": drift_ppm, "right_foot": -drift_ppm},
            flash_bytes=16 * 1024 * 1024,
        )  # fmt: skip
        async with rig.running(speed=4) as r:  # slow link: precise clock reads
            state = await _arm(r, tmp_path)
            r.peripherals["right_foot"].log_records_per_event = 64
            r.advance(run_s)
            summary = await download_sensors(
                state, tmp_path / "run.h5", connect=r.connector(), host_clock=r.host_clock,
                write=write_recording,
            )  # fmt: skip
            return summary, _check(r, state, tmp_path / "run.h5", tol_s=0.005)

    summary, errs = asyncio.run(main())
    assert summary.drift_ppm["left_foot"] == pytest.approx(drift_ppm, abs=10.0)
    tail = [e[-500:] for e in errs.values()]
    assert abs(float(np.median(tail[0]) - np.median(tail[1]))) < 0.005


def test_polar_and_clip_drifting_apart_are_aligned_after_download(tmp_path):
    # ±240 ppm over 10 min: 288 ms apart by the end, as ±40 ppm are after an hour
    _drift_case(tmp_path, 600.0, 240.0)


@pytest.mark.slow
def test_polar_and_clip_drifting_apart_over_an_hour(tmp_path):
    _drift_case(tmp_path, 3600.0, 40.0)
