"""Records of processes that did not end well: the worker's record read from its output, or
the one failure record every launcher builds when a process produced none."""

from __future__ import annotations

import signal
from typing import Any

from harness.record import STDERR_TAIL_LINES, Failure, Record, loads


def parse_worker_output(stdout: str) -> Record | None:
    """The worker's record: the last line of stdout that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            found = loads(line)
        except (ValueError, TypeError):
            return None
        return found if isinstance(found, Record) else None
    return None


def stderr_tail(text: str, lines: int = STDERR_TAIL_LINES) -> list[str]:
    return text.rstrip().splitlines()[-lines:]


def signal_name(exit_code: int | None) -> str | None:
    """The signal that ended a process: negative codes (Popen) or 128 + N (shells, runtimes)."""
    if exit_code is None:
        return None
    number = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else 0
    if number <= 0:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}" if exit_code < 0 else None


def failure(
    task: Any,
    status: str,
    message: str,
    exit_code: int | None = None,
    stderr: str = "",
    describe: dict[str, Any] | None = None,
) -> Record:
    """The record of a process that produced no result of its own, for every launcher.

    ``task`` is a ``harness.task.Task``; ``describe`` what ``harness.workload.describe`` says of
    its class (framework, kind, phases, code version), when the class could be imported.
    """
    return Record.from_task(
        task,
        status=status,
        error=Failure(
            type=status,
            message=message,
            exit_code=exit_code,
            signal=signal_name(exit_code),
            stderr_tail=stderr_tail(stderr),
        ),
        exit_code=exit_code,
        **(describe or {}),
    )


def task_failure(
    task: Any, status: str, message: str, exit_code: int | None = None, stderr: str = ""
) -> Record:
    """A record for a process that produced no result of its own (any launcher, any measure
    that runs beside the worker): ``failure`` with what the task's workload class says of
    itself, when it imports."""
    from harness.plan import workload_class
    from harness.workload import describe

    try:
        described = describe(
            workload_class(task.path if ":" in task.path else task.workload), task.params
        )
    except Exception:  # the class itself may be what failed to import
        described = None
    return failure(task, status, message, exit_code, stderr, described)
