"""Reports: the tidy table -> a per-(setup, workload, params, device, phase) summary, rendered
as a terminal table, Markdown, CSV, Parquet or one self-contained HTML file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from harness.errors import UserError
from harness.stats import stability, summarize

GROUP = ["setup", "workload", "framework", "kind", "device", "params", "phase"]
FORMATS = ("table", "markdown", "csv", "parquet", "html")


def phase_order(phase: str) -> int:
    order = [
        "forward",
        "backward",
        "update",
        "save",
        "load",
        "decode",
        "transform",
        "batch",
        "step",
    ]
    return order.index(phase) if phase in order else len(order) - 1


def summary_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (setup, workload, params, device, phase): statistics of the raw samples."""
    ok = frame[(frame["status"] == "ok") & frame["seconds"].notna()]
    rows = []
    for key, group in ok.groupby(GROUP, sort=False, dropna=False):
        stats = summarize(group["seconds"].tolist())
        items = group["items_per_step"].iloc[0]
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        row.update(
            median_s=stats["median"],
            iqr_s=stats["iqr"],
            min_s=stats["min"],
            mean_s=stats["mean"],
            count=stats["count"],
            processes=int(group["process"].nunique()),
            items_per_second=(items / stats["median"]) if items and stats["median"] else None,
            stability=stability(stats["median"], stats["iqr"]),
            first_step_s=group["first_step_s"].iloc[0],
            load_cache=_load_cache(group) if key[GROUP.index("phase")] == "load" else None,
        )
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


def _load_cache(group: pd.DataFrame) -> str | None:
    """cold only when every record of the group verified a cold read; unverified for records
    written before the check existed."""
    if group["kind"].iloc[0] != "save_load":
        return None
    states = set(group["load_cache"].fillna("unverified"))
    if states == {"cold"}:
        return "cold"
    return "warm" if "warm" in states else "unverified"


def phase_label(phase: str, load_cache: str | None) -> str:
    """The phase as shown: a load that did not read the disk says so."""
    if phase == "load" and load_cache in ("warm", "unverified"):
        return f"load ({load_cache} cache)" if load_cache == "warm" else "load (cache unverified)"
    return phase


def load_cache_notes(summary: pd.DataFrame) -> str:
    if summary.empty or "load_cache" not in summary:
        return ""
    warm = summary[summary["load_cache"].isin(["warm", "unverified"])]
    if warm.empty:
        return ""
    return (
        "\nLoads marked warm cache (or cache unverified) read the page cache, not the disk: "
        "their GB/s is memory speed. A cold load needs cold_read=true and scratch on a real "
        "disk (HARNESS_SCRATCH_DIR; not a tmpfs).\n"
    )


def phase_gap_notes(frame: pd.DataFrame, tolerance: float = 0.10) -> str:
    """Cases whose phases do not add up to the step within the tolerance."""
    gaps = frame.dropna(subset=["phase_gap"]).drop_duplicates(["source", "record"])
    if gaps.empty:
        return ""
    by_case = gaps.groupby(["workload", "device", "params"], sort=False)["phase_gap"].median()
    off = by_case[by_case.abs() > tolerance]
    if off.empty:
        return ""
    lines = [f"\nPhases that do not add up to the step within {tolerance:.0%} (step − phase sum):"]
    for (workload, device, params), gap in off.items():
        lines.append(f"  {workload} [{device}] {short_params(params, workload)}: {gap:+.1%}")
    return "\n".join(lines) + "\n"


def failures_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Records that measured nothing: failed, or skipped with a reason."""
    failed = frame[frame["status"] != "ok"]
    return failed.drop_duplicates(["source", "record"])[
        ["workload", "device", "params", "status", "message", "setup"]
    ]


def not_measured_notes(frame: pd.DataFrame) -> str:
    """'Failed:' and 'Skipped:' lines under a report."""
    records = failures_frame(frame)
    text = ""
    for title, rows in (
        ("Failed", records[records["status"] != "skipped"]),
        ("Skipped", records[records["status"] == "skipped"]),
    ):
        if rows.empty:
            continue
        lines = [
            f"  {r.workload} [{r.device}] {short_params(r.params, r.workload)}: "
            + (r.message if title == "Skipped" and r.message else str(r.status))
            for r in rows.itertuples()
        ]
        text += f"\n{title}:\n" + "\n".join(lines) + "\n"
    return text


def format_seconds(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "—"
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    if value >= 1e-6:
        return f"{value * 1e6:.2f} µs"
    return f"{value * 1e9:.0f} ns"


def format_rate(value: float | None) -> str:
    if value is None or pd.isna(value):
        return ""
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.1f} /s"


def _defaults(workload: str) -> dict[str, Any]:
    try:
        from harness.plan import workload_class

        return {p.name: p.default for p in workload_class(workload).params}
    except Exception:  # results from a workload this checkout does not have
        return {}


def short_params(params_json: str, workload: str | None = None) -> str:
    """The parameters that differ from the workload's defaults (all of them when unknown)."""
    from harness.params import format_params

    params = json.loads(params_json)
    defaults = _defaults(workload) if workload else {}
    shown = {k: v for k, v in params.items() if k not in defaults or _same(defaults[k], v) is False}
    return format_params(shown) or "defaults"


def _same(default: Any, value: Any) -> bool:
    if isinstance(default, tuple):
        default = list(default)
    return bool(default == value)


