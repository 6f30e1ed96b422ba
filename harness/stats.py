"""Statistics, all computed from raw samples (never stored instead of them)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

UNSTABLE_IQR = 0.10  # IQR/median above this: unstable
REJECTED_IQR = 0.25  # above this: rejected
PRECISION_TARGET = 0.01  # default: the median known to ±1% (95% confidence)
REJECTED_PRECISION_FACTOR = 5  # precision worse than 5 × the target: rejected
MIN_SAMPLES_FOR_INTERVAL = 6  # fewer samples cannot bound the median at 95%


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """median, IQR (q3 - q1), min, max, mean, stdev, count, and the median's 95% confidence
    interval (order statistics) with its relative half-width ``precision``."""
    if len(samples) == 0:
        return {
            "median": None,
            "iqr": None,
            "min": None,
            "max": None,
            "mean": None,
            "stdev": None,
            "count": 0,
            "ci_low": None,
            "ci_high": None,
            "precision": None,
        }
    values = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    interval = median_interval(values)
    return {
        "median": float(median),
        "iqr": float(q3 - q1),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "stdev": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "count": len(values),
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "precision": relative_half_width(interval, float(median)),
    }


def _binomial_cdf(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k), exact."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


@functools.lru_cache(maxsize=4096)
def median_rank_bounds(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """0-based ranks (j, k) such that [x_(j), x_(k)] of n sorted samples covers the median with
    at least ``confidence``, whatever the distribution (order statistics of a binomial).
    None when n is too small for any interval to reach it."""
    alpha = 1 - confidence
    if n < MIN_SAMPLES_FOR_INTERVAL or _binomial_cdf(0, n) * 2 > alpha:
        return None
    if n <= 200:
        j = 0
        while _binomial_cdf(j + 1, n) <= alpha / 2:  # the largest j with P(X <= j) <= alpha/2
            j += 1
    else:  # normal approximation, exact enough at these counts
        z = 1.959963984540054 if confidence == 0.95 else _z(confidence)
        j = max(0, math.floor(n / 2 - z * math.sqrt(n) / 2) - 1)
    return j, n - 1 - j


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def median_interval(
    samples: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median of independent samples."""
    bounds = median_rank_bounds(len(samples), confidence)
    if bounds is None:
        return None
    ordered = np.sort(np.asarray(samples, dtype=float))
    return float(ordered[bounds[0]]), float(ordered[bounds[1]])


def relative_half_width(interval: tuple[float, float] | None, median: float) -> float | None:
    """Half the interval's width over the median: 0.008 means ±0.8%. None when unknown."""
    if interval is None or not median or math.isnan(median):
        return None
    return (interval[1] - interval[0]) / 2 / abs(median)


def precision_of(samples: Sequence[float] | np.ndarray) -> float | None:
    """The achieved precision of the median of ``samples`` (see ``relative_half_width``)."""
    if len(samples) < MIN_SAMPLES_FOR_INTERVAL:
        return None
    return relative_half_width(median_interval(samples), float(np.median(samples)))


