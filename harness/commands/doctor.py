"""harness doctor: what on this machine would distort a benchmark; exit 1 when anything would."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from harness.errors import EXIT_FAILURES, EXIT_OK


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    doctor = sub.add_parser(
        name, help="check this machine before benchmarking (exit 1 when something would distort)"
    )
    doctor.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json (machine-readable); --json is the same as --format json",
    )
    doctor.add_argument(
        "--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS
    )


def handle(args: argparse.Namespace) -> int:
    from harness.machine.doctor import run_checks

    checks = run_checks()
    if args.format == "json":
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    failed = [c for c in checks if c.ok is False]
    if args.format != "json":
        print(
            f"\n{len(failed)} check(s) would distort a benchmark."
            if failed
            else "\nNothing here would distort a benchmark."
        )
    return EXIT_FAILURES if failed else EXIT_OK
