"""harness report: summarize results files (JSONL or pytest-benchmark JSON)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.render import RENDERERS

    report = sub.add_parser(name, help="summarize results files (JSONL or pytest-benchmark)")
    report.add_argument(
        "files", nargs="+", type=Path, metavar="FILE",
        help="results files: harness JSON lines, or pytest-benchmark JSON",
    )  # fmt: skip
    report.add_argument(
        "--format", default=None, choices=list(RENDERERS),
        help="default: the --output suffix's format, else table",
    )  # fmt: skip
    report.add_argument(
        "--output", type=Path, default=None, metavar="DOC",
        help="write the report to DOC in --format (default: print it; parquet, a binary "
        "format, needs DOC)",
    )  # fmt: skip
    report.add_argument(
        "--reference",
        default=None,
        help="setup to compute speed-ups against (substring of its name)",
    )


def load(files: Sequence[Path]) -> Any:
    """The tidy table of ``files``; warnings (a torn last line) on stderr; empty is an error."""
    from harness.results import load_frame

    def warn(message: str) -> None:
        print(f"harness: warning: {message}", file=sys.stderr)

    frame = load_frame(files, on_warning=warn)
    if frame.empty:
        raise UserError(
            f"No result records in {', '.join(map(str, files))}: the file(s) are empty."
        )
    return frame


def handle(args: argparse.Namespace) -> int:
    from harness.render import RENDERERS, document_format

    args.format = document_format(args.format, args.output, list(RENDERERS))
    from harness.documents.report import write_report
    from harness.machine import peaks
    from harness.writable import check_writable

    if args.output is not None:
        check_writable(args.output, "--output", "report.html")
    frame = load(args.files)
    machine_peaks = peaks.for_frame(frame, [Path("results")])  # after each file's own folder
    text = write_report(frame, args.format, args.output, args.reference, machine_peaks)
    if text is not None:
        print(text, end="")
    else:
        print(f"harness: report written to {args.output}", file=sys.stderr)
    return EXIT_OK
