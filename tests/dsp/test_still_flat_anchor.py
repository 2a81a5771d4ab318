"""A truly still foot-flat takes its tilt from its own specific force (issue 16).

A walking foot often stands still without being flat (on its toes while it turns, on an
uneven spot). The pooled foot-flat reference (the mounting's vertical) is then wrong by that
attitude at one end of the stride, and gravity leaks into the horizontal in a way the
zero-velocity update cannot remove. One synthetic stride: the foot stands still pitched 8 deg
toes-down, swings 1.2 m forward and lands flat; analysed by :func:`contact_metrics`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dsp.block import STANDARD_GRAVITY as G
from dsp.foot_events import ContactEvents
from dsp.foot_metrics import MetricSettings, contact_metrics

FS = 200.0
STRIDE_M = 1.2


def _stride(pitch0_deg: float, *, wobble_dps: float = 0.0, ring_g: float = 0.0):
    """Still 0.3 s at ``pitch0_deg`` (toes up > 0), a 0.8 s swing to pitch 0 and 1.2 m forward
    (minimum-jerk), still 0.3 s flat. Returns t, foot-frame acc (m/s²), gyr (deg/s) and the
    two foot-flat indices. ``wobble_dps``: a pitch oscillation of that amplitude (deg/s) during
    the first stillness; ``ring_g``: a 40 Hz vertical vibration of that amplitude there."""
    n0, n1, n2 = int(0.3 * FS), int(0.8 * FS), int(0.3 * FS)
    t = np.arange(n0 + n1 + n2) / FS
    tau = np.clip((t - t[n0]) / (n1 / FS), 0.0, 1.0)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5  # minimum jerk, 0 -> 1
    ds = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / (n1 / FS)
    dds = (60 * tau - 180 * tau**2 + 120 * tau**3) / (n1 / FS) ** 2
    inside = (t >= t[n0]) & (t <= t[n0 + n1 - 1])
    ds, dds = ds * inside, dds * inside
    theta = np.radians(pitch0_deg) * (1.0 - s)  # pitch, toes up > 0
    dtheta = -np.radians(pitch0_deg) * ds
    if wobble_dps:
        w = 2 * np.pi * 8.0
        first = t < t[n0]
        theta = theta + first * np.radians(wobble_dps) / w * np.sin(w * t)
        dtheta = dtheta + first * np.radians(wobble_dps) * np.cos(w * t)
    a_world = np.zeros((t.size, 3))
    a_world[:, 0] = STRIDE_M * dds
    if ring_g:
        a_world[:, 2] += (t < t[n0]) * ring_g * G * np.sin(2 * np.pi * 40.0 * t)
    # body-to-world: rotation about the foot's ml (y) axis by -theta (toes up: ap rises)
    c, sn = np.cos(theta), np.sin(theta)
    f_world = a_world + np.array([0.0, 0.0, G])
    acc = np.stack([c * f_world[:, 0] + sn * f_world[:, 2], f_world[:, 1],
                    -sn * f_world[:, 0] + c * f_world[:, 2]], axis=1)  # fmt: skip
    gyr = np.zeros((t.size, 3))
    gyr[:, 1] = -np.degrees(dtheta)
    return t, acc, gyr, n0 // 2, n0 + n1 + n2 // 2


def _stride_length(t, acc, gyr, a: int, b: int, settings: MetricSettings) -> float:
    ev = ContactEvents(0, a, a + 5, t_ic=float(t[0]), t_to=float(t[a + 5]))
    nxt = ContactEvents(b - 10, b, b + 5, t_ic=float(t[b - 10]), t_to=float(t[b + 5]))
    m, _ = contact_metrics(
        t, acc, gyr, ev, nxt, side="right", sampling_rate_hz=FS, settings=settings
    )
    return float(m["stride_length"])


def test_a_still_tilted_foot_flat_takes_its_own_tilt():
    t, acc, gyr, a, b = _stride(-8.0)
    on = MetricSettings()
    off = replace(on, still_flat_max_gyr_dps=0.0)
    got = _stride_length(t, acc, gyr, a, b, on)
    pooled = _stride_length(t, acc, gyr, a, b, off)
    assert got == pytest.approx(STRIDE_M, rel=0.005)
    # the pooled vertical is 8 deg off at the first foot-flat: several % off
    assert abs(pooled - STRIDE_M) / STRIDE_M > 0.03


def test_a_flat_still_foot_flat_gives_the_same_as_the_pooled_vertical():
    t, acc, gyr, a, b = _stride(0.0)
    on = MetricSettings()
    off = replace(on, still_flat_max_gyr_dps=0.0)
    assert _stride_length(t, acc, gyr, a, b, on) == pytest.approx(
        _stride_length(t, acc, gyr, a, b, off), abs=1e-9
    )


@pytest.mark.parametrize(("wobble_dps", "ring_g"), [(60.0, 0.0), (0.0, 0.2)])
def test_a_moving_foot_flat_keeps_the_pooled_vertical(wobble_dps, ring_g):
    """A foot-flat that rotates (a running stance) or whose specific force rings (right after
    a heel drop) is not still: its specific force is not gravity, the pooled vertical stays."""
    t, acc, gyr, a, b = _stride(-8.0, wobble_dps=wobble_dps, ring_g=ring_g)
    on = MetricSettings()
    off = replace(on, still_flat_max_gyr_dps=0.0)
    assert _stride_length(t, acc, gyr, a, b, on) == _stride_length(t, acc, gyr, a, b, off)
