"""Statistics for comparing two series of per-stride values (``runform compare``).

Stride-by-stride values are autocorrelated: a runner who lands a little harder on one stride
tends to do so on the next few too, and slow drifts (fatigue, terrain, a drill being learnt)
make neighbouring strides alike. Treating ``n`` strides as ``n`` independent samples would make
confidence intervals too narrow and p-values too small. Everything here therefore works on
*blocks* of consecutive strides:

* **Block length** ``b`` per series: the automatic rule of Politis & White (2004), with the
  correction of Patton, Politis & White (2009), for the circular block bootstrap
  (:func:`block_length`). It grows with the autocorrelation and is 1 for white noise.
* **Effective sample size** (:func:`effective_sample_size`): ``n / (1 + 2 Σ (1 - k/n) ρ(k))``
  over the lags whose autocorrelation is distinguishable from 0; reported so the reader sees
  how much independent information a series holds.
* **Confidence interval** of the difference of medians (or shares): circular block bootstrap
  (Politis & Romano 1992), each series resampled on its own with its own block length,
  percentile interval (:func:`compare_series`).
* **Test** (default): two-sided block bootstrap test. The bootstrap distribution of the
  difference, centred on the observed difference ``d``, stands for its distribution under "no
  difference" (Hall & Wilson 1991): ``p = (1 + #{|d* - d| >= |d|}) / (1 + R)``. It uses the
  same resamples as the interval, so it agrees with it and keeps the autocorrelation. A series
  compared with itself gives ``d = 0`` and ``p = 1`` exactly. When fewer than ten resampled
  differences reach the observed one, the count cannot resolve p below ~1/R; the p-value then
  comes from the normal tail of the bootstrap distribution, so it is not floored by the
  number of resamples (:func:`_bootstrap_p`).
* **Alternative test**: block permutation. Both series are cut into consecutive blocks of the
  larger of the two block lengths; under "no difference" whole blocks are exchangeable between
  the runs and their labels are shuffled. Exact under that assumption, but coarse when a short
  or strongly autocorrelated series holds only a few blocks.
* **Effect size**: Cliff's delta (Cliff 1993) for metric values, the probability that a stride
  of B exceeds one of A minus the reverse, with the magnitude labels of Romano et al. (2006);
  Cohen's h for shares (Cohen 1988).
* **Many metrics**: :func:`holm` adjusts the p-values of one comparison for the number of
  metrics tested (Holm 1979).

All random draws come from a seeded generator, so the same input always gives the same numbers.

References
----------
Politis, D. N. & White, H. (2004). Automatic block-length selection for the dependent bootstrap.
Econometric Reviews 23(1). Patton, A., Politis, D. N. & White, H. (2009). Correction to
"Automatic block-length selection...". Econometric Reviews 28(4). Politis, D. N. & Romano, J. P.
(1992). A circular block-resampling procedure for stationary data. Cliff, N. (1993). Dominance
statistics. Psychological Bulletin 114(3). Romano, J. et al. (2006). Appropriate statistics for
ordinal level data. Hall, P. & Wilson, S. R. (1991). Two guidelines for bootstrap hypothesis
testing. Biometrics 47(2). Holm, S. (1979). A simple sequentially rejective multiple test procedure.
Scandinavian Journal of Statistics 6(2).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_SAMPLES",
    "Difference",
    "autocorrelation",
    "block_length",
    "circular_block_bootstrap",
    "cliffs_delta",
    "cohens_h",
    "compare_series",
    "effect_label",
    "effective_sample_size",
    "holm",
]

#: Fewer finite values than this in either series: medians only, no interval or test.
MIN_SAMPLES = 5

#: Largest ``replicates x samples`` array drawn at once (memory bound of the resampling).
_MAX_CELLS = 2_000_000


def _clean(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation ``ρ(0..max_lag)`` of a series (biased estimator, ``ρ(0) = 1``).

    Parameters
    ----------
    x : ndarray, shape (n,)
        Finite values in time order.
    max_lag : int
        Largest lag, clipped to ``n - 1``.

    Returns
    -------
    ndarray, shape (max_lag + 1,)
        All zeros after lag 0 for a constant series.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    max_lag = int(min(max_lag, max(n - 1, 0)))
    d = x - x.mean()
    c0 = float(d @ d) / n if n else 0.0
    out = np.zeros(max_lag + 1)
    out[0] = 1.0
    if c0 <= 0.0:
        return out
    for k in range(1, max_lag + 1):
        out[k] = float(d[:-k] @ d[k:]) / n / c0
    return out


def _significant_lags(n: int) -> tuple[int, int, float]:
    """``K_N``, the largest lag examined and the ``ρ`` threshold of Politis & White (2004)."""
    kn = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = math.ceil(math.sqrt(n)) + kn
    thr = 2.0 * math.sqrt(math.log10(n) / n)
    return kn, m_max, thr


def _first_insignificant(rho: np.ndarray, kn: int, thr: float) -> int:
    """Smallest ``m`` after which ``K_N`` consecutive autocorrelations are below ``thr``."""
    last = rho.size - 1
    for m in range(0, last + 1):
        window = rho[m + 1 : m + 1 + kn]
        if window.size == kn and np.all(np.abs(window) < thr):
            return m
    return last


def block_length(x: Any) -> float:
    """Optimal block length of the circular block bootstrap for the mean of a series.

    Politis & White (2004) with the Patton, Politis & White (2009) correction: flat-top lag
    window over the autocovariances up to twice the last significant lag, then
    ``b = (2 G² / D)^(1/3) n^(1/3)`` with ``D = 4/3 g(0)²``. Bounded to
    ``[1, min(3 √n, n / 3)]``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Values in time order; non-finite values are dropped.

    Returns
    -------
    float
        Block length in samples (1.0 for white noise, a constant series or ``n < 8``).
    """
    v = _clean(x)
    n = v.size
    if n < 8 or np.ptp(v) == 0.0:
        return 1.0
    kn, m_max, thr = _significant_lags(n)
    m_max = min(m_max, n - 1)
    rho = autocorrelation(v, m_max)
    m_hat = _first_insignificant(rho, kn, thr)
    big_m = min(2 * m_hat, m_max)
    if big_m == 0:
        return 1.0
    d = v - v.mean()
    ks = np.arange(-big_m, big_m + 1)
    cov = np.array([float(d[: n - abs(k)] @ d[abs(k) :]) / n for k in ks])
    t = np.abs(ks / big_m)
    lam = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    g0 = float(np.sum(lam * cov))
    g = float(np.sum(lam * np.abs(ks) * cov))
    dcb = 4.0 / 3.0 * g0 * g0
    if dcb <= 0.0:
        return 1.0
    b = (2.0 * g * g / dcb) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    return float(min(max(b, 1.0), b_max))


def effective_sample_size(x: Any) -> float:
    """Effective number of independent values of an autocorrelated series.

    ``n / (1 + 2 Σ_{k=1}^{m} (1 - k/n) ρ(k))``, with ``m`` the last lag whose autocorrelation
    is distinguishable from zero (the Politis & White rule used by :func:`block_length`).
    Clipped to ``[1, n]`` (a negatively correlated series is not credited with more than ``n``).

    Parameters
    ----------
    x : array_like, shape (n,)

    Returns
    -------
    float
    """
    v = _clean(x)
    n = v.size
    if n == 0:
        return 0.0
    if n < 8 or np.ptp(v) == 0.0:
        return float(n)
    kn, m_max, thr = _significant_lags(n)
    rho = autocorrelation(v, min(m_max, n - 1))
    m = _first_insignificant(rho, kn, thr)
    k = np.arange(1, m + 1)
    s = 1.0 + 2.0 * float(np.sum((1.0 - k / n) * rho[1 : m + 1]))
    return float(min(max(n / s, 1.0), n)) if s > 0 else float(n)


def circular_block_bootstrap(
    x: np.ndarray, b: float, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Circular block bootstrap resamples of a series (Politis & Romano 1992).

    Parameters
    ----------
    x : ndarray, shape (n,)
    b : float
        Block length in samples (rounded, at least 1).
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_boot, n)
        Each row: ``ceil(n / b)`` blocks of ``b`` consecutive values (wrapping around the end)
        starting at uniform random positions, truncated to ``n`` values.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    bl = max(1, round(b))
    nb = -(-n // bl)
    starts = rng.integers(0, n, size=(n_boot, nb))
    idx = (starts[:, :, None] + np.arange(bl)[None, None, :]) % n
    return x[idx.reshape(n_boot, nb * bl)[:, :n]]


def _stat(values: np.ndarray, statistic: str, axis: int = -1) -> np.ndarray:
    if statistic == "median":
        return np.median(values, axis=axis)
    return np.mean(values, axis=axis)


def _boot_stats(x: np.ndarray, b: float, n_boot: int, statistic: str, rng) -> np.ndarray:
    out = np.empty(n_boot)
    step = max(1, _MAX_CELLS // max(x.size, 1))
    for i in range(0, n_boot, step):
        k = min(step, n_boot - i)
        out[i : i + k] = _stat(circular_block_bootstrap(x, b, k, rng), statistic, axis=1)
    return out


#: Fewer bootstrap differences than this beyond the observed one: the p-value comes from the
#: normal tail fitted to the bootstrap distribution instead of the count (not floored).
TAIL_HITS = 10


def _bootstrap_p(d: np.ndarray, diff: float, n_boot: int) -> float:
    """Two-sided bootstrap p-value of ``diff`` from the bootstrap differences ``d``.

    The differences centred on the observed one stand for the null distribution (Hall & Wilson
    1991). With ``TAIL_HITS`` or more of them at least as far from 0 as ``diff``, the p-value
    is their share, ``(1 + hits) / (1 + n_boot)``. With fewer, that count only says
    "below about 1/n_boot": every clear difference would get the same floor (0.0005 for 2,000
    resamples, 0.02 after Holm over 31 metrics). The tail is then taken from the normal
    distribution with the bootstrap's standard deviation, ``2 Φ(-|diff| / sd)``, which keeps
    the order of clear differences and does not depend on the number of resamples.
    """
    tol = 1e-12 * max(1.0, abs(diff))
    hits = int(np.sum(np.abs(d - diff) >= abs(diff) - tol))
    if hits >= TAIL_HITS:
        return float((1 + hits) / (1 + n_boot))
    sd = float(np.std(d, ddof=1))
    if not sd > 0:
        return 0.0 if diff != 0 else 1.0
    return float(math.erfc(abs(diff) / sd / math.sqrt(2.0)))


def _block_permutation_p(
    a: np.ndarray, b: np.ndarray, bl: int, n_perm: int, statistic: str, rng
) -> float:
    """Two-sided block permutation p-value of ``stat(b) - stat(a)``."""
    pooled = np.concatenate([a, b])
    n = pooled.size
    # block ids: consecutive blocks of bl values inside each series (the last one shorter)
    ids_a = np.arange(a.size) // bl
    ids_b = np.arange(b.size) // bl + (ids_a[-1] + 1)
    ids = np.concatenate([ids_a, ids_b])
    n_blocks_a = int(ids_a[-1]) + 1
    n_blocks = int(ids[-1]) + 1
    observed = float(_stat(b, statistic) - _stat(a, statistic))
    tol = 1e-12 * max(1.0, abs(observed))
    hits = 0
    step = max(1, _MAX_CELLS // max(n, 1))
    for i in range(0, n_perm, step):
        k = min(step, n_perm - i)
        perm = np.argsort(rng.random((k, n_blocks)), axis=1)
        in_a_block = np.zeros((k, n_blocks), dtype=bool)
        np.put_along_axis(in_a_block, perm[:, :n_blocks_a], True, axis=1)
        in_a = in_a_block[:, ids]  # (k, n)
        va = np.where(in_a, pooled[None, :], np.nan)
        vb = np.where(in_a, np.nan, pooled[None, :])
        if statistic == "median":
            d = np.nanmedian(vb, axis=1) - np.nanmedian(va, axis=1)
        else:
            d = np.nanmean(vb, axis=1) - np.nanmean(va, axis=1)
        hits += int(np.sum(np.abs(d) >= abs(observed) - tol))
    return (1 + hits) / (1 + n_perm)


def cliffs_delta(a: Any, b: Any) -> float:
    """Cliff's delta ``P(B > A) - P(B < A)`` over all pairs, in [-1, 1] (NaN if a side is empty).

    Parameters
    ----------
    a, b : array_like
        Values of the first (reference) and second run.
    """
    x = np.sort(_clean(a))
    y = _clean(b)
    if x.size == 0 or y.size == 0:
        return math.nan
    below = np.searchsorted(x, y, side="left")  # values of A below each value of B
    above = x.size - np.searchsorted(x, y, side="right")
    return float((below.sum() - above.sum()) / (x.size * y.size))


def cohens_h(p_a: float, p_b: float) -> float:
    """Cohen's h for two proportions: ``2 asin √p_b - 2 asin √p_a``."""
    return 2.0 * math.asin(math.sqrt(p_b)) - 2.0 * math.asin(math.sqrt(p_a))


