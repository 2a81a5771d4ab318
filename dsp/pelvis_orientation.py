"""Pelvis attitude while running: gyroscope integration with stride-average gravity updates.

The foot's drift removal (:class:`dsp.orientation.StrideKinematics`) relies on a still foot-flat
in every stride; the pelvis is never still while running, and within a step its accelerometer
is no gravity sensor (0 g in flight, 2-3 g at mid-stance). Averaged over one whole stride
(initial contact to the same foot's next initial contact), however, the acceleration of the
pelvis integrates to the change of its velocity, which is about zero in steady running, so the
*mean* specific force over a stride, expressed in a frame that follows the pelvis' rotation,
points straight up. This is the gravity reference used here:

1. gyroscope increments are chained over the whole window
   (:func:`dsp.orientation.chain_rotations`): ``Q(t)`` maps the body frame at ``t`` to the body
   frame at the window's first sample;
2. for every stride ``[IC_k, IC_{k+2})`` (two consecutive steps) the mean of ``Q(t) f(t)`` is
   taken; the tilt that turns it to vertical is the attitude correction at the stride's
   centre (its heading is left alone: it never enters an elevation angle);
3. the corrections (rotation vectors that change slowly from stride to stride) are interpolated linearly in time
   between stride centres and applied: ``R_world(t) = E(t) Q(t)``. A gyroscope bias makes the
   attitude error grow linearly in time, which this removes.

Strides whose duration differs from their neighbours' by more than ``max_stride_change``
(a missed or extra contact) are not used. Vectorised: no per-sample Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp.filters import row_norm
from dsp.orientation import chain_rotations

__all__ = [
    "StrideAttitude",
    "chained_stride_rows",
    "quat_from_rotvec",
    "quat_rotate",
    "row_norm",
    "segment_medians",
    "stride_corrections",
    "stride_gravity_attitude",
    "world_rows",
]

_Z = np.array([0.0, 0.0, 1.0])
_CONJ = np.array([-1.0, -1.0, -1.0, 1.0])
_EPS = float(np.finfo(np.float64).eps)  # np.sinc's stand-in for 0


def quat_from_rotvec(rv: np.ndarray) -> np.ndarray:
    """Unit quaternions (scipy order ``x, y, z, w``) of rotation vectors (rad), shape (N, 4).

    Same result as ``scipy.spatial.transform.Rotation.from_rotvec(rv).as_quat()`` (up to
    rounding), written out in numpy because it runs on every sample.
    """
    a = row_norm(rv)
    # k = 0.5 * np.sinc(a / (2 pi)) = sin(a/2) / a, smooth at 0, with np.sinc's arithmetic
    x = np.pi * (a / (2.0 * np.pi))
    y = np.where(x != 0.0, x, _EPS)
    k = 0.5 * (np.sin(y) / y)
    out = np.empty((rv.shape[0], 4))
    out[:, :3] = rv * k[:, None]
    out[:, 3] = np.cos(0.5 * a)
    return out


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors by unit quaternions (scipy order), ``(N, 4)`` and ``(N, 3)`` or ``(3,)``.

    Same as ``Rotation.from_quat(q).apply(v)``: ``v + 2 w (u x v) + 2 u x (u x v)``.
    """
    u = q[:, :3]
    w = q[:, 3:4]
    c = _cross(u, np.broadcast_to(v, u.shape))
    return v + 2.0 * (w * c + _cross(u, c))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of ``(N, 3)`` arrays, the same arithmetic as ``np.cross``
    without its per-call axis handling (it runs several times per analysis epoch)."""
    a0, a1, a2 = a[:, 0], a[:, 1], a[:, 2]
    b0, b1, b2 = b[:, 0], b[:, 1], b[:, 2]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[:, 0] = a1 * b2 - a2 * b1
    out[:, 1] = a2 * b0 - a0 * b2
    out[:, 2] = a0 * b1 - a1 * b0
    return out


def _columns(x: np.ndarray | Sequence[np.ndarray], rows: np.ndarray | None) -> list[np.ndarray]:
    """The columns of a narrow ``(N, k)`` array (or the given columns) as contiguous 1-D arrays,
    at ``rows`` only if given: gathered one column at a time (several times cheaper than
    gathering ``(M, k)`` rows and then copying their strided columns)."""
    if not isinstance(x, np.ndarray):
        return [np.asarray(c) if rows is None else np.asarray(c)[rows] for c in x]
    if rows is None:
        return [np.ascontiguousarray(x[:, i]) for i in range(x.shape[1])]
    return [x[rows, i] for i in range(x.shape[1])]


def world_rows(
    qlo: np.ndarray,
    lens: np.ndarray,
    q: np.ndarray,
    erv: np.ndarray | Sequence[np.ndarray],
    acc: np.ndarray,
    gravity: float | None = None,
    *,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per sample: pelvic obliquity (deg), world sideways specific force and (with ``gravity``)
    world vertical acceleration (m/s²) from the attitude ``E(t) Qref^-1 Q(t)``.

    ``qlo`` (W, 4): ``Qref^-1`` of each group of samples (a window, or a contact's frame),
    repeated ``lens`` times; ``q`` (N, 4): ``Q(t)``, the gyroscope chain; ``erv`` (N, 3), or its
    three columns: the gravity correction's rotation vectors, rad; ``acc`` (N, 3): body-frame
    specific force; ``rows``: the samples of ``q`` and ``acc`` to use (all by default). The
    obliquity is the elevation of the body ``ml`` axis; the sideways force is along its
    horizontal projection. The one implementation of the two-sided (:mod:`dsp.pelvis_metrics`)
    and causal (:mod:`dsp.pelvis_early`) attitude's per-sample values.

    Written out one component at a time on contiguous arrays: the arithmetic of
    :func:`dsp.orientation.quat_multiply`, :func:`quat_from_rotvec`, :func:`quat_rotate` and
    :func:`row_norm` in the same order (bit-identical), without their strided column reads and
    (N, 4) temporaries.
    """
    px, py, pz, pw = (np.repeat(qlo[:, i], lens) for i in range(4))
    qx, qy, qz, qw = _columns(q, rows)
    # Q(lo)^-1 Q(t), normalised
    rx = pw * qx + px * qw + py * qz - pz * qy
    ry = pw * qy - px * qz + py * qw + pz * qx
    rz = pw * qz + px * qy - py * qx + pz * qw
    rr = pw * qw - px * qx - py * qy - pz * qz
    nrm = np.sqrt(rx * rx + ry * ry + rz * rz + rr * rr)
    rx /= nrm
    ry /= nrm
    rz /= nrm
    rr /= nrm
    # E(t) from its rotation vector (quat_from_rotvec)
    e0, e1, e2 = _columns(erv, None)
    a = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    xs = np.pi * (a / (2.0 * np.pi))
    ys = np.where(xs != 0.0, xs, _EPS)
    k = 0.5 * (np.sin(ys) / ys)
    ex, ey, ez, ew = e0 * k, e1 * k, e2 * k, np.cos(0.5 * a)
    # body -> world: Q first, then the correction E
    x = ew * rx + ex * rr + ey * rz - ez * ry
    y = ew * ry - ex * rz + ey * rr + ez * rx
    z = ew * rz + ex * ry - ey * rx + ez * rr
    w = ew * rr - ex * rx - ey * ry - ez * rz
    # the body ml axis in the world: second column of the rotation matrix
    mx = 2.0 * (x * y - w * z)
    my = 1.0 - 2.0 * (x * x + z * z)
    mz = 2.0 * (y * z + w * x)
    obl = np.degrees(np.arcsin(np.clip(mz, -1.0, 1.0)))
    # the specific force in the world (quat_rotate: v + 2 w (u x v) + 2 u x (u x v))
    v0, v1, v2 = _columns(acc, rows)
    c0 = y * v2 - z * v1
    c1 = z * v0 - x * v2
    c2 = x * v1 - y * v0
    f0 = v0 + 2.0 * (w * c0 + (y * c2 - z * c1))
    f1 = v1 + 2.0 * (w * c1 + (z * c0 - x * c2))
    lat = (f0 * mx + f1 * my) / np.maximum(np.sqrt(mx * mx + my * my), 1e-9)
    if gravity is None:
        return obl, lat, None
    f2 = v2 + 2.0 * (w * c2 + (x * c1 - y * c0))
    return obl, lat, f2 - gravity


