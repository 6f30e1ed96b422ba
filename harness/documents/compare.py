"""How ``harness compare`` shows its verdicts: a headline, a table per measure (wall time,
instructions), then notes; any renderer writes the Document."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis.compare import MIN_PROCESSES, NOT_MEASURED, SLOWER, VERDICTS, Comparison
from harness.analysis.explain import explain_notes
from harness.render import Document, Heading, Table, Text, check_format, write
from harness.render.cells import case_label, format_seconds, short_params

TIME_COLUMNS = [
    "workload", "device", "params", "changed_params", "phase", "verdict", "reason",
    "baseline_processes", "candidate_processes", "baseline_code", "candidate_code",
    "baseline_noisy_machine", "candidate_noisy_machine",
]  # fmt: skip


def comparison_document(result: Comparison) -> Document:
    """The verdicts as a Document: a headline, a table per measure, then notes."""
    timed = result.rows if not result.rows.empty else pd.DataFrame(columns=TIME_COLUMNS)
    headline = "; ".join(
        f"{measure}: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v))
        for measure, frame in [("time", timed), *_by_measure(result.instructions)]
        if not frame.empty
        for counts in [frame["verdict"].value_counts().to_dict()]
    )
    regressed = not result.regressions.empty
    not_judged = int((timed["verdict"] == "unjudged").sum())
    judged_rows = len(timed) - not_judged + len(result.instructions)
    status = "REGRESSION" if regressed else "no regression"
    if regressed and result.setup_differences:
        status = "REGRESSION across different setups (not a verdict: --allow-different-setups)"
    icon = "❌" if regressed else ("⚠️" if not_judged else "✅")
    if not_judged:
        if not regressed:
            status = "no verdict"
            if judged_rows:
                status = f"no regression in {judged_rows} judged row(s)"
        status += f"; {not_judged} row(s) could not be judged"
    result = Comparison(
        timed,
        result.only_baseline,
        result.only_candidate,
        result.allow_missing,
        result.instructions,
        result.setup_differences,
        result.noted_differences,
    )
    rows = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "phase": r.phase,
            "baseline": format_seconds(r.baseline_median_s),
            "candidate": format_seconds(r.candidate_median_s),
            "ratio": "—" if pd.isna(r.ratio) else f"{r.ratio:.3f}",
            "95% CI": "—" if pd.isna(r.ci_low) else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
            "p": "—" if pd.isna(r.p_value) else f"{r.p_value:.3g}",
            "threshold": "—" if pd.isna(r.min_effect) else f"±{r.min_effect:.1%}",
            "verdict": r.verdict,
            "code": code_change(r.baseline_code, r.candidate_code),
            "machine": noisy_sides(r),
            **({"numerics": r.numerics} if "numerics" in result.rows else {}),
        }
        for r in result.rows.itertuples()
    ]
    if not any(row["machine"] for row in rows):
        for row in rows:
            del row["machine"]
    blocks: list = [Heading(f"{icon} harness compare: {status} ({headline})", level=3)]
    if rows:
        blocks.append(
            Table(
                rows,
                title="wall time" if not result.instructions.empty else "",
                numeric=frozenset({"baseline", "candidate", "ratio", "p"}),
                strong=frozenset(("verdict", v) for v in SLOWER + NOT_MEASURED),
            )
        )
    blocks += [counted_table(rows, name) for name, rows in _by_measure(result.instructions)]
    notes = []
    if rows:
        notes.append(
            "baseline, candidate: each side's geometric mean of its processes' medians (one "
            "process: its median), so ratio = candidate / baseline; the 95% CI is a Welch t "
            "interval over the processes."
        )
    if result.setup_differences or result.noted_differences:
        notes.append(
            "The two sides ran on different setups: "
            + "; ".join(result.setup_differences + result.noted_differences)
            + (
                ". A difference between them may be the setup's, not the code's: a slowdown "
                "is not a regression verdict (exit 2) unless --allow-different-setups."
                if result.setup_differences
                else " (the host alone: named, not held against the verdict)."
            )
        )
    unjudged = result.rows[result.rows["verdict"] == "unjudged"]
    if not unjudged.empty:
        notes.append(
            f"Not judged ({len(unjudged)} row(s), {unjudged['workload'].nunique()} workload(s)): "
            f"{unjudged['reason'].iloc[0]}."
        )
    judged = result.rows[~result.rows["verdict"].isin((*NOT_MEASURED, "unjudged"))]
    few = judged[
        (judged["baseline_processes"] < MIN_PROCESSES)
        | (judged["candidate_processes"] < MIN_PROCESSES)
    ]
    if not few.empty:
        notes.append(
            f"Note: {few['workload'].nunique()} workload(s) were judged from fewer than "
            f"{MIN_PROCESSES} processes on a side (--min-processes): the interval is wide; "
            f"run with --processes {MIN_PROCESSES} (or --suite compare) for compare-grade results."
        )
    flagged = [r for r in result.rows.itertuples() if noisy_sides(r)]
    if flagged:
        notes.append(
            "The machine watch flagged a side as a noisy machine (other load, throttling or "
            "steal while it ran) for: "
            + "; ".join(
                f"{case_label(r.workload, r.device)} · {r.phase} ({noisy_sides(r)})"
                for r in flagged
            )
            + ". The verdict is computed as usual, but a busy side can fake or hide a change: "
            "rerun on a quiet machine (harness doctor) before trusting these rows."
        )
    changed = result.rows[
        result.rows["baseline_code"].notna()
        & result.rows["candidate_code"].notna()
        & (result.rows["baseline_code"] != result.rows["candidate_code"])
    ]
    if not changed.empty:
        notes.append(
            "The workload's own code changed between the two runs for: "
            + "; ".join(sorted({f"{r.workload}" for r in changed.itertuples()}))
            + " (its source hash differs), so a difference may come from the benchmark, "
            "not from what it measures."
        )
    not_measured = result.rows[result.rows["verdict"].isin(NOT_MEASURED)]
    if not not_measured.empty:
        passes = " (--allow-missing: not counted as regressions)" if result.allow_missing else ""
        notes.append(
            f"Not measured by the candidate{passes}: "
            + "; ".join(
                f"{case_label(r.workload, r.device)} · {r.phase}: {r.reason}"
                for r in not_measured.drop_duplicates(["workload", "device", "params"]).itertuples()
            )
        )
    refusals = result.rows[result.rows["verdict"] == "refused"]
    if not refusals.empty:
        notes.append(
            "No verdict (refused): "
            + "; ".join(
                f"{case_label(r.workload, r.device)} · {r.phase}" for r in refusals.itertuples()
            )
            + f": {refusals['reason'].iloc[0]}."
        )
    for label, items in (
        ("Only in the baseline", result.only_baseline),
        ("Only in the candidate", result.only_candidate),
    ):
        if items:
            notes.append(f"{label}: " + "; ".join(items))
    notes.append(numerics_notes(result.rows))
    notes += explain_notes(result.rows)  # the command line that explains each flagged row
    blocks += [Text(note) for note in notes if note]
    return Document(blocks, data=result.rows, title="harness compare")


def noisy_sides(row: object) -> str:
    """'noisy: baseline', 'noisy: candidate', 'noisy: both' or '' (the machine watch's flag)."""
    sides = [
        side
        for side in ("baseline", "candidate")
        if _flagged(getattr(row, f"{side}_noisy_machine", False))
    ]
    if not sides:
        return ""
    return "noisy: " + ("both" if len(sides) == 2 else sides[0])


def _flagged(value: object) -> bool:
    return bool(value) if isinstance(value, (bool, np.bool_)) else False


def numerics_notes(rows: pd.DataFrame) -> str:
    from harness.analysis.numerics import changed_text

    return changed_text(rows)


def code_change(baseline: str | None, candidate: str | None) -> str:
    """'changed' when both runs recorded the workload's source hash and they differ; '?' when
    a side did not record one (results written before schema version 3)."""
    if not isinstance(baseline, str) or not isinstance(candidate, str):
        return "?"
    return "same" if baseline == candidate else "changed"


def render_comparison(
    result: Comparison, fmt: str = "table", output: Path | None = None
) -> str | None:
    check_format(fmt)
    return write(comparison_document(result), fmt, output)


def _by_measure(counted: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The rows of ``Comparison.instructions`` (every per-process measure), one frame each."""
    if counted.empty:
        return []
    return [(str(name), rows) for name, rows in counted.groupby("measure", sort=False)]


def counted_table(rows: pd.DataFrame, name: str) -> Table:
    """One per-process measure's verdicts (``compare.compare_counts``)."""
    from harness.measures import measure_for

    shown = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "baseline": f"{r.baseline_per_step:,.0f}",
            "candidate": "—"
            if pd.isna(getattr(r, "candidate_per_step", float("nan")))
            else f"{r.candidate_per_step:,.0f}",
            "ratio": "—" if pd.isna(getattr(r, "ratio", float("nan"))) else f"{r.ratio:.4f}",
            "threshold": "—"
            if pd.isna(getattr(r, "threshold", float("nan")))
            else f"±{max(r.threshold, r.spread):.2%}",
            "verdict": r.verdict,
        }
        for r in rows.itertuples()
    ]
    return Table(
        shown,
        title=f"{measure_for(name).title} (threshold: the larger of --instruction-threshold "
        "and the counts' own spread)",
        numeric=frozenset({"baseline", "candidate", "ratio"}),
        strong=frozenset(("verdict", v) for v in SLOWER + NOT_MEASURED),
    )
