"""How ``harness compare`` shows its verdicts: a headline, a table per measure (wall time,
instructions), then notes; any renderer writes the Document."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.compare import MIN_PROCESSES, NOT_MEASURED, SLOWER, VERDICTS, Comparison
from harness.explain import explain_notes
from harness.render import Document, Heading, Table, Text, check_format, write
from harness.render.cells import format_seconds, short_params

TIME_COLUMNS = [
    "workload", "device", "params", "changed_params", "phase", "verdict", "reason",
    "baseline_processes", "candidate_processes", "baseline_code", "candidate_code",
]  # fmt: skip


def comparison_document(result: Comparison) -> Document:
    """The verdicts as a Document: a headline, a table per measure, then notes."""
    timed = result.rows if not result.rows.empty else pd.DataFrame(columns=TIME_COLUMNS)
    headline = "; ".join(
        f"{measure}: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v))
        for measure, frame in (("time", timed), ("instructions", result.instructions))
        if not frame.empty
        for counts in [frame["verdict"].value_counts().to_dict()]
    )
    regressed = not result.regressions.empty
    status = "REGRESSION" if regressed else "no regression"
    icon = "❌" if regressed else "✅"
    result = Comparison(
        timed,
        result.only_baseline,
        result.only_candidate,
        result.allow_missing,
        result.instructions,
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
        }
        for r in result.rows.itertuples()
    ]
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
    if not result.instructions.empty:
        blocks.append(instructions_table(result.instructions))
    notes = []
    judged = result.rows[~result.rows["verdict"].isin(NOT_MEASURED)]
    few = judged[
        (judged["baseline_processes"] < MIN_PROCESSES)
        | (judged["candidate_processes"] < MIN_PROCESSES)
    ]
    if not few.empty:
        notes.append(
            f"Note: {few['workload'].nunique()} workload(s) ran in fewer than {MIN_PROCESSES} "
            "processes on a side, so variation between processes is not measured; "
            f"run with --processes {MIN_PROCESSES} (or --suite compare) for compare-grade results."
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
                f"{r.workload} [{r.device}] · {r.phase}: {r.reason}"
                for r in not_measured.drop_duplicates(["workload", "device", "params"]).itertuples()
            )
        )
    refusals = result.rows[result.rows["verdict"] == "refused"]
    if not refusals.empty:
        notes.append(
            "No verdict (refused): "
            + "; ".join(f"{r.workload} [{r.device}] · {r.phase}" for r in refusals.itertuples())
            + f": {refusals['reason'].iloc[0]}."
        )
    for label, items in (
        ("Only in the baseline", result.only_baseline),
        ("Only in the candidate", result.only_candidate),
    ):
        if items:
            notes.append(f"{label}: " + "; ".join(items))
    notes += explain_notes(result.rows)  # the command line that explains each flagged row
    blocks += [Text(note) for note in notes]
    return Document(blocks, data=result.rows, title="harness compare")


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


def instructions_table(rows: pd.DataFrame) -> Table:
    shown = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "baseline": f"{r.baseline_instructions:,.0f}",
            "candidate": "—"
            if pd.isna(getattr(r, "candidate_instructions", float("nan")))
            else f"{r.candidate_instructions:,.0f}",
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
        title="instructions per step (Callgrind; threshold: the larger of --instruction-threshold "
        "and the counts' own spread)",
        numeric=frozenset({"baseline", "candidate", "ratio"}),
        strong=frozenset(("verdict", v) for v in SLOWER + NOT_MEASURED),
    )
