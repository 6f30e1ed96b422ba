"""The ``time`` measure (the default): wall time per step, by the timer inside the worker
(``harness.timer``: warm-up, blocks grown past the clock's overhead, measured to a precision
target). Its part of the record is the raw ``samples`` (seconds per step, one per block, for
the step and each phase), ``host_samples``, ``timing`` and ``phase_gap``, with the machine
watch and the loss read around the blocks; in the tidy table, one row per sample (``seconds``)
and the columns ``TIME_COLUMNS``; compare judges each phase over processes (``judge``: a Welch
interval on the logs of the process medians), ab pair by pair on the step's median."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.measures.base import Measure
from harness.record import PhaseGap, Record
from harness.stats import REJECTED_IQR, log_ratio_interval

MIN_PROCESSES = 3  # compare-grade runs: variation between processes is measured
DEFAULT_MIN_EFFECT = 0.03
#: what load_frame adds for the timer, one value per record (from ``Record.timing``)
TIME_COLUMNS = ("block_size", "first_step_s", "stop_reason", "precision_target")


class TimeMeasure(Measure):
    name = "time"
    help = "time (default): wall time per step, by the timer in the worker"
    in_worker = True
    unit = "seconds per step"
    title = "wall time"
    default_min_effect = DEFAULT_MIN_EFFECT
    per_process = False

    @property
    def frame_columns(self) -> tuple[str, ...]:
        return TIME_COLUMNS

    def measure(self, workload: Any, task: Any, record: Record) -> None:
        """The timer over ``workload``, the machine watched around its measured blocks."""
        from harness import loss_check
        from harness.machine.machine_watch import MachineWatch
        from harness.timer import Timer

        measurement = Timer(task.timer).run(workload, watch=MachineWatch(task.device))
        record.measure = self.name
        record.timing = measurement.timing  # held, not copied
        record.machine = measurement.machine
        record.loss = measurement.loss
        if loss_check.warning(record.loss):
            record.warnings.append(str(loss_check.warning(record.loss)))
        record.samples = measurement.samples
        record.host_samples = measurement.host_samples
        medians = {phase: record.median(phase) or 0.0 for phase in record.samples}
        record.phase_gap = PhaseGap.of(medians["step"], [medians[p] for p in workload.phases])

    def value(self, record: Record) -> float | None:
        """The process's step median (seconds)."""
        return record.step_median

    def columns(self, record: Record) -> dict[str, Any]:
        timing = record.timing
        return {
            "block_size": timing.block_size if timing else None,
            "first_step_s": timing.first_step_s if timing else None,
            "stop_reason": timing.stop_reason if timing else None,
            "precision_target": timing.precision_target if timing else None,
        }

    def judge(
        self, baseline: Sequence[Any], candidate: Sequence[Any], threshold: float
    ) -> dict[str, Any]:
        """``judge`` of one phase: one list of block samples (seconds) per process a side."""
        return judge(baseline, candidate, threshold)


def verdict_for(ratio: float, low: float, high: float, min_effect: float, noisy: bool) -> str:
    """The rule every wall-time verdict follows (compare and ab): a change at least the minimum
    effect whose interval excludes 1; a clear slowdown stays a regression when noisy."""
    if ratio >= 1 + min_effect and low > 1:
        return "slower (noisy)" if noisy else "slower"
    if noisy:
        return "unstable"
    if ratio <= 1 - min_effect and high < 1:
        return "faster"
    return "unchanged"


