"""Clipped accelerometer peaks: ``declip`` (vectorised) and its incremental use in the foot
analyzer (each sample declipped once, whatever the block sizes)."""

from __future__ import annotations

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from dsp.filters import declip
from dsp.foot_analyzer import FootAnalyzer
from firmware_bridge.simulator import simulate_session


def _declip_reference(x: np.ndarray, full_scale: float, fraction: float = 0.985) -> np.ndarray:
    """The documented rule run by run: the cubic through the two unclipped samples on either
    side (np.polyfit in run-local coordinates), never below the full scale."""
    out = x.copy()
    n = x.shape[0]
    for k in range(x.shape[1]):
        for sign in (1.0, -1.0):
            m = sign * x[:, k] >= fraction * full_scale
            d = np.diff(np.concatenate(([0], m.astype(np.int8), [0])))
            for s0, e0 in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
                if s0 < 2 or e0 + 2 > n:
                    continue
                xs = np.array([s0 - 2, s0 - 1, e0, e0 + 1])
                c = np.polyfit(xs - s0, x[xs, k], 3)
                fit = np.polyval(c, np.arange(s0, e0) - s0)
                out[s0:e0, k] = sign * np.maximum(sign * fit, sign * x[s0:e0, k])
    return out


def test_declip_is_the_cubic_through_the_flanks():
    rng = np.random.default_rng(3)
    t = np.arange(4000) / 400.0
    x = np.stack([150 * np.sin(2 * np.pi * f * t) for f in (1.3, 2.9, 0.7)], 1)
    x += rng.normal(0, 0.3, x.shape)
    fs = 100.0
    xc = np.clip(x, -fs, fs)
    got = declip(xc, full_scale=fs)
    assert np.allclose(got, _declip_reference(xc, fs), atol=1e-6)
    # the peaks come back above the full scale, near the true ones
    clipped = np.abs(xc) >= 0.985 * fs
    assert np.all(np.abs(got[clipped]) >= 0.985 * fs)
    assert np.median(np.abs(got[clipped] - x[clipped])) < 0.5 * np.median(
        np.abs(xc[clipped] - x[clipped])
    )
    # runs at the ends and tiny inputs are left as read
    assert np.array_equal(declip(xc[:3], full_scale=fs), xc[:3])
    edge = np.full((6, 1), fs)
    assert np.array_equal(declip(edge, full_scale=fs), edge)


def test_clipped_session_same_rows_in_any_blocks():
    """At a 4 g range the feet clip at every impact and push-off: the rows of 30 ms blocks are
    those of one batch call."""
    run = simulate_session("easy", duration_s=30, rate_hz=208, seed=4, sensors=("left_foot",))
    b = run.blocks["left_foot"]
    g = 4.0 * 9.80665
    acc = np.clip(b.acc, -g, g)
    assert (np.abs(acc) >= 0.985 * g).any(axis=1).mean() > 0.01
    info = SensorInfo("left_foot", "left_foot", "simulated", 208.0, acc_range_g=4.0)

    def rows(step: int) -> list[dict]:
        fa = FootAnalyzer(info)
        out = []
        for i in range(0, b.t.shape[0], step):
            sl = slice(i, i + step)
            out += fa.feed(SampleBlock("left_foot", b.t[sl], acc[sl], b.gyr[sl])).rows
        out += fa.finish().rows
        return [r.as_record() for r in out]

    batch = rows(b.t.shape[0])
    assert len(batch) > 30
    assert sum("saturated" in r["flags"] for r in batch) > 0.5 * len(batch)
    assert rows(6) == batch


def test_long_clipped_swing_gives_no_stride_length_but_contacts():
    """A 2 g sensor at 59 Hz on a runner clips the whole swing (80 ms and more): the clipped
    peaks cannot be re-estimated (stride length 28 % off before); the rows keep their contacts,
    timing and ``saturated`` flag and leave stride length and speed empty."""
    from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

    run = simulate_session(
        "easy", duration_s=40, rate_hz=59, seed=3, acc_range_g=2.0, sensors=("left_foot",)
    )
    rows = analyze_run(run)
    (e,) = evaluate_run(rows, run.truth)
    assert e["found_frac"] >= 0.99 and e["false"] == 0, e
    assert rows and all("saturated" in r.flags for r in rows)
    assert all(r.stride_length is None and r.speed is None for r in rows)
    assert sum(r.stride_time is not None for r in rows) >= len(rows) - 2


def test_heel_strikers_impact_ringing_clipped_at_8_g():
    """Impacts ringing at 40 Hz (15 g) clipped by an 8 g range: stride length within 3 %."""
    from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run

    run = simulate_session(
        "rearfoot",
        duration_s=40,
        rate_hz=208,
        seed=6,
        acc_range_g=8.0,
        foot_ring_g=15.0,
        sensors=("left_foot", "right_foot"),
    )
    b = run.blocks["left_foot"]
    assert (np.abs(b.acc) >= 0.985 * 8 * 9.80665).any()
    rows = analyze_run(run)
    for e in evaluate_run(rows, run.truth):
        assert e["found_frac"] >= 0.99 and e["false"] == 0, e
        assert e["sl_mape"] <= 3.0, e


def test_strides_escaping_a_mostly_long_clipped_swing_get_no_stride_length():
    """A range too small for the swing (4 g here) clips most strides for longer than declip can
    mend; the few that escape by a few samples are no better (real running shoe signals
    clipped at 2 g: 1-27 % off, median ~16 %) and would bias the session's stride length
    toward the gentler strides. With at least half of the last 8 strides long-clipped, a stride
    gets no stride length or speed either; everything else of its row is unchanged."""
    from dsp.foot_analyzer import FootSettings

    run = simulate_session("easy", duration_s=30, rate_hz=208, seed=2, sensors=("left_foot",))
    b = run.blocks["left_foot"]
    g = 4.0 * 9.80665
    acc = np.clip(b.acc, -g, g)
    info = SensorInfo("left_foot", "left_foot", "simulated", 208.0, acc_range_g=4.0)

    def rows(recent: int) -> list[dict]:
        fa = FootAnalyzer(info, settings=FootSettings(clip_recent_strides=recent))
        out = fa.feed(SampleBlock("left_foot", b.t, acc, b.gyr)).rows + fa.finish().rows
        return [r.as_record() for r in out]

    before, after = rows(0), rows(8)
    assert len(before) == len(after) > 20
    with_sl = [r for r in before if r["stride_length"] is not None]
    assert len(with_sl) >= 2  # escaped the long-run rule alone
    changed = 0
    for r0, r1 in zip(before, after, strict=True):
        if r0 != r1:
            changed += 1
            assert r0["stride_length"] is not None and r1["stride_length"] is None
            assert r1["speed"] is None and "saturated" in r1["flags"]
            assert {k: v for k, v in r0.items() if k not in ("stride_length", "speed")} == {
                k: v for k, v in r1.items() if k not in ("stride_length", "speed")
            }
    assert changed >= 2
