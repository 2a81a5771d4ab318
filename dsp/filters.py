"""Small, position-exact filters used by the streaming analyzers.

"Position-exact" means the value at sample ``i`` depends only on the samples inside its window,
computed in a fixed order, so the same sample gets bit-identical output whether the signal was
fed in one piece or in many blocks (a running cumulative sum would not give that).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "centered_moving_average",
    "declip",
    "row_norm",
    "rows_all",
    "rows_any",
    "running_max",
    "running_min",
    "samples_for",
    "saturation_mask",
]


def samples_for(duration_s: float, *, sampling_rate_hz: float, minimum: int = 1) -> int:
    """Number of samples (at least ``minimum``) that covers ``duration_s`` at ``sampling_rate_hz``."""
    return max(int(minimum), round(duration_s * sampling_rate_hz))


def row_norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a narrow ``(N, k)`` array, shape (N,).

    The value of ``np.linalg.norm(x, axis=1)`` (its sums in the same order), summed one column
    at a time: a reduction along a short axis costs several times more.
    """
    s = x[:, 0] * x[:, 0]
    for c in range(1, x.shape[1]):
        s += x[:, c] * x[:, c]
    return np.sqrt(s)


def rows_all(mask: np.ndarray) -> np.ndarray:
    """``mask.all(axis=1)`` of a narrow ``(N, K)`` boolean array, column by column (a
    reduction along a short axis costs several times more: ~6x for a 60 s block of (N, 3))."""
    out = mask[:, 0].copy()
    for k in range(1, mask.shape[1]):
        out &= mask[:, k]
    return out


def rows_any(mask: np.ndarray) -> np.ndarray:
    """``mask.any(axis=1)`` of a narrow ``(N, K)`` boolean array, column by column."""
    out = mask[:, 0].copy()
    for k in range(1, mask.shape[1]):
        out |= mask[:, k]
    return out


def centered_moving_average(x: np.ndarray, *, window: int) -> np.ndarray:
    """Centered moving average over an odd ``window`` of samples, edges shrink the window.

    Parameters
    ----------
    x : ndarray, shape (N,) or (N, K)
        Signal(s); filtered along axis 0.
    window : int
        Samples in the window; an even value is raised by one so the window is centered.

    Returns
    -------
    ndarray, same shape as ``x``
        At sample ``i``: mean of ``x[max(0, i-h) : i+h+1]`` with ``h = window // 2``, computed
        by a direct (not cumulative) sum, so each output depends only on its own window.
    """
    x = np.asarray(x, dtype=np.float64)
    h = int(window) // 2
    if h <= 0 or x.shape[0] == 0:
        return x.copy()
    w = 2 * h + 1
    if x.ndim == 1:
        return _cma_1d(x, h, w)
    return np.stack([_cma_1d(x[:, k], h, w) for k in range(x.shape[1])], axis=1)


def _cma_1d(x: np.ndarray, h: int, w: int) -> np.ndarray:
    n = x.shape[0]
    s = np.convolve(x, _ones(w), mode="full")[h : h + n]
    # samples in each window: the exact small integers a convolution of ones gives (w, fewer
    # within h of an end), without a second convolution
    if n < w:  # every window reaches an end
        i = np.arange(n)
        cnt = (np.minimum(i + h, n - 1) - np.maximum(i - h, 0) + 1).astype(np.float64)
    else:
        cnt = np.empty(n)
        cnt.fill(w)
        edge = _edge_counts(h)  # h + 1, ..., 2h
        cnt[:h] = edge
        cnt[n - h :] = edge[::-1]
    return s / cnt


@functools.cache
def _ones(w: int) -> np.ndarray:
    """The kernel of a moving sum over ``w`` samples (read-only, made once)."""
    out = np.ones(w)
    out.flags.writeable = False
    return out


@functools.cache
def _edge_counts(h: int) -> np.ndarray:
    """Samples in the windows of the first ``h`` samples of a centered moving average."""
    out = np.arange(h + 1, 2 * h + 1, dtype=np.float64)
    out.flags.writeable = False
    return out


