"""harness run: argparse -> RunConfig -> run() -> what happened, and the exit code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.commands import EXIT_CODES_HELP
from harness.config import RunConfig, TimerOverrides
from harness.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run_options import (
        add_bookkeeping_options,
        add_selection_options,
        add_timing_options,
    )
    from harness.launch import LAUNCHERS, add_options

    run = sub.add_parser(
        name,
        help="run a suite or workloads; write results/<run-id>.jsonl",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_selection_options(run)
    add_timing_options(run)
    where = run.add_argument_group("where it runs")
    where.add_argument(
        "--launcher", default="local", help=f"{', '.join(LAUNCHERS)} (default: local)"
    )
    add_options(run)
    output = run.add_argument_group("results")
    output.add_argument(
        "--results-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the records, JSON lines (default: RESULTS_DIR/<run-id>.jsonl)",
    )
    output.add_argument(
        "--label",
        default=None,
        help="name this setup in reports (default: host · hardware · launcher · versions)",
    )
    output.add_argument("--report", action="store_true", help="print the report when done")
    output.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="DOC",
        help="write the report when done to DOC, in the format its suffix names (.html, .md, "
        ".csv, .parquet, .txt)",
    )
    output.add_argument(
        "--history",
        action="store_true",
        help="append the run to the results history (DuckDB) when done",
    )
    output.add_argument(
        "--db",
        type=Path,
        default=None,
        help="history database for --history (default results/history.duckdb)",
    )
    add_bookkeeping_options(output)


def seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} expects a number of seconds, got {text!r}.") from None
    if not value > 0:
        raise UserError(f"{name} must be a positive number of seconds, got {text!r}.")
    return value


#: steps of the shorter counted process under --measure instructions
DEFAULT_INSTRUCTION_STEPS = 20


def check_timing_options(args: argparse.Namespace) -> None:
    """Refuse options that would be accepted and then not used (UserError, one sentence)."""
    timed = {"--warmup-time": args.warmup_time, "--min-time": args.min_time,
             "--min-blocks": args.min_blocks, "--max-blocks": args.max_blocks,
             "--precision": args.precision, "--max-time": args.max_time}  # fmt: skip
    if args.measure != "time":
        given = [name for name, value in timed.items() if value is not None]
        if given:
            raise UserError(
                f"{given[0]} sets how time is measured; --measure {args.measure} counts a fixed "
                "number of steps (--instruction-steps): drop it."
            )
    elif args.instruction_steps is not None:
        raise UserError("--instruction-steps works with --measure instructions only.")
    if args.max_time is not None and not args.max_time > 0:
        raise UserError(f"--max-time must be a positive number of seconds, got {args.max_time}.")
    if args.min_time is not None and args.max_time is not None and args.min_time > args.max_time:
        raise UserError(
            f"--min-time ({args.min_time} s) is more than --max-time ({args.max_time} s); the "
            "budget must hold the minimum."
        )
    if getattr(args, "results_dir", None) is not None and getattr(args, "results_file", None):
        raise UserError("Give --results-file or --results-dir, not both.")


def config_from_args(args: argparse.Namespace, **given: Any) -> RunConfig:
    """The RunConfig of ``harness run`` (``given`` replaces fields, as ``harness ab`` does)."""
    from harness.launch import config_from_args as launcher_config
    from harness.params import parse_override

    check_timing_options(args)
    fields: dict[str, Any] = dict(
        suite=args.suite,
        workloads=tuple(args.workload),
        frameworks=tuple(args.framework),
        overrides=tuple(parse_override(text) for text in args.param),
        devices=tuple(args.device),
        processes=args.processes,
        timer=TimerOverrides(
            args.warmup_time,
            args.min_time,
            args.min_blocks,
            args.max_blocks,
            args.precision,
            args.max_time,
        ),
        threads=args.threads,
        timeout=seconds("--timeout", args.timeout),
        seed=args.seed,
        launcher=getattr(args, "launcher", "local"),
        launcher_config=launcher_config(args.launcher, args) if "launcher" in args else None,
        output=getattr(args, "results_file", None),
        results_dir=getattr(args, "results_dir", None) or Path("results"),
        measure=args.measure,
        instruction_steps=(
            DEFAULT_INSTRUCTION_STEPS if args.instruction_steps is None else args.instruction_steps
        ),
        compile_cache=getattr(args, "compile_cache", "fresh"),
        label=getattr(args, "label", None),
    )
    fields.update(given)
    return RunConfig(**fields)


def check_results_file(results_file: Path | None) -> None:
    """Refuse a ``--results-file`` named like a rendered document (run and ab): the records
    are JSON lines, and the document is ``--output``'s."""
    from harness.render import SUFFIXES

    if results_file is not None and results_file.suffix.lower() in SUFFIXES:
        raise UserError(
            f"--results-file holds the records (JSON lines), not a document like "
            f"{results_file.name}; name it .jsonl, and give --output {results_file.name} for the "
            "report."
        )
    if results_file is not None and str(results_file) in ("", "."):
        raise UserError("--results-file needs a file name, such as results.jsonl.")


