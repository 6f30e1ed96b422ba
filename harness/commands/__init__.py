"""The subcommands of ``harness``: one module each, with ``add_parser(subparsers)`` and
``handle(args) -> exit code``. Adding a command is one module plus one line in ``COMMANDS``."""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "list": "harness.commands.listing",
    "run": "harness.commands.run",
    "report": "harness.commands.report",
    "compare": "harness.commands.compare",
    "ab": "harness.commands.ab",
    "bisect": "harness.commands.bisect",
    "explain": "harness.commands.explain",
    "baseline": "harness.commands.baseline",
    "history": "harness.commands.history",
    "env": "harness.commands.env",
    "doctor": "harness.commands.doctor",
    "images": "harness.commands.images",
    "k8s": "harness.commands.k8s",
    "gpu-check": "harness.commands.gpu_check",
    "peaks": "harness.commands.peaks",
}

EXIT_CODES_HELP = """exit codes:
  0    every workload measured (compare: no regression)
  1    at least one workload failed (compare: a regression was flagged)
  2    bad input or a missing prerequisite; the message says what to do
  130  interrupted (SIGINT/SIGTERM/SIGHUP); what was measured is on disk
"""
