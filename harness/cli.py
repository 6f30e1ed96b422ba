"""The command line: parses, calls one command, prints; exit codes in ``--help``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from harness import __version__
from harness.commands import COMMANDS, EXIT_CODES_HELP
from harness.errors import EXIT_OK, EXIT_USAGE, UserError
from harness.terminal_text import degrade_gracefully


class Parser(argparse.ArgumentParser):
    """argparse with harness's error style: one sentence on stderr naming the command that
    refused the input and where its options are listed, exit 2; no abbreviated options (an
    option added later must not change what an abbreviation used to mean)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = message.rstrip(".")
        sys.stderr.write(f"{self.prog}: {message}; see '{self.prog} --help'.\n")
        raise SystemExit(EXIT_USAGE)


def command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The parser of ``command`` (``harness run``, ...), else the top-level one."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            chosen: argparse.ArgumentParser = action.choices[command]
            return chosen
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    args, unknown = parser.parse_known_args(given)
    chosen = parser
    if args.command is not None:
        chosen = command_parser(parser, args.command)
        # a command with its own subcommands (baseline save, history add, ...)
        chosen = command_parser(chosen, getattr(args, f"{args.command}_command", None))
    if unknown:  # named against the command that was given, not the top level
        chosen.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        code: int = importlib.import_module(COMMANDS[args.command]).handle(args)
        return code
    except UserError as error:  # one sentence, named as argparse names its errors
        print(f"{chosen.prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