def judge(
    baseline: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float = 0.05,
    min_processes: int = MIN_PROCESSES,
) -> dict[str, Any]:
    """Verdict for one phase: baseline/candidate given as one list of block samples (seconds)
    per process.

    The ratio is the geometric mean of the candidate's process medians over the baseline's
    (``baseline_median_s`` and ``candidate_median_s`` are those geometric means),
    its interval a Welch t interval on their logs (``harness.stats.log_ratio_interval``):
    processes are the samples, so with fewer than ``min_processes`` (at least 2) a side the
    row is ``unjudged`` — no interval from one process can cover the spread between processes.
    A/A false alarms of this rule are measured in tests/test_false_alarms.py.
    """
    base_all = np.concatenate([np.asarray(g, float) for g in baseline])
    cand_all = np.concatenate([np.asarray(g, float) for g in candidate])
    q1, base_median, q3 = np.percentile(base_all, [25, 50, 75])
    c1, cand_median, c3 = np.percentile(cand_all, [25, 50, 75])
    base_medians = np.array([np.median(np.asarray(g, float)) for g in baseline])
    cand_medians = np.array([np.median(np.asarray(g, float)) for g in candidate])
    if min(base_median, cand_median, base_medians.min(), cand_medians.min()) <= 0:
        return refused(base_median, cand_median, len(base_all), len(cand_all))
    base_rel_iqr = (q3 - q1) / base_median
    cand_rel_iqr = (c3 - c1) / cand_median
    common = {  # the ratio's own terms: candidate_median_s / baseline_median_s is the ratio
        "baseline_median_s": process_center(base_medians),
        "candidate_median_s": process_center(cand_medians),
        "min_effect": min_effect,
        "baseline_rel_iqr": float(base_rel_iqr),
        "candidate_rel_iqr": float(cand_rel_iqr),
        "baseline_samples": len(base_all),
        "candidate_samples": len(cand_all),
    }
    needed = max(min_processes, 2)
    if min(len(base_medians), len(cand_medians)) < needed:
        # shown, not judged: no interval covers it
        point = common["candidate_median_s"] / common["baseline_median_s"]
        return {**common, **unjudged(len(base_medians), len(cand_medians), needed), "ratio": point}
    ratio, low, high, p_value = (
        float(v) for v in log_ratio_interval(base_medians, cand_medians, 1 - alpha)
    )
    noisy = max(base_rel_iqr, cand_rel_iqr) > REJECTED_IQR
    return {
        **common,
        "ratio": ratio,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "verdict": verdict_for(ratio, low, high, min_effect, noisy),
        "reason": "",
    }


def process_center(medians: Sequence[float] | np.ndarray) -> float:
    """One side's time in a comparison (seconds): the geometric mean of its processes' medians,
    the term the ratio is made of (one process: its median). Processes are the independent
    units, so each weighs the same whatever its number of blocks."""
    return float(np.exp(np.mean(np.log(np.asarray(medians, float)))))


def unjudged(n_base: int, n_cand: int, needed: int) -> dict[str, Any]:
    """No verdict: too few processes a side to measure the variation between processes."""
    nan = float("nan")
    return {
        **dict.fromkeys(("ratio", "ci_low", "ci_high", "p_value"), nan),
        "verdict": "unjudged",
        "reason": f"{n_base} process(es) on the baseline side and {n_cand} on the candidate, "
        f"fewer than {needed} a side, so the variation between processes is not measured; "
        f"run both sides with --processes {max(needed, MIN_PROCESSES)} (or --suite compare)",
    }


def refused(base_median: float, cand_median: float, n_base: int, n_cand: int) -> dict[str, Any]:
    """No verdict: a ratio of times means nothing when a median is zero or negative (a phase
    obtained by subtraction, such as keras.step's backward at tiny sizes)."""
    return {
        **no_ratio(base_median, cand_median, n_base, n_cand),
        "verdict": "refused",
        "reason": "a median is zero or negative (a phase obtained by subtraction); "
        "judge the step, or run at sizes where the phase dominates",
    }


def no_ratio(base_median: float, cand_median: float, n_base: int, n_cand: int) -> dict[str, Any]:
    """The columns of a row that has no ratio to judge (refused, failed, missing)."""
    nan = float("nan")
    return {
        "baseline_median_s": float(base_median),
        "candidate_median_s": float(cand_median),
        **dict.fromkeys(("ratio", "ci_low", "ci_high", "p_value", "min_effect"), nan),
        "baseline_rel_iqr": nan,
        "candidate_rel_iqr": nan,
        "baseline_samples": n_base,
        "candidate_samples": n_cand,
    }
