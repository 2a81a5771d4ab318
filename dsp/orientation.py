"""Strapdown orientation and velocity between two still instants, with drift removed.

Generic for any body segment (foot, pelvis): the caller gives body-frame signals
(``acc`` in m/s², ``gyr`` in deg/s, columns ``ap, ml, vt``) and the indices of the instants at
which the segment is (nearly) still, and gets the body-to-world rotation, world velocity and
position for every sample in between.

Method (after Mariani et al. 2010, "3D gait assessment in young and elderly subjects using
foot-worn inertial sensors", J Biomech 43(15), and Falbriard et al. 2020, "Drift-free foot
orientation estimation in running using wearable IMU", Front Bioeng Biotechnol 8:65):

1. the initial attitude at the first still instant is the tilt that maps the measured specific
   force onto world up (heading set to zero: world ``x`` is the horizontal projection of
   the body ``ap`` axis);
2. gyroscope increments are chained (quaternion product, vectorised prefix scan);
3. at the second still instant the tilt that the gyro predicts is compared with the one the
   accelerometer measures; the error rotation is removed linearly in time (gravity update);
4. gravity is removed from the specific force rotated to the world; the integral from zero
   velocity is corrected linearly so the velocity at the second still instant is zero again
   (zero-velocity update); position is the integral of the corrected velocity.

No per-sample Python loop: every step is a numpy array operation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from dsp.block import STANDARD_GRAVITY

__all__ = [
    "StrideKinematics",
    "chain_rotations",
    "elevation_deg",
    "integrate_stride",
    "quat_multiply",
    "tilt_from_acc",
]

_Z = np.array([0.0, 0.0, 1.0])


def quat_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p ⊗ q`` of quaternions in scipy order ``(x, y, z, w)``.

    Parameters
    ----------
    p, q : ndarray, shape (..., 4)

    Returns
    -------
    ndarray, shape (..., 4)
        The rotation "first ``q``, then ``p``" (as matrices ``P @ Q``).
    """
    px, py, pz, pw = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    qx, qy, qz, qw = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
            pw * qw - px * qx - py * qy - pz * qz,
        ],
        axis=-1,
    )


def chain_rotations(increments: np.ndarray) -> np.ndarray:
    """Prefix products ``q_0 ⊗ q_1 ⊗ … ⊗ q_k`` for every ``k`` (Hillis-Steele scan).

    Parameters
    ----------
    increments : ndarray, shape (N, 4)
        Body-frame rotation increments, scipy quaternion order.

    Returns
    -------
    ndarray, shape (N, 4)
        Cumulative rotations (normalised); ``log2(N)`` vectorised passes.
    """
    q = np.array(increments, dtype=np.float64, copy=True)
    n = q.shape[0]
    shift = 1
    while shift < n:
        q[shift:] = quat_multiply(q[:-shift], q[shift:])
        shift *= 2
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q


def tilt_from_acc(acc: np.ndarray) -> Rotation:
    """Body-to-world rotation with zero heading whose world up matches the specific force.

    Parameters
    ----------
    acc : ndarray, shape (3,)
        Specific force in the body frame (m/s²) at a still instant.

    Returns
    -------
    scipy.spatial.transform.Rotation
        ``R`` with ``R @ acc ∥ +z`` and the horizontal projection of body ``x`` (``ap``) along
        world ``+x`` (heading zero).
    """
    up = np.asarray(acc, dtype=np.float64)
    up = up / np.linalg.norm(up)
    # pitch: elevation of body x; roll about body x
    pitch = np.arcsin(np.clip(up[0], -1.0, 1.0))  # ap·z_w = up_body[0]
    roll = np.arctan2(up[1], up[2])
    # R = Ry(-pitch) @ Rx(roll): x_b elevated by +pitch (toes up), then roll about x_b
    return Rotation.from_euler("YX", [-pitch, roll])


def elevation_deg(rot_matrices: np.ndarray, axis: int) -> np.ndarray:
    """Elevation (deg) above the horizontal of body axis ``axis`` (0 ap, 1 ml, 2 vt).

    Parameters
    ----------
    rot_matrices : ndarray, shape (N, 3, 3)
        Body-to-world rotation matrices.
    """
    return np.degrees(np.arcsin(np.clip(rot_matrices[:, 2, axis], -1.0, 1.0)))


