"""Polar PMD decoder: vectors from the Polar BLE SDK tests, delta-frame round trips, fuzzing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dsp.block import STANDARD_GRAVITY as G
from firmware_bridge.devices import DecodeError, DecoderState
from firmware_bridge.devices import polar as pl


def _state(f_acc: float = 0.24414062, f_gyr: float = 0.06103516) -> DecoderState:
    return DecoderState(
        sample_rate_hz=52.0,
        acc_range_g=8.0,
        gyr_range_dps=2000.0,
        extra={"factor": {pl.TYPE_ACC: f_acc, pl.TYPE_GYRO: f_gyr}},
    )


def test_sdk_vector_gyro_compressed_type0() -> None:
    # GyrDataTest "process gyro compressed data type 0": reference (-22, 8, 13), one 3-bit delta
    # block DF 00 -> deltas (-1, 3, 3)
    content = bytes.fromhex("EAFF08000D000301DF00")
    np.testing.assert_array_equal(pl.decode_delta_frame(content, 16), [[-22, 8, 13], [-23, 11, 16]])


def test_sdk_vector_gyro_compressed_type1_float() -> None:
    # GyrDataTest "process gyro compressed data type 1": float32 reference (1, 10, 20) and one
    # 28-bit delta block; the SDK expects (10, 20, 1.1) for the second sample
    header = bytes.fromhex("05 0094357700000000 81".replace(" ", ""))
    content = bytes.fromhex("0000803F000020410000A0411C010000A001000008CDCCEC0D")
    st_ = _state(f_gyr=1.0)
    # pair with an ACC frame so the decoder emits rows
    acc = pl.encode_data_frame(
        pl.TYPE_ACC, 2_000_000_000, 0x81, pl.encode_delta_frame(np.zeros((2, 3)))
    )
    pl.DRIVER.decode(acc, st_)
    out = pl.DRIVER.decode(header + content, st_)
    np.testing.assert_allclose(out.gyr, [[1.0, 10.0, 20.0], [10.0, 20.0, 1.1]], rtol=1e-6)


def test_acc_units_and_sample_times() -> None:
    st_ = _state(f_acc=0.5, f_gyr=0.25)
    raw = np.array([[0, 0, 2000], [10, -10, 2002], [20, -20, 2004]])
    ts = 10_000_000_000  # ns since 2000 of the LAST sample
    acc_pkt = pl.encode_data_frame(pl.TYPE_ACC, ts, 0x81, pl.encode_delta_frame(raw))
    gyr_pkt = pl.encode_data_frame(pl.TYPE_GYRO, ts, 0x80, pl.encode_delta_frame(raw))
    assert len(pl.DRIVER.decode(acc_pkt, st_)) == 0
    out = pl.DRIVER.decode(gyr_pkt, st_)
    np.testing.assert_allclose(out.acc, raw * 0.5 / 1000 * G)  # type 1: raw*factor = mG
    np.testing.assert_allclose(out.gyr, raw * 0.25)
    assert out.device_time_s == pytest.approx(10.0 - 2 / 52)
    # the next frame spreads its samples between the two frame timestamps
    ts2 = ts + 3 * 19_000_000
    pl.DRIVER.decode(pl.encode_data_frame(pl.TYPE_ACC, ts2, 0x81, pl.encode_delta_frame(raw)), st_)
    out2 = pl.DRIVER.decode(
        pl.encode_data_frame(pl.TYPE_GYRO, ts2, 0x80, pl.encode_delta_frame(raw)), st_
    )
    assert out2.device_time_s == pytest.approx(10.019)
    assert out2.sample_index == 3


def test_acc_raw_frame_types_are_milli_g() -> None:
    st_ = _state()
    content = struct.pack("<3h", 1000, -500, 0)
    pl.DRIVER.decode(pl.encode_data_frame(pl.TYPE_ACC, 10**9, 0x01, content), st_)
    out = pl.DRIVER.decode(
        pl.encode_data_frame(pl.TYPE_GYRO, 10**9, 0x80, pl.encode_delta_frame(np.zeros((1, 3)))),
        st_,
    )
    np.testing.assert_allclose(out.acc, [[G, -0.5 * G, 0.0]])


def test_settings_tlv() -> None:
    b = pl.settings_bytes(
        {pl.SETTING_SAMPLE_RATE: 52, pl.SETTING_RESOLUTION: 16, pl.SETTING_RANGE: 8}
    )
    assert b == bytes.fromhex("0001 3400 0101 1000 0201 0800".replace(" ", ""))
    parsed = pl.parse_settings(b + bytes([5, 1]) + struct.pack("<f", 0.25))
    assert parsed == {0: [52.0], 1: [16.0], 2: [8.0], 5: [0.25]}
    with pytest.raises(DecodeError):
        pl.parse_settings(bytes([9, 1, 0]))


def test_unsupported_frames_are_errors() -> None:
    with pytest.raises(DecodeError, match="expected 2"):
        pl.DRIVER.decode(pl.encode_data_frame(1, 0, 0, b"\x00" * 9), _state())
    with pytest.raises(DecodeError, match="frame type 5"):
        pl.DRIVER.decode(pl.encode_data_frame(pl.TYPE_GYRO, 0, 0x85, b"\x00" * 6), _state())


@settings(max_examples=150, deadline=None)
@given(
    first=arrays(np.int64, (1, 3), elements=st.integers(-32768, 32767)),
    deltas=arrays(
        np.int64, st.tuples(st.integers(0, 40), st.just(3)), elements=st.integers(-3000, 3000)
    ),
)
def test_delta_round_trip(first: np.ndarray, deltas: np.ndarray) -> None:
    samples = np.concatenate([first, first + np.cumsum(deltas, axis=0)])
    got = pl.decode_delta_frame(pl.encode_delta_frame(samples, 16), 16)
    np.testing.assert_array_equal(got, samples)


@settings(max_examples=300, deadline=None)
@given(packets=st.lists(st.binary(max_size=80), max_size=8), mix=st.booleans())
def test_fuzz(packets: list[bytes], mix: bool) -> None:
    st_ = _state()
    for p in packets:
        if mix and len(p) > 10:  # make some of them look like ACC/GYRO frames
            p = (
                bytes([(pl.TYPE_ACC, pl.TYPE_GYRO)[p[0] & 1]])
                + p[1:9]
                + bytes([0x80 | (p[9] & 1)])
                + p[10:]
            )
        try:
            out = pl.DRIVER.decode(p, st_)
        except DecodeError:
            continue
        assert out.acc.shape == out.gyr.shape
