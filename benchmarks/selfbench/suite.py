"""The default suite as `make bench` runs it: its time on this machine, how many rows know their
median to the precision target (or say why not), and whether Keras' phases add up."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from benchmarks.selfbench import verdicts
from benchmarks.selfbench.common import Row, log, run_records
from harness.analysis.summary import summary_frame
from harness.machine import peaks
from harness.results import frame_from_records

SUITE_BUDGET_S = 120.0
RESULTS = Path("results")  # where make bench caches the peaks


def measure(quick: bool) -> list[Row]:
    log("suite: the default suite, as make bench runs it (peaks first, as make bench)")
    peaks.cached(RESULTS) or peaks.measure(RESULTS)
    started = time.perf_counter()
    records = run_records(suite="default")
    wall = time.perf_counter() - started
    summary = summary_frame(frame_from_records(records))
    rows = len(summary)
    reached = summary["precision"].notna() & (summary["precision"] <= summary["precision_target"])
    budget = summary["stop_reason"].str.contains("max-", regex=False)
    noisy = summary["noisy_machine"]
    accounted = reached | budget | noisy
    within_1 = summary["precision"].notna() & (summary["precision"] <= 0.01)
    flagged = sum(r.noisy_machine for r in records)
    out = [
        Row(
            "suite",
            f"default suite wall time (make bench's run, {len(records)} tasks)",
            f"{wall:.0f} s",
            f"≤ {SUITE_BUDGET_S:.0f} s",
            wall <= SUITE_BUDGET_S,
            f"{sum(r.ok for r in records)} of {len(records)} tasks measured",
        ),
        Row(
            "suite",
            "rows whose median reached the precision target, or that say why not",
            f"{accounted.mean():.0%}",
            "≥ 90%",
            bool(accounted.mean() >= 0.9),
            f"{int(reached.sum())} reached ±1%, {int((budget & ~reached).sum())} stopped at the "
            f"time budget, {int((noisy & ~reached & ~budget).sum())} flagged noisy-machine "
            f"only; {rows} rows",
        ),
        Row(
            "suite",
            "rows with the median known to ±1% (95% confidence)",
            f"{within_1.mean():.0%}",
            "informational",
            None,
            f"{int(within_1.sum())} of {rows}; median precision of all rows "
            f"±{summary['precision'].median():.1%}",
        ),
        Row(
            "suite",
            "tasks flagged noisy-machine",
            f"{flagged} of {len(records)}",
            "informational",
            None,
            "the reference kernel drifted beyond the target, or other processes took CPU",
        ),
    ]
    gaps = [r.phase_gap.relative for r in records if r.workload == "keras.step" and r.phase_gap]
    if gaps:
        worst = max(gaps, key=abs)
        out.append(
            Row(
                "suite",
                "keras.step (TensorFlow): phase sum against the fused step",
                f"{worst:+.1%}",
                "within ±10%",
                abs(worst) <= 0.10,
                f"worst of {len(gaps)} entries (median {statistics.median(gaps):+.1%}); "
                "phases from prefixes of the real step (record phase_method)",
            )
        )
    return out + verdicts.rows(summary, RESULTS)