@dataclass
class StrideAttitude:
    """Body-to-world attitude per sample: ``R_world(t) = E(t) Q(t)`` (see the module docstring).

    Attributes
    ----------
    q : ndarray, shape (N, 4)
        ``Q(t)``: body frame at ``t`` to the window's first body frame (scipy quaternion order).
    e : ndarray, shape (N, 4)
        ``E(t)``: the interpolated gravity correction.
    centres : ndarray, shape (M,)
        Times of the stride centres used, s.
    """

    q: np.ndarray
    e: np.ndarray
    centres: np.ndarray

    def apply(self, v: np.ndarray) -> np.ndarray:
        """Body-frame vectors (``(N, 3)`` per sample, or one ``(3,)``) in the world frame."""
        return quat_rotate(self.e, quat_rotate(self.q, v))


def segment_medians(x: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Median of ``x`` over each segment ``0 .. n - 1`` (the values of ``np.median``).

    Parameters
    ----------
    x : ndarray, shape (M,)
    seg : ndarray of int, shape (M,)
        Segment of each value, ``0 <= seg < n``.
    n : int
        Number of segments.

    Returns
    -------
    ndarray, shape (n,)
        ``inf`` for a segment without values.
    """
    out = np.full(n, np.inf)
    if x.size == 0:
        return out
    order = np.lexsort((x, seg))
    v, sv = x[order], seg[order]
    first = np.flatnonzero(np.concatenate(([True], sv[1:] != sv[:-1])))
    cnt = np.diff(np.concatenate((first, [v.size])))
    mid = first + cnt // 2
    out[sv[first]] = np.where(cnt % 2 == 1, v[mid], (v[np.maximum(mid - 1, 0)] + v[mid]) / 2.0)
    return out


def stride_corrections(
    t: np.ndarray,
    sums: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    window: np.ndarray | None = None,
    max_stride_change: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Gravity corrections of the strides ``a[j] .. b[j] - 1`` (steps 2 and 3 of the module).

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s.
    sums : ndarray, shape (M, 3)
        Sum of the specific force over each stride, in the frame of ``Q``, m/s².
    a, b : ndarray of int, shape (M,)
        First sample of each stride and of the next one.
    window : ndarray of int, shape (M,), optional
        Non-decreasing: the strides of several windows at once, each window's strides judged
        against its own median stride (default: one window).
    max_stride_change : float
        Largest relative difference between a stride and the median stride to use it.

    Returns
    -------
    (centres, rotvecs, window) or None
        Times of the stride centres used (s, shape (K,)), the tilt that turns each stride's
        mean specific force to vertical (rotation vectors, rad, shape (K, 3)) and the window
        of each; ``None`` when no stride is usable.
    """
    cnt = (b - a).astype(np.float64)
    stride_t = t[b] - t[a]
    win = np.zeros(a.size, dtype=np.int64) if window is None else np.asarray(window)
    med = segment_medians(stride_t, win, int(win[-1]) + 1)[win]
    ok = (np.abs(stride_t / med - 1.0) <= max_stride_change) & (cnt > 0)
    if not ok.any():
        return None
    m = sums[ok] / cnt[ok, None]
    centres = 0.5 * (t[a[ok]] + t[b[ok]])
    mu = m / np.linalg.norm(m, axis=1, keepdims=True)
    axis = _cross(mu, np.broadcast_to(_Z, mu.shape))
    s = np.linalg.norm(axis, axis=1)
    ang = np.arctan2(s, mu[:, 2])  # mu . z
    rv = np.where(s[:, None] > 1e-12, axis / np.maximum(s, 1e-300)[:, None] * ang[:, None], 0.0)
    return centres, rv, win[ok]


def stride_gravity_attitude(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    i_ic: np.ndarray,
    *,
    max_stride_change: float = 0.25,
) -> StrideAttitude | None:
    """Body-to-world attitude of a running pelvis (heading arbitrary).

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s.
    acc : ndarray, shape (N, 3)
        Specific force, body frame (``ap, ml, vt``), m/s².
    gyr : ndarray, shape (N, 3)
        Angular rate, body frame, deg/s.
    i_ic : ndarray of int, shape (K,)
        Sample indices of consecutive initial contacts (both feet), increasing.
    max_stride_change : float
        Largest relative difference between a stride and the median stride to use it.

    Returns
    -------
    StrideAttitude or None
        ``None`` when there is no usable stride.
    """
    n = t.shape[0]
    i_ic = np.asarray(i_ic, dtype=int)
    if n < 4 or i_ic.size < 3:
        return None
    dt = np.diff(t)
    w_mid = np.radians(0.5 * (gyr[1:] + gyr[:-1])) * dt[:, None]
    inc = np.empty((n, 4))
    inc[0] = (0.0, 0.0, 0.0, 1.0)
    inc[1:] = quat_from_rotvec(w_mid)
    q = chain_rotations(inc)  # body(k) -> body(0)
    f0 = quat_rotate(q, acc)  # specific force in the body(0) frame
    # per-step sums, then stride sums (two consecutive steps)
    cs = np.concatenate((np.zeros((1, 3)), np.cumsum(f0, axis=0)))
    a, b = i_ic[:-2], i_ic[2:]
    corr = stride_corrections(t, cs[b] - cs[a], a, b, max_stride_change=max_stride_change)
    if corr is None:
        return None
    centres, rv, _ = corr
    # the corrections are close to each other: interpolate rotation vectors per component
    e = np.stack([np.interp(t, centres, rv[:, c]) for c in range(3)], axis=1)
    return StrideAttitude(q=q, e=quat_from_rotvec(e), centres=centres)


def chained_stride_rows(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    cs: np.ndarray,
    i_ic: np.ndarray,
    rows: tuple[int, int],
    *,
    gravity: float,
    max_stride_change: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`stride_gravity_attitude` of a window from a gyroscope chain streamed over a
    longer span, evaluated on some of the window's samples only: the per-sample values of
    :func:`world_rows` (obliquity, deg; world sideways specific force and vertical
    acceleration, m/s²) on samples ``rows[0] .. rows[1]`` (inclusive).

    Equal to the attitude chained from the window's first sample up to rounding: that chain
    is ``Q(0)^-1 Q(t)``, and its stride sums of the specific force are the sums ``cs`` of the
    streamed frame rotated by ``Q(0)^-1``. So the caller chains every sample once, instead of
    once per window that holds it.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times of the window, s.
    acc : ndarray, shape (N, 3)
        Specific force, body frame, m/s².
    q : ndarray, shape (N, 4)
        Body frame at each sample to one fixed frame (scipy order), gyroscope chained.
    cs : ndarray, shape (N, 3)
        ``cs[i]``: sum of the specific force in that fixed frame over the samples before ``i``
        (any constant offset).
    i_ic : ndarray of int, shape (K,)
        Window indices of consecutive initial contacts (both feet), increasing.
    rows : (int, int)
        First and last window sample wanted.
    gravity : float
        m/s², subtracted from the world vertical specific force.
    max_stride_change : float
        As in :func:`stride_gravity_attitude`.

    Returns
    -------
    (obl, lat, a_z), each shape (rows[1] - rows[0] + 1,), or None
        ``None`` when there is no usable stride (as :func:`stride_gravity_attitude`).
    """
    n = t.shape[0]
    i_ic = np.asarray(i_ic, dtype=int)
    if n < 4 or i_ic.size < 3:
        return None
    a, b = i_ic[:-2], i_ic[2:]
    qlo = q[0] * _CONJ  # Q(0)^-1
    sums = quat_rotate(np.broadcast_to(qlo, (a.size, 4)), cs[b] - cs[a])
    corr = stride_corrections(t, sums, a, b, max_stride_change=max_stride_change)
    if corr is None:
        return None
    centres, rv, _ = corr
    r0, r1 = rows
    tr = t[r0 : r1 + 1]
    erv = [np.interp(tr, centres, rv[:, c]) for c in range(3)]
    obl, lat, a_z = world_rows(
        qlo[None], np.array([tr.shape[0]]), q[r0 : r1 + 1], erv, acc[r0 : r1 + 1], gravity
    )
    assert a_z is not None
    return obl, lat, a_z
