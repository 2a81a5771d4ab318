"""A small hand-made pelvis-IMU generator for the pelvis convention tests.

Independent of the project's simulator on purpose: the convention tests pin the signs of the
pelvis frame and of the pelvic drop without relying on another implementation of the same
conventions. World frame: ``x`` forward, ``y`` left, ``z`` up. The pelvis only rotates about its
``ap`` axis (obliquity ``o(t)``, positive = left hip up), so ``R_world_from_body = Rx(o)``.

Per step (contact time ``tc``, step time ``ts``, ``tau`` = time since contact):

* vertical: the specific force is a half-sine hump ``k g sin(pi tau / tc)`` in stance and 0 in
  flight, with ``k = pi ts / (2 tc)`` so that it averages 1 g over the step;
* forward: ``-A_fwd sin(2 pi tau / tc)`` in stance (braking, then propulsion);
* sideways: ``-s A_lat sin(pi tau / tc)`` in stance, ``s = +1`` for a left stance (the ground
  pushes the pelvis back toward the right);
* obliquity: ``+d_left sin^2(pi tau / tc)`` in a left stance (the right side drops, the left
  hip is higher), ``-d_right sin^2(pi tau / tc)`` in a right stance, level in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

G = 9.80665

AP, ML, VT = np.eye(3)


def cols(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``R_body_from_sensor`` whose columns are the sensor axes in the body frame."""
    return np.stack([x, y, z], axis=1)


#: Sensor on the sacrum facing back: x up, y left, z backward; tilted 20 deg with the sacrum.
FACING_BACK = Rotation.from_euler("y", 20.0, degrees=True).as_matrix() @ cols(VT, ML, -AP)
#: Sensor on a belt at the front: x up, y right, z forward.
FACING_FRONT = cols(VT, -ML, AP)


@dataclass
class PelvisSynth:
    t: np.ndarray
    acc: np.ndarray  # sensor frame, m/s²
    gyr: np.ndarray  # sensor frame, deg/s
    t_ic: np.ndarray
    t_to: np.ndarray
    side: np.ndarray  # "left"/"right" per contact
    R_bs: np.ndarray


def pelvis_pose_acc(obliquity_deg: float, R_bs: np.ndarray) -> np.ndarray:
    """Accelerometer reading (sensor frame, m/s²) of a still pelvis with the given obliquity."""
    r_wb = Rotation.from_euler("x", obliquity_deg, degrees=True).as_matrix()
    f_body = r_wb.T @ np.array([0.0, 0.0, G])
    return R_bs.T @ f_body


def synth_pelvis_run(
    *,
    fs: float = 208.0,
    n_steps: int = 120,
    cadence_spm: float = 170.0,
    contact_time: float = 0.24,
    drop_left_deg: float = 6.0,
    drop_right_deg: float = 3.0,
    standing_s: float = 3.0,
    R_bs: np.ndarray = FACING_BACK,
    a_fwd: float = 4.0,
    a_lat: float = 1.5,
    noise: float = 1e-3,
    seed: int = 0,
) -> PelvisSynth:
    """Signals of a standing period followed by ``n_steps`` running steps (left first).

    ``noise``: white noise of the accelerometer (m/s²; the gyroscope's is 10 x, in deg/s). A
    real sensor always reads some: without any, the flight phases would read exactly zero on
    all six axes, which the analysers take for a radio dropout (``dsp.stream_input``).
    """
    ts = 60.0 / cadence_spm
    tc = contact_time
    t0 = standing_s + (ts - tc)  # first contact after one flight phase
    dur = t0 + n_steps * ts + (ts - tc)
    t = np.arange(int(dur * fs)) / fs
    k = np.floor((t - t0) / ts).astype(int)
    tau = t - t0 - k * ts
    running = (k >= -1) & (k < n_steps)  # a flight phase before the first contact
    stance = running & (k >= 0) & (tau < tc)
    s = np.where(k % 2 == 0, 1.0, -1.0)  # +1 left stance
    ph = np.pi * tau / tc
    f_vt = np.where(running, 0.0, G)
    f_vt = np.where(stance, (np.pi * ts / (2 * tc)) * G * np.sin(ph), f_vt)
    a_x = np.where(stance, -a_fwd * np.sin(2 * ph), 0.0)
    a_y = np.where(stance, -s * a_lat * np.sin(ph), 0.0)
    d = np.where(s > 0, drop_left_deg, drop_right_deg)
    o = np.where(stance, s * d * np.sin(ph) ** 2, 0.0)
    o_rate = np.where(stance, s * d * (np.pi / tc) * np.sin(2 * ph), 0.0)  # deg/s
    f_world = np.stack([a_x, a_y, f_vt], axis=1)
    r_wb = Rotation.from_euler("x", o[:, None], degrees=True)
    f_body = r_wb.inv().apply(f_world)
    w_body = np.stack([o_rate, np.zeros_like(o), np.zeros_like(o)], axis=1)
    acc = f_body @ R_bs  # R_bs.T @ v for each row
    gyr = w_body @ R_bs
    if noise > 0:
        rng = np.random.default_rng(seed)
        acc = acc + noise * rng.standard_normal(acc.shape)
        gyr = gyr + 10.0 * noise * rng.standard_normal(gyr.shape)
    kk = np.arange(n_steps)
    t_ic = t0 + kk * ts
    return PelvisSynth(
        t=t,
        acc=acc,
        gyr=gyr,
        t_ic=t_ic,
        t_to=t_ic + tc,
        side=np.where(kk % 2 == 0, "left", "right"),
        R_bs=R_bs,
    )
