"""harness list: workloads, their parameters and defaults; suites."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    listing = sub.add_parser(name, help="workloads, their parameters and defaults; suites")
    listing.add_argument(
        "--framework",
        action="append",
        default=[],
        metavar="NAME",
        help="list only this framework's workloads (repeatable)",
    )
    listing.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table (default) or json (machine-readable); --json is the same as --format json",
    )
    listing.add_argument(
        "--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS
    )


def describe_workloads(frameworks: list[str]) -> list[dict[str, Any]]:
    from harness.plan import catalogue, workload_class

    described: list[dict[str, Any]] = []
    for name in catalogue():
        cls = workload_class(name)
        if frameworks and cls.framework not in frameworks:
            continue
        described.append(
            {
                "name": name,
                "framework": cls.framework,
                "kind": cls.kind,
                "phases": list(cls.phases),
                "devices": list(cls.devices),
                "description": cls.description,
                "params": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default,
                        "help": p.help,
                        "choices": list(p.choices),
                    }
                    for p in cls.params
                ],
            }
        )
    return described


def handle(args: argparse.Namespace) -> int:
    from harness.suites import SUITES

    described = describe_workloads(args.framework)
    if args.framework:
        from harness.plan import check_frameworks

        check_frameworks(args.framework)
    if args.format == "json":
        suites = {n: s.description for n, s in SUITES.items()}
        print(json.dumps({"workloads": described, "suites": suites}, indent=2))
        return EXIT_OK
    for item in described:
        print(
            f"{item['name']}  ({item['framework']}, {item['kind']}; "
            f"phases: {', '.join(item['phases']) or 'step'}; "
            f"devices: {', '.join(item['devices'])})"
        )
        if item["description"]:
            print(f"    {item['description']}")
        for p in item["params"]:
            default = (
                "x".join(map(str, p["default"]))
                if isinstance(p["default"], tuple)
                else p["default"]
            )
            choices = f" [{'|'.join(map(str, p['choices']))}]" if p["choices"] else ""
            print(f"    --param {p['name']}={default}  ({p['type']}{choices}) {p['help']}")
    print("\nsuites:")
    for name, suite in SUITES.items():
        print(f"  {name:8s} {suite.description}")
    return EXIT_OK
