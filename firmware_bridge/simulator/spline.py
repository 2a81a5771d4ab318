"""Piecewise quintic Hermite curves: C2 joints, fast vectorised evaluation.

Every time course of the kinematic model (foot pitch, eversion, pelvic obliquity, swing path, ...)
is a chain of knots ``(t_i, y_i, y'_i, y''_i)`` joined by quintic polynomials. The second
derivative is continuous at every knot, so positions differentiate twice into smooth
accelerations and orientations once into smooth angular rates.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QuinticHermite", "auto_slopes", "smootherstep"]


def smootherstep(u: np.ndarray) -> np.ndarray:
    """``6u^5 - 15u^4 + 10u^3`` on ``u`` clipped to [0, 1] (zero 1st/2nd derivative at 0 and 1)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (6.0 * u - 15.0) + 10.0)


def auto_slopes(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shape-preserving knot slopes (Fritsch-Butland harmonic mean of the adjacent secants).

    Zero at local extrema and on plateaus, so a knot placed at a peak stays the peak.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Strictly increasing knot times.
    y : ndarray, shape (N,) or (N, K)
        Knot values.

    Returns
    -------
    ndarray, same shape as ``y``
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    h = np.diff(t)
    if y.ndim == 2:
        h = h[:, None]
    d = np.diff(y, axis=0) / h
    m = np.zeros_like(y)
    d0, d1 = d[:-1], d[1:]
    same = (d0 * d1) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = np.where(same, 2.0 * d0 * d1 / (d0 + d1), 0.0)
    m[1:-1] = hm
    return m


class QuinticHermite:
    """Quintic Hermite interpolant through knots with given values, slopes and curvatures.

    Parameters
    ----------
    t : ndarray, shape (N,)
        Strictly increasing knot times in s.
    y : ndarray, shape (N,) or (N, K)
        Values at the knots.
    dy : ndarray, same shape as ``y``, optional
        First derivatives at the knots; NaN entries (or ``None``) are filled by
        :func:`auto_slopes`.
    ddy : ndarray, same shape as ``y``, optional
        Second derivatives at the knots (default 0).

    Notes
    -----
    Outside ``[t[0], t[-1]]`` the curve is held constant at the end values.
    """

    def __init__(
        self,
        t: np.ndarray,
        y: np.ndarray,
        dy: np.ndarray | None = None,
        ddy: np.ndarray | None = None,
    ) -> None:
        t = np.asarray(t, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if t.ndim != 1 or t.shape[0] < 2 or y.shape[0] != t.shape[0]:
            raise ValueError("QuinticHermite needs at least two knots and matching values")
        if np.any(np.diff(t) <= 0):
            bad = int(np.argmin(np.diff(t)))
            raise ValueError(f"knot times must increase strictly (knot {bad}: {t[bad]!r})")
        auto = auto_slopes(t, y)
        if dy is None:
            dy = auto
        else:
            dy = np.asarray(dy, dtype=np.float64)
            dy = np.where(np.isnan(dy), auto, dy)
        ddy = np.zeros_like(y) if ddy is None else np.asarray(ddy, dtype=np.float64)
        self.t, self.y, self.dy, self.ddy = t, y, dy, ddy
        h = np.diff(t)
        if y.ndim == 2:
            h = h[:, None]
        # power-basis coefficients c_k of p(u) = sum c_k u^k on each segment, u in [0, 1]
        basis = np.array(
            [
                [1, 0, 0, -10, 15, -6],
                [0, 1, 0, -6, 8, -3],
                [0, 0, 0.5, -1.5, 1.5, -0.5],
                [0, 0, 0, 0.5, -1, 0.5],
                [0, 0, 0, -4, 7, -3],
                [0, 0, 0, 10, -15, 6],
            ]
        )
        data = np.stack(
            [y[:-1], dy[:-1] * h, ddy[:-1] * h * h, ddy[1:] * h * h, dy[1:] * h, y[1:]], axis=1
        )  # (S, 6[, K])
        self._c = np.einsum("jk,sj...->sk...", basis, data)
        self._h = np.diff(t)

    def _locate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = self.t
        i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.shape[0] - 2)
        h = self._h[i]
        u = np.clip((x - t[i]) / h, 0.0, 1.0)
        inside = (x >= t[0]) & (x <= t[-1])
        if self.y.ndim == 2:
            h, u, inside = h[:, None], u[:, None], inside[:, None]
        return i, h, u, inside

    def __call__(self, x: np.ndarray, nu: int = 0) -> np.ndarray:
        """Value (``nu=0``), first (``1``) or second (``2``) derivative at times ``x``."""
        x = np.asarray(x, dtype=np.float64)
        i, h, u, inside = self._locate(x)
        c = self._c[i]
        if nu == 0:
            out = c[:, 5]
            for k in (4, 3, 2, 1, 0):
                out = out * u + c[:, k]
            return np.where(inside, out, self._ends(x))
        if nu == 1:
            out = 5 * c[:, 5]
            for k in (4, 3, 2, 1):
                out = out * u + k * c[:, k]
            return np.where(inside, out / h, 0.0)
        if nu == 2:
            out = 20 * c[:, 5]
            for k in (4, 3, 2):
                out = out * u + k * (k - 1) * c[:, k]
            return np.where(inside, out / (h * h), 0.0)
        raise ValueError(f"nu={nu}: only 0, 1 and 2 are supported")

    def value_and_rate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and first derivative at times ``x`` (one lookup)."""
        x = np.asarray(x, dtype=np.float64)
        i, h, u, inside = self._locate(x)
        c = self._c[i]
        val = c[:, 5]
        der = 5 * c[:, 5]
        for k in (4, 3, 2, 1):
            val = val * u + c[:, k]
            der = der * u + k * c[:, k]
        val = val * u + c[:, 0]
        return np.where(inside, val, self._ends(x)), np.where(inside, der / h, 0.0)

    def _ends(self, x: np.ndarray) -> np.ndarray:
        below = x < self.t[0]
        if self.y.ndim == 2:
            below = below[:, None]
        return np.where(below, self.y[0], self.y[-1])
