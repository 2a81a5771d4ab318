"""WitMotion BWT901BLE decoder: manual layout, split/merged frames, resync, fuzzing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dsp.block import STANDARD_GRAVITY as G
from firmware_bridge.devices import DecodeError, DecoderState
from firmware_bridge.devices import witmotion as wm


def _state() -> DecoderState:
    return DecoderState(sample_rate_hz=100.0, acc_range_g=16.0, gyr_range_dps=2000.0)


def test_manual_layout_vector() -> None:
    # 55 61, ax=0x0800 (2048 -> 1 g), ay=0, az=0xF800 (-2048 -> -1 g),
    # wx=0x4000 (16384 -> 1000 deg/s), wy=0xC000 (-1000 deg/s), wz=0x0001,
    # roll=0x4000 (90 deg), pitch=0, yaw=0x8000 (-180 deg)
    pkt = bytes.fromhex("5561 0008 0000 00f8 0040 00c0 0100 0040 0000 0080".replace(" ", ""))
    out = wm.DRIVER.decode(pkt, _state())
    np.testing.assert_allclose(out.acc, [[G, 0, -G]])
    np.testing.assert_allclose(out.gyr, [[1000.0, -1000.0, 2000 / 32768]])
    raw, _ = wm.FrameBuffer().feed(pkt)
    np.testing.assert_allclose(wm.raw_to_units(raw)[2], [[90.0, 0.0, -180.0]])


def test_commands() -> None:
    assert wm.UNLOCK == bytes.fromhex("ffaa6988b5")
    assert wm.SAVE == bytes.fromhex("ffaa000000")
    assert wm.rate_command(100) == bytes.fromhex("ffaa030900")
    assert wm.rate_command(200) == bytes.fromhex("ffaa030b00")


def _frames(n: int, seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = rng.uniform(-15, 15, (n, 3))
    gyr = rng.uniform(-1900, 1900, (n, 3))
    data = b"".join(wm.encode_frame(acc[i], gyr[i], np.zeros(3)) for i in range(n))
    return data, acc, gyr


def test_frames_split_across_notifications_and_register_frames_skipped() -> None:
    data, acc, gyr = _frames(5)
    reg = bytes([0x55, 0x71, 0x64, 0x00]) + bytes(16)  # a register-read answer in between
    stream = data[:40] + reg + data[40:]
    st_ = _state()
    outs = [wm.DRIVER.decode(stream[i : i + 7], st_) for i in range(0, len(stream), 7)]
    got_acc = np.concatenate([o.acc for o in outs])
    np.testing.assert_allclose(got_acc / G, acc, atol=16 / 32768)
    np.testing.assert_allclose(np.concatenate([o.gyr for o in outs]), gyr, atol=2000 / 32768)
    idx = [o.sample_index for o in outs if len(o)]
    assert idx == sorted(idx) and idx[0] == 0
    assert st_.extra["frames"].skipped_bytes == 0


def test_resync_after_garbage() -> None:
    data, acc, _ = _frames(3, seed=2)
    st_ = _state()
    # garbage, then a cut frame tail, then whole frames
    out = wm.DRIVER.decode(b"\x01\x02\x55\x00" + data[25:40] + data[40:], st_)
    assert len(out) == 1
    np.testing.assert_allclose(out.acc / G, acc[2:], atol=16 / 32768)
    assert st_.extra["frames"].skipped_bytes > 0
    with pytest.raises(DecodeError, match="no 55 61 frame"):
        wm.DRIVER.decode(b"\x00\x11\x22", st_)


@settings(max_examples=100, deadline=None)
@given(
    acc=arrays(np.float64, (4, 3), elements=st.floats(-15.9, 15.9)),
    gyr=arrays(np.float64, (4, 3), elements=st.floats(-1999, 1999)),
    cut=st.lists(st.integers(1, 79), max_size=5),
)
def test_round_trip_with_arbitrary_cuts(acc: np.ndarray, gyr: np.ndarray, cut: list[int]) -> None:
    data = b"".join(wm.encode_frame(acc[i], gyr[i], np.zeros(3)) for i in range(4))
    bounds = [0, *sorted(set(cut)), len(data)]
    st_ = _state()
    outs = [wm.DRIVER.decode(data[a:b], st_) for a, b in itertools.pairwise(bounds)]
    got_acc = np.concatenate([o.acc for o in outs])
    got_gyr = np.concatenate([o.gyr for o in outs])
    np.testing.assert_allclose(got_acc / G, acc, atol=16 / 32768)
    np.testing.assert_allclose(got_gyr, gyr, atol=2000 / 32768)


@settings(max_examples=300, deadline=None)
@given(packets=st.lists(st.binary(max_size=60), max_size=8))
def test_fuzz(packets: list[bytes]) -> None:
    st_ = _state()
    for p in packets:
        try:
            out = wm.DRIVER.decode(p, st_)
        except DecodeError:
            continue
        assert out.acc.shape == out.gyr.shape
        assert np.all(np.abs(out.acc) <= 16 * G) and np.all(np.abs(out.gyr) <= 2000)