class StrideKinematics:
    """Drift-corrected orientation, velocity and position between two still instants.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sample rate; used only when ``t`` is not given.
    still_half_window_s : float
        Half width of the window in which the specific force is averaged to measure the tilt at
        each still instant, s.
    gravity : float
        Local gravity, m/s².

    Attributes (after :meth:`fit`)
    ------------------------------
    rot_ : ndarray, shape (N, 3, 3)
        Body-to-world rotation of every sample of the window.
    vel_ : ndarray, shape (N, 3)
        World velocity in m/s (zero at both still instants).
    pos_ : ndarray, shape (N, 3)
        World position in m (zero at the first still instant).
    tilt_error_deg_ : float
        Size of the tilt error removed at the second still instant, deg.
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        still_half_window_s: float = 0.005,
        gravity: float = STANDARD_GRAVITY,
    ) -> None:
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.still_half_window_s = float(still_half_window_s)
        self.gravity = float(gravity)

    def _mean_acc(self, acc: np.ndarray, i: int) -> np.ndarray:
        h = max(0, round(self.still_half_window_s * self.sampling_rate_hz))
        return acc[max(0, i - h) : i + h + 1].mean(axis=0)

    def fit(
        self,
        t: np.ndarray,
        acc: np.ndarray,
        gyr: np.ndarray,
        still_a: int,
        still_b: int | None = None,
    ) -> StrideKinematics:
        """Integrate a window.

        Parameters
        ----------
        t : ndarray, shape (N,)
            Sample times, s.
        acc : ndarray, shape (N, 3)
            Specific force, body frame, m/s².
        gyr : ndarray, shape (N, 3)
            Angular rate, body frame, deg/s.
        still_a : int
            Index of the first still instant (orientation anchored there; may be > 0, samples
            before it are integrated backwards).
        still_b : int or None
            Index of the second still instant (> ``still_a``); ``None``: no drift correction and
            no velocity or position (attributes set to NaN).

        Returns
        -------
        self
        """
        n = t.shape[0]
        dt = np.diff(t)
        w_mid = np.radians(0.5 * (gyr[1:] + gyr[:-1])) * dt[:, None]
        inc = np.empty((n, 4))
        inc[0] = (0.0, 0.0, 0.0, 1.0)
        inc[1:] = Rotation.from_rotvec(w_mid).as_quat()
        q = chain_rotations(inc)  # body(k) -> body(0)
        r0 = tilt_from_acc(self._mean_acc(acc, still_a))
        qa_inv = q[still_a] * np.array([-1.0, -1.0, -1.0, 1.0])
        rel = quat_multiply(np.broadcast_to(qa_inv, q.shape), q)  # body(k) -> body(a)
        rot = r0 * Rotation.from_quat(rel)
        self.tilt_error_deg_ = float("nan")
        if still_b is None:
            self.rot_ = rot.as_matrix()
            self.vel_ = np.full((n, 3), np.nan)
            self.pos_ = np.full((n, 3), np.nan)
            return self
        # gravity update: tilt error at b, removed linearly in time from a to b
        up_meas = rot[still_b].apply(self._mean_acc(acc, still_b))
        up_meas /= np.linalg.norm(up_meas)
        axis = np.cross(up_meas, _Z)
        s = np.linalg.norm(axis)
        angle = np.arctan2(s, float(np.dot(up_meas, _Z)))
        self.tilt_error_deg_ = float(np.degrees(angle))
        frac = np.clip((t - t[still_a]) / (t[still_b] - t[still_a]), 0.0, None)
        if s > 1e-12:
            corr = Rotation.from_rotvec(np.outer(frac * angle, axis / s))
            rot = corr * rot
        mats = rot.as_matrix()
        self.rot_ = mats
        # velocity between a and b with the zero-velocity update
        acc_w = np.einsum("nij,nj->ni", mats, acc)
        acc_w[:, 2] -= self.gravity
        vel = np.zeros((n, 3))
        seg = slice(still_a, still_b + 1)
        a_seg = acc_w[seg]
        dts = dt[still_a:still_b]
        v = np.zeros_like(a_seg)
        v[1:] = np.cumsum(0.5 * (a_seg[1:] + a_seg[:-1]) * dts[:, None], axis=0)
        ramp = (t[seg] - t[still_a]) / (t[still_b] - t[still_a])
        v -= ramp[:, None] * v[-1]
        vel[seg] = v
        vel[: still_a] = np.nan
        vel[still_b + 1 :] = np.nan
        pos = np.full((n, 3), np.nan)
        p = np.zeros_like(v)
        p[1:] = np.cumsum(0.5 * (v[1:] + v[:-1]) * dts[:, None], axis=0)
        pos[seg] = p
        self.vel_ = vel
        self.pos_ = pos
        return self
