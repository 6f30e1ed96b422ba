"""harness env: what this machine is, as results record it."""

from __future__ import annotations

import argparse
import json

from harness.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    env = sub.add_parser(name, help="what this machine is, as results record it")
    env.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json (machine-readable); --json is the same as --format json",
    )
    env.add_argument(
        "--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS
    )


def handle(args: argparse.Namespace) -> int:
    from harness.machine import environment

    env = environment.collect()
    if args.format == "json":
        print(json.dumps(env.to_dict(), indent=2))
        return EXIT_OK
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "—"
        print(f"{key:16s} {value}")
    return EXIT_OK
