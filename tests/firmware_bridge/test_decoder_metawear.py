"""MetaWear decoder: vectors from the MetaWear SDK unit tests, round trips, pairing, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dsp.block import STANDARD_GRAVITY as G
from firmware_bridge.devices import DecodeError, DecoderState
from firmware_bridge.devices import metawear as mw


def _state(chip: str = "bmi160", acc: float = 16.0, gyr: float = 2000.0) -> DecoderState:
    return DecoderState(
        sample_rate_hz=100.0, acc_range_g=acc, gyr_range_dps=gyr, extra={"chip": chip}
    )


# --- vectors published in the MetaWear C++ SDK tests (test_gyro_bmi160.py,
# --- test_accelerometer_bmi270.py): packet bytes and the values the SDK must produce
def test_sdk_vector_bmi160_gyro_500dps() -> None:
    kind, v = mw.decode_packet(bytes.fromhex("13053e43ff7f0080"), "bmi160", 16.0, 500.0)
    assert kind == "gyr"
    np.testing.assert_allclose(v, [[262.409, 499.497, -499.512]], atol=1e-3)


def test_sdk_vector_bmi160_packed_gyro_1000dps() -> None:
    pkt = bytes.fromhex("13070915ad2608de8a1a0d2665e48d20ac2773ec")
    kind, v = mw.decode_packet(pkt, "bmi160", 16.0, 1000.0)
    assert kind == "gyr"
    want = [
        [164.177, 301.860, -265.122],
        [207.134, 296.982, -215.457],
        [254.055, 309.634, -152.591],
    ]
    np.testing.assert_allclose(v, want, atol=1e-3)


def test_sdk_vector_bmi270_acc_4g() -> None:
    kind, v = mw.decode_packet(bytes.fromhex("030416c494a22ad0"), "bmi270", 4.0, 2000.0)
    assert kind == "acc"
    np.testing.assert_allclose(v / G, [[-1.872, -2.919, -1.495]], atol=1e-3)


def test_sdk_vector_bmi270_packed_acc_8g() -> None:
    pkt = bytes.fromhex("030562b7530de9fd16d04d0e57028affa1050a01")
    kind, v = mw.decode_packet(pkt, "bmi270", 8.0, 2000.0)
    assert kind == "acc"
    want = [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]]
    np.testing.assert_allclose(v / G, want, atol=1e-3)


def test_sdk_config_vectors() -> None:
    # BMI270 acc 100 Hz ±8 g -> 03 03 a8 02; BMI270 200 Hz ±8 g -> a9 02; ±16 g -> a8 03
    assert mw.acc_config_bytes("bmi270", 100, 8.0) == bytes([0xA8, 0x02])
    assert mw.acc_config_bytes("bmi270", 200, 8.0) == bytes([0xA9, 0x02])
    assert mw.acc_config_bytes("bmi270", 100, 16.0) == bytes([0xA8, 0x03])
    # gyro 200 Hz ±2000 -> 13 03 29 00; 50 Hz ±125 -> 27 04; 100 Hz ±250 -> 28 03
    assert mw.gyr_config_bytes(200, 2000.0) == bytes([0x29, 0x00])
    assert mw.gyr_config_bytes(50, 125.0) == bytes([0x27, 0x04])
    assert mw.gyr_config_bytes(100, 250.0) == bytes([0x28, 0x03])
    # BMI160 acc: odr | bwp<<4, range bitmask (0x28 0x0c for 100 Hz ±16 g)
    assert mw.acc_config_bytes("bmi160", 100, 16.0) == bytes([0x28, 0x0C])
    assert mw.parse_acc_config("bmi160", bytes([0x28, 0x0C])) == (100.0, 16.0)
    assert mw.parse_gyr_config(bytes([0x29, 0x00])) == (200.0, 2000.0)


def test_pairing_of_separate_acc_and_gyro_packets() -> None:
    st_ = _state("bmi270", 16.0, 2000.0)
    acc_raw = np.arange(9).reshape(3, 3) * 100
    gyr_raw = -np.arange(9).reshape(3, 3) * 10
    a = mw.DRIVER.decode(mw.encode_packed(0x03, 0x05, acc_raw), st_)
    assert len(a) == 0  # waits for its gyro partner
    out = mw.DRIVER.decode(mw.encode_packed(0x13, 0x05, gyr_raw), st_)
    np.testing.assert_allclose(out.acc, acc_raw * G / 2048)
    np.testing.assert_allclose(out.gyr, gyr_raw / 16.4)
    assert out.sample_index == 0
    mw.DRIVER.decode(mw.encode_packed(0x13, 0x05, gyr_raw), st_)
    out2 = mw.DRIVER.decode(mw.encode_packed(0x03, 0x05, acc_raw), st_)
    assert out2.sample_index == 3 and len(out2) == 3


def test_read_responses_are_not_samples_and_bad_lengths_are_errors() -> None:
    st_ = _state()
    assert len(mw.DRIVER.decode(bytes([0x03, 0x80, 0x01, 0x01]), st_)) == 0
    with pytest.raises(DecodeError, match="expected 18"):
        mw.DRIVER.decode(bytes([0x03, 0x1C, 0, 0, 0]), st_)
    with pytest.raises(DecodeError, match="not a data register"):
        mw.DRIVER.decode(bytes([0x13, 0x09, 0, 0]), st_)


@settings(max_examples=100, deadline=None)
@given(
    chip=st.sampled_from(["bmi160", "bmi270"]),
    acc_range=st.sampled_from(mw.ACC_RANGES_G),
    gyr_range=st.sampled_from(mw.GYR_RANGES_DPS),
    raw=arrays(np.int16, (3, 3)),
)
def test_round_trip_packed(chip: str, acc_range: float, gyr_range: float, raw: np.ndarray) -> None:
    acc_reg, gyr_reg = mw.PACKED_REGISTERS[chip]
    kind, v = mw.decode_packet(mw.encode_packed(0x03, acc_reg, raw), chip, acc_range, gyr_range)
    assert kind == "acc"
    np.testing.assert_allclose(v, raw * G / mw.ACC_LSB_PER_G[acc_range])
    kind, v = mw.decode_packet(mw.encode_packed(0x13, gyr_reg, raw), chip, acc_range, gyr_range)
    assert kind == "gyr"
    np.testing.assert_allclose(v, raw / mw.GYR_LSB_PER_DPS[gyr_range])


@settings(max_examples=300, deadline=None)
@given(
    chip=st.sampled_from(["bmi160", "bmi270"]), packets=st.lists(st.binary(max_size=30), max_size=8)
)
def test_fuzz(chip: str, packets: list[bytes]) -> None:
    st_ = _state(chip)
    for p in packets:
        try:
            out = mw.DRIVER.decode(p, st_)
        except DecodeError:
            continue
        assert out.acc.shape == out.gyr.shape and np.isfinite(out.acc).all()


@pytest.mark.parametrize("lead", [-7, -4, -3, 0, 1, 2, 3, 5, 6, 8])
def test_start_alignment_when_one_sensor_starts_late(lead: int) -> None:
    """Acc starts ``lead`` samples before the gyro (negative: the gyro first). The device sends
    packets in the order they complete; the decoder drops the early side's excess rows so that
    acc sample j pairs with gyro sample j + δ, |δ| ≤ 3 (one packed packet)."""
    st_ = _state("bmi160", 16.0, 2000.0)
    n = 60
    acc_start, gyr_start = max(0, -lead), max(0, lead)
    events = []  # (completion sample index, module, first sample of the packet)
    for s0 in range(acc_start, n - 3, 3):
        events.append((s0 + 2, 0, s0))
    for s0 in range(gyr_start, n - 3, 3):
        events.append((s0 + 2, 1, s0))
    events.sort()
    pairs_acc, pairs_gyr = [], []
    for _, module, s0 in events:
        # encode the sample index itself as the value so pairs can be identified
        raw = np.repeat(np.arange(s0, s0 + 3)[:, None], 3, axis=1)
        pkt = mw.encode_packed(0x03 if module == 0 else 0x13, 0x1C if module == 0 else 0x07, raw)
        out = mw.DRIVER.decode(pkt, st_)
        if len(out):
            pairs_acc.append(np.rint(out.acc[:, 0] / G * 2048))
            pairs_gyr.append(np.rint(out.gyr[:, 0] * 16.4))
    a, g = np.concatenate(pairs_acc), np.concatenate(pairs_gyr)
    assert len(a) > 30
    delta = g - a
    assert np.all(delta == delta[0]) and abs(delta[0]) <= 3
