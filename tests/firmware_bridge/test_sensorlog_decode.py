"""Pure parts of on-sensor logging: DIY log records (byte vectors, round trips, fuzzing), the
journal on disk, and the clock time base."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp.block import STANDARD_GRAVITY as G
from firmware_bridge.devices.base import DecodeError
from firmware_bridge.sensorlog import diy as dlog
from firmware_bridge.sensorlog.journal import Journal
from firmware_bridge.sensorlog.timebase import ClockMap, ClockRead, SyncPoint, best_read

# docs/protocol.md, "Logging to flash", example record: number 7, timestamp 2.000000 s,
# 104 Hz (rate code 0), ±16 g / ±2000 deg/s (ranges 0x43), 2 samples, flags 0x01 (first record)
VECTOR = bytes.fromhex(
    "07000000" "80841e0000000000" "00" "43" "02" "01"
    "000800000000" "0040004000c0"
    "00f8ff7f0000" "000000000080"
)  # fmt: skip


def test_record_byte_vector():
    r = dlog.decode_record(VECTOR)
    assert r.number == 7 and r.timestamp_us == 2_000_000 and r.rate_hz == 104.0
    assert (r.acc_range_g, r.gyr_range_dps, r.flags) == (16.0, 2000.0, dlog.REC_FIRST)
    assert r.counts.tolist() == [
        [2048, 0, 0, 16384, 16384, -16384],
        [-2048, 32767, 0, 0, 0, -32768],
    ]
    s = dlog.decode_records([VECTOR], 104.0)
    np.testing.assert_allclose(s.acc[0], [G, 0, 0])
    np.testing.assert_allclose(s.gyr[1], [0, 0, -2000.0])
    np.testing.assert_allclose(s.device_time_s, [2.0, 2.0 + 1 / 104])
    assert s.overwritten == 0 and s.duplicates == 0


def test_encode_matches_vector():
    counts = np.array([[2048, 0, 0, 16384, 16384, -16384], [-2048, 32767, 0, 0, 0, -32768]])
    assert dlog.encode_record(7, 2_000_000, counts, 104.0, 16.0, 2000.0, dlog.REC_FIRST) == VECTOR


def _records(n_rec: int, start: int = 0, rate: float = 208.0, t0_us: int = 10_000_000):
    rng = np.random.default_rng(1)
    out = []
    for k in range(start, start + n_rec):
        counts = rng.integers(-32768, 32767, size=(dlog.RECORD_SAMPLES, 6))
        ts = t0_us + round(k * dlog.RECORD_SAMPLES / rate * 1e6)
        out.append(dlog.encode_record(k, ts, counts, rate, 8.0, 1000.0, dlog.REC_FIRST * (k == 0)))
    return out


def test_duplicates_and_order_do_not_matter():
    recs = _records(20)
    once = dlog.decode_records(recs, 208.0)
    shuffled = recs[10:] + recs[:15] + recs[5:8]  # a resumed download: some records twice
    again = dlog.decode_records(shuffled, 208.0)
    np.testing.assert_array_equal(once.device_time_s, again.device_time_s)
    np.testing.assert_array_equal(once.acc, again.acc)
    assert again.duplicates == 8 and len(again) == 20 * dlog.RECORD_SAMPLES
    assert np.all(np.diff(again.seq.astype(np.int64)) == 1)


def test_overwritten_start_and_lost_record():
    recs = _records(30)
    wrapped = dlog.decode_records(recs[12:], 208.0)  # records 0-11 overwritten
    assert wrapped.overwritten == 12 * dlog.RECORD_SAMPLES
    holes = dlog.decode_records(recs[:5] + recs[6:], 208.0)  # record 5 missing
    jump = np.flatnonzero(np.diff(holes.seq.astype(np.int64)) > 1)
    assert len(jump) == 1 and holes.seq[jump[0] + 1] - holes.seq[jump[0]] == dlog.RECORD_SAMPLES + 1


@pytest.mark.parametrize(
    ("packet", "what"),
    [
        (b"", "expected at least"),
        (VECTOR[:-1], "bytes for 2 samples"),
        (VECTOR[:12] + b"\x09" + VECTOR[13:], "rate code"),
        (VECTOR[:13] + b"\x4f" + VECTOR[14:], "range byte"),
        (VECTOR[:14] + b"\x00" + VECTOR[15:], "1 <= N"),
    ],
)
def test_bad_records_name_the_problem(packet, what):
    with pytest.raises(DecodeError, match=what):
        dlog.decode_record(packet)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_record_raises_only_decode_error(raw):
    try:
        r = dlog.decode_record(raw)
    except DecodeError:
        return
    assert 1 <= r.counts.shape[0] <= dlog.RECORD_SAMPLES


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=260), st.sampled_from(_records(6))), max_size=12))
def test_fuzz_many_packets(packets):
    s = dlog.decode_records(packets, 208.0)  # never raises: bad packets are skipped
    assert np.all(np.diff(s.device_time_s) > 0)
    assert s.acc.shape == (len(s), 3) and np.isfinite(s.acc).all()


def test_journal_survives_a_torn_tail(tmp_path):
    j = Journal(tmp_path / "j.bin")
    for p in _records(3):
        j.append(p)
    j.close()
    with open(tmp_path / "j.bin", "ab") as fh:  # a kill in the middle of the next append
        fh.write(b"\xf4\x00\x07\x00")
    j2 = Journal(tmp_path / "j.bin")
    assert j2.resumed == 3 and j2.packets == _records(3)
    j2.append(_records(4)[3])
    j2.close()
    assert Journal(tmp_path / "j.bin").packets == _records(4)


def test_best_read_takes_the_shortest_round_trip():
    reads = [ClockRead(10.0, 10.050, 5.030), ClockRead(11.0, 11.004, 6.001), ClockRead(12, 11.9, 7)]
    p = best_read(reads)
    # the device read its clock as it handled the request: the send time is the estimate
    assert p.host_s == pytest.approx(11.0) and p.device_s == 6.001
    assert p.uncertainty_s == pytest.approx(0.004)
    with pytest.raises(ValueError, match="no usable"):
        best_read([])


def test_clock_map_recovers_drift_and_offset():
    drift = 37e-6
    dev = lambda h: 123.0 + (h - 1000.0) * (1 + drift)  # noqa: E731
    m = ClockMap.from_points(SyncPoint(1000.0, dev(1000.0), 0), SyncPoint(4600.0, dev(4600.0), 0))
    assert m.drift_ppm == pytest.approx(37.0, abs=1e-6)
    h = np.array([1500.0, 3000.0, 4500.0])
    np.testing.assert_allclose(m.to_host(dev(h)), h, atol=1e-9)
    with pytest.raises(ValueError, match="epochs"):
        ClockMap.from_points(SyncPoint(0, 0, 0, 0), SyncPoint(1, 1, 0, 1))
    with pytest.raises(ValueError, match="reset"):
        ClockMap.from_points(SyncPoint(0, 50, 0), SyncPoint(10, 3, 0))


# --- MetaWear log entries (byte vectors from MbientLab's MetaWear-SDK-Cpp test/test_logging.py)
from firmware_bridge.sensorlog import metawear as mlog  # noqa: E402
from firmware_bridge.sensorlog.base import LogConfig  # noqa: E402

MW_CONFIG = LogConfig(100.0, 8.0, 250.0, extra={"acc_ids": [0, 1], "gyr_ids": [2, 3]})


def test_metawear_sdk_vectors():
    # an unknown entry: id 1, reset uid 5, tick 0x4dcc, data 0x016c
    (e,) = mlog._entries(bytes.fromhex("0b07a1cc4d00006c010000"))
    assert e == (1, 5, 0x4DCC, bytes.fromhex("6c010000"))
    # an accelerometer sample as two entries whose ticks differ by one (x, y | z)
    pkt = bytes.fromhex("0b0720751b04003e01cd0121761b0400c0070000")
    (a, b) = mlog._entries(pkt)
    assert a[:3] == (0, 1, 0x41B75) and b[:3] == (1, 1, 0x41B76)
    gyr = mlog.readout_packet(
        [mlog.encode_entry(2, 1, 0x41B75, bytes(4)), mlog.encode_entry(3, 1, 0x41B75, bytes(4))]
    )
    s = mlog.decode_entries([pkt, gyr], MW_CONFIG)
    assert len(s) == 1 and s.epoch[0] == 1
    np.testing.assert_allclose(s.acc[0], np.array([0x013E, 0x01CD, 0x07C0]) / 4096 * G)
    assert s.device_time_s[0] == pytest.approx(0x41B75 * 48 / 32768)


def test_metawear_logger_commands_match_the_sdk():
    # TestLoggerSetup.test_accelerometer: loggers for bytes 0-3 and 4-5 of acc data 03 04
    specs = [((size - 1) << 5) | offset for offset, size in ((0, 4), (4, 2))]
    assert [bytes([0x0B, 0x02, 0x03, 0x04, 0xFF, sp]) for sp in specs] == [
        bytes.fromhex("0b020304ff60"),
        bytes.fromhex("0b020304ff24"),
    ]


def _mw_packets(n: int, start_tick: int = 1000, step: float = 6.826, reset: int = 0):
    rng = np.random.default_rng(3)
    ents = []
    for k in range(n):
        tk = start_tick + int(k * step)
        raw = rng.integers(-32768, 32767, size=6).astype("<i2").tobytes()
        ents += [
            mlog.encode_entry(0, reset, tk, raw[:4]),
            mlog.encode_entry(1, reset, tk + (k % 2), raw[4:6] + b"\0\0"),
            mlog.encode_entry(2, reset, tk, raw[:4]),
            mlog.encode_entry(3, reset, tk + 1, raw[4:6] + b"\0\0"),
        ]
    return [mlog.readout_packet(ents[i : i + 2]) for i in range(0, len(ents), 2)]


def test_metawear_repeats_dropped_and_times_smoothed():
    pk = _mw_packets(300)
    once = mlog.decode_entries(pk, MW_CONFIG)
    again = mlog.decode_entries(pk[100:] + pk[:250], MW_CONFIG)  # a resumed readout
    assert len(once) == len(again) == 300 and again.duplicates == 300
    np.testing.assert_array_equal(once.acc, again.acc)
    np.testing.assert_allclose(once.acc, once.gyr * mlog.mw.GYR_LSB_PER_DPS[250.0] / 4096 * G)
    # the line through the ticks: regular sample times, within half a tick of the stamps
    d = np.diff(once.device_time_s)
    assert np.ptp(d) < 1e-9
    stamps = (1000 + (np.arange(300) * 6.826).astype(int)) * mlog.TICK_S
    assert np.abs(once.device_time_s - stamps).max() < mlog.TICK_S


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=24), st.sampled_from(_mw_packets(4))), max_size=12))
def test_fuzz_metawear_packets(packets):
    s = mlog.decode_entries(packets, MW_CONFIG)
    assert np.all(np.diff(s.device_time_s) > 0) or len(set(s.epoch.tolist())) > 1
    assert s.acc.shape == (len(s), 3)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=30))
def test_fuzz_metawear_entries_raise_only_decode_error(raw):
    try:
        mlog._entries(raw)
    except DecodeError:
        pass
