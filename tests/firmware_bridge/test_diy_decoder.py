"""The runform DIY clip decoder: byte vectors, round trips, bad packets, hypothesis fuzz."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import DRIVERS, Advertisement, DecodeError, DecoderState, detect, diy
from firmware_bridge.devices.diy import DRIVER

STATE = DecoderState(sample_rate_hz=833.0, acc_range_g=16.0, gyr_range_dps=2000.0, mtu=247)


def test_hand_made_packet():
    # version 1, ranges: acc 16 g (code 3), gyro 2000 dps (code 4) -> 0x43, rate 833 (code 3),
    # 2 samples, packet counter 0x1234, timestamp 1_000_000 µs
    head = bytes([1, 0x43, 3, 2]) + struct.pack("<HI", 0x1234, 1_000_000)
    s1 = struct.pack("<6h", 2048, 0, -2048, 16384, -16384, 0)
    s2 = struct.pack("<6h", 0, 32767, 0, 0, 0, -32768)
    # the example printed in docs/protocol.md
    assert head + s1 + s2 == bytes.fromhex(
        "01430302341240420f00" + "0008000000f8004000c00000" + "0000ff7f0000000000000080"
    )
    dec = DRIVER.decode(head + s1 + s2, STATE)
    assert len(dec) == 2
    g = STANDARD_GRAVITY
    np.testing.assert_allclose(dec.acc[0], [1.0 * g, 0.0, -1.0 * g])  # 2048 counts = 1 g at 16 g
    np.testing.assert_allclose(dec.gyr[0], [1000.0, -1000.0, 0.0])
    np.testing.assert_allclose(dec.acc[1, 1], 32767 / 32768 * 16 * g)
    np.testing.assert_allclose(dec.gyr[1, 2], -2000.0)
    assert dec.packet_counter == 0x1234
    assert dec.device_time_s == pytest.approx(1.0)
    assert dec.sample_period_s == pytest.approx(1 / 833.0)


@pytest.mark.parametrize("rate", diy.RATES_HZ)
@pytest.mark.parametrize(
    "acc_g,gyr_dps", [(2.0, 125.0), (4.0, 250.0), (8.0, 500.0), (16.0, 1000.0)]
)
def test_round_trip_every_code(rate, acc_g, gyr_dps):
    rng = np.random.default_rng(1)
    counts = rng.integers(-32768, 32768, size=(7, 6)).astype(np.int16)
    pkt = diy.encode_packet(counts, 65535, 2**32 - 1, rate, acc_g, gyr_dps)
    dec = DRIVER.decode(pkt, STATE)
    np.testing.assert_allclose(dec.acc, counts[:, :3] * acc_g * STANDARD_GRAVITY / 32768)
    np.testing.assert_allclose(dec.gyr, counts[:, 3:] * gyr_dps / 32768)
    assert dec.sample_period_s == pytest.approx(1 / rate)
    assert dec.packet_counter == 65535
    assert dec.device_time_s == pytest.approx((2**32 - 1) * 1e-6)


@pytest.mark.parametrize(
    "packet,what",
    [
        (b"", "bytes"),
        (bytes(9), "bytes"),
        (bytes([2, 0x43, 3, 1]) + bytes(6 + 12), "version"),
        (bytes([1, 0x05, 3, 1]) + bytes(6 + 12), "range"),
        (bytes([1, 0x53, 3, 1]) + bytes(6 + 12), "range"),
        (bytes([1, 0x43, 9, 1]) + bytes(6 + 12), "rate"),
        (bytes([1, 0x43, 3, 2]) + bytes(6 + 12), "bytes"),
        (bytes([1, 0x43, 3, 0]) + bytes(6), "N"),
        (bytes([1, 0x43, 3, 1]) + bytes(6 + 13), "bytes"),
    ],
)
def test_bad_packets_raise_decode_error(packet, what):
    with pytest.raises(DecodeError, match=what):
        DRIVER.decode(packet, STATE)


def test_samples_per_packet_follow_mtu():
    assert diy.max_samples_per_packet(23) == 0
    assert diy.max_samples_per_packet(25) == 1
    assert diy.max_samples_per_packet(247) == 19
    assert diy.HEADER.size + 19 * diy.SAMPLE.size <= 244


def test_config_round_trip():
    raw = diy.encode_config_read(True, 416.0, 8.0, 1000.0, 19)
    cfg = diy.parse_config(raw)
    assert cfg == {
        "version": 1,
        "streaming": True,
        "rate_hz": 416.0,
        "acc_range_g": 8.0,
        "gyr_range_dps": 1000.0,
        "samples_per_packet": 19,
    }
    with pytest.raises(DecodeError):
        diy.parse_config(raw[:-1])


def test_detection_by_uuid_and_name():
    assert DRIVER in DRIVERS
    by_uuid = Advertisement("AA:BB", name=None, service_uuids=(diy.SERVICE_UUID,))
    by_name = Advertisement("AA:BB", name="rfclip-L")
    other = Advertisement(
        "AA:BB", name="Fitbit", service_uuids=("0000180d-0000-1000-8000-00805f9b34fb",)
    )
    assert detect(by_uuid) is DRIVER
    assert detect(by_name) is DRIVER
    assert detect(other) is None or detect(other).name != "runform-diy"


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_never_crash(packet):
    try:
        dec = DRIVER.decode(packet, STATE)
    except DecodeError:
        return
    assert dec.acc.shape == dec.gyr.shape == (len(dec), 3)
    assert np.all(np.isfinite(dec.acc)) and np.all(np.isfinite(dec.gyr))
    assert np.all(np.abs(dec.acc) <= 16 * STANDARD_GRAVITY) and np.all(np.abs(dec.gyr) <= 2000)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 19),
    counter=st.integers(0, 65535),
    ts=st.integers(0, 2**32 - 1),
    seed=st.integers(0, 2**31),
    flip=st.integers(0, 255),
    pos=st.integers(0, 300),
)
def test_fuzz_corrupted_valid_packets(n, counter, ts, seed, flip, pos):
    counts = np.random.default_rng(seed).integers(-32768, 32768, size=(n, 6)).astype(np.int16)
    pkt = bytearray(diy.encode_packet(counts, counter, ts, 833.0, 16.0, 2000.0))
    pkt[pos % len(pkt)] ^= flip
    try:
        dec = DRIVER.decode(bytes(pkt), STATE)
    except DecodeError:
        return
    assert len(dec) == (len(pkt) - diy.HEADER.size) // diy.SAMPLE.size
