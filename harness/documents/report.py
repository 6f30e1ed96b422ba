"""``harness report``: the tidy table -> a Document (summary table, speed-ups, notes, figures)
for any renderer: terminal table, Markdown, CSV, Parquet or one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis import bottleneck, frameworks
from harness.analysis import summary as analysis
from harness.analysis.aggregate import aggregate_frame
from harness.analysis.findings import report_findings
from harness.documents import plots
from harness.errors import UserError
from harness.machine.peaks import MachinePeaks
from harness.measures import counted_measures
from harness.render import Document, Figure, Findings, Table, Text, check_format, write
from harness.render.cells import (
    case_label,
    format_rate,
    format_seconds,
    phase_label,
    short_params,
)

NUMERIC = frozenset({"median", "±", "IQR/median", "items/s", "n"})


def format_precision(precision: float | None) -> str:
    """The median's 95% interval as ± a share of it; '?' when too few samples to know."""
    if precision is None or pd.isna(precision):
        return "?"
    return f"{precision:.1%}" if precision < 0.995 else ">99%"


def summary_table(summary: pd.DataFrame) -> Table:
    multi_setup = False
    if not summary.empty:
        per_case = summary.groupby(["workload", "params", "device", "phase"])["setup"].nunique()
        multi_setup = bool((per_case > 1).any())
    rows = []
    for _, row in summary.iterrows():
        shown = {
            "workload": row["workload"],
            "device": row["device"],
            "params": short_params(row["params"], row["changed_params"]),
            "phase": phase_label(row["phase"], row.get("load_cache")),
            "median": format_seconds(row["median_s"]),
            "±": format_precision(row["precision"]),
            "IQR/median": f"{row['iqr_s'] / row['median_s']:.1%}" if row["median_s"] else "",
            "items/s": format_rate(row["items_per_second"]) if row["phase"] == "step" else "",
            "n": str(row["count"]),
            "stability": row["stability"]
            + (" · noisy-machine" if row.get("noisy_machine") else "")
            + (" · loss-diverged" if row.get("loss_diverged") else ""),
        }
        if multi_setup:
            shown = {"setup": row["setup"], **shown}
        rows.append(shown)
    return Table(
        rows,
        title="harness results",
        numeric=NUMERIC,
        section_by=("setup", "workload", "params", "device"),
    )


def counted_table(counted: pd.DataFrame, measure: Any) -> Table:
    """One measure's figures per process (``analysis.counted_frame``), by workload case."""
    unit = f"{measure.name}/step"
    rows = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            unit: f"{r.per_step:,.0f}",
            "spread": f"{r.spread:.4%}",
            "processes": str(r.processes),
            "setup": r.setup,
        }
        for r in counted.itertuples()
    ]
    return Table(
        rows,
        title=measure.title,
        numeric=frozenset({unit, "spread", "processes"}),
    )


def speedup_table(speedups: pd.DataFrame) -> Table:
    """Pivot: one row per workload × phase, one column per setup (A, B, ... named below)."""
    setups = list(dict.fromkeys(speedups["setup"]))
    letters = {setup: chr(ord("A") + i) if i < 26 else f"S{i}" for i, setup in enumerate(setups)}
    reference = speedups["reference"].iloc[0]
    rows = []
    for (workload, params, device, phase), group in speedups.groupby(
        ["workload", "params", "device", "phase"], sort=False
    ):
        row = {
            "workload": workload,
            "device": device,
            "params": short_params(params, group["changed_params"].iloc[0]),
            "phase": phase,
        }
        for setup in setups:
            match = group[group["setup"] == setup]
            if match.empty:
                row[letters[setup]] = "—"
                continue
            r = match.iloc[0]
            cell = format_seconds(r["median_s"])
            if setup != reference:
                cell += f" ×{r['speedup']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
            if r["stability"] in ("unstable", "rejected"):
                cell += f" ({r['stability']})"
            row[letters[setup]] = cell
        rows.append(row)
    legend = [f"{letters[s]} = {s}" + (" (reference)" if s == reference else "") for s in setups]
    return Table(
        rows,
        title="Speed-up against the reference (×: reference median / setup median, 95% CI)",
        legend=legend,
    )


