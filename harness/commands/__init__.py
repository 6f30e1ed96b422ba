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


def check_judging(alpha: float, min_effect: float | None) -> None:
    """The judging options every verdict takes, checked alike: ``--alpha`` strictly between 0
    and 1, ``--min-effect`` (a relative change, 0.03 = 3%) at least 0 and below 1. Raises
    UserError naming the option."""
    from harness.errors import UserError

    if not 0 < alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {alpha:g}.")
    if min_effect is not None and not 0 <= min_effect < 1:
        raise UserError(
            f"--min-effect is a relative change between 0 and 1 (0.03 = 3%), got {min_effect:g}."
        )
