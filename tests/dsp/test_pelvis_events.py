"""dsp.pelvis_events.detect_stances finds all the humps of a window in one vectorised pass: the
same events, bit for bit, as the rules applied one hump at a time (the reference below, the
loop it replaced)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dsp.block import STANDARD_GRAVITY
from dsp.filters import centered_moving_average, samples_for
from dsp.pelvis_events import FLIGHT_MAX_G, StanceEvents, detect_stances
from firmware_bridge.simulator.session import simulate_session

G = STANDARD_GRAVITY


def _crossing(t: np.ndarray, x: np.ndarray, i: int, level: float) -> float:
    x0, x1 = x[i], x[i + 1]
    if x1 == x0:
        return float(t[i])
    f = (level - x0) / (x1 - x0)
    return float(t[i] + min(1.0, max(0.0, f)) * (t[i + 1] - t[i]))


def _last_true(mask: np.ndarray) -> int:
    return mask.shape[0] - 1 - int(mask[::-1].argmax())


def _one_hump_at_a_time(t, f_vt, fs, smooth_ms=50.0, stance_min_g=1.4, min_hump_s=0.06,
                        max_hump_s=0.9, flight_max_g=FLIGHT_MAX_G):  # fmt: skip
    """detect_stances' rules, hump by hump (its implementation before the vectorised pass)."""
    n = t.shape[0]
    w = samples_for(smooth_ms / 1000.0, sampling_rate_hz=fs, minimum=1)
    x = centered_moving_average(np.asarray(f_vt, dtype=np.float64), window=w) / G
    d = np.diff(np.concatenate(([0], (x > stance_min_g).astype(np.int8), [0])))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    if starts.size == 0:
        return None
    gap_ok = starts[1:] - stops[:-1] > samples_for(min_hump_s, sampling_rate_hz=fs)
    starts = starts[np.concatenate(([True], gap_ok))]
    stops = stops[np.concatenate((gap_ok, [True]))]
    merge = samples_for(min_hump_s, sampling_rate_hz=fs)
    lo_region = np.concatenate(([0], stops))
    cols: dict[str, list] = {k: [] for k in ("pk", "ic", "to", "g", "fl", "pre", "post", "dep",
                                             "up", "dn", "reach")}  # fmt: skip
    for k in range(starts.size):
        a, b = int(starts[k]), int(stops[k])
        ip = a + int(np.argmax(x[a:b]))
        pk = float(x[ip])
        half = 0.5 * pk
        left_lim = int(lo_region[k])
        right_lim = int(starts[k + 1]) if k + 1 < starts.size else n
        below_l = x[left_lim:ip] < half
        below_r = x[ip:right_lim] < half
        if not (below_l.any() and below_r.any()):
            continue
        iu = _last_true(below_l) + left_lim
        idn = ip + int(below_r.argmax()) - 1
        t_up, t_dn = _crossing(t, x, iu, half), _crossing(t, x, idn, half)
        dur = t_dn - t_up
        if not (min_hump_s <= dur <= max_hump_s):
            continue
        tc = 1.5 * dur
        if t_up - tc / 6.0 < t[0] or t_dn + tc / 6.0 > t[-1]:
            continue
        reach = samples_for(tc, sampling_rate_hz=fs, minimum=2)
        lo_pre = max(0, iu - reach)
        fl_pre = x[lo_pre : iu + 1] < flight_max_g
        fl_post = x[idn : min(n, idn + reach + 1)] < flight_max_g
        any_post = bool(fl_post.any())
        j_post = idn + int(fl_post.argmax()) if any_post else n + 10**9
        cols["pre"].append(lo_pre + _last_true(fl_pre) if fl_pre.any() else -1)
        cols["post"].append(j_post)
        cols["fl"].append(bool(fl_pre.any()) and any_post)
        cols["dep"].append(max(j_post if any_post else idn + reach, b + merge) + w // 2 + 1)
        cols["pk"].append(ip)
        cols["ic"].append(t_up - tc / 6.0)
        cols["to"].append(t_dn + tc / 6.0)
        cols["g"].append(pk)
        cols["up"].append(iu)
        cols["dn"].append(idn)
        cols["reach"].append(reach)
    if not cols["pk"]:
        return None
    t_ic, t_to = np.asarray(cols["ic"]), np.asarray(cols["to"])
    return StanceEvents(
        i_peak=np.asarray(cols["pk"], dtype=int),
        t_ic=t_ic,
        t_to=t_to,
        i_ic=np.clip(np.searchsorted(t, t_ic, side="left"), 0, n - 1),
        i_to=np.clip(np.searchsorted(t, t_to, side="left"), 0, n - 1),
        peak_g=np.asarray(cols["g"]),
        flight=np.asarray(cols["fl"], dtype=bool),
        i_pre=np.asarray(cols["pre"], dtype=int),
        i_post=np.asarray(cols["post"], dtype=int),
        i_dep=np.asarray(cols["dep"], dtype=int),
        i_up=np.asarray(cols["up"], dtype=int),
        i_dn=np.asarray(cols["dn"], dtype=int),
        reach=np.asarray(cols["reach"], dtype=int),
    )


def _assert_same(got: StanceEvents, ref: StanceEvents | None) -> None:
    if ref is None:
        assert len(got) == 0
        return
    assert len(got) == len(ref) > 0
    for f in dataclasses.fields(StanceEvents):
        a, b = getattr(got, f.name), getattr(ref, f.name)
        assert a.dtype == b.dtype, f.name
        assert np.array_equal(a, b), f.name


@pytest.mark.parametrize(("scenario", "rate"), [("easy", 400.0), ("forefoot", 50.0),
                                                ("intervals", 104.0), ("walk", 100.0)])  # fmt: skip
def test_simulated_pelvis_windows_give_the_one_hump_at_a_time_events(scenario, rate):
    sim = simulate_session(scenario, duration_s=40, rate_hz=rate, seed=3, sensors=("pelvis",))
    block = sim.blocks["pelvis"]
    f_vt = np.linalg.norm(block.acc, axis=1)  # (the vertical reading's stand-in)
    rng = np.random.default_rng(0)
    cuts = [(0, block.t.size)] + [tuple(sorted(rng.integers(0, block.t.size, 2))) for _ in range(6)]
    for a, b in cuts:
        t, f = block.t[a:b], f_vt[a:b]
        _assert_same(detect_stances(t, f, sampling_rate_hz=rate), _one_hump_at_a_time(t, f, rate))


def test_made_up_humps_with_flat_tops_merged_dips_and_no_flight():
    # flat (clipped) tops: the first maximum is the peak; a short dip inside a hump merges it;
    # humps without a flight between them; humps cut by both window edges
    fs = 200.0
    rng = np.random.default_rng(7)
    for trial in range(20):
        t = np.arange(int(12 * fs)) / fs
        ph = (t * rng.uniform(2.4, 3.2) + rng.uniform(0, 1)) % 1.0
        x = np.where(ph < 0.35, 0.2 + 2.6 * np.sin(np.pi * ph / 0.35), rng.uniform(0.1, 0.9))
        x = np.minimum(x, rng.uniform(2.0, 2.6))  # clipped tops
        if trial % 3 == 1:
            x[(ph > 0.16) & (ph < 0.18)] = 1.2  # a dip shorter than min_hump_s
        if trial % 4 == 2:
            x = np.maximum(x, 0.7)  # no flight phase
        f = x * G + rng.normal(0, 0.05, t.size)
        _assert_same(detect_stances(t, f, sampling_rate_hz=fs), _one_hump_at_a_time(t, f, fs))
    flat = np.full(400, G)  # no hump at all
    assert len(detect_stances(np.arange(400) / fs, flat, sampling_rate_hz=fs)) == 0
