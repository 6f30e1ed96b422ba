"""The sequential three-way rule of ``harness ab``: after each scheduled look at the pairs
measured so far, say *slower* or *faster* (different), *same*, or keep measuring; when the time
budget or the most pairs run out first, *undecided*.

Each pair gives one log ratio, log(candidate / baseline) of the two processes' medians (or
instruction counts); pairs are independent, blocks of one process are not. At a look with n
pairs, the interval is the Student t interval of the mean log ratio at level 1 − α_look:

* **different**: the interval excludes 0 and the geometric mean ratio is at least the minimum
  effect away from 1 (``slower``: ≥ 1 + min_effect; ``faster``: ≤ 1 − min_effect), the rule
  ``harness compare`` follows;
* **same**: the whole interval lies inside (log(1 − min_effect), log(1 + min_effect)): the two
  one-sided tests of equivalence (Schuirmann's TOST) at α_look / 2 each;
* otherwise, measure on; at the last look, or when the budget runs out, **undecided**.

Sequential looks inflate error (each look is another chance of a false alarm). The looks are a
fixed schedule of pair counts (``LOOK_SCHEDULE``, cut at the most pairs), at most K of them, and
α_look = α / K (Bonferroni over the looks): the chance of any false *different* under no change
is at most α (α / 2 for a false *slower*), and of a false *same* under a change of the minimum
effect at most α / 2, whatever the stopping time. A stop forced by the budget between two
scheduled looks takes the place of the next one, so K still bounds the looks. The rates are
simulated in tests/test_false_alarms.py. Quantiles: scipy.stats.t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: the pair counts at which the rule looks, cut at the most pairs: not at 2 (one degree of
#: freedom makes any t interval useless), at 3 (instruction counts decide there), then whole
#: ABBA cycles, spaced out so that K, and the price of each look, stays small
LOOK_SCHEDULE = (3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
DEFAULT_MAX_PAIRS = 64
DEFAULT_ALPHA = 0.05
SLOWER, FASTER, SAME, UNDECIDED = "slower", "faster", "same", "undecided"


def looks_for(max_pairs: int) -> tuple[int, ...]:
    """The scheduled looks for at most ``max_pairs`` pairs (>= 2): the schedule's counts below
    it, then ``max_pairs`` itself."""
    if max_pairs < 2:
        raise ValueError("the rule needs at least two pairs")
    return (*(n for n in LOOK_SCHEDULE if n < max_pairs), max_pairs)


@dataclass(frozen=True)
class SequentialRule:
    """The three-way rule for a stated false-alarm rate ``alpha`` (two-sided, over all looks),
    minimum effect (relative, e.g. 0.03) and most pairs."""

    min_effect: float = 0.03
    alpha: float = DEFAULT_ALPHA
    max_pairs: int = DEFAULT_MAX_PAIRS

    @property
    def looks(self) -> tuple[int, ...]:
        return looks_for(self.max_pairs)

    @property
    def look_alpha(self) -> float:
        """α_look = α / K: the two-sided level of each look's interval."""
        return self.alpha / len(self.looks)

    def is_look(self, pairs: int) -> bool:
        return pairs in self.looks

    def interval(self, logs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean log ratio and its 1 − α_look t interval over the last axis (pairs, at least
        two); leading axes are independent comparisons. Returns (mean, low, high) in logs."""
        from scipy import stats as scipy_stats

        logs = np.asarray(logs, float)
        n = logs.shape[-1]
        if n < 2:
            raise ValueError("an interval needs at least two pairs")
        mean = logs.mean(axis=-1)
        half = (
            scipy_stats.t.ppf(1 - self.look_alpha / 2, n - 1)
            * logs.std(axis=-1, ddof=1)
            / math.sqrt(n)
        )
        return mean, mean - half, mean + half

    def decide(self, logs: np.ndarray) -> np.ndarray:
        """slower / faster / same / undecided for each comparison in ``logs`` (..., pairs):
        the decision at a look with that many pairs ("undecided": measure on)."""
        mean, low, high = self.interval(logs)
        up, down = math.log1p(self.min_effect), math.log1p(-min(self.min_effect, 0.999))
        return np.select(
            [(low > 0) & (mean >= up), (high < 0) & (mean <= down), (low > down) & (high < up)],
            [SLOWER, FASTER, SAME],
            UNDECIDED,
        )


@dataclass(frozen=True)
class PairVerdict:
    """The rule's verdict on one row: geometric mean ratio, its interval (at the look's level),
    the pairs, their spread (standard deviation of the log ratios) and the smallest change the
    interval could tell (its half-width, relative)."""

    ratio: float
    ci_low: float
    ci_high: float
    pairs: int
    spread: float
    resolution: float
    verdict: str


def judge_pairs(
    ratios: list[float],
    min_effect: float = 0.03,
    alpha: float = DEFAULT_ALPHA,
    max_pairs: int | None = None,
) -> PairVerdict:
    """The verdict on pair ratios (candidate/baseline) as the rule gives it at a look after
    ``len(ratios)`` pairs, run with at most ``max_pairs`` (default: as many as given, so the
    looks are those of ``harness ab --pairs len(ratios)``)."""
    logs = np.log([r for r in ratios if r > 0])
    n = len(logs)
    nan = float("nan")
    if n < 2:
        return PairVerdict(ratios[0] if ratios else nan, nan, nan, n, nan, nan, UNDECIDED)
    rule = SequentialRule(min_effect, alpha, max(max_pairs or n, n))
    mean, low, high = (float(v) for v in rule.interval(logs))
    return PairVerdict(
        math.exp(mean),
        math.exp(low),
        math.exp(high),
        n,
        float(np.std(logs, ddof=1)),
        math.expm1((high - low) / 2),
        str(rule.decide(logs)),
    )
