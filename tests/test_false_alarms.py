"""Measured, not asserted: the false-alarm rates of compare's and ab's rules, on A/A comparisons
drawn (seeded) from a hierarchical noise model of a benchmark machine.

Model: a process's level is log-normal around the true time (between-process spread 2%, 5%,
10%: which core, which memory layout, what else ran), and each of its 10 blocks adds 1%
within-process noise; a process's figure is the median of its blocks. Every process count the
rules allow to give a verdict must stay at or under the nominal rate, with a binomial allowance
for the number of trials (the 99.9% quantile of Binomial(trials, nominal)). Vectorised over
trials; the scalar functions are checked to agree with the vectorised arithmetic on a sample.
"""

import math

import numpy as np
import pytest
from scipy import stats

from harness.analysis.compare import MIN_PROCESSES, judge, verdict_for
from harness.sequential import SequentialRule, judge_pairs
from harness.stats import log_ratio_interval

TRIALS = 4000
BLOCKS = 10
WITHIN = 0.01
ALPHA = 0.05


def draw(rng, trials, processes, between, shift=0.0, heavy=False):
    """Block samples (trials, processes, blocks), seconds around 1 ms times exp(shift)."""
    if heavy:  # Student t with 3 degrees of freedom, scaled to the same standard deviation
        level = rng.standard_t(3, (trials, processes, 1)) * between / math.sqrt(3)
    else:
        level = rng.normal(0, between, (trials, processes, 1))
    noise = rng.normal(0, WITHIN, (trials, processes, BLOCKS))
    return 1e-3 * np.exp(shift + level + noise)


def allowance(nominal, trials=TRIALS):
    """The most false alarms a rule at the nominal rate gives in ``trials`` but once in 1000."""
    return stats.binom.ppf(0.999, trials, nominal) / trials


@pytest.mark.parametrize("between", [0.02, 0.05, 0.10])
@pytest.mark.parametrize("processes", [1, 2, 3, 5])
def test_compare_a_a_false_alarms_stay_at_the_nominal_rate(between, processes):
    rng = np.random.default_rng(int(between * 1000) + processes)
    base, cand = draw(rng, TRIALS, processes, between), draw(rng, TRIALS, processes, between)
    if processes < MIN_PROCESSES:  # not allowed a verdict by default: never one
        for b, c in zip(base[:200], cand[:200], strict=True):
            assert judge(b.tolist(), c.tolist())["verdict"] == "unjudged"
    if processes < 2:
        return  # no interval exists; --min-processes cannot go below 2
    ratio, low, high, _ = log_ratio_interval(
        np.median(base, axis=-1), np.median(cand, axis=-1), 1 - ALPHA
    )
    for min_effect in (0.0, 0.03):  # 0: the interval's own coverage; 0.03: the default rule
        verdicts = np.array(
            [
                verdict_for(r, lo, hi, min_effect, noisy=False)
                for r, lo, hi in zip(ratio, low, high, strict=True)
            ]
        )
        slower = float(np.mean(verdicts == "slower"))
        any_verdict = float(np.mean(np.isin(verdicts, ["slower", "faster"])))
        assert slower <= allowance(ALPHA / 2), (between, processes, min_effect, slower)
        assert any_verdict <= allowance(ALPHA), (between, processes, min_effect, any_verdict)
    # judge itself gives what the vectorised arithmetic gives (min_processes lowered for 2)
    for i in range(20):
        verdict = judge(base[i].tolist(), cand[i].tolist(), min_effect=0.0, min_processes=2)
        assert verdict["ci_low"] == pytest.approx(low[i]) and verdict["ratio"] == pytest.approx(
            ratio[i]
        )


def test_compare_still_sees_a_real_slowdown_with_three_processes():
    """The rule is not bought by never speaking: a 10% slowdown on 2% between-process spread
    is called slower in most trials with three processes a side."""
    rng = np.random.default_rng(7)
    base = np.median(draw(rng, TRIALS, 3, 0.02), axis=-1)
    cand = np.median(draw(rng, TRIALS, 3, 0.02, shift=math.log(1.10)), axis=-1)
    ratio, low, high, _ = log_ratio_interval(base, cand, 1 - ALPHA)
    rows = zip(ratio, low, high, strict=True)
    caught = np.mean([verdict_for(*v, 0.03, False) == "slower" for v in rows])
    assert caught > 0.8


