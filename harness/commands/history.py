"""harness history add | show | changes: runs kept in a DuckDB file, change points over them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import EXIT_FAILURES, EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.analysis.history import DEFAULT_DB, MIN_MAGNITUDE

    history = sub.add_parser(name, help="a results history in DuckDB; change points over it")
    actions = history.add_subparsers(dest="history_command", metavar="ACTION")
    add = actions.add_parser("add", help="append results files (each run once)")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE", help="results files")
    show = actions.add_parser("show", help="the series: each run's median, in time order")
    show.add_argument(
        "--workload", default=None, metavar="NAME", help="only this workload's series"
    )
    show.add_argument(
        "--phase", default=None, metavar="PHASE", help="only this phase (step, forward, ...)"
    )
    changes = actions.add_parser(
        "changes", help="change points in every series; exit 1 when the latest run is slower"
    )
    changes.add_argument(
        "--alpha",
        "--max-pvalue",
        dest="max_pvalue",
        metavar="ALPHA",
        type=float,
        default=0.001,
        help="significance level of a change point (default 0.001; --max-pvalue: the same)",
    )
    changes.add_argument(
        "--unconfirmed",
        choices=("pass", "fail"),
        default="pass",
        help="a slowdown seen in the latest run only: pass (default; reported, exit 0 until a "
        "second run confirms it) or fail (exit 1 at once)",
    )
    changes.add_argument(
        "--min-effect",
        "--min-magnitude",
        dest="min_magnitude",
        metavar="MIN_EFFECT",
        type=float,
        default=MIN_MAGNITUDE,
        help=f"smallest relative change reported (default {MIN_MAGNITUDE})",
    )
    for action in (add, show, changes):
        action.add_argument(
            "--db", type=Path, default=DEFAULT_DB, help=f"history database (default {DEFAULT_DB})"
        )


def handle(args: argparse.Namespace) -> int:
    command = {"add": add, "show": show, "changes": changes}.get(args.history_command or "")
    if command is None:
        raise UserError("history needs an action: add FILE..., show or changes.")
    return command(args)


def add(args: argparse.Namespace) -> int:
    from harness.analysis.history import add as add_runs
    from harness.analysis.history import unaligned_warning
    from harness.commands.report import load

    for run_id, added in add_runs(load(args.files), args.db):
        state = "added" if added else "already there"
        print(f"harness: run {run_id}: {state} ({args.db})", file=sys.stderr)
    warning = unaligned_warning(args.db)
    if warning:
        print(f"harness: warning: {warning}", file=sys.stderr)
    else:
        warn_if_too_short(args.db)
    return EXIT_OK


def warn_if_too_short(database: Path) -> None:
    """One line when no series of the history has enough runs for a change point yet."""
    from harness.analysis.history import MIN_RUNS, series, short_series

    history = series(database)
    short, total = short_series(history)
    runs = history["run_id"].nunique() if not history.empty else 0
    if total and short == total and runs >= MIN_RUNS:  # enough runs, none lined up yet
        print(
            f"harness: warning: all {total} series in {database} have fewer than {MIN_RUNS} "
            "runs, too few to find a change point; series are keyed by --label, else by "
            "hardware and launcher: give every run of one setup the same --label.",
            file=sys.stderr,
        )


def show(args: argparse.Namespace) -> int:
    from harness.analysis.history import series
    from harness.documents.report import format_precision
    from harness.render import Document, Table, render
    from harness.render.cells import format_seconds, short_params

    frame = series(args.db, args.workload, args.phase)
    if frame.empty:
        raise UserError(f"No runs in {args.db} match; harness history show lists them all.")
    marks = fact_changes(frame)
    rows = [
        {
            "started": str(r.started_at)[:19],
            "commit": (r.git_commit or "—")[:12],
            "branch": r.git_branch or "—",
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "phase": r.phase,
            "median": format_seconds(r.median_s),
            "±": format_precision(r.precision),
            "series": r.series,
            "changed": marks[i],
        }
        for i, r in enumerate(frame.itertuples())
    ]
    table = Table(rows, title=f"history: {args.db}", section_by=("workload", "params", "phase"))
    print(render(Document([table]), "table"), end="")
    return EXIT_OK


def fact_changes(frame: Any) -> list[str]:
    """Per row of a series frame: the volatile facts that changed since the series' previous
    run ("host", "framework 2.12 → 2.13"), as asv marks commits on a graph."""
    from harness.analysis.history import SERIES

    marks: list[str] = []
    previous: dict[tuple[Any, ...], Any] = {}
    for row in frame.itertuples():
        key = tuple(getattr(row, column) for column in SERIES)
        before = previous.get(key)
        changed = []
        if before is not None:
            if before.host and row.host and before.host != row.host:
                changed.append("host")
            if before.versions and row.versions and before.versions != row.versions:
                changed.append(f"framework {before.versions} → {row.versions}")
        marks.append(", ".join(changed) or "")
        previous[key] = row
    return marks


def changes(args: argparse.Namespace) -> int:
    from harness.analysis.history import MIN_RUNS, latest_slowdowns, series, short_series
    from harness.analysis.history import changes as find_changes
    from harness.commands import check_judging
    from harness.render.cells import case_label, format_seconds

    check_judging(args.max_pvalue, args.min_magnitude)
    history = series(args.db)
    short, total = short_series(history)
    if short:
        print(
            f"harness: {short} of {total} series have fewer than {MIN_RUNS} runs, too few to "
            "judge (series are keyed by --label, else by hardware and launcher).",
            file=sys.stderr,
        )
    found = find_changes(history, args.max_pvalue, args.min_magnitude)
    if not found:
        judged = total - short
        print(f"No change point in the {judged} series of {args.db} with enough runs to judge.")
        return EXIT_OK
    for c in found:
        kind = "SLOWER" if c.slowdown else "faster"
        notes = [] if c.confirmed else ["UNCONFIRMED: the latest run alone; needs a second run"]
        notes += [f"changed with it: {fact}" for fact in c.changed_facts]
        notes += [f"noisy-machine after it: {reason}" for reason in c.noisy_after]
        print(
            f"{kind} {c.relative:+.1%}  "
            f"{case_label(c.workload, c.device, c.params, c.changed_params)} · {c.phase}  "
            f"{format_seconds(c.mean_before_s)} → {format_seconds(c.mean_after_s)}  "
            f"between {(c.before_commit or '?')[:12]} and {(c.after_commit or '?')[:12]} "
            f"(run {c.index + 1} of {c.runs}, p={c.pvalue:.2g})  {c.series}"
            + "".join(f"\n    {note}" for note in notes)
        )
    standing = latest_slowdowns(found)
    confirmed = [c for c in standing if c.confirmed]
    unconfirmed = [c for c in standing if not c.confirmed]
    if unconfirmed:
        print(
            f"\nharness: {len(unconfirmed)} series' latest run alone is slower: unconfirmed "
            f"until a second run stands with it (--unconfirmed {args.unconfirmed}).",
            file=sys.stderr,
        )
    if confirmed:
        print(
            f"\nharness: {len(confirmed)} series' latest runs sit after a slowdown that has not "
            "been undone.",
            file=sys.stderr,
        )
    if confirmed or (unconfirmed and args.unconfirmed == "fail"):
        return EXIT_FAILURES
    return EXIT_OK
