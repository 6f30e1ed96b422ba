"""Analysis of the tidy table (``harness.results.load_frame``): summaries, speed-ups, phase
gaps, what was not measured. DataFrames in, DataFrames out; statistics from ``harness.stats``;
no formatting (that is ``harness.render``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.record import PHASE_GAP_TOLERANCE
from harness.stats import (
    PRECISION_TARGET,
    hierarchical_interval,
    ratio_confidence_interval,
    relative_half_width,
    stability,
    summarize,
)

GROUP = ["setup", "workload", "framework", "kind", "device", "params", "phase"]
PHASE_ORDER = (
    "data",
    "forward",
    "backward",
    "update",
    "save",
    "load",
    "decode",
    "transform",
    "batch",
)


#: carried from the samples into the summary: what the workload counted, where it ran
COUNTED = (
    "flops",
    "bytes_moved",
    "host",
    "cpu_model",
    "usable_cores",
    "gpu_name",
    "source",
    "param_image_size",
    "host_seconds",
)


def _first(group: pd.DataFrame, column: str) -> Any:
    if column not in group:
        return None
    values = group[column].dropna()
    return values.iloc[0] if not values.empty else None


def _median_over_processes(group: pd.DataFrame, column: str) -> float | None:
    """The median over records (processes) of a per-record figure, or None where none has it."""
    if column not in group:
        return None
    per_record = group.groupby(["source", "record"], sort=False, dropna=False)[column].first()
    per_record = per_record.dropna()
    return float(per_record.median()) if not per_record.empty else None


def phase_order(phase: str) -> int:
    return PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER)


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of successful records that hold a sample."""
    return frame[(frame["status"] == "ok") & frame["seconds"].notna()]


def process_groups(group: pd.DataFrame) -> list[list[float]]:
    """One list of block samples per record (process)."""
    return [
        g["seconds"].tolist()
        for _, g in group.groupby(["source", "record"], sort=False, dropna=False)
    ]


def summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (setup, workload, params, device, phase): statistics of the raw samples."""
    ok = measured(frame)
    rows = []
    for index, (key, group) in enumerate(ok.groupby(GROUP, sort=False, dropna=False)):
        stats = summarize(group["seconds"].tolist())
        items = group["items_per_step"].iloc[0]
        processes = process_groups(group)
        if len(processes) > 1:
            interval = hierarchical_interval(processes, seed=index)
            precision = relative_half_width(interval, stats["median"])
        else:
            interval = (stats["ci_low"], stats["ci_high"]) if stats["ci_low"] is not None else None
            precision = stats["precision"]
        target = group["precision_target"].dropna()
        target_value = float(target.iloc[0]) if not target.empty else PRECISION_TARGET
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        row.update(
            changed_params=group["changed_params"].iloc[0],
            workers=group["workers"].iloc[0],
            median_s=stats["median"],
            iqr_s=stats["iqr"],
            min_s=stats["min"],
            mean_s=stats["mean"],
            count=stats["count"],
            processes=int(group["process_id"].nunique()),  # across merged files too
            items_per_second=(items / stats["median"]) if items and stats["median"] else None,
            precision=precision,
            ci_low_s=interval[0] if interval else None,
            ci_high_s=interval[1] if interval else None,
            precision_target=target_value,
            stop_reason=",".join(sorted(set(group["stop_reason"].dropna()) - {""})),
            noisy_machine=bool(group["noisy_machine"].fillna(False).astype(bool).any()),
            loss_diverged=bool(group["loss_diverged"].fillna(False).astype(bool).any()),
            stability=stability(
                stats["median"], stats["iqr"], precision, target_value, count=stats["count"]
            ),
            first_step_s=group["first_step_s"].iloc[0],
            load_cache=load_cache(group) if key[GROUP.index("phase")] == "load" else None,
            **{column: _first(group, column) for column in COUNTED},
        )
        # dispatch time: every process of the case, not the first (the median of each's)
        row["host_seconds"] = _median_over_processes(group, "host_seconds")
        rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    # Workloads and parameter sets in the order they were run; phases in step order.
    cases = list(dict.fromkeys(zip(ok["workload"], ok["params"], strict=True)))
    first_seen = {case: index for index, case in enumerate(cases)}
    summary["_case"] = [
        first_seen[case] for case in zip(summary["workload"], summary["params"], strict=True)
    ]
    summary["_order"] = summary["phase"].map(phase_order)
    summary = summary.sort_values(["_case", "device", "setup", "_order"], kind="stable")
    return summary.drop(columns=["_case", "_order"]).reset_index(drop=True)


def load_cache(group: pd.DataFrame) -> str | None:
    """cold only when every record of the group verified a cold read; unverified for records
    written before the check existed."""
    if group["kind"].iloc[0] != "save_load":
        return None
    states = set(group["load_cache"].fillna("unverified"))
    if states == {"cold"}:
        return "cold"
    return "warm" if "warm" in states else "unverified"


def phase_gaps(frame: pd.DataFrame, tolerance: float = PHASE_GAP_TOLERANCE) -> pd.DataFrame:
    """Cases whose phases do not add up to the step within the tolerance (median over the
    records): columns workload, device, params, changed_params, phase_gap."""
    columns = ["workload", "device", "params", "changed_params", "phase_gap"]
    gaps = frame.dropna(subset=["phase_gap"]).drop_duplicates(["source", "record"])
    if gaps.empty:
        return pd.DataFrame(columns=columns)
    by_case = gaps.groupby(["workload", "device", "params"], sort=False, dropna=False).agg(
        changed_params=("changed_params", "first"), phase_gap=("phase_gap", "median")
    )
    off = by_case[by_case["phase_gap"].abs() > tolerance].reset_index()
    return off[columns]


def failures_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Records that measured nothing: failed, or skipped with a reason."""
    failed = frame[frame["status"] != "ok"]
    return failed.drop_duplicates(["source", "record"])[
        ["workload", "device", "params", "changed_params", "status", "message", "setup"]
    ]


