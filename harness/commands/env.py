"""harness env: what this machine is, as results record it."""

from __future__ import annotations

import argparse
import json

from harness.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    env = sub.add_parser(name, help="what this machine is, as results record it")
    env.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace) -> int:
    from harness import environment

    env = environment.collect()
    if args.json:
        print(json.dumps(env, indent=2))
        return EXIT_OK
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "—"
        print(f"{key:16s} {value}")
    return EXIT_OK
