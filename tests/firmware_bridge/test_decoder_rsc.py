"""Running Speed and Cadence (0x2A53) decoder: SIG field layout, round trips, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.devices import DecodeError, DecoderState, rsc


def test_all_fields_vector() -> None:
    # flags 0x07: stride + distance + running; speed 0x0380 = 896/256 = 3.5 m/s; cadence 172/min;
    # stride 0x0078 = 120 cm; total distance 0x00002710 = 10000 dm = 1000 m
    pkt = bytes.fromhex("07 8003 ac 7800 10270000".replace(" ", ""))
    m = rsc.decode_rsc_measurement(pkt)
    assert m == rsc.RscMeasurement(3.5, 172.0, 1.2, 1000.0, True)


def test_minimal_vector_walking() -> None:
    m = rsc.decode_rsc_measurement(bytes([0x00, 0x80, 0x01, 110]))
    assert m.speed_mps == pytest.approx(1.5)
    assert m.cadence_spm == 110
    assert m.stride_length_m is None and m.distance_m is None and not m.running


@pytest.mark.parametrize(
    "pkt",
    [b"", b"\x00\x01\x02", b"\x01\x00\x01\x50", b"\x02\x00\x01\x50\x00", b"\x08\x00\x01\x50"],
)
def test_bad_packets(pkt: bytes) -> None:
    with pytest.raises(DecodeError):
        rsc.decode_rsc_measurement(pkt)


@settings(max_examples=200, deadline=None)
@given(
    speed=st.integers(0, 0xFFFF),
    cad=st.integers(0, 255),
    stride=st.none() | st.integers(0, 0xFFFF),
    dist=st.none() | st.integers(0, 0xFFFFFFFF),
    running=st.booleans(),
)
def test_round_trip(
    speed: int, cad: int, stride: int | None, dist: int | None, running: bool
) -> None:
    m = rsc.RscMeasurement(
        speed / 256,
        float(cad),
        None if stride is None else stride / 100,
        None if dist is None else dist / 10,
        running,
    )
    got = rsc.decode_rsc_measurement(rsc.encode_rsc_measurement(m))
    assert got.speed_mps == m.speed_mps and got.cadence_spm == m.cadence_spm
    assert got.running == running
    if stride is None:
        assert got.stride_length_m is None
    else:
        assert got.stride_length_m == pytest.approx(stride / 100)
    if dist is None:
        assert got.distance_m is None
    else:
        assert got.distance_m == pytest.approx(dist / 10)


@settings(max_examples=300, deadline=None)
@given(pkt=st.binary(max_size=20))
def test_fuzz(pkt: bytes) -> None:
    state = DecoderState(sample_rate_hz=1.0, acc_range_g=0.0, gyr_range_dps=0.0)
    try:
        row = rsc.DRIVER.decode_stream(pkt, state)
        assert len(rsc.DRIVER.decode(pkt, state)) == 0
    except DecodeError:
        return
    assert row["speed_mps"] >= 0 and 0 <= row["cadence_spm"] <= 255


def test_stream_buffer_columns() -> None:
    buf = rsc.RscStreamBuffer()
    buf.add(0.5, rsc.RscMeasurement(3.0, 170.0, 1.1, None, True))
    buf.add(1.5, rsc.RscMeasurement(3.2, 172.0, None, 12.3, True))
    t, vals = buf.drain()
    np.testing.assert_array_equal(t, [0.5, 1.5])
    np.testing.assert_array_equal(vals["speed_mps"], [3.0, 3.2])
    assert vals["stride_length_m"][0] == pytest.approx(1.1) and np.isnan(vals["stride_length_m"][1])
    assert np.isnan(vals["distance_m"][0]) and vals["distance_m"][1] == pytest.approx(12.3)
    assert len(buf) == 0