def aggregate_table(aggregated: pd.DataFrame) -> Table:
    """One row per setup: the geometric mean speed-up over the workloads both ran."""
    rows = []
    for r in aggregated.itertuples():
        judged = r.geomean is not None and pd.notna(r.geomean)
        rows.append(
            {
                "setup": r.setup,
                "geomean speed-up": f"×{r.geomean:.3f}" if judged else "—",
                "95% CI": f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" if judged else "—",
                "workloads": str(r.workloads),
                "not judged": f"{r.not_judged}: {r.not_judged_cases}" if r.not_judged else "0",
            }
        )
    reference = aggregated["reference"].iloc[0]
    return Table(
        rows,
        title=f"One number per setup against {reference}: geometric mean of the step speed-ups "
        "(hierarchical bootstrap over workloads, processes, blocks)",
        numeric=frozenset({"geomean speed-up", "workloads"}),
    )


def bottleneck_table(found: pd.DataFrame, summary: pd.DataFrame) -> Table:
    changed = dict(zip(summary["params"], summary["changed_params"], strict=False))
    multi = found["setup"].nunique() > 1
    rows = [
        {
            **({"setup": str(row["setup"])[:48]} if multi else {}),
            "workload": row["workload"],
            "device": row["device"],
            "params": short_params(row["params"], changed.get(row["params"])),
            "bottleneck": row["verdict"],
            "deciding figure": row["figure"],
            "advice": row["advice"],
        }
        for _, row in found.iterrows()
    ]
    return Table(rows, title="What limits each workload (harness/analysis/bottleneck.py)")


def phase_gap_text(gaps: pd.DataFrame) -> str:
    if gaps.empty:
        return ""
    lines = [
        "Phases that do not add up to the step within "
        f"{analysis.PHASE_GAP_TOLERANCE:.0%} (step − phase sum):"
    ]
    for r in gaps.itertuples():
        lines.append(
            f"  {case_label(r.workload, r.device, r.params, r.changed_params)}: {r.phase_gap:+.1%}"
        )
    return "\n".join(lines)


def load_cache_text(summary: pd.DataFrame) -> str:
    if summary.empty or "load_cache" not in summary:
        return ""
    if summary[summary["load_cache"].isin(["warm", "unverified"])].empty:
        return ""
    return (
        "Loads marked warm cache (or cache unverified) read the page cache, not the disk: "
        "their GB/s is memory speed. A cold load needs cold_read=true and scratch on a real "
        "disk (HARNESS_SCRATCH_DIR; not a tmpfs)."
    )


def precision_text(summary: pd.DataFrame, frame: pd.DataFrame) -> str:
    """What ± means, which rows missed their target and why, and the noisy-machine tasks."""
    if summary.empty:
        return ""
    target = summary["precision_target"].iloc[0]
    lines = [
        f"±: half the width of the median's 95% confidence interval, as a share of the median "
        f"(target ±{target:.1%}; between processes when there are several)."
    ]
    missed = analysis.imprecise(summary)
    if not missed.empty:
        why = missed["stop_reason"].replace("", "unknown").value_counts()
        reasons = ", ".join(f"{count} {STOP_REASONS.get(r, r)}" for r, count in why.items())
        lines.append(f"{len(missed)} of {len(summary)} rows did not reach the target: {reasons}.")
    noisy = analysis.noisy_tasks(frame)
    if not noisy.empty:
        lines.append("noisy-machine: the machine changed under these tasks:")
        for r in noisy.itertuples():
            lines.append(
                f"  {case_label(r.workload, r.device, r.params, r.changed_params)}"
                f"{f' #{r.process + 1}' if r.process else ''}: {r.noisy_reasons}"
            )
    diverged = analysis.diverged_tasks(frame)
    if not diverged.empty:
        lines.append(
            "loss-diverged: the training loss was not finite (NaN or inf); these timings are "
            "of NaN arithmetic, not of training (lower the learning rate):"
        )
        for r in diverged.itertuples():
            lines.append(
                f"  {case_label(r.workload, r.device, r.params, r.changed_params)}"
                f"{f' #{r.process + 1}' if r.process else ''}"
            )
    return "\n".join(lines)


STOP_REASONS = {
    "max-time": "stopped at the time budget (--max-time)",
    "max-blocks": "stopped at the block cap (--max-blocks)",
    "precision": "stopped on the step's precision",
    "unknown": "written before the timer aimed for a precision",
}


