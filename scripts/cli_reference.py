"""Write the CLI reference (docs/cli.md) from the parser itself, so it cannot drift from the code.

    python scripts/cli_reference.py            # rewrite docs/cli.md
    python scripts/cli_reference.py --check    # exit 1 when docs/cli.md differs (a test runs it)

Each command and action gets its ``--help`` text as argparse prints it, at a fixed width.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers here, and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal's width
    sys.path.insert(0, str(ROOT))
    from harness.cli import build_parser

    parser = build_parser()
    parts = [
        "# Command-line reference",
        "",
        "Generated from the parser by `python scripts/cli_reference.py`; a test fails when this",
        "page and the code disagree.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, command in _subparsers(parser).items():
        parts += ["", f"## harness {name}", "", "```text", command.format_help().rstrip(), "```"]
        for action, sub in _subparsers(command).items():
            parts += ["", f"### harness {name} {action}", "", "```text",
                      sub.format_help().rstrip(), "```"]  # fmt: skip
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    text = reference()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
