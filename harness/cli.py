"""The command line: parses, calls one command, prints; exit codes in ``--help``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from harness import __version__
from harness.commands import COMMANDS, EXIT_CODES_HELP
from harness.errors import EXIT_OK, EXIT_USAGE, UserError
from harness.terminal_text import degrade_gracefully


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Measure deep-learning training steps, checkpoints and input pipelines.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub, name)
    return parser


def empty_values(argv: Sequence[str]) -> list[str]:
    """Options written ``--name=--``: argparse reads the ``--`` as its end-of-options marker and
    hands the option an empty list, which no option of harness takes."""
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--") and arg.endswith("=--")]


def main(argv: Sequence[str] | None = None) -> int:
    degrade_gracefully()  # a terminal that is not UTF-8 gets ASCII stand-ins, not a traceback
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    empty = empty_values(given)
    if empty:
        print(f"harness: {empty[0]} was given '--' as its value; give it a value.", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(given)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        code: int = importlib.import_module(COMMANDS[args.command]).handle(args)
        return code
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
