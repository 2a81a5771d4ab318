"""Movesense GATT sensor-data decoder: byte vectors, round trips, fuzzing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from firmware_bridge.devices import DecodeError, DecoderState
from firmware_bridge.devices import movesense as ms


def _state(mtu: int = 23) -> DecoderState:
    return DecoderState(
        sample_rate_hz=104.0,
        acc_range_g=8.0,
        gyr_range_dps=2000.0,
        mtu=mtu,
        extra={"ref": ms.IMU6_REF},
    )


def test_hand_built_vector_two_samples() -> None:
    # [type=2 DATA, ref=0x63] + uint32 ts=1000 ms + 2 acc triplets + 2 gyro triplets (float32 LE)
    acc = [(0.0, 0.5, 9.75), (1.0, -2.0, 9.5)]
    gyr = [(10.0, -20.0, 30.0), (-1.5, 0.25, 400.0)]
    packet = bytes([2, 0x63]) + struct.pack("<I", 1000)
    packet += b"".join(struct.pack("<3f", *a) for a in acc)
    packet += b"".join(struct.pack("<3f", *g) for g in gyr)
    out = ms.DRIVER.decode(packet, _state())
    np.testing.assert_array_equal(out.acc, np.array(acc))
    np.testing.assert_array_equal(out.gyr, np.array(gyr))
    assert out.device_time_s == pytest.approx(1.0)
    assert out.device_time_modulus_s == pytest.approx(2**32 / 1000)
    assert out.sample_period_s == pytest.approx(1 / 104)


def test_subscribe_command_bytes() -> None:
    assert ms.subscribe_command(0x63, 104) == b"\x01\x63/Meas/IMU6/104"


def test_command_result_and_hello_give_no_samples() -> None:
    st_ = _state()
    assert len(ms.DRIVER.decode(bytes([1, 0x63, 0x00, 0xC8]), st_)) == 0
    assert len(ms.DRIVER.decode(bytes([1, 0x05]) + b"Hello", st_)) == 0


def test_split_payload_is_reassembled() -> None:
    rng = np.random.default_rng(1)
    acc = rng.normal(0, 20, (8, 3)).astype(np.float32)
    gyr = rng.normal(0, 500, (8, 3)).astype(np.float32)
    payload = ms.encode_imu6_payload(123456, acc, gyr)
    parts = ms.split_data_notifications(ms.IMU6_REF, payload, 158)
    assert [p[0] for p in parts] == [2, 3]
    st_ = _state(mtu=161)
    assert len(ms.DRIVER.decode(parts[0], st_)) == 0
    out = ms.DRIVER.decode(parts[1], st_)
    np.testing.assert_array_equal(out.acc, acc)
    np.testing.assert_array_equal(out.gyr, gyr)
    assert out.device_time_s == pytest.approx(123.456)


def test_part_without_first_part_and_wrong_ref_are_errors() -> None:
    with pytest.raises(DecodeError, match="without a first part"):
        ms.DRIVER.decode(bytes([3, 0x63, 1, 2, 3]), _state())
    good = bytes([2, 0x10]) + ms.encode_imu6_payload(0, np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(DecodeError, match="reference 16"):
        ms.DRIVER.decode(good, _state())


def test_non_finite_values_are_rejected() -> None:
    payload = ms.encode_imu6_payload(0, np.array([[np.nan, 0, 0]]), np.zeros((1, 3)))
    with pytest.raises(DecodeError, match="non-finite"):
        ms.decode_imu6_payload(payload)


finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 8),
    ts=st.integers(0, 2**32 - 1),
    data=st.data(),
    mtu_payload=st.sampled_from([60, 78, 100, 150, 158, 174, 198, 222, 244]),
)
def test_round_trip_through_notifications(
    n: int, ts: int, data: st.DataObject, mtu_payload: int
) -> None:
    acc = data.draw(arrays(np.float32, (n, 3), elements=finite))
    gyr = data.draw(arrays(np.float32, (n, 3), elements=finite))
    assume(4 + 24 * n <= 3 * (mtu_payload - 2))  # the protocol has at most three parts
    st_ = _state(mtu=mtu_payload + 3)
    # three consecutive payloads (contiguous timestamps), each split to fit the notification
    outs = []
    for k in range(3):
        payload = ms.encode_imu6_payload(ts + round(k * n * 1000 / 104), acc, gyr)
        for p in ms.split_data_notifications(0x63, payload, mtu_payload):
            outs.append(ms.DRIVER.decode(p, st_))
    got = [o for o in outs if len(o)]
    total = sum(len(o) for o in got)
    # a payload that exactly fills a notification is only known complete at the next one
    assert 2 * n <= total <= 3 * n
    np.testing.assert_array_equal(got[0].acc[:n], acc.astype(np.float64))
    np.testing.assert_array_equal(got[0].gyr[:n], gyr.astype(np.float64))
    assert got[0].device_time_s == pytest.approx(ts / 1000)


@settings(max_examples=300, deadline=None)
@given(packets=st.lists(st.binary(max_size=300), max_size=6))
def test_fuzz_arbitrary_bytes_never_crash(packets: list[bytes]) -> None:
    st_ = _state()
    for p in packets:
        try:
            out = ms.DRIVER.decode(p, st_)
        except DecodeError:
            continue
        assert out.acc.shape == out.gyr.shape
        assert np.isfinite(out.acc).all() and np.isfinite(out.gyr).all()