def not_measured_text(frame: pd.DataFrame) -> str:
    """'Failed:' and 'Skipped:' lines under a report."""
    records = analysis.failures_frame(frame)
    parts = []
    for title, rows in (
        ("Failed", records[records["status"] != "skipped"]),
        ("Skipped", records[records["status"] == "skipped"]),
    ):
        if rows.empty:
            continue
        lines = [
            f"  {case_label(r.workload, r.device, r.params, r.changed_params)}: "
            + (r.message if title == "Skipped" and r.message else str(r.status))
            for r in rows.itertuples()
        ]
        parts.append(f"{title}:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def report_document(
    frame: pd.DataFrame,
    reference: str | None = None,
    speedups: bool = True,
    machine_peaks: MachinePeaks | None = None,
) -> Document:
    """``machine_peaks``: the cached peaks the verdicts, MFU and roofline judge against
    (``harness.machine.peaks.for_frame``); without them those say "no measured peaks"."""
    machine_peaks = machine_peaks or MachinePeaks()
    summary = analysis.summary_frame(frame)
    counted = [(m, analysis.counted_frame(frame, m.column)) for m in counted_measures()]
    counted = [(measure, rows) for measure, rows in counted if not rows.empty]
    blocks: list = [summary_table(summary)] if not summary.empty or not counted else []
    blocks += [counted_table(rows, measure) for measure, rows in counted]
    ratios = analysis.speedup_frame(frame, reference) if speedups else pd.DataFrame()
    aggregated = pd.DataFrame()
    if not ratios.empty:
        blocks.append(speedup_table(ratios))
        aggregated = aggregate_frame(frame, reference)
        if not aggregated.empty:
            blocks.append(aggregate_table(aggregated))
    found = bottleneck.verdicts(summary, machine_peaks)
    if not found.empty:
        blocks.append(bottleneck_table(found, summary))
    paired = frameworks.side_by_side(frame, machine_peaks)
    if paired.empty:  # one framework per model: the models alone, with their size and MFU
        paired = frameworks.side_by_side(frame, machine_peaks, min_frameworks=1)
    if not paired.empty:
        blocks.append(frameworks.side_by_side_table(paired))
    for text in (
        precision_text(summary, frame),
        phase_gap_text(analysis.phase_gaps(frame)),
        load_cache_text(summary),
        not_measured_text(frame),
    ):
        if text:
            blocks.append(Text(text))
    # one figure per question: how fast (with intervals), against what, where the time goes,
    # what limits it; none when nothing was timed (every task failed)
    if not summary.empty:
        blocks += [
            Figure("Throughput per workload and setup (median, bars: 95% interval)",
                   lambda: plots.throughput(summary)),
            Figure("Performance profile: share of workloads within τ of the best setup",
                   lambda: plots.performance_profile(frame)),
            Figure("Where the step's time goes: phase split per workload",
                   lambda: plots.phases(summary)),
            Figure("Roofline per machine: each phase against that machine's measured peaks",
                   lambda: plots.roofline(summary, machine_peaks)),
            Figure("Pipeline images/s against workers", lambda: plots.pipeline_workers(summary)),
            Figure("History of each workload across runs", lambda: plots.history(frame)),
        ]  # fmt: skip
    if speedups:
        blocks.insert(0, Findings(report_findings(frame, summary, aggregated, found)))
    sources = sorted({str(s) for s in frame["source"].dropna().unique()})
    return Document(blocks, data=summary, sources=sources)


def write_report(
    frame: pd.DataFrame,
    fmt: str,
    output: Path | None,
    reference: str | None = None,
    machine_peaks: MachinePeaks | None = None,
) -> str | None:
    """Render ``fmt``; write it to ``output`` when given, else return the text to print."""
    check_format(fmt)
    speedups = fmt in ("table", "markdown", "html")
    document = report_document(frame, reference, speedups, machine_peaks)
    if fmt in DATA_FORMATS and (document.data is None or document.data.empty):
        raise UserError(
            f"These results hold no timed samples (their records: {not_timed_counts(frame)}), "
            f"so a {fmt} export has nothing to hold; harness report FILE shows what they hold."
        )
    return write(document, fmt, output)


#: formats that export the summary's rows, and have nothing to say without them
DATA_FORMATS = ("csv", "parquet", "gab", "bmf")


def not_timed_counts(frame: pd.DataFrame) -> str:
    """'2 failed, 1 skipped': the records of ``frame`` by status, for a message."""
    records = frame.drop_duplicates(["source", "record"])
    counts = records["status"].value_counts()
    return ", ".join(f"{count} {status}" for status, count in counts.items()) or "no records"