def hierarchical_interval(
    groups: Sequence[Sequence[float]], confidence: float = 0.95, seed: int = 0
) -> tuple[float, float] | None:
    """Confidence interval (seconds) of the median of samples from several processes: a
    hierarchical bootstrap (processes, then blocks), so the spread between processes counts;
    one process: the order-statistics interval of its blocks. None when unknown."""
    groups = [g for g in groups if len(g)]
    if len(groups) < 2:
        return median_interval(groups[0], confidence) if groups else None
    medians = hierarchical_bootstrap_medians(groups, 2000, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(medians, [alpha, 1 - alpha])
    return float(low), float(high)


def log_ratio_interval(
    baseline: np.ndarray, candidate: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ratio candidate/baseline of the geometric means of per-process medians, with a Welch
    t interval on their logs (processes are the independent samples; blocks of one process
    are not), and the two-sided p-value of "no change".

    ``baseline`` (..., n_b) and ``candidate`` (..., n_c): positive per-process medians, at
    least two a side; leading axes are independent comparisons (vectorised). Returns
    (ratio, low, high, p_value), each of the leading shape. Formula: Welch (1947), the
    Welch–Satterthwaite degrees of freedom; quantiles from scipy.stats.t.
    """
    from scipy import stats as scipy_stats  # here: the worker imports this module, SciPy not

    log_b, log_c = np.log(np.asarray(baseline, float)), np.log(np.asarray(candidate, float))
    n_b, n_c = log_b.shape[-1], log_c.shape[-1]
    if min(n_b, n_c) < 2:
        raise ValueError("a t interval needs at least two processes a side")
    difference = log_c.mean(axis=-1) - log_b.mean(axis=-1)
    var_b = log_b.var(axis=-1, ddof=1) / n_b
    var_c = log_c.var(axis=-1, ddof=1) / n_c
    se2 = var_b + var_c
    with np.errstate(divide="ignore", invalid="ignore"):
        df = se2**2 / (var_b**2 / (n_b - 1) + var_c**2 / (n_c - 1))
        df = np.where(se2 > 0, df, n_b + n_c - 2)
        se = np.sqrt(se2)
        half = scipy_stats.t.ppf(1 - (1 - confidence) / 2, df) * se
        statistic = np.where(se > 0, np.abs(difference) / se, np.where(difference == 0, 0, np.inf))
    p_value = 2 * scipy_stats.t.sf(statistic, df)
    return np.exp(difference), np.exp(difference - half), np.exp(difference + half), p_value


def stability(
    median: float | None,
    iqr: float | None,
    precision: float | None = None,
    target: float = PRECISION_TARGET,
    count: int | None = None,
) -> str:
    """'stable', 'unstable' or 'rejected', from the spread (IQR/median above 10% / 25%) and,
    when given, the precision of the median (worse than the target / 5 × the target);
    'unknown' without a median, or with fewer than ``MIN_SAMPLES_FOR_INTERVAL`` blocks
    (``count``): too few to tell a spread from luck."""
    if not median or iqr is None or math.isnan(median):
        return "unknown"
    if count is not None and count < MIN_SAMPLES_FOR_INTERVAL:
        return "unknown"
    relative = iqr / abs(median)  # a phase obtained by subtraction can be negative
    if relative > REJECTED_IQR or (
        precision is not None and precision > REJECTED_PRECISION_FACTOR * target
    ):
        return "rejected"
    if relative > UNSTABLE_IQR or (precision is not None and precision > target):
        return "unstable"
    return "stable"


def hierarchical_bootstrap_medians(
    groups: Sequence[Sequence[float]], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap distribution of the median: resample processes, then blocks inside each.

    ``groups`` holds one list of block samples per process. Returns ``resamples`` medians.
    Vectorized: groups are padded into one array and every resample is drawn at once.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not arrays:
        return np.full(resamples, np.nan)
    lengths = np.array([len(a) for a in arrays])
    width = int(lengths.max())
    values = np.full((len(arrays), width), np.nan)
    for i, array in enumerate(arrays):
        values[i, : len(array)] = array
    n_groups = len(arrays)
    picked = rng.integers(0, n_groups, (resamples, n_groups))  # processes, with replacement
    picked_lengths = lengths[picked]
    blocks = np.floor(rng.random((resamples, n_groups, width)) * picked_lengths[..., None])
    sampled = values[picked[..., None], blocks.astype(int)]
    sampled[np.arange(width)[None, None, :] >= picked_lengths[..., None]] = np.nan
    return np.nanmedian(sampled.reshape(resamples, -1), axis=1)


def ratio_confidence_interval(
    baseline: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Ratio candidate/baseline of medians with a hierarchical bootstrap percentile interval."""
    rng = np.random.default_rng(seed)
    base = hierarchical_bootstrap_medians(baseline, resamples, rng)
    cand = hierarchical_bootstrap_medians(candidate, resamples, rng)
    point = float(np.median(np.concatenate([np.asarray(g, float) for g in candidate]))) / float(
        np.median(np.concatenate([np.asarray(g, float) for g in baseline]))
    )
    ratios = cand / base
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return point, float(low), float(high)
