"""harness baseline: keep results files as a named baseline; list the baselines kept."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    baseline = sub.add_parser(name, help="keep results as a named baseline")
    actions = baseline.add_subparsers(dest="baseline_command", metavar="ACTION")
    save = actions.add_parser("save", help="copy results files to results/baselines/NAME")
    save.add_argument("name", help="the baseline's name, as compare --baseline NAME reads it")
    save.add_argument("files", nargs="+", type=Path, metavar="FILE", help="results files kept")
    save.add_argument(
        "--baselines-dir",
        dest="dir",
        type=Path,
        default=Path("results/baselines"),
        help="where baselines are kept",
    )
    save.add_argument(
        "--replace", action="store_true", help="replace a baseline of that name (whole)"
    )
    listing = actions.add_parser("list", help="baselines kept under results/baselines/")
    listing.add_argument(
        "--baselines-dir",
        dest="dir",
        type=Path,
        default=Path("results/baselines"),
        help="where baselines are kept",
    )


def handle(args: argparse.Namespace) -> int:
    from harness.analysis.baselines import list_baselines, save_baseline

    if args.baseline_command == "save":
        try:
            target = save_baseline(args.name, args.files, args.dir, replace=args.replace)
        except OSError as error:
            raise UserError(
                f"Cannot save the baseline in {args.dir}: {error.strerror or error}; choose "
                "another --baselines-dir."
            ) from None
        print(f"harness: baseline '{args.name}' saved in {target}")
        return EXIT_OK
    if args.baseline_command == "list":
        for name, files in list_baselines(args.dir).items():
            print(f"{name}: {', '.join(files) or '(no manifest: not a baseline)'}")
        return EXIT_OK
    raise UserError("baseline needs an action: save NAME FILES... or list.")