def effect_label(value: float, kind: str) -> str:
    """Magnitude word for an effect size.

    ``kind="cliff"``: Romano et al. (2006) thresholds 0.147 / 0.33 / 0.474;
    ``kind="h"``: Cohen (1988) thresholds 0.2 / 0.5 / 0.8.
    """
    if not math.isfinite(value):
        return ""
    cuts = (0.147, 0.33, 0.474) if kind == "cliff" else (0.2, 0.5, 0.8)
    v = abs(value)
    for cut, word in zip(cuts, ("negligible", "small", "medium"), strict=True):
        if v < cut:
            return word
    return "large"


def holm(p_values: list[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values; NaN entries stay NaN and are not counted."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out = [math.nan] * len(p_values)
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class Difference:
    """Result of comparing one metric between run A (reference) and run B.

    Attributes
    ----------
    statistic : str
        ``"median"`` (metric values) or ``"share"`` (fraction of contacts of a strike type).
    n_a, n_b : int
        Finite values in each run.
    n_eff_a, n_eff_b : float
        Effective sample sizes (:func:`effective_sample_size`).
    block_a, block_b : float
        Bootstrap block lengths, strides (:func:`block_length`).
    a, b : float
        Median (or share) of each run.
    diff : float
        ``b - a``.
    ci_low, ci_high : float
        95 % circular block bootstrap percentile interval of ``diff`` (NaN if too few values).
    effect : float
        Cliff's delta (medians) or Cohen's h (shares).
    effect_kind : str
        ``"cliff"`` or ``"h"``.
    effect_size : str
        Its magnitude word (negligible, small, medium, large).
    p : float
        Two-sided p-value (NaN if too few values).
    test : str
        ``"bootstrap"`` or ``"permutation"`` (see :func:`compare_series`).
    """

    statistic: str
    n_a: int
    n_b: int
    n_eff_a: float
    n_eff_b: float
    block_a: float
    block_b: float
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    effect: float
    effect_kind: str
    effect_size: str
    p: float
    test: str = "bootstrap"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict with NaN turned into ``None`` (JSON-ready)."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float) and not math.isfinite(v):
                d[k] = None
        return d


def compare_series(
    a: Any,
    b: Any,
    *,
    statistic: str = "median",
    n_boot: int = 2000,
    n_perm: int = 2000,
    confidence: float = 0.95,
    test: str = "bootstrap",
    seed: int = 0,
) -> Difference:
    """Compare one metric between two runs, accounting for autocorrelation.

    Parameters
    ----------
    a, b : array_like, shape (n_a,), (n_b,)
        Per-stride values of run A (reference) and run B, in time order. Non-finite values are
        dropped. For ``statistic="share"`` the values are 0/1 indicators (e.g. "this contact
        was a midfoot strike").
    statistic : {"median", "share"}
    n_boot, n_perm : int
        Bootstrap resamples and block permutations.
    confidence : float
        Level of the interval.
    test : {"bootstrap", "permutation"}
        ``"bootstrap"``: two-sided block bootstrap test, the bootstrap differences centred on
        the observed one taken as its null distribution (Hall & Wilson 1991),
        ``p = (1 + #{|d* - d| >= |d|}) / (1 + n_boot)``; consistent with the interval and not
        limited by the number of blocks. ``"permutation"``: block permutation test (exact
        under exchangeable blocks, but coarse when a series holds only a few blocks).
    seed : int
        Seed of the random generator (same input + seed = same numbers).

    Returns
    -------
    Difference
    """
    if statistic not in ("median", "share"):
        raise ValueError(f"statistic {statistic!r}, expected 'median' or 'share'")
    if test not in ("bootstrap", "permutation"):
        raise ValueError(f"test {test!r}, expected 'bootstrap' or 'permutation'")
    how = "median" if statistic == "median" else "mean"
    x, y = _clean(a), _clean(b)
    va = float(_stat(x, how)) if x.size else math.nan
    vb = float(_stat(y, how)) if y.size else math.nan
    diff = vb - va
    if statistic == "median":
        eff, kind = cliffs_delta(x, y), "cliff"
    else:
        eff = cohens_h(va, vb) if x.size and y.size else math.nan
        kind = "h"
    bla, blb = block_length(x), block_length(y)
    na_eff, nb_eff = effective_sample_size(x), effective_sample_size(y)
    lo = hi = p = math.nan
    if x.size >= MIN_SAMPLES and y.size >= MIN_SAMPLES:
        rng = np.random.default_rng(seed)
        sa = _boot_stats(x, bla, n_boot, how, rng)
        sb = _boot_stats(y, blb, n_boot, how, rng)
        d = sb - sa
        alpha = 1.0 - confidence
        lo, hi = (float(q) for q in np.quantile(d, [alpha / 2, 1 - alpha / 2]))
        if np.ptp(np.concatenate([x, y])) == 0.0:
            p = 1.0
        elif test == "bootstrap":
            p = _bootstrap_p(d, diff, n_boot)
        else:
            bl = max(1, round(max(bla, blb)))
            p = _block_permutation_p(x, y, bl, n_perm, how, rng)
    return Difference(
        statistic=statistic,
        n_a=int(x.size),
        n_b=int(y.size),
        n_eff_a=na_eff,
        n_eff_b=nb_eff,
        block_a=bla,
        block_b=blb,
        a=va,
        b=vb,
        diff=diff,
        ci_low=lo,
        ci_high=hi,
        effect=eff,
        effect_kind=kind,
        effect_size=effect_label(eff, kind),
        p=p,
        test=test,
    )
