"""A small, self-contained synthetic shoe-IMU generator for the convention and pipeline tests.

Independent of the project's simulator on purpose: the convention tests must pin the signs of
the foot frame without relying on another implementation of the same conventions. The foot is a
rigid body whose pitch, eversion and position follow smooth splines through a few knots per
stride; the sensor signals are computed analytically (angular rate from the Euler-angle rates,
specific force from the position's second derivative plus gravity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial.transform import Rotation

G = 9.80665


@dataclass
class SynthRun:
    t: np.ndarray
    acc: np.ndarray  # sensor frame, m/s²
    gyr: np.ndarray  # sensor frame, deg/s
    t_ic: np.ndarray
    t_to: np.ndarray
    strike_angle: float
    stride_length: float
    excursion: float
    R_bs: np.ndarray
    extra: dict = field(default_factory=dict)


def synth_run(
    *,
    fs: float = 208.0,
    n_strides: int = 40,
    stride_time: float = 0.72,
    contact_time: float = 0.24,
    strike_angle: float = 15.0,
    eversion_ic: float = -3.0,
    eversion_peak: float = 7.0,
    stride_length: float = 2.6,
    side: str = "right",
    R_bs: np.ndarray | None = None,
    noise_gyr: float = 0.0,
    noise_acc: float = 0.0,
    still_s: float = 2.0,
    seed: int = 0,
    impact_g: float = 3.0,
    stop_impact: bool = False,
    yaw_deg: float = 0.0,
) -> SynthRun:
    """Steady running (or walking with a long contact) with known events and angles.

    The data start and end standing still; the last landing (into standing, at
    ``extra["t_stop"]``) is not in ``t_ic``; with ``stop_impact`` it is a landing like the
    others (impact, heel lowering, pronation), else the foot is slowly lowered onto the ground.
    ``yaw_deg`` turns the shoe about the vertical (> 0 towards the left) throughout: the feet
    travel along the world's x axis, so a right shoe's toe-out (foot progression angle) is a
    negative yaw and a left shoe's a positive one.
    """
    rng = np.random.default_rng(seed)
    T, tc = stride_time, contact_time
    sw = T - tc
    kt, kp, ke, kx, kz = [], [], [], [], []
    t0 = still_s
    # standing still first (foot flat), then push-off and a first swing into the first contact
    x0 = -stride_length
    t_off = t0 - sw
    kt += [0.0, t_off - 0.5 * tc, t_off, t_off + 0.3 * sw, t_off + 0.75 * sw]
    kp += [0.0, 0.0, -35.0, -75.0, strike_angle + 6.0]
    ke += [0.0, 0.0, 0.0, -2.0, eversion_ic]
    kx += [x0, x0, x0, x0 + 0.25 * stride_length, x0 + 0.9 * stride_length]
    kz += [0.0, 0.0, 0.02, 0.15, 0.05]
    x = 0.0
    t_ic, t_to = [], []
    for k in range(n_strides):
        base = t0 + k * T
        t_ic.append(base)
        t_to.append(base + tc)
        rel = [0.0, 0.25 * tc, 0.55 * tc, tc, tc + 0.3 * sw, tc + 0.75 * sw]
        kt += [base + r for r in rel]
        kp += [strike_angle, 0.0, 0.0, -35.0, -75.0, strike_angle + 6.0]
        ke += [eversion_ic, eversion_peak, 0.0, 0.0, -2.0, eversion_ic]
        s = np.array([0.0, 0.0, 0.0, 0.0, 0.25, 0.9])
        kx += list(x + stride_length * s)
        kz += [0.0, 0.0, 0.0, 0.02, 0.15, 0.05]
        x += stride_length
    end = t0 + n_strides * T
    if stop_impact:  # the last landing as the others (heel lowering, pronation), then still
        kt += [end, end + 0.25 * tc, end + 0.55 * tc, end + 0.55 * tc + still_s]
        kp += [strike_angle, 0.0, 0.0, 0.0]
        ke += [eversion_ic, eversion_peak, 0.0, 0.0]
        kx += [x, x, x, x]
        kz += [0.0, 0.0, 0.0, 0.0]
    else:
        kt += [end, end + 0.5 * tc, end + still_s]
        kp += [strike_angle, 0.0, 0.0]
        ke += [eversion_ic, 0.0, 0.0]
        kx += [x, x, x]
        kz += [0.0, 0.0, 0.0]
    kt = np.asarray(kt)
    sp_p = PchipInterpolator(kt, np.radians(kp))
    sp_e = PchipInterpolator(kt, np.radians(ke))
    sp_x = PchipInterpolator(kt, kx)
    sp_z = PchipInterpolator(kt, kz)
    t = np.arange(0.0, kt[-1], 1.0 / fs)
    pitch, dpitch = sp_p(t), sp_p(t, 1)
    ev, dev = sp_e(t), sp_e(t, 1)
    sgn = 1.0 if side == "left" else -1.0
    b, db = sgn * ev, sgn * dev  # roll about ap
    a = -pitch
    yaw = np.full_like(t, np.radians(yaw_deg))
    rot = Rotation.from_euler("ZYX", np.stack([yaw, a, b], axis=1))  # body -> world
    w_body = np.stack([db, -dpitch * np.cos(b), dpitch * np.sin(b)], axis=1)
    f_world = np.stack([sp_x(t, 2), np.zeros_like(t), sp_z(t, 2) + G], axis=1)
    # landing impact: the ground stops the shoe within a few ms (a decaying upward push)
    for tic in [*t_ic, end] if stop_impact else t_ic:
        tau = t - tic
        m = (tau >= 0) & (tau < 0.06)
        f_world[m, 2] += impact_g * G * np.exp(-tau[m] / 0.008)
    f_body = rot.inv().apply(f_world)
    r_bs = np.eye(3) if R_bs is None else np.asarray(R_bs)
    acc = f_body @ r_bs  # v_sensor = R_bs.T @ v_body  -> row form v_body @ R_bs
    gyr = np.degrees(w_body) @ r_bs
    acc += rng.normal(0, noise_acc, acc.shape)
    gyr += rng.normal(0, noise_gyr, gyr.shape)
    return SynthRun(
        t=t,
        acc=acc,
        gyr=gyr,
        t_ic=np.asarray(t_ic),
        t_to=np.asarray(t_to),
        strike_angle=strike_angle,
        stride_length=stride_length,
        excursion=eversion_peak - eversion_ic,
        R_bs=r_bs,
        extra={"t_stop": end},
    )


def feed_rows(t, acc, gyr, fs: float, block_s: float | None = None) -> list:
    """Rows of a left-foot :class:`dsp.foot_analyzer.FootAnalyzer` fed ``t, acc, gyr`` whole
    (``block_s`` None) or in blocks of ``block_s`` seconds, finish included."""
    from dsp.block import SampleBlock, SensorInfo
    from dsp.foot_analyzer import FootAnalyzer

    fa = FootAnalyzer(SensorInfo("left_foot", "left_foot", "synth", fs))
    blk = SampleBlock("left_foot", t, acc, gyr)
    if block_s is None:
        return [*fa.feed(blk).rows, *fa.finish().rows]
    rows, n = [], max(1, round(block_s * fs))
    for i in range(0, t.shape[0], n):
        rows += fa.feed(blk.slice(i, i + n)).rows
    return [*rows, *fa.finish().rows]


def match_ics(rows, expected, tol_s: float) -> tuple[list[bool], list[float]]:
    """Whether each ``expected`` IC time has a row within ``tol_s``, and the rows' ICs that are
    further than ``tol_s`` from every expected one."""
    tic = np.array([r.t_ic for r in rows])
    found = [bool(tic.size) and float(np.min(np.abs(tic - e))) <= tol_s for e in expected]
    extra = [r.t_ic for r in rows if np.min(np.abs(np.asarray(expected) - r.t_ic)) > tol_s]
    return found, extra
