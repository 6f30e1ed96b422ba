"""harness history add | show | changes: runs kept in a DuckDB file, change points over them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import EXIT_FAILURES, EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.history import DEFAULT_DB, MIN_MAGNITUDE

    history = sub.add_parser(name, help="a results history in DuckDB; change points over it")
    actions = history.add_subparsers(dest="history_command", metavar="ACTION")
    add = actions.add_parser("add", help="append results files (each run once)")
    add.add_argument("files", nargs="+", type=Path)
    show = actions.add_parser("show", help="the series: each run's median, in time order")
    show.add_argument("--workload", default=None)
    show.add_argument("--phase", default=None)
    changes = actions.add_parser(
        "changes", help="change points in every series; exit 1 when the latest run is slower"
    )
    changes.add_argument("--max-pvalue", type=float, default=0.001)
    changes.add_argument(
        "--min-magnitude",
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
    from harness.commands.report import load
    from harness.history import add as add_runs
    from harness.history import unaligned_warning

    for run_id, added in add_runs(load(args.files), args.db):
        state = "added" if added else "already there"
        print(f"harness: run {run_id}: {state} ({args.db})", file=sys.stderr)
    warning = unaligned_warning(args.db)
    if warning:
        print(f"harness: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    from harness.history import series
    from harness.render import Document, Table, render
    from harness.render.cells import format_seconds, short_params
    from harness.report import format_precision

    frame = series(args.db, args.workload, args.phase)
    if frame.empty:
        raise UserError(f"No runs in {args.db} match; harness history show lists them all.")
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
            "setup": r.setup,
        }
        for r in frame.itertuples()
    ]
    table = Table(rows, title=f"history: {args.db}", section_by=("workload", "params", "phase"))
    print(render(Document([table]), "table"), end="")
    return EXIT_OK


def changes(args: argparse.Namespace) -> int:
    from harness.history import changes as find_changes
    from harness.history import latest_slowdowns, series
    from harness.render.cells import format_seconds, short_params

    found = find_changes(series(args.db), args.max_pvalue, args.min_magnitude)
    if not found:
        print(f"No change point in any series of {args.db}.")
        return EXIT_OK
    for c in found:
        kind = "SLOWER" if c.slowdown else "faster"
        print(
            f"{kind} {c.relative:+.1%}  {c.workload} [{c.device}] "
            f"{short_params(c.params, c.changed_params)} · {c.phase}  "
            f"{format_seconds(c.mean_before_s)} → {format_seconds(c.mean_after_s)}  "
            f"between {(c.before_commit or '?')[:12]} and {(c.after_commit or '?')[:12]} "
            f"(run {c.index + 1} of {c.runs}, p={c.pvalue:.2g})  {c.setup}"
        )
    standing = latest_slowdowns(found)
    if standing:
        print(
            f"\nharness: {len(standing)} series' latest run sits after a slowdown that has not "
            "been undone.",
            file=sys.stderr,
        )
        return EXIT_FAILURES
    return EXIT_OK
