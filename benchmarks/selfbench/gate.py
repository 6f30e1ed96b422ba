"""The regression gate: A/A false alarms and detection of injected slowdowns."""

from __future__ import annotations

from benchmarks.selfbench.common import Row, log, run_records
from harness.config import TimerOverrides


def measure(quick: bool) -> list[Row]:
    import pandas as pd

    from harness.compare import compare_frames
    from harness.results import frame_from_records

    base_us = 200.0
    comparisons = 10 if quick else 20
    per_run = 3
    values = {"A/A": base_us, "5%": round(base_us * 1.05, 6), "10%": round(base_us * 1.10, 6)}
    log(f"gate: {comparisons} comparisons each, {per_run} processes per run")
    records = run_records(
        "extra_work_us=" + ",".join(f"{v:g}" for v in values.values()),
        suite="smoke",
        workloads=("harness.noop",),
        processes=per_run * (comparisons + 1),
        timer=TimerOverrides(
            warmup_time=0.05, min_time=0.2, min_blocks=10, max_blocks=1000, max_time=0.2
        ),
    )
    frame = frame_from_records(records)
    frame = frame[frame["phase"] == "step"]

    def run_frame(extra: float, run: int) -> pd.DataFrame:
        mask = (frame["param_extra_work_us"] == extra) & (frame["process"] // per_run == run)
        part = frame[mask].copy()
        part["params"] = "{}"  # the same workload on both sides of a comparison
        return part

    rows = []
    for name, extra in values.items():
        flagged = 0
        for i in range(comparisons):
            baseline = run_frame(base_us, i)
            candidate = run_frame(extra, i + 1 if name == "A/A" else i)
            result = compare_frames(baseline, candidate)
            flagged += int(not result.regressions.empty)
        rate = flagged / comparisons
        if name == "A/A":
            rows.append(
                Row(
                    "gate",
                    f"A/A false alarms ({comparisons} comparisons of harness.noop with itself)",
                    f"{flagged}/{comparisons}",
                    "0",
                    flagged == 0,
                )
            )
        else:
            target = "≥ 95%" if name == "10%" else "informational"
            rows.append(
                Row(
                    "gate",
                    f"detection of an injected {name} slowdown",
                    f"{rate:.0%}",
                    target,
                    rate >= 0.95 if name == "10%" else None,
                    f"{flagged}/{comparisons} flagged; calibrated busy-wait "
                    f"{base_us:g} → {extra:g} µs per step; the default minimum "
                    "effect is 5%",
                )
            )
    return rows