def display_rows(summary: pd.DataFrame) -> list[dict[str, str]]:
    multi_setup = False
    if not summary.empty:
        per_case = summary.groupby(["workload", "params", "device", "phase"])["setup"].nunique()
        multi_setup = bool((per_case > 1).any())
    rows = []
    for _, row in summary.iterrows():
        shown = {
            "workload": row["workload"],
            "device": row["device"],
            "params": short_params(row["params"], row["workload"]),
            "phase": phase_label(row["phase"], row.get("load_cache")),
            "median": format_seconds(row["median_s"]),
            "IQR": format_seconds(row["iqr_s"]),
            "IQR/median": f"{row['iqr_s'] / row['median_s']:.1%}" if row["median_s"] else "",
            "items/s": format_rate(row["items_per_second"]) if row["phase"] == "step" else "",
            "n": str(row["count"]),
            "stability": row["stability"],
        }
        if multi_setup:
            shown = {"setup": row["setup"], **shown}
        rows.append(shown)
    return rows


def render_table(summary: pd.DataFrame, title: str = "harness results") -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    rows = display_rows(summary)
    if not rows:
        return "No successful measurements to report.\n"
    for column in rows[0]:
        justify: Literal["left", "right"] = (
            "right" if column in {"median", "IQR", "IQR/median", "items/s", "n"} else "left"
        )
        table.add_column(column, justify=justify, overflow="fold")
    previous = None
    for row in rows:
        key = (row.get("setup"), row["workload"], row["params"], row["device"])
        if previous is not None and key != previous:
            table.add_section()
        previous = key
        table.add_row(*row.values())
    buffer = io.StringIO()
    Console(file=buffer, width=200, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue()


def render_markdown(summary: pd.DataFrame) -> str:
    rows = display_rows(summary)
    if not rows:
        return "_No successful measurements to report._\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in row.values()) + " |")
    return "\n".join(lines) + "\n"


def _process_groups(group: pd.DataFrame) -> list[list[float]]:
    return [
        g["seconds"].tolist()
        for _, g in group.groupby(["source", "record"], sort=False, dropna=False)
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
    from harness.stats import ratio_confidence_interval

    ok = frame[(frame["status"] == "ok") & frame["seconds"].notna()]
    setups = list(dict.fromkeys(ok["setup"]))
    if len(setups) < 2:
        return pd.DataFrame()
    ref = pick_reference(setups, reference)
    rows = []
    keys = ["workload", "params", "device", "phase"]
    for index, (key, group) in enumerate(ok.groupby(keys, sort=False)):
        base = group[group["setup"] == ref]
        if base.empty:
            continue
        base_groups = _process_groups(base)
        for setup in setups:
            other = group[group["setup"] == setup]
            if other.empty:
                continue
            row = dict(zip(keys, key, strict=True))
            median = float(other["seconds"].median())
            q1, q3 = other["seconds"].quantile([0.25, 0.75])
            row.update(
                setup=setup,
                reference=ref,
                median_s=median,
                stability=stability(median, float(q3 - q1)),
            )
            if setup == ref:
                row.update(speedup=1.0, ci_low=1.0, ci_high=1.0)
            else:
                ratio, low, high = ratio_confidence_interval(
                    base_groups, _process_groups(other), seed=index
                )
                row.update(speedup=1 / ratio, ci_low=1 / high, ci_high=1 / low)
            rows.append(row)
    return pd.DataFrame(rows)


def render_speedups(speedups: pd.DataFrame, markdown: bool = False) -> str:
    """Pivot: one row per workload × phase, one column per setup (A, B, ... named below)."""
    if speedups.empty:
        return ""
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
            "params": short_params(params, workload),
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
    title = "Speed-up against the reference (×: reference median / setup median, 95% CI)"
    if markdown:
        header = list(rows[0])
        lines = [
            f"**{title}**",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
        return "\n".join([*lines, "", *[f"- {x}" for x in legend]]) + "\n"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(*[str(v) for v in r.values()])
    buffer = io.StringIO()
    Console(file=buffer, width=220, color_system=None).print(table)
    return buffer.getvalue() + "\n".join(legend) + "\n"


def write_report(
    frame: pd.DataFrame, fmt: str, output: Path | None, reference: str | None = None
) -> str | None:
    """Render ``fmt``; write it to ``output`` when given, else return the text to print."""
    if fmt not in FORMATS:
        raise UserError(f"Unknown report format '{fmt}'; valid formats: {', '.join(FORMATS)}.")
    summary = summary_frame(frame)
    if fmt == "parquet":
        if output is None:
            raise UserError("--format parquet writes a binary file; give --output FILE.parquet.")
        try:
            summary.to_parquet(output, index=False)
        except ImportError:
            raise UserError(
                "Parquet output needs pyarrow: pip install 'harness[parquet]'."
            ) from None
        return None
    speedups = speedup_frame(frame, reference) if fmt in ("table", "markdown", "html") else None
    if fmt == "table":
        text = render_table(summary)
        if speedups is not None and not speedups.empty:
            text += "\n" + render_speedups(speedups)
        text += phase_gap_notes(frame)
        text += load_cache_notes(summary)
        text += not_measured_notes(frame)
    elif fmt == "markdown":
        text = render_markdown(summary) + load_cache_notes(summary)
        if speedups is not None and not speedups.empty:
            text += "\n" + render_speedups(speedups, markdown=True)
    elif fmt == "csv":
        text = summary.to_csv(index=False)
    else:
        from harness.html_report import render_html

        text = render_html(frame, summary, speedups)
    if output is None:
        return text
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return None
