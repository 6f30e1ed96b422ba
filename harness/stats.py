"""Statistics, all computed from raw samples (never stored instead of them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

UNSTABLE_IQR = 0.10  # IQR/median above this: unstable
REJECTED_IQR = 0.25  # above this: rejected


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """median, IQR (q3 - q1), min, max, mean, stdev and count of one list of samples."""
    if len(samples) == 0:
        return {
            "median": None,
            "iqr": None,
            "min": None,
            "max": None,
            "mean": None,
            "stdev": None,
            "count": 0,
        }
    values = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "median": float(median),
        "iqr": float(q3 - q1),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "stdev": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "count": len(values),
    }


def stability(median: float | None, iqr: float | None) -> str:
    """'stable', 'unstable' (IQR/median > 10%) or 'rejected' (> 25%)."""
    if not median or iqr is None or math.isnan(median):
        return "unknown"
    relative = iqr / abs(median)  # a phase obtained by subtraction can be negative
    if relative > REJECTED_IQR:
        return "rejected"
    if relative > UNSTABLE_IQR:
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


def mann_whitney_u(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test (normal approximation with tie correction).

    Returns (U statistic of x, p-value). Exact enough for the sample counts blocks give (>= 5).
    """
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan")
    combined = np.concatenate([a, b])
    order = combined.argsort(kind="mergesort")
    ranks = np.empty(len(combined))
    sorted_values = combined[order]
    i = 0
    tie_term = 0.0
    while i < len(combined):
        j = i
        while j + 1 < len(combined) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    mean_u = n1 * n2 / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return float(u1), 1.0
    z = (abs(u1 - mean_u) - 0.5) / math.sqrt(variance)
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return float(u1), float(min(1.0, p))
