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

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.spatial.transform import Rotation

from dsp.block import STANDARD_GRAVITY

__all__ = [
    "StrideKinematics",
    "chain_rotations",
    "elevation_deg",
    "quat_multiply",
    "tilt_from_acc",
    "tilt_matrix",
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
    out = np.empty(np.broadcast_shapes(p.shape, q.shape))
    out[..., 0] = pw * qx + px * qw + py * qz - pz * qy
    out[..., 1] = pw * qy - px * qz + py * qw + pz * qx
    out[..., 2] = pw * qz + px * qy - py * qx + pz * qw
    out[..., 3] = pw * qw - px * qx - py * qy - pz * qz
    return out


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
    from scipy.spatial.transform import Rotation  # imported here: it is slow to import

    return Rotation.from_matrix(tilt_matrix(acc))


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
        inc = np.empty((n, 4))
        inc[0] = (0.0, 0.0, 0.0, 1.0)
        inc[1:] = _quat_from_rotvec(np.radians(0.5 * (gyr[1:] + gyr[:-1])) * dt[:, None])
        q = chain_rotations(inc)  # body(k) -> body(0)
        qa_inv = q[still_a] * np.array([-1.0, -1.0, -1.0, 1.0])
        rel = quat_multiply(np.broadcast_to(qa_inv, q.shape), q)  # body(k) -> body(a)
        r0 = tilt_matrix(self._mean_acc(acc, still_a))
        mats = np.einsum("ij,njk->nik", r0, _quat_to_matrix(rel))
        self.tilt_error_deg_ = float("nan")
        if still_b is None:
            self.rot_ = mats
            self.vel_ = np.full((n, 3), np.nan)
            self.pos_ = np.full((n, 3), np.nan)
            return self
        # gravity update: tilt error at b, removed linearly in time from a to b
        up_meas = mats[still_b] @ self._mean_acc(acc, still_b)
        up_meas /= np.linalg.norm(up_meas)
        axis = np.cross(up_meas, _Z)
        s = np.linalg.norm(axis)
        angle = np.arctan2(s, float(np.dot(up_meas, _Z)))
        self.tilt_error_deg_ = float(np.degrees(angle))
        frac = np.clip((t - t[still_a]) / (t[still_b] - t[still_a]), 0.0, None)
        if s > 1e-12:
            corr = _quat_to_matrix(_quat_from_rotvec(np.outer(frac * angle, axis / s)))
            mats = np.einsum("nij,njk->nik", corr, mats)
        self.rot_ = mats
        # velocity between a and b with the zero-velocity update
        seg = slice(still_a, still_b + 1)
        acc_w = np.einsum("nij,nj->ni", mats[seg], acc[seg])
        acc_w[:, 2] -= self.gravity
        dts = dt[still_a:still_b]
        v = np.zeros_like(acc_w)
        v[1:] = np.cumsum(0.5 * (acc_w[1:] + acc_w[:-1]) * dts[:, None], axis=0)
        ramp = (t[seg] - t[still_a]) / (t[still_b] - t[still_a])
        v -= ramp[:, None] * v[-1]
        vel = np.full((n, 3), np.nan)
        vel[seg] = v
        pos = np.full((n, 3), np.nan)
        p = np.zeros_like(v)
        p[1:] = np.cumsum(0.5 * (v[1:] + v[:-1]) * dts[:, None], axis=0)
        pos[seg] = p
        self.vel_ = vel
        self.pos_ = pos
        return self


def tilt_matrix(acc: np.ndarray) -> np.ndarray:
    """:func:`tilt_from_acc` as a 3x3 matrix (numpy only).

    ``R = Ry(-pitch) @ Rx(roll)``: the body ``x`` (``ap``) elevated by ``pitch`` (toes up),
    then the roll about it, with ``pitch = asin(up_x)`` and ``roll = atan2(up_y, up_z)``.
    """
    up = np.asarray(acc, dtype=np.float64)
    up = up / np.linalg.norm(up)
    pitch = np.arcsin(np.clip(up[0], -1.0, 1.0))
    roll = np.arctan2(up[1], up[2])
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    ry = np.array([[cp, 0.0, -sp], [0.0, 1.0, 0.0], [sp, 0.0, cp]])  # Ry(-pitch)
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return ry @ rx


def _quat_from_rotvec(rv: np.ndarray) -> np.ndarray:
    """Quaternions ``(x, y, z, w)`` of rotation vectors (rad), shape (N, 3) -> (N, 4)."""
    ang = np.linalg.norm(rv, axis=1)
    half = 0.5 * ang
    # sin(half)/ang with its series near zero
    small = ang < 1e-6
    k = np.where(small, 0.5 - ang * ang / 48.0, np.sin(half) / np.where(small, 1.0, ang))
    out = np.empty((rv.shape[0], 4))
    out[:, :3] = rv * k[:, None]
    out[:, 3] = np.cos(half)
    return out


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of unit quaternions ``(x, y, z, w)``."""
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.empty((q.shape[0], 3, 3))
    m[:, 0, 0] = 1 - 2 * (y * y + z * z)
    m[:, 0, 1] = 2 * (x * y - z * w)
    m[:, 0, 2] = 2 * (x * z + y * w)
    m[:, 1, 0] = 2 * (x * y + z * w)
    m[:, 1, 1] = 1 - 2 * (x * x + z * z)
    m[:, 1, 2] = 2 * (y * z - x * w)
    m[:, 2, 0] = 2 * (x * z - y * w)
    m[:, 2, 1] = 2 * (y * z + x * w)
    m[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return m
