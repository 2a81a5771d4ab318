"""Stride integration of a foot that rolls at its foot-flats (hand-made, exact kinematics).

A real foot is not still at foot-flat: it rolls over the ground and a sensor at height ``h``
above the rolling contact moves forward at ``omega_ml h``. The stride is integrated from the
foot-flat's velocity ``omega x r`` (``MetricSettings.sensor_height_m``) instead of zero.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import STANDARD_GRAVITY
from dsp.foot_events import ContactEvents
from dsp.foot_metrics import TYPICAL_SENSOR_HEIGHT_M, MetricSettings, contact_metrics

FS = 1000.0
STRIDE_S = 0.7
STRIDE_M = 2.5


def _smootherstep(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and second derivative (in u) of the quintic 0 -> 1 on [0, 1], flat outside."""
    v = np.clip(u, 0.0, 1.0)
    s = v**3 * (10 - 15 * v + 6 * v * v)
    s2 = np.where((u > 0) & (u < 1), 60 * v - 180 * v * v + 120 * v**3, 0.0)
    return s, s2


def rolling_stride(omega_dps: float, height_m: float):
    """A stride between two foot-flats (t = 0 and t = STRIDE_S) at each of which the foot
    rolls forward at ``omega_dps`` (toes going down, ``+gyr_ml``) about a ground contact
    ``height_m`` straight below the sensor: the sensor then moves at ``omega x r`` there.
    Returns t, foot-frame specific force (m/s²) and angular rate (deg/s), the two foot-flat
    indices and the sensor's horizontal travel (m)."""
    w0 = np.radians(omega_dps)
    t = np.arange(round(-0.05 * FS), round((STRIDE_S + 0.05) * FS) + 1) / FS
    k = 2 * np.pi / STRIDE_S
    # pitch about ml: 0 at both foot-flats, rate w0 there
    phi = w0 / k * np.sin(k * t)
    dphi = w0 * np.cos(k * t)
    # sensor position: forward speed w0 h at both foot-flats (omega x r with phi = 0)
    v0 = w0 * height_m
    s, s2 = _smootherstep(t / STRIDE_S)
    x = v0 * t + (STRIDE_M - v0 * STRIDE_S) * s
    ax = (STRIDE_M - v0 * STRIDE_S) * s2 / STRIDE_S**2
    inside = (t > 0) & (t < STRIDE_S)
    az = np.where(inside, 0.12 * 2 * (np.pi / STRIDE_S) ** 2 * np.cos(2 * np.pi * t / STRIDE_S), 0)
    # body -> world: rotation about +y (ml) by phi (toes down for phi > 0)
    c, sn = np.cos(phi), np.sin(phi)
    fx, fz = ax, az + STANDARD_GRAVITY  # specific force, world frame
    acc = np.stack([c * fx - sn * fz, np.zeros_like(t), sn * fx + c * fz], axis=1)  # R^T f
    gyr = np.stack([np.zeros_like(t), np.degrees(dphi), np.zeros_like(t)], axis=1)
    a = int(np.argmin(np.abs(t)))
    b = int(np.argmin(np.abs(t - STRIDE_S)))
    return t, acc, gyr, a, b, float(x[b] - x[a])


def _stride_length(t, acc, gyr, a, b, height_m: float) -> float:
    ev = ContactEvents(a - 20, a, a + 60, t_ic=float(t[a - 20]), t_to=float(t[a + 60]))
    nxt = ContactEvents(b - 20, b, b + 40, t_ic=float(t[b - 20]), t_to=float(t[b + 40]))
    m, _ = contact_metrics(
        t,
        acc,
        gyr,
        ev,
        nxt,
        side="left",
        sampling_rate_hz=FS,
        settings=MetricSettings(sensor_height_m=height_m),
    )
    sl = m["stride_length"]
    assert isinstance(sl, float)
    return sl


@pytest.mark.parametrize(("omega_dps", "height_m"), [(60.0, 0.08), (30.0, 0.12), (90.0, 0.05)])
def test_rolling_foot_flats_give_the_right_stride_length(omega_dps, height_m):
    t, acc, gyr, a, b, travel = rolling_stride(omega_dps, height_m)
    v0 = np.radians(omega_dps) * height_m
    assert travel == pytest.approx(STRIDE_M, abs=1e-9)
    # with the foot-flat velocity omega x r: right to the millimetre
    assert _stride_length(t, acc, gyr, a, b, height_m) == pytest.approx(travel, abs=1e-3)
    # taken as still there: short by the anchor velocity times the stride time
    still = _stride_length(t, acc, gyr, a, b, 0.0)
    assert still == pytest.approx(travel - v0 * STRIDE_S, abs=1e-3)
    assert travel - still > 0.02


def test_a_still_foot_flat_is_unchanged_by_the_sensor_height():
    t, acc, gyr, a, b, travel = rolling_stride(0.0, 0.08)
    assert _stride_length(t, acc, gyr, a, b, TYPICAL_SENSOR_HEIGHT_M) == pytest.approx(
        _stride_length(t, acc, gyr, a, b, 0.0), abs=1e-12
    )
    assert _stride_length(t, acc, gyr, a, b, 0.0) == pytest.approx(travel, abs=1e-3)


def test_default_sensor_height():
    assert MetricSettings().sensor_height_m == TYPICAL_SENSOR_HEIGHT_M
    assert 0.03 <= TYPICAL_SENSOR_HEIGHT_M <= 0.15
