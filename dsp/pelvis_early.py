"""Causal pelvic obliquity of one stance: the pelvic drop as soon as the stance has ended.

The attitude of :mod:`dsp.pelvis_orientation` corrects the gyroscope's drift with the
stride-mean gravity direction of the strides around a sample (their centres on both sides of
it), so a stance's obliquity needs the same foot's next contact (about a stride later). Here
only strides that ended at or before the stance's initial contact are used:

1. the contacts before this one (up to ``n_strides + 1`` of the same segment with a flight
   phase, not more than ``history_s`` before it) and this one give up to ``n_strides``
   strides ``[IC_j, IC_{j+2})``; each stride's mean specific force, in the frame of the
   gyroscope chain, gives the tilt correction at the stride's centre
   (:func:`dsp.pelvis_orientation.stride_corrections`, strides off the median dropped);
2. a least-squares line through those corrections (rotation vectors, per component) is
   extrapolated over the stance: a gyroscope bias makes the attitude error grow linearly in
   time, which the line follows; with a single usable stride its correction is held;
3. the obliquity (elevation of the body ``ml`` axis) over IC..TO gives the stance's maximum,
   minimum and mean, and the mean world sideways specific force (the side cues of
   :func:`dsp.pelvis_metrics.assign_sides`).

On the simulator the drops equal the two-sided attitude's within a few hundredths of a degree
on average (``docs/dsp_pelvis.md``). Everything depends on the samples from the first of those
contacts to this toe-off only, so the values do not depend on how the data were cut into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp.orientation import quat_multiply
from dsp.pelvis_orientation import quat_from_rotvec, quat_rotate, stride_corrections

__all__ = ["CausalStance", "causal_stance"]

_CONJ = np.array([-1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class CausalStance:
    """Obliquity statistics of one stance from the causal attitude (deg; m/s² for ``lat_mean``)."""

    obl_max: float
    obl_min: float
    obl_mean: float
    lat_mean: float
    n_strides: int  # strides the correction rests on


def causal_stance(
    t: np.ndarray,
    acc: np.ndarray,
    q: np.ndarray,
    cs: np.ndarray,
    i_ics: np.ndarray,
    i_to: int,
    *,
    i_ic: int | None = None,
    gap: np.ndarray | None = None,
    max_stride_change: float = 0.25,
) -> CausalStance | None:
    """Obliquity of the stance starting at ``i_ics[-1]`` from strides that ended by then.

    (Or of the stance starting at ``i_ic``, which may lie before the last contact given: the
    fallback after lost packets, when a stride after them is needed.)

    Parameters
    ----------
    t : ndarray, shape (N,)
        Sample times, s.
    acc : ndarray, shape (N, 3)
        Specific force, pelvis body frame (``ap, ml, vt``), m/s².
    q : ndarray, shape (N, 4)
        Body frame at each sample to one fixed frame (scipy order), gyroscope chained.
    cs : ndarray, shape (N, 3)
        ``cs[i]``: sum of the specific force in that fixed frame over the samples before ``i``.
    i_ics : ndarray of int, shape (M,)
        Sample indices of consecutive initial contacts (with a flight phase), increasing; the
        last one is the stance's. Strides ``i_ics[j] .. i_ics[j + 2]`` are used.
    i_to : int
        Sample index of the stance's toe-off.
    i_ic : int, optional
        Sample index of the stance's initial contact, one of ``i_ics`` (default the last).
    gap : ndarray of bool, shape (N,), optional
        Samples bridged by interpolation (lost packets). The gyroscope chain misses part of
        the rotation over them, so only strides after the last such sample before the
        contact are used.
    max_stride_change : float
        Largest relative difference between a stride and the median of the strides given.

    Returns
    -------
    CausalStance or None
        ``None`` with fewer than three contacts or no usable stride.
    """
    i_ics = np.asarray(i_ics, dtype=np.int64)
    if i_ics.size < 3:
        return None
    ic = int(i_ics[-1]) if i_ic is None else int(i_ic)
    if gap is not None:
        g = np.flatnonzero(gap[i_ics[0] : ic + 1])
        if g.size:
            i_ics = i_ics[i_ics > i_ics[0] + g[-1]]
            if ic not in i_ics:
                return None
            if i_ics.size < 3:
                return None
    a, b = i_ics[:-2], i_ics[2:]
    qref = q[ic] * _CONJ  # Q(IC)^-1: the corrections in the frame of the body at this contact
    sums = quat_rotate(np.broadcast_to(qref, (a.size, 4)), cs[b] - cs[a])
    corr = stride_corrections(t, sums, a, b, max_stride_change=max_stride_change)
    if corr is None:
        return None
    centres, rv, _ = corr
    r = np.arange(ic, max(int(i_to), ic) + 1)
    tr = t[r]
    if centres.size >= 2:
        x = centres - centres[-1]
        xm = x.mean()
        rm = rv.mean(axis=0)
        slope = ((x - xm)[:, None] * (rv - rm)).sum(axis=0) / ((x - xm) ** 2).sum()
        erv = rm + (tr - centres[-1] - xm)[:, None] * slope
    else:
        erv = np.broadcast_to(rv[-1], (r.size, 3))
    qr = quat_multiply(np.broadcast_to(qref, (r.size, 4)), q[r])
    qr /= np.linalg.norm(qr, axis=1, keepdims=True)
    rw = quat_multiply(quat_from_rotvec(np.ascontiguousarray(erv)), qr)  # body -> world
    x_, y_, z_, w_ = rw[:, 0], rw[:, 1], rw[:, 2], rw[:, 3]
    ml_w = np.stack(
        (2.0 * (x_ * y_ - w_ * z_), 1.0 - 2.0 * (x_ * x_ + z_ * z_), 2.0 * (y_ * z_ + w_ * x_)),
        axis=1,
    )
    obl = np.degrees(np.arcsin(np.clip(ml_w[:, 2], -1.0, 1.0)))
    f_w = quat_rotate(rw, acc[r])
    hz = ml_w[:, :2]
    lat = np.einsum("ij,ij->i", f_w[:, :2], hz) / np.maximum(np.linalg.norm(hz, axis=1), 1e-9)
    return CausalStance(
        obl_max=float(obl.max()),
        obl_min=float(obl.min()),
        obl_mean=float(obl.mean()),
        lat_mean=float(lat.mean()),
        n_strides=int(centres.size),
    )