def pair_logs(rng, trials, pairs, between, shift=0.0, heavy=False):
    """Log ratios (trials, pairs) of ABBA pairs: each side a process of the noise model."""
    base = np.median(draw(rng, trials, pairs, between, heavy=heavy), axis=-1)
    cand = np.median(draw(rng, trials, pairs, between, shift, heavy), axis=-1)
    return np.log(cand / base)


def run_sequential(rule, logs):
    """Each trial's decision and the pairs it took: the rule applied at every scheduled look
    until it decides (what InterleavedLauncher does without a budget: every look is spent)."""
    decision = np.full(len(logs), "undecided", dtype=object)
    used = np.full(len(logs), rule.max_pairs)
    open_ = np.ones(len(logs), bool)
    for n in rule.looks:
        now = rule.decide(logs[open_, :n])
        decided = now != "undecided"
        rows = np.flatnonzero(open_)[decided]
        decision[rows], used[rows] = now[decided], n
        open_[rows] = False
    return decision, used


@pytest.mark.parametrize("heavy", [False, True])
@pytest.mark.parametrize("between", [0.02, 0.05, 0.10])
@pytest.mark.parametrize("min_effect", [0.005, 0.03])
def test_ab_sequential_a_a_false_alarms_stay_at_the_nominal_rate(between, min_effect, heavy):
    rng = np.random.default_rng(int(between * 1000) + int(min_effect * 1000) + heavy)
    rule = SequentialRule(min_effect=min_effect, alpha=ALPHA)
    decision, _ = run_sequential(rule, pair_logs(rng, TRIALS, rule.max_pairs, between, 0, heavy))
    slower = float(np.mean(decision == "slower"))
    different = float(np.mean(np.isin(decision, ["slower", "faster"])))
    assert slower <= allowance(ALPHA / 2), (between, min_effect, slower)
    assert different <= allowance(ALPHA), (between, min_effect, different)


@pytest.mark.parametrize("max_pairs", [2, 5, 10])
def test_ab_with_fewer_pairs_keeps_its_rate(max_pairs):
    """--pairs cuts the schedule; the looks that remain share alpha (a budget stop between two
    looks takes the next look's place: the same arithmetic)."""
    rng = np.random.default_rng(max_pairs)
    rule = SequentialRule(min_effect=0.005, alpha=ALPHA, max_pairs=max_pairs)
    decision, _ = run_sequential(rule, pair_logs(rng, TRIALS, max_pairs, 0.05))
    assert np.mean(np.isin(decision, ["slower", "faster"])) <= allowance(ALPHA)


def test_ab_sequential_power_and_its_false_same():
    """A 10% slowdown on a 5% spread is found (and early); a change of exactly the minimum
    effect is called same no more often than alpha / 2; no change is mostly called same."""
    rule = SequentialRule(min_effect=0.03, alpha=ALPHA)
    rng = np.random.default_rng(11)
    decision, used = run_sequential(
        rule, pair_logs(rng, TRIALS, rule.max_pairs, 0.05, math.log(1.10))
    )
    assert np.mean(decision == "slower") > 0.95 and np.median(used) <= 8
    decision, _ = run_sequential(rule, pair_logs(rng, TRIALS, rule.max_pairs, 0.05, math.log(1.03)))
    assert np.mean(decision == "same") <= allowance(ALPHA / 2)
    assert np.mean(decision == "faster") == 0
    decision, _ = run_sequential(rule, pair_logs(rng, TRIALS, rule.max_pairs, 0.02))
    assert np.mean(decision == "same") > 0.9


def test_instruction_counts_decide_at_the_first_look():
    """Counts repeat to ~0.01% between processes: a 2% change is slower, and no change same,
    after three pairs (and after two with --pairs 2)."""
    rng = np.random.default_rng(3)
    rule = SequentialRule(min_effect=0.01, alpha=ALPHA)
    for shift, expected in ((math.log(1.02), "slower"), (0.0, "same")):
        logs = rng.normal(shift, 1e-4, (TRIALS, rule.max_pairs))
        decision, used = run_sequential(rule, logs)
        assert set(decision) == {expected} and set(used) == {rule.looks[0]} == {3}
        assert judge_pairs(list(np.exp(logs[0, :2])), 0.01).verdict == expected
