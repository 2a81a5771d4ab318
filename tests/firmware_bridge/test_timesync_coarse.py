"""Time sync with coarse device timestamps: Movesense-like whole-millisecond stamps at 833 and
1666 Hz, where the rounding (±0.5 ms) is close to or above half a sample period."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.devices import DecodedSamples
from firmware_bridge.timesync import SensorTimeline


def ms_packets(
    duration_s,
    *,
    rate=833.0,
    spp=8,
    offset_s=321.0,
    drift_ppm=40.0,
    rate_error=0.0,
    seed=0,
    resolution=1e-3,
):
    """Packets of a Movesense-like device: uint32 ms timestamp of the first sample, ``spp``
    samples. The sampler runs at ``rate·(1 + rate_error)`` on the device clock (a rate error
    against the clock that stamps). Returns (DecodedSamples, arrival, true times)."""
    rng = np.random.default_rng(seed)
    period = 1.0 / rate
    out = []
    k = 0
    conn = 0.0075  # connection interval, s
    while True:
        idx = np.arange(k, k + spp)
        tau = offset_s + idx * period / (1.0 + rate_error)  # device clock
        t_true = (tau - offset_s) / (1.0 + drift_ppm * 1e-6)
        if t_true[-1] > duration_s:
            break
        # the next connection event after the last sample, sometimes skipped; plus scheduling
        event = (np.floor(t_true[-1] / conn) + 1 + (rng.random() < 0.1)) * conn
        arrival = event + 0.001 + rng.exponential(0.002)
        ts_ms = int(np.floor(tau[0] * 1000.0 + 0.5)) % (1 << 32)
        pkt = DecodedSamples(
            acc=np.tile(idx[:, None].astype(float), (1, 3)),  # the sample index as a marker
            gyr=np.zeros((spp, 3)),
            sample_period_s=period,
            device_time_s=ts_ms / 1000.0,
            device_time_modulus_s=(1 << 32) / 1000.0,
            device_time_resolution_s=resolution,
        )
        out.append((pkt, arrival, t_true))
        k += spp
    return out


def run(tl, packets, skip=(), order=None):
    res = []
    for i in order if order is not None else range(len(packets)):
        if i in skip:
            continue
        pkt, arrival, t_true = packets[i]
        res.append((i, tl.push(pkt, arrival), t_true))
    return res


@pytest.mark.parametrize("rate", [833.0, 1666.0])
def test_ms_timestamps_lose_no_sample(rate):
    tl = SensorTimeline(0.0)
    pk = ms_packets(60.0, rate=rate)
    res = run(tl, pk)
    assert all(r is not None for _, r, _ in res), "a packet with new samples was dropped"
    assert tl.lost_samples == 0 and tl.duplicates == 0 and tl.overlaps == 0
    assert all(r.gap is None and r.lost_samples == 0 for _, r, _ in res)
    t = np.concatenate([r.t for _, r, _ in res])
    truth = np.concatenate([tt for _, _, tt in res])
    assert len(t) == len(pk) * 8
    assert np.all(np.diff(t) > 0)
    seq = np.concatenate([r.seq for _, r, _ in res]).astype(np.int64)
    assert np.array_equal(seq, np.arange(len(seq)))
    # the rounding of the stamps is averaged out: sample spacing stays within a few % of the
    # period after the first second (raw stamps would make it jump by up to ±1 ms)
    period = 1.0 / rate
    late = truth[1:] > 1.0
    assert np.max(np.abs(np.diff(t)[late] - period)) < 0.05 * period
    err = (t - truth)[truth > 10.0]
    assert np.percentile(np.abs(err - np.median(err)), 95) < 1e-3


def test_ms_timestamps_with_sample_rate_error():
    # the IMU's own oscillator runs 0.4 % slower than nominal against the clock that stamps
    tl = SensorTimeline(0.0)
    pk = ms_packets(30.0, rate_error=-0.004, seed=2)
    res = run(tl, pk)
    assert all(r is not None for _, r, _ in res)
    assert tl.lost_samples == 0 and tl.duplicates == 0
    t = np.concatenate([r.t for _, r, _ in res])
    truth = np.concatenate([tt for _, _, tt in res])
    assert np.all(np.diff(t) > 0)
    err = (t - truth)[truth > 10.0]
    assert np.percentile(np.abs(err - np.median(err)), 95) < 1.5e-3


def test_ms_timestamps_true_duplicate_dropped_and_true_loss_gapped():
    tl = SensorTimeline(0.0)
    pk = ms_packets(10.0, seed=3)
    # packets 200 and 600..602 lost on the air; packet 400 delivered twice; 700 and 699 swapped
    order = [*range(401), 400, *range(401, 699), 700, 699, *range(701, 900)]
    res = run(tl, pk, skip={200, 600, 601, 602}, order=order)
    assert tl.duplicates == 2  # the repeated 400 and the late 699
    assert sum(r is None for _, r, _ in res) == 2
    assert tl.lost_samples == 4 * 8 + 8  # 200, 600-602, and 699 which came too late
    gapped = {i: r for i, r, _ in res if r is not None and r.gap is not None}
    assert sorted(gapped) == [201, 603, 700]
    assert gapped[201].lost_samples == 8 and gapped[603].lost_samples == 24
    g0, g1 = gapped[603].gap
    missing = np.concatenate([pk[i][2] for i in (600, 601, 602)])
    assert g0 == pytest.approx(missing[0], abs=3e-3)
    assert g1 == pytest.approx(missing[-1], abs=3e-3)
    t = np.concatenate([r.t for _, r, _ in res if r is not None])
    assert np.all(np.diff(t) > 0)
    seq = np.concatenate([r.seq for _, r, _ in res if r is not None]).astype(np.int64)
    assert np.sum(np.diff(seq) - 1) == 5 * 8


def test_overlapping_packet_delivers_only_its_new_samples():
    tl = SensorTimeline(0.0)
    pk = ms_packets(2.0, seed=4)
    for pkt, arrival, _ in pk[:50]:
        assert tl.push(pkt, arrival) is not None
    # a packet that repeats the last 3 samples of packet 49 and adds 5 new ones
    p49, p50 = pk[49][0], pk[50][0]
    period = p50.sample_period_s
    tau = p49.device_time_s + 5 * period
    over = DecodedSamples(
        acc=np.concatenate([p49.acc[5:], p50.acc[:5]]),
        gyr=np.zeros((8, 3)),
        sample_period_s=period,
        device_time_s=np.floor(tau * 1000 + 0.5) / 1000,
        device_time_resolution_s=1e-3,
    )
    out = tl.feed(over, pk[50][1])
    assert len(out) == 1
    delivered, r = out[0]
    assert r.skip == 3 and len(r.t) == 5 and r.lost_samples == 0
    assert np.array_equal(delivered.acc, p50.acc[:5])
    assert tl.overlaps == 1 and tl.duplicates == 0 and tl.lost_samples == 0


def test_without_resolution_hint_833_hz_still_loses_nothing():
    # a driver that does not declare its quantum: the grid prediction alone (rounding error
    # ≤ 0.5 ms against a 0.6 ms half period) keeps every packet
    tl = SensorTimeline(0.0)
    res = run(tl, ms_packets(20.0, resolution=None, seed=5))
    assert all(r is not None for _, r, _ in res)
    assert tl.lost_samples == 0


def test_reconnect_with_ms_timestamps_counts_the_outage_exactly():
    # the link drops for ~3 s; the device clock and sampler run on; afterwards every packet is
    # in order again: the outage is one gap of exactly the samples missed, then no false ones
    tl = SensorTimeline(0.0)
    pk = ms_packets(12.0, seed=6)
    out = set(range(400, 712))  # 312 packets = 2 496 samples ≈ 3 s
    res = []
    for i, (pkt, arrival, _) in enumerate(pk):
        if i in out:
            continue
        if i == 712:
            tl.reconnected()
        res.append((i, tl.push(pkt, arrival)))
    assert all(r is not None for _, r in res)
    assert tl.lost_samples == len(out) * 8 and tl.duplicates == 0
    gapped = [i for i, r in res if r.gap is not None]
    assert gapped == [712]
    t = np.concatenate([r.t for _, r in res])
    assert np.all(np.diff(t) > 0)