def pick_reference(setups: list[str], reference: str | None) -> str:
    if reference is None:
        return setups[0]
    exact = [s for s in setups if s == reference]
    matches = exact or [s for s in setups if reference in s]
    if len(matches) != 1:
        found = "no setup" if not matches else f"{len(matches)} setups"
        raise UserError(
            f"--reference {reference!r} matches {found}; setups: " + "; ".join(setups) + "."
        )
    return matches[0]


def speedup_frame(frame: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Speed-up of every setup against a reference setup, per workload, params, device, phase.

    speed-up = reference median / setup median (above 1: faster than the reference), with a 95%
    hierarchical bootstrap interval (processes, then blocks).
    """
    ok = measured(frame)
    setups = list(dict.fromkeys(ok["setup"]))
    if len(setups) < 2:
        if reference is not None and setups:
            pick_reference(setups, reference)  # a name that matches nothing is still refused
        return pd.DataFrame()
    ref = pick_reference(setups, reference)
    rows = []
    keys = ["workload", "params", "device", "phase"]
    for index, (key, group) in enumerate(ok.groupby(keys, sort=False)):
        base = group[group["setup"] == ref]
        if base.empty:
            continue
        base_groups = process_groups(base)
        for setup in setups:
            other = group[group["setup"] == setup]
            if other.empty:
                continue
            row = dict(zip(keys, key, strict=True))
            median = float(other["seconds"].median())
            q1, q3 = other["seconds"].quantile([0.25, 0.75])
            row.update(
                changed_params=other["changed_params"].iloc[0],
                setup=setup,
                reference=ref,
                median_s=median,
                stability=stability(median, float(q3 - q1), count=len(other)),
            )
            if setup == ref:
                row.update(speedup=1.0, ci_low=1.0, ci_high=1.0)
            else:
                ratio, low, high = ratio_confidence_interval(
                    base_groups, process_groups(other), seed=index
                )
                row.update(speedup=1 / ratio, ci_low=1 / high, ci_high=1 / low)
            rows.append(row)
    return pd.DataFrame(rows)


def noisy_tasks(frame: pd.DataFrame) -> pd.DataFrame:
    """Records the machine watch flagged, with the figures that tripped it."""
    columns = ["workload", "device", "params", "changed_params", "process", "noisy_reasons"]
    flagged = frame[frame["noisy_machine"].fillna(False).astype(bool)]
    return flagged.drop_duplicates(["source", "record"])[columns]


def diverged_tasks(frame: pd.DataFrame) -> pd.DataFrame:
    """Records whose training loss was not finite (NaN or infinite; harness.loss_check)."""
    columns = ["workload", "device", "params", "changed_params", "process"]
    flagged = frame[frame["loss_diverged"].fillna(False).astype(bool)]
    return flagged.drop_duplicates(["source", "record"])[columns]


def imprecise(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows whose median is not known to its precision target, and why measuring stopped."""
    if summary.empty:
        return summary
    known = summary["precision"].notna()
    missed = ~known | (summary["precision"] > summary["precision_target"])
    return summary[missed]


COUNTED_KEY = ["setup", "workload", "params", "changed_params", "device"]


def counted_frame(frame: pd.DataFrame, column: str = "instructions_per_step") -> pd.DataFrame:
    """One row per (setup, workload, params, device) of a measure with one figure per process
    (``column``: ``instructions_per_step`` for --measure instructions): ``per_step``, the
    median over processes, their spread (largest relative distance from that median: the
    figure's own noise), ``processes`` and the ``values``."""
    if column not in frame:
        return pd.DataFrame()
    counted = frame[(frame["status"] == "ok") & frame[column].notna()]
    counted = counted.drop_duplicates(["source", "record"])
    rows = []
    for key, group in counted.groupby(COUNTED_KEY, sort=False, dropna=False):
        values = group[column].astype(float)
        median = float(values.median())
        rows.append(
            {
                **dict(zip(COUNTED_KEY, key, strict=True)),
                "per_step": median,
                "spread": float((values / median - 1).abs().max()) if median else float("nan"),
                "processes": len(values),
                "values": values.tolist(),
            }
        )
    return pd.DataFrame(rows)
