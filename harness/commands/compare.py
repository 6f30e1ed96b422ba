"""harness compare: regression verdicts, candidate against baseline; exit 1 on a regression."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.commands import EXIT_CODES_HELP
from harness.commands.report import load
from harness.errors import EXIT_FAILURES, EXIT_OK, UserError

#: what a comparison renders to (the trackers' formats are report's: per-run figures)
COMPARE_FORMATS = ("table", "markdown", "csv", "parquet", "html")


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    compare = sub.add_parser(
        name,
        help="regression verdicts: candidate against baseline",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("baseline", type=Path, nargs="*", help="baseline results file(s)")
    compare.add_argument(
        "--baseline",
        dest="baseline_name",
        metavar="NAME",
        default=None,
        help="the baseline kept as NAME (harness baseline save), read from its manifest",
    )
    compare.add_argument(
        "--baselines-dir", type=Path, default=Path("results/baselines"), metavar="DIR",
        help="where --baseline NAME is kept (default results/baselines)",
    )  # fmt: skip
    compare.add_argument(
        "--candidate",
        type=Path,
        action="append",
        default=[],
        help="candidate file(s); or give exactly two positional files",
    )
    compare.add_argument(
        "--format",
        default=None,
        choices=COMPARE_FORMATS,
        help="default: the --output suffix's format, else table",
    )
    compare.add_argument(
        "--output", type=Path, default=None, metavar="DOC",
        help="write the comparison to DOC in --format (default: print it)",
    )  # fmt: skip
    compare.add_argument(
        "--min-effect",
        type=float,
        default=0.03,
        help="smallest relative change worth a verdict (default 0.03); noise enters through "
        "the confidence interval",
    )
    compare.add_argument(
        "--allow-missing",
        action="store_true",
        help="a candidate task that failed or is absent is reported, not a regression",
    )
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level")
    compare.add_argument(
        "--allow-different-setups",
        action="store_true",
        help="let a slowdown between sides of different setups (CPU, launcher, limits, "
        "threads, framework versions) exit 1; by default it exits 2, naming what differs",
    )
    compare.add_argument(
        "--min-processes",
        type=int,
        default=3,
        help="fewest processes a side for a wall-time verdict (default 3, at least 2); rows "
        "with fewer are unjudged",
    )
    compare.add_argument(
        "--instruction-threshold",
        type=float,
        default=0.01,
        help="instructions (--measure instructions records): smallest change that counts",
    )
    compare.add_argument(
        "--phase",
        action="append",
        default=[],
        help="a phase to judge (repeatable; default: all)",
    )
    add_numerics_option(compare)


def add_numerics_option(parser: argparse._ActionsContainer) -> None:
    """``--numerics``: the first losses' check beside the verdict (harness/analysis/numerics.py)."""
    parser.add_argument(
        "--numerics",
        choices=("report", "fail"),
        default="report",
        help="the numerics column (same/changed first losses): report it (default), or fail "
        "(exit 1) when a workload's numerics changed",
    )


def handle(args: argparse.Namespace) -> int:
    from harness.render import document_format

    args.format = document_format(args.format, args.output, COMPARE_FORMATS)
    from harness.analysis.baselines import baseline_files as kept_files
    from harness.analysis.compare import compare_frames
    from harness.documents.compare import render_comparison
    from harness.render import check_format

    baseline_files, candidate_files = list(args.baseline), list(args.candidate)
    if args.baseline_name is not None:
        if baseline_files and candidate_files:
            raise UserError("Give the baseline as --baseline NAME or as files, not both.")
        candidate_files = candidate_files or baseline_files
        baseline_files = kept_files(args.baseline_name, args.baselines_dir)
        if not candidate_files:
            raise UserError("compare --baseline NAME needs the candidate's results file(s).")
    if not candidate_files:
        if len(baseline_files) != 2:
            raise UserError("compare needs BASELINE CANDIDATE, or BASELINE... --candidate FILE.")
        baseline_files, candidate_files = baseline_files[:1], baseline_files[1:]
    from harness.commands import check_judging

    check_judging(args.alpha, args.min_effect)
    if args.min_processes < 2:
        raise UserError(
            f"--min-processes must be at least 2 (one process cannot measure the spread between "
            f"processes), got {args.min_processes}."
        )
    check_format(args.format)
    if args.output is not None:
        from harness.writable import check_writable

        check_writable(args.output, "--output", "comparison.html")
    from harness.analysis import numerics

    if len(candidate_files) > 1:
        print(
            f"harness: the candidate is {len(candidate_files)} files taken together: "
            + ", ".join(map(str, candidate_files)),
            file=sys.stderr,
        )
    baseline_frame, candidate_frame = load(baseline_files), load(candidate_files)
    result = compare_frames(
        baseline_frame,
        candidate_frame,
        min_effect=args.min_effect,
        alpha=args.alpha,
        phases=args.phase,
        allow_missing=args.allow_missing,
        instruction_threshold=args.instruction_threshold,
        min_processes=args.min_processes,
    )
    result.rows = numerics.add_column(result.rows, baseline_frame, candidate_frame)
    text = render_comparison(result, args.format, args.output)
    if text is None:
        print(f"harness: comparison written to {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    numerics_failed = args.numerics == "fail" and numerics.any_changed(result.rows)
    if result.regressions.empty:
        return EXIT_FAILURES if numerics_failed else EXIT_OK
    if result.setup_differences and not args.allow_different_setups:
        raise UserError(
            "The two sides ran on different setups ("
            + "; ".join(result.setup_differences)
            + "), so the slowdown may be the setup's: compare runs of one setup, or add "
            "--allow-different-setups to let it fail the gate."
        )
    return EXIT_FAILURES