def saturation_mask(
    x: np.ndarray, *, full_scale: float | None, fraction: float = 0.985, min_run: int = 3
) -> np.ndarray:
    """Samples at (or stuck at) the sensor's full scale.

    Parameters
    ----------
    x : ndarray, shape (N, 3)
        Signal in the unit of ``full_scale``.
    full_scale : float or None
        Full-scale range (same unit as ``x``). ``None``: only flat tops of at least ``min_run``
        equal samples at the largest magnitude of the block are reported (clipping of a device
        whose range is not known).
    fraction : float
        Share of the full scale from which a sample counts as saturated.
    min_run : int
        Length of a flat top that counts as clipping when the range is unknown.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    if a.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    if full_scale is not None and np.isfinite(full_scale) and full_scale > 0:
        lim = fraction * full_scale
        if a.ndim == 2 and a.shape[1]:  # (column by column: np.any along a short axis is slow)
            out = a[:, 0] >= lim
            for k in range(1, a.shape[1]):
                out |= a[:, k] >= lim
            return out
        return np.any(a >= lim, axis=1)
    out = np.zeros(a.shape[0], dtype=bool)
    for k in range(a.shape[1]):
        col = a[:, k]
        top = col.max()
        if top <= 0:
            continue
        at_top = col >= top
        if at_top.sum() < min_run:
            continue
        # runs of consecutive samples at the top value
        run = np.convolve(at_top.astype(np.int64), np.ones(min_run, dtype=np.int64), "same")
        out |= at_top & (run >= min_run)
    return out


def declip(x: np.ndarray, *, full_scale: float, fraction: float = 0.985) -> np.ndarray:
    """Estimate the samples of clipped peaks from their unclipped flanks.

    A sensor that saturates reads its full scale while the true value is beyond it; integrating
    the clipped signal loses velocity. Each run of clipped samples (per axis, one sign) is
    replaced by the cubic through the two unclipped samples on either side, never by less
    than the full scale. Runs that touch the ends of ``x`` are left as they are. The estimate
    is only as good as a smooth peak; rows computed from it keep their ``saturated`` flag.

    Parameters
    ----------
    x : ndarray, shape (N, K)
        Signal in the unit of ``full_scale``.
    full_scale : float
    fraction : float
        Share of the full scale from which a sample counts as clipped.

    Returns
    -------
    ndarray, shape (N, K)
        A copy with the clipped runs re-estimated.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    n = out.shape[0]
    if n < 4 or out.ndim != 2:
        return out
    lim = fraction * full_scale
    for k in range(out.shape[1]):
        col = out[:, k]
        for sign in (1.0, -1.0):
            m = sign * col >= lim
            if not m.any():
                continue
            # run starts (+1) and ends (-1): the steps of the mask with a 0 before and after it
            mi = m.view(np.int8)
            d = np.empty(n + 1, dtype=np.int8)
            d[0] = mi[0]
            np.subtract(mi[1:], mi[:-1], out=d[1:n])
            d[n] = -mi[n - 1]
            s0 = (d == 1).nonzero()[0]
            e0 = (d == -1).nonzero()[0]
            keep = (s0 >= 2) & (e0 + 2 <= n)
            if not keep.any():
                continue
            s0, e0 = s0[keep], e0[keep]
            # all runs at once: the cubic through (s0-2, s0-1, e0, e0+1) in Lagrange form
            # (the polynomial np.polyfit(..., 3) gives through these four points)
            length = e0 - s0
            run = np.repeat(np.arange(s0.size), length)
            idx = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
            xi = (idx + 2).astype(np.float64)  # sample position, 0 = s0 - 2
            nodes = (0.0, 1.0, (length + 2.0)[run], (length + 3.0)[run])
            vals = (col[(s0 - 2)[run]], col[(s0 - 1)[run]], col[e0[run]], col[(e0 + 1)[run]])
            fit = np.zeros(xi.shape[0])
            for j in range(4):
                w = np.ones(xi.shape[0])
                for q in range(4):
                    if q != j:
                        w *= (xi - nodes[q]) / (nodes[j] - nodes[q])
                fit += w * vals[j]
            pos = np.repeat(s0, length) + idx
            col[pos] = sign * np.maximum(sign * fit, sign * col[pos])
    return out


def running_max(x: np.ndarray, *, size: int, ahead: int | None = None) -> np.ndarray:
    """Running maximum over ``size // 2`` samples before and ``ahead`` after each sample
    (centred, ``size`` odd, by default); edges use the samples available.

    Centred, the same result as ``scipy.ndimage.maximum_filter1d(x, size, mode="nearest")``
    without importing ``scipy.ndimage`` (import cost matters for the command line).
    """
    x = np.asarray(x, dtype=np.float64)
    h = int(size) // 2
    a = h if ahead is None else int(ahead)
    if h + a <= 0 or x.shape[0] == 0:
        return x.copy()
    pad = np.concatenate((np.full(h, x[0]), x, np.full(a, x[-1])))
    return _sliding_max(pad, h + a + 1)


def _sliding_max(x: np.ndarray, w: int) -> np.ndarray:
    """``max(x[i : i + w])`` for every full window (van Herk 1992; Gil & Werman 1993).

    Within blocks of ``w`` samples, the running maximum from each block's start (``g``) and to
    its end (``s``); a window starting at ``i`` is the end of one block and the start of the
    next: ``max(s[i], g[i + w - 1])``. O(N) whatever ``w`` (a sliding view's maximum is
    O(N w)); a maximum is exact, so the values are the same (NaN propagates in both).
    """
    n = x.shape[0]
    m = n - w + 1
    if w <= 4 or m <= 0:
        return np.lib.stride_tricks.sliding_window_view(x, w).max(axis=1)
    nb = -(-n // w)
    blocks = np.full(nb * w, -np.inf)
    blocks[:n] = x
    blocks = blocks.reshape(nb, w)
    g = np.maximum.accumulate(blocks, axis=1).ravel()
    s = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.maximum(s[:m], g[w - 1 : w - 1 + m])


def running_min(x: np.ndarray, *, size: int) -> np.ndarray:
    """Centered running minimum (see :func:`running_max`)."""
    return -running_max(-np.asarray(x, dtype=np.float64), size=size)
