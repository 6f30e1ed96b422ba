"""Errors a person can act on. The CLI prints their message as one sentence and exits 2."""

from __future__ import annotations

import signal

#: the signals that end a run as Ctrl-C does: what was measured is kept and an ``interrupted``
#: record closes the file. SIGHUP is a closed terminal or a dropped ssh session.
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

EXIT_OK = 0
EXIT_FAILURES = 1  # some workload failed, or compare found a regression
EXIT_USAGE = 2  # bad input: the message says what was wrong and what to do
EXIT_INTERRUPTED = 130  # SIGINT / SIGTERM / SIGHUP; results measured so far are on disk


class UserError(Exception):
    """Bad input or a missing prerequisite; printed without a traceback, exit code 2."""

    exit_code = EXIT_USAGE


class WorkloadError(Exception):
    """Raised inside a worker when a workload cannot run with the parameters given."""
