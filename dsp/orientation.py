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

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from scipy.spatial.transform import Rotation

from dsp.block import STANDARD_GRAVITY

__all__ = [
    "StrideKinematics",
    "WindowKinematics",
    "chain_rotations",
    "integrate_windows",
    "pack_windows",
    "quat_multiply",
    "rotate_rows",
    "tilt_from_acc",
    "tilt_matrix",
]


def rotate_rows(v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``v @ r.T`` written out per element: vectors ``v`` (N, 3) rotated by ``r`` (3, 3).

    A BLAS product may round a one-row block differently from the same row inside a longer
    block; this does not, so any chunking of the input gives bit-identical values. Computed
    one output column at a time on 1-D arrays (the same sums in the same order as the
    broadcast expression ``v[:, 0:1] * r[:, 0] + v[:, 1:2] * r[:, 1] + v[:, 2:3] * r[:, 2]``,
    about three times faster: no (N, 3) temporaries).
    """
    v0, v1, v2 = v[:, 0], v[:, 1], v[:, 2]
    out = np.empty((v.shape[0], 3), dtype=np.result_type(v, r))
    col = np.empty(v.shape[0], dtype=out.dtype)
    for i in range(3):
        np.multiply(v0, r[i, 0], out=col)
        col += v1 * r[i, 1]
        col += v2 * r[i, 2]
        out[:, i] = col
    return out


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


def chain_rotations(increments: np.ndarray, *, work_efficient: bool = False) -> np.ndarray:
    """Prefix products ``q_0 ⊗ q_1 ⊗ … ⊗ q_k`` for every ``k`` (Hillis-Steele scan).

    Parameters
    ----------
    increments : ndarray, shape (N, 4)
        Body-frame rotation increments, scipy quaternion order.
    work_efficient : bool
        Chain by the blocked scan of :func:`integrate_windows` (about two products per sample
        instead of ``log2(N)``: about 40 % less time for N = 4096). The two differ by rounding
        (~1e-16); in both, element ``k`` depends only on the increments up to ``k``, in an
        order fixed by ``k``, so a prefix of the increments gives the same values as the whole.

    Returns
    -------
    ndarray, shape (N, 4)
        Cumulative rotations (normalised); ``log2(N)`` vectorised passes.
    """
    inc = np.asarray(increments, dtype=np.float64)
    n = inc.shape[0]
    if work_efficient and n > 1:
        x, y, z, w = _scan_blocked(np.ascontiguousarray(inc.T)[:, :, None])[:, :, 0]
        nrm = np.sqrt(x * x + y * y + z * z + w * w)
        return np.stack((x / nrm, y / nrm, z / nrm, w / nrm), axis=1)
    # one contiguous array per component (the products of quat_multiply, without the strided
    # reads of an (N, 4) array: same arithmetic in the same order, bit-identical, ~25 % faster)
    x, y, z, w = (np.array(inc[:, i]) for i in range(4))
    shift = 1
    while shift < n:
        px, py, pz, pw = x[:-shift], y[:-shift], z[:-shift], w[:-shift]
        qx, qy, qz, qw = x[shift:], y[shift:], z[shift:], w[shift:]
        nx = pw * qx + px * qw + py * qz - pz * qy
        ny = pw * qy - px * qz + py * qw + pz * qx
        nz = pw * qz + px * qy - py * qx + pz * qw
        nw = pw * qw - px * qx - py * qy - pz * qz
        x[shift:], y[shift:], z[shift:], w[shift:] = nx, ny, nz, nw
        shift *= 2
    # normalised component by component: np.linalg.norm's sums in the same order, without a
    # reduction along the short axis of an (N, 4) array (several times slower)
    n = np.sqrt(x * x + y * y + z * z + w * w)
    return np.stack((x / n, y / n, z / n, w / n), axis=1)


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
        tt, aa, gg, n = pack_windows([(np.asarray(t, dtype=np.float64), acc, gyr)])
        h = max(0, round(self.still_half_window_s * self.sampling_rate_hz))
        res = integrate_windows(
            tt,
            aa,
            gg,
            n,
            np.array([still_a]),
            np.array([-1 if still_b is None else still_b]),
            still_half_window=h,
            gravity=self.gravity,
        )
        self.rot_ = np.ascontiguousarray(np.moveaxis(res.rot[:, :, 0, :], -1, 0))
        self.vel_ = np.ascontiguousarray(res.vel[:, 0, :].T)
        self.pos_ = np.ascontiguousarray(res.pos[:, 0, :].T)
        self.tilt_error_deg_ = float(res.tilt_error_deg[0])
        return self


class WindowKinematics(NamedTuple):
    """Result of :func:`integrate_windows` for ``K`` windows padded to ``L`` samples.

    Attributes
    ----------
    rot : ndarray, shape (3, 3, K, L)
        Body-to-world rotation matrices, element ``[i, j]`` first (each a contiguous
        ``(K, L)`` array); samples past a window's length are meaningless.
    vel, pos : ndarray, shape (3, K, L)
        World velocity (m/s) and position (m) from the first still instant to the second, NaN
        elsewhere and in windows without a second still instant.
    tilt_error_deg : ndarray, shape (K,)
        Tilt error removed at the second still instant, deg (NaN without one).
    up_uncorrected : ndarray, shape (2, K, M), or None
        ``rot[2, 0]`` and ``rot[2, 1]`` (the world-up row's first two elements) of the
        orientation before the drift correction, first ``M`` samples (``uncorrected_up``).
    """

    rot: np.ndarray
    vel: np.ndarray
    pos: np.ndarray
    tilt_error_deg: np.ndarray
    up_uncorrected: np.ndarray | None = None


def pack_windows(
    windows: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stack windows of different lengths for :func:`integrate_windows`.

    Parameters
    ----------
    windows : list of (t, acc, gyr)
        ``t`` shape (N_k,) in s, ``acc`` (N_k, 3) in m/s², ``gyr`` (N_k, 3) in deg/s.

    Returns
    -------
    t : ndarray, shape (K, L)
        Padded with each window's last time (zero time steps).
    acc, gyr : ndarray, shape (3, K, L)
        Components first, padded with zeros.
    n : ndarray of int, shape (K,)
        Length of each window.

    The arrays are views of time-major arrays (``(L, K)`` and ``(3, L, K)`` in memory), the
    layout :func:`integrate_windows` computes in, so passing them on costs no copy.
    """
    k = len(windows)
    n = np.array([w[0].shape[0] for w in windows], dtype=np.int64)
    width = int(n.max()) if k else 0
    t = np.empty((width, k))
    acc = np.zeros((3, width, k))
    gyr = np.zeros((3, width, k))
    for i, (ti, ai, gi) in enumerate(windows):
        m = ti.shape[0]
        t[:m, i] = ti
        t[m:, i] = ti[m - 1]
        acc[:, :m, i] = ai.T
        gyr[:, :m, i] = gi.T
    return t.T, acc.transpose(0, 2, 1), gyr.transpose(0, 2, 1), n


def integrate_windows(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    n: np.ndarray,
    still_a: np.ndarray,
    still_b: np.ndarray,
    *,
    still_half_window: int,
    gravity: float = STANDARD_GRAVITY,
    work_efficient: bool = False,
    anchor_up: np.ndarray | None = None,
    anchor_up_b: np.ndarray | None = None,
    lever_arm_m: np.ndarray | None = None,
    mask_outside: bool = True,
    uncorrected_up: int = 0,
) -> WindowKinematics:
    """:class:`StrideKinematics` of ``K`` windows at once (one vectorised pass for all).

    Every sample's result depends only on its own window (element-wise operations and
    sequential sums along each window), so a window gives bit-identical results whatever other
    windows share the call, and :class:`StrideKinematics` is this function with ``K = 1``.

    Parameters
    ----------
    t : ndarray, shape (K, L)
        Sample times, s (see :func:`pack_windows`).
    acc, gyr : ndarray, shape (3, K, L)
        Specific force (m/s²) and angular rate (deg/s), body frame, components first.
    n : ndarray of int, shape (K,)
        Valid samples per window.
    still_a : ndarray of int, shape (K,)
        Index of the first still instant (anchor of the orientation) per window.
    still_b : ndarray of int, shape (K,)
        Index of the second still instant, or -1 for none (no drift correction, no velocity).
    still_half_window : int
        Half width (samples) of the specific-force average at the still instants.
    gravity : float
        m/s².
    work_efficient : bool
        Chain the rotations by a blocked scan (about two quaternion products per sample) instead
        of a doubling scan (``log2(L)`` products per sample, but fewer numpy calls: faster for a
        single short window). The two differ by rounding (~1e-16), so a caller that needs
        bit-identical results across calls must always use the same one.
    anchor_up : ndarray, shape (3,), optional
        Body-frame direction of gravity at the still instants, used for their tilt instead of
        the specific force measured there (a reference pooled over many stances of the sensor;
        see :func:`dsp.foot_metrics.contact_metrics_batch`); or shape (3, K), one per window
        (e.g. a truly still foot-flat's own specific force in some windows).
    anchor_up_b : ndarray, shape (3, K), optional
        The same for the second still instants (default: ``anchor_up``).
    lever_arm_m : ndarray, shape (3,), optional
        Body-frame position (m) of the sensor relative to the point about which the segment
        rolls on the ground at the still instants: the velocity there is then ``omega x r``
        (:func:`_anchor_velocity`) instead of zero. ``None``: zero (a still segment).
    mask_outside : bool
        Velocity and position are NaN outside the still instants' span (default); with False
        the values there are left unmasked and meaningless (for a caller that reads only
        samples inside it: two fewer passes over the arrays).
    uncorrected_up : int
        Also return the world-up row of the orientation before the drift correction (its
        first two elements) for the first ``uncorrected_up`` samples of each window: the
        orientation of the same window without a second still instant, which is the
        same for a window cut after those samples (every sample's orientation depends only on
        the samples before it), so one integration serves both.

    Returns
    -------
    WindowKinematics
        Its arrays are views of time-major arrays (time before window in memory: every step
        of the computation runs along contiguous rows of ``K`` windows, about twice as fast
        as window-major rows for the short windows of a contact).
    """
    # time-major copies (free for the views pack_windows returns)
    t = np.ascontiguousarray(np.asarray(t, dtype=np.float64).T)  # (L, K)
    acc = np.ascontiguousarray(np.asarray(acc, dtype=np.float64).transpose(0, 2, 1))
    gyr = np.ascontiguousarray(np.asarray(gyr, dtype=np.float64).transpose(0, 2, 1))
    width, k = t.shape
    rows = np.arange(k)
    still_a = np.asarray(still_a, dtype=np.int64)
    still_b = np.asarray(still_b, dtype=np.int64)
    has_b = still_b >= 0
    # 1. body-frame increments (trapezoidal rate times the real time step)
    dt = t[1:] - t[:-1]
    q = np.empty((4, width, k))
    q[:, 0, :] = ((0.0,), (0.0,), (0.0,), (1.0,))
    rv = np.add(gyr[:, 1:], gyr[:, :-1])  # radians(0.5 * (g[i+1] + g[i])) * dt, in place
    rv *= 0.5
    np.radians(rv, out=rv)
    rv *= dt
    _quat_from_rotvec_c(rv, out=q[:, 1:])
    # 2. prefix products (element i only ever combines elements <= i, in an order fixed by i)
    q = _scan_blocked(q) if work_efficient else _scan_doubling(q)
    q /= np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    # 3. relative to the anchor, then the anchor's tilt from the specific force (composed as
    # quaternions; one conversion to matrices at the end)
    qa = q[:, still_a, rows]
    fixed_up = fixed_up_b = None
    if anchor_up is not None:
        fixed_up = np.asarray(anchor_up, dtype=np.float64).reshape(3, -1)
        if fixed_up.shape[1] != k:
            fixed_up = np.repeat(fixed_up, k, axis=1)
        fixed_up_b = fixed_up
        if anchor_up_b is not None:
            fixed_up_b = np.asarray(anchor_up_b, dtype=np.float64).reshape(3, k)
    q_anchor = _qmul_c(
        _tilt_quats(_mean_at(acc, n, still_a, still_half_window) if fixed_up is None else fixed_up),
        np.stack([-qa[0], -qa[1], -qa[2], qa[3]]),
    )
    world = _qmul_c(q_anchor[:, None, :], q)
    up_free = None
    if uncorrected_up > 0:
        up_free = _up_row_c(world[:, :uncorrected_up]).transpose(0, 2, 1)
    tilt = np.full(k, np.nan)
    if not has_b.any():
        nan = np.full((3, k, width), np.nan)
        return WindowKinematics(
            _quat_to_matrix_c(world).transpose(0, 1, 3, 2), nan, nan, tilt, up_free
        )
    # 4. gravity update: the tilt error at b, removed linearly in time from a to b
    b = np.where(has_b, still_b, still_a)
    fb = _mean_at(acc, n, b, still_half_window) if fixed_up_b is None else fixed_up_b  # (3, K)
    rb = _quat_to_matrix_c(world[:, b, rows])  # (3, 3, K)
    up = rb[:, 0] * fb[0] + rb[:, 1] * fb[1] + rb[:, 2] * fb[2]
    up = up / np.sqrt(up[0] * up[0] + up[1] * up[1] + up[2] * up[2])
    s = np.sqrt(up[1] * up[1] + up[0] * up[0])
    angle = np.arctan2(s, up[2])
    tilt = np.where(has_b, np.degrees(angle), np.nan)
    fix = has_b & (s > 1e-12)
    ta = t[still_a, rows][None, :]
    tb = t[b, rows][None, :]
    if fix.any():
        span = np.where(fix[None, :], tb - ta, 1.0)
        frac = np.maximum((t - ta) / span, 0.0)  # (np.clip's values, without its overhead)
        ang = np.where(fix, angle, 0.0)[None, :] * frac
        sd = np.where(fix, s, 1.0)
        axis = np.stack([up[1] / sd, -up[0] / sd, np.zeros(k)])[:, None, :]
        world = _qmul_c(_quat_from_rotvec_c(ang * axis), world)
    rot = _quat_to_matrix_c(world)
    # 5. velocity from a to b with the zero-velocity update, and position
    idx = np.arange(width)[:, None]
    inside = (idx[:-1] >= still_a[None, :]) & (idx[:-1] < b[None, :])  # steps a..b-1
    acc_w = _matvec_c(rot, acc)
    acc_w[2] -= gravity
    inc = np.where(inside, 0.5 * (acc_w[:, 1:] + acc_w[:, :-1]) * dt, 0.0)
    v = np.zeros((3, width, k))
    inc.cumsum(axis=1, out=v[:, 1:])
    ramp = (t - ta) / np.where(has_b[None, :], tb - ta, 1.0)
    if lever_arm_m is None:
        v -= ramp * v[:, b, rows][:, None, :]
    else:  # the segment rolls at the still instants: omega x r there, not zero
        va = _anchor_velocity(gyr, n, still_a, still_half_window, rot, lever_arm_m)
        vb = _anchor_velocity(gyr, n, b, still_half_window, rot, lever_arm_m)
        v += va[:, None, :]
        v -= ramp * (v[:, b, rows] - vb)[:, None, :]
    pinc = np.where(inside, 0.5 * (v[:, 1:] + v[:, :-1]) * dt, 0.0)
    p = np.zeros((3, width, k))
    pinc.cumsum(axis=1, out=p[:, 1:])
    vel, pos = v, p
    if mask_outside:
        seg = (idx >= still_a[None, :]) & (idx <= b[None, :]) & has_b[None, :]
        vel = np.where(seg, v, np.nan)
        pos = np.where(seg, p, np.nan)
    return WindowKinematics(
        rot.transpose(0, 1, 3, 2), vel.transpose(0, 2, 1), pos.transpose(0, 2, 1), tilt, up_free
    )


#: Arrays up to this many elements are computed by plain expressions (see :func:`_qmul_c`).
_SMALL = 2048


def _scan_doubling(q: np.ndarray) -> np.ndarray:
    """Inclusive prefix products along axis 1 of ``q`` (4, L, ...) (Hillis-Steele).

    Element ``i`` is only changed by the passes with ``shift <= i``, from elements before it, so
    its value does not depend on ``L``. Returns the result (``q`` itself is overwritten).
    """
    width = q.shape[1]
    shift = 1
    other = np.empty_like(q) if width > 1 else q
    while shift < width:
        other[:, :shift] = q[:, :shift]
        _qmul_c(q[:, :-shift], q[:, shift:], out=other[:, shift:])
        q, other = other, q
        shift *= 2
    return q


def _scan_blocked(q: np.ndarray, block: int = 8) -> np.ndarray:
    """Inclusive prefix products along axis 1 of ``q`` (4, L, K) with O(L) products.

    Blocks of ``block`` samples from the start of each window are chained sequentially (all
    blocks at once), the block totals by :func:`_scan_doubling`, then each block is prefixed by
    the total before it. The order of the products for element ``i`` depends only on ``i``.
    """
    _, width, k = q.shape
    nb = -(-width // block)
    padded = np.zeros((4, nb * block, k))
    padded[3] = 1.0  # identity padding at the end
    padded[:, :width] = q
    # position in the block first: each step of the sequential chain is one contiguous array
    blk = np.ascontiguousarray(padded.reshape(4, nb, block, k).transpose(0, 2, 1, 3))
    tmp = np.empty((4, nb, k))
    for j in range(1, block):
        _qmul_c(blk[:, j - 1], blk[:, j], out=tmp)
        blk[:, j] = tmp
    tot = _scan_doubling(np.ascontiguousarray(blk[:, -1]))
    out = padded.reshape(4, nb, block, k)
    out[:, 0] = blk[:, :, 0]
    _qmul_c(tot[:, :-1, None], blk[:, :, 1:].transpose(0, 2, 1, 3), out=out[:, 1:])
    return padded[:, :width]


def _mean_at(acc: np.ndarray, n: np.ndarray, at: np.ndarray, h: int) -> np.ndarray:
    """Mean of ``acc[:, max(0, i-h) : min(n, i+h+1), k]`` at ``i = at[k]``, shape (3, K);
    ``acc`` time-major (3, L, K)."""
    j = at[:, None] + np.arange(-h, h + 1)[None, :]  # (K, 2h+1)
    ok = (j >= 0) & (j < n[:, None])
    vals = acc[:, np.minimum(np.maximum(j, 0), acc.shape[1] - 1), np.arange(at.shape[0])[:, None]]
    # each window row is summed by the same loop, whatever K: batch-invariant
    return np.where(ok, vals, 0.0).sum(axis=2) / ok.sum(axis=1)


def _anchor_velocity(
    gyr: np.ndarray, n: np.ndarray, at: np.ndarray, h: int, rot: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """World velocity (3, K), m/s, of a sensor at body-frame position ``r`` (m) from the point
    about which its segment rolls on the ground, at samples ``at``: ``R (omega x r)``, with
    ``omega`` the angular rate (``gyr`` in deg/s, time-major (3, L, K)) averaged like the
    specific force at the still instants and ``R`` the body-to-world rotation
    (``rot``, (3, 3, L, K)) there."""
    w = np.radians(_mean_at(gyr, n, at, h))  # (3, K)
    rx, ry, rz = (float(c) for c in np.asarray(r, dtype=np.float64).reshape(3))
    vb = np.stack([w[1] * rz - w[2] * ry, w[2] * rx - w[0] * rz, w[0] * ry - w[1] * rx])
    ra = rot[:, :, at, np.arange(at.shape[0])]  # (3, 3, K)
    return ra[:, 0] * vb[0] + ra[:, 1] * vb[1] + ra[:, 2] * vb[2]


def _tilt_quats(up: np.ndarray) -> np.ndarray:
    """:func:`tilt_matrix` of ``K`` specific forces ``up`` (3, K) as quaternions (4, K)."""
    up = up / np.sqrt(up[0] * up[0] + up[1] * up[1] + up[2] * up[2])
    half_pitch = 0.5 * np.arcsin(np.minimum(np.maximum(up[0], -1.0), 1.0))
    half_roll = 0.5 * np.arctan2(up[1], up[2])
    sy, cy = -np.sin(half_pitch), np.cos(half_pitch)  # Ry(-pitch)
    sx, cx = np.sin(half_roll), np.cos(half_roll)  # Rx(roll)
    return np.array([cy * sx, sy * cx, -sy * sx, cy * cx])


def _qmul_c(p: np.ndarray, q: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`quat_multiply` on component-first arrays (4, ...).

    The same arithmetic in the same order (bit-identical to :func:`quat_multiply`); large
    products are written into ``out`` (which must not overlap ``p`` or ``q``) without
    temporaries.
    """
    px, py, pz, pw = p
    qx, qy, qz, qw = q
    if out is None:
        out = np.empty((4, *np.broadcast_shapes(px.shape, qx.shape)))
    if out[0].size <= _SMALL:  # per-call overhead dominates: plain expressions
        out[0] = pw * qx + px * qw + py * qz - pz * qy
        out[1] = pw * qy - px * qz + py * qw + pz * qx
        out[2] = pw * qz + px * qy - py * qx + pz * qw
        out[3] = pw * qw - px * qx - py * qy - pz * qz
        return out
    tmp = np.empty(out.shape[1:])
    x, y, z, w = out
    np.multiply(pw, qx, out=x)
    x += np.multiply(px, qw, out=tmp)
    x += np.multiply(py, qz, out=tmp)
    x -= np.multiply(pz, qy, out=tmp)
    np.multiply(pw, qy, out=y)
    y -= np.multiply(px, qz, out=tmp)
    y += np.multiply(py, qw, out=tmp)
    y += np.multiply(pz, qx, out=tmp)
    np.multiply(pw, qz, out=z)
    z += np.multiply(px, qy, out=tmp)
    z -= np.multiply(py, qx, out=tmp)
    z += np.multiply(pz, qw, out=tmp)
    np.multiply(pw, qw, out=w)
    w -= np.multiply(px, qx, out=tmp)
    w -= np.multiply(py, qy, out=tmp)
    w -= np.multiply(pz, qz, out=tmp)
    return out


def _quat_from_rotvec_c(rv: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Quaternions (4, ...) of rotation vectors (3, ...) in rad, components first (written into
    ``out`` when given; it must not overlap ``rv``)."""
    x, y, z = rv
    ang = x * x  # |rv|, summed x² + y² + z² in that order
    tmp = y * y
    ang += tmp
    np.multiply(z, z, out=tmp)
    ang += tmp
    np.sqrt(ang, out=ang)
    half = np.multiply(ang, 0.5, out=tmp)
    small = ang < 1e-6
    if out is None:
        out = np.empty((4, *ang.shape))
    kk = np.sin(half)  # sin(ang / 2) / ang, its series near 0
    if small.any():
        kk /= np.where(small, 1.0, ang)
        a = ang[small]
        kk[small] = 0.5 - a * a / 48.0
    else:
        kk /= ang
    np.multiply(x, kk, out=out[0])
    np.multiply(y, kk, out=out[1])
    np.multiply(z, kk, out=out[2])
    np.cos(half, out=out[3])
    return out


def _quat_to_matrix_c(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (3, 3, ...) of unit quaternions (4, ...), components first.

    Written into the result with three temporaries (large temporaries cost more to allocate
    than to fill): diagonal ``1 - 2 (a + b)`` of two squares, off-diagonal pairs
    ``2 (a - b)`` and ``2 (a + b)`` of two products.
    """
    x, y, z, w = q
    m = np.empty((3, 3, *x.shape))
    xx, yy, zz = x * x, y * y, z * z
    for (i, j), (a, b) in (((0, 0), (yy, zz)), ((1, 1), (xx, zz)), ((2, 2), (xx, yy))):
        e = np.add(a, b, out=m[i, j])  # 1 - 2 (a + b)
        e *= 2
        np.subtract(1, e, out=e)
    tmp = xx  # (free now)
    for (i, j), (i2, j2), (a1, a2), (b1, b2) in (
        ((0, 1), (1, 0), (x, y), (z, w)),  # 2 (xy - zw), 2 (xy + zw)
        ((2, 0), (0, 2), (x, z), (y, w)),  # 2 (xz - yw), 2 (xz + yw)
        ((1, 2), (2, 1), (y, z), (x, w)),  # 2 (yz - xw), 2 (yz + xw)
    ):
        ab = np.multiply(a1, a2, out=m[i, j])
        np.multiply(b1, b2, out=tmp)
        np.add(ab, tmp, out=m[i2, j2])
        ab -= tmp
        ab *= 2
        m[i2, j2] *= 2
    return m


def _up_row_c(q: np.ndarray) -> np.ndarray:
    """Elements ``[2, 0]`` and ``[2, 1]`` of :func:`_quat_to_matrix_c` (the same operations in
    the same order), shape (2, ...)."""
    x, y, z, w = q
    out = np.empty((2, *x.shape))
    np.subtract(x * z, y * w, out=out[0])
    np.add(y * z, x * w, out=out[1])
    out *= 2
    return out


def _matvec_c(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``a @ x`` for component-first matrices (3, 3, ...) and vectors (3, ...)."""
    out = np.empty((3, *np.broadcast_shapes(a.shape[2:], x.shape[1:])))
    tmp = np.empty(out.shape[1:])
    for i in range(3):
        o = np.multiply(a[i, 0], x[0], out=out[i])
        o += np.multiply(a[i, 1], x[1], out=tmp)
        o += np.multiply(a[i, 2], x[2], out=tmp)
    return out


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