def warn_if_the_machine_would_distort() -> None:
    """One line when ``harness doctor`` would fail (its quick checks: no Docker, no GPU)."""
    from harness.machine.doctor import run_checks, warning_line

    line = warning_line(run_checks(sample_s=0.2, docker=False, gpus=False))
    if line:
        print(f"harness: warning: {line}", file=sys.stderr)


def handle(args: argparse.Namespace) -> int:
    from harness.progress import events_for
    from harness.runner import run

    config = config_from_args(args)
    results_file = getattr(args, "results_file", None)
    check_results_file(results_file)
    document = getattr(args, "output", None)
    if document is not None:
        from harness.render import format_for
        from harness.writable import check_writable

        format_for(document)  # before anything is measured
        check_writable(document, "--output", "report.html")
    if args.db is not None and not args.history:
        raise UserError(
            "--db names the history database that --history adds the run to; add --history, "
            "or drop --db."
        )
    if results_file is not None and results_file.is_file() and results_file.stat().st_size:
        print(
            f"harness: appending to {results_file}, which holds earlier records; this run's "
            "report covers its own records (harness report FILE covers them all).",
            file=sys.stderr,
        )
    if args.history:
        from harness.analysis.history import DEFAULT_DB
        from harness.writable import check_writable

        check_writable(args.db or DEFAULT_DB, "--db", "history.duckdb")
    warn_if_the_machine_would_distort()
    events = events_for(not args.no_progress)
    try:
        outcome = run(config, events)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    from harness.render.cells import case_label

    for record in outcome.failed:
        error = record.error
        print(
            f"harness: FAILED {case_label(record.workload, record.device)}: {record.status}: "
            f"{error.message if error else ''}",
            file=sys.stderr,
        )
        for line in (error.tail() if error else [])[-5:]:
            print(f"    {line}", file=sys.stderr)
    for record in outcome.skipped:
        print(
            f"harness: skipped {case_label(record.workload, record.device)}: "
            f"{record.error.message if record.error else ''}",
            file=sys.stderr,
        )
    print(f"harness: results in {outcome.path}", file=sys.stderr)
    report_failed = False
    if (args.report or document is not None) and outcome.records:
        run_ids = {record.run_id for record in outcome.records if record.run_id}
        report_failed = not write_documents(args, outcome.path, document, run_ids)
    history_failed = args.history and outcome.records and not add_to_history(args, outcome.path)
    if outcome.interrupted:
        print(
            f"harness: interrupted by {outcome.interrupted} after "
            f"{len(outcome.records)} of {outcome.planned} task(s); "
            "everything measured so far is in the file.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if outcome.failed:
        print(
            f"harness: {len(outcome.failed)} of {len(outcome.records)} task(s) failed.",
            file=sys.stderr,
        )
        return EXIT_FAILURES
    return EXIT_USAGE if history_failed or report_failed else EXIT_OK


def write_documents(
    args: argparse.Namespace, path: Path, document: Path | None, run_ids: set[str]
) -> bool:
    """The report of the run just made (the records of ``run_ids`` in ``path``): on the
    terminal (``--report``) and to ``--output``, after the run's own outcome is printed. A
    report that cannot be made is one line, and the records stay in ``path``. True when
    written."""
    from harness.documents.report import write_report
    from harness.machine import peaks
    from harness.render import format_for
    from harness.results import load_frame

    frame = load_frame([path])
    if run_ids:  # this run's records only, when the file held earlier ones too
        frame = frame[frame["run_id"].isin(run_ids)]
    machine_peaks = peaks.for_frame(frame, [Path("results")])
    try:
        if args.report:
            print(write_report(frame, "table", None, machine_peaks=machine_peaks), end="")
        if document is not None:
            write_report(frame, format_for(document), document, machine_peaks=machine_peaks)
            print(f"harness: report written to {document}", file=sys.stderr)
    except UserError as error:
        print(f"harness: no report: {error}", file=sys.stderr)
        return False
    return True


def add_to_history(args: argparse.Namespace, path: Path) -> bool:
    """Append the run to the history after its own outcome is printed; a failure (a database
    another process holds past the wait) says how to add the run later. True when added."""
    from harness.analysis.history import DEFAULT_DB
    from harness.analysis.history import add as add_runs
    from harness.results import load_frame

    database = args.db or DEFAULT_DB
    try:
        for run_id, _added in add_runs(load_frame([path]), database):
            print(f"harness: run {run_id} added to the history ({database})", file=sys.stderr)
        from harness.analysis.history import unaligned_warning

        warning = unaligned_warning(database)
        if warning:
            print(f"harness: warning: {warning}", file=sys.stderr)
    except UserError as error:
        print(
            f"harness: the run was not added to the history: {error} Add it later with "
            f"harness history add {path} --db {database}.",
            file=sys.stderr,
        )
        return False
    return True
