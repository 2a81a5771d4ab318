"""Time-sync start-up and long frames: sample-counting devices with ±0.5 % rate errors and a
Polar-like device with one 36-sample frame per 0.7 s, on a BLE-like link (30 ms connection
interval, 10 % of the connection events skipped), timed through :meth:`SensorTimeline.feed`
with the session's 0.2 s hold. The sensors must agree within 5 ms."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.devices import DecodedSamples
from firmware_bridge.timesync import SensorTimeline

CONN_S = 0.030


def stream(kind, seconds, seed):
    """(true times, session times) of every sample of one simulated device."""
    rng = np.random.default_rng(seed)
    rate, spp, rate_error, stamped = {
        "count+": (100.0, 6, 0.005, False),
        "count-": (100.0, 6, -0.005, False),
        "polar": (52.0, 36, -40e-6, True),
        "movesense": (104.0, 8, 40e-6, True),
    }[kind]
    period = 1.0 / rate
    phase = rng.uniform(0, CONN_S)
    start = rng.uniform(0.2, 0.6)
    tl = SensorTimeline(0.0, hold_s=0.2)
    truth: dict[int, np.ndarray] = {}
    ts, tt = [], []
    busy = 0.0
    k = 0
    while True:
        t_true = start + np.arange(k, k + spp) * period / (1.0 + rate_error)
        if t_true[-1] > seconds:
            break
        event = np.ceil((t_true[-1] - phase) / CONN_S) * CONN_S + phase
        while rng.random() < 0.1:
            event += CONN_S
        busy = max(event, busy)
        arrival = busy + 0.0003 + rng.exponential(0.0005)
        pkt = DecodedSamples(
            acc=np.zeros((spp, 3)),
            gyr=np.zeros((spp, 3)),
            sample_period_s=period,
            sample_index=k,
            device_time_s=(50.0 + k * period / (1.0 + rate_error)) if stamped else None,
        )
        truth[k] = t_true
        for p, r in tl.feed(pkt, arrival):
            ts.append(r.t)
            tt.append(truth[p.sample_index])
        k += spp
    for p, r in tl.flush():
        ts.append(r.t)
        tt.append(truth[p.sample_index])
    t, true = np.concatenate(ts), np.concatenate(tt)
    assert np.all(np.diff(t) > 0)
    return true, t


KINDS = ["count+", "count-", "polar", "movesense"]


@pytest.mark.parametrize("seed", [1, 2])
def test_sensors_agree_within_5_ms(seed):
    grid = np.arange(20.0, 90.0, 0.05)
    errs = {}
    for i, kind in enumerate(KINDS):
        true, t = stream(kind, 90.0, seed * 10 + i)
        errs[kind] = np.interp(grid, true, t - true)
        # every sensor alone: its lag is the minimum delivery delay, not a bin's typical one
        assert np.max(np.abs(errs[kind])) < 5e-3, (kind, np.max(np.abs(errs[kind])))
    e = np.array(list(errs.values()))
    assert np.max(e.max(axis=0) - e.min(axis=0)) < 5e-3


def test_long_frames_lag_is_small():
    # one notification per 0.7 s: ~1.4 packets per 1-s bin; the fit still rests on the fastest
    true, t = stream("polar", 120.0, 7)
    err = (t - true)[true > 40.0]
    assert abs(np.median(err)) < 3e-3
    assert np.percentile(np.abs(err - np.median(err)), 95) < 2e-3


@pytest.mark.parametrize("kind", ["count+", "count-"])
def test_counting_device_converges_in_seconds(kind):
    true, t = stream(kind, 60.0, 3)
    err = t - true
    assert np.max(np.abs(err[true > 20.0])) < 5e-3
    assert np.max(np.abs(err[true > 40.0])) < 3e-3
