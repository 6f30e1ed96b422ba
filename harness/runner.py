"""Executes a RunPlan: one launcher call per task, each record appended to disk at once."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from harness.errors import UserError
from harness.launch.base import Launcher
from harness.plan import RunPlan, Task
from harness.results import (
    INTERRUPTED,
    RESULT,
    SCHEMA_VERSION,
    ResultWriter,
    rescue_records,
    utc_now,
)


class RunInterrupted(Exception):
    """SIGINT or SIGTERM arrived; what was measured is on disk."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


@dataclass
class RunOutcome:
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    interrupted: str | None = None

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") not in ("ok", "skipped")]

    @property
    def skipped(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "skipped"]


ProgressCallback = Callable[[int, int, Task, dict[str, Any] | None], None]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise RunInterrupted(signal.Signals(signum).name)


def execute(
    plan: RunPlan,
    launcher: Launcher,
    path: Path,
    run_id: str,
    environment: dict[str, Any],
    label: str | None = None,
    progress: ProgressCallback | None = None,
) -> RunOutcome:
    """Run every task; return the outcome. SIGINT/SIGTERM end the run with a final record."""
    outcome = RunOutcome(path)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _raise_interrupt)
    writer = ResultWriter(path)
    done = 0
    try:
        for index, task in enumerate(plan.tasks):
            if progress:
                progress(index, len(plan.tasks), task, None)
            started = time.time()
            record = launcher.run(task)
            record.update(
                schema_version=SCHEMA_VERSION,
                record_type=RESULT,
                run_id=run_id,
                suite=plan.suite,
                label=label,
                wall_s=time.time() - started,
                environment={**environment, **record.get("environment_extra", {})},
            )
            record.pop("environment_extra", None)
            outcome.records.append(record)
            try:
                writer.append(record)
            except OSError as error:
                raise _not_written(path, error, outcome.records, run_id) from None
            done += 1
            if progress:
                progress(index + 1, len(plan.tasks), task, record)
    except (RunInterrupted, KeyboardInterrupt) as interrupt:
        name = interrupt.signal_name if isinstance(interrupt, RunInterrupted) else "SIGINT"
        outcome.interrupted = name
        append_or_rescue(
            writer,
            outcome.records,
            run_id,
            {
                "schema_version": SCHEMA_VERSION,
                "record_type": INTERRUPTED,
                "run_id": run_id,
                "signal": name,
                "completed_tasks": done,
                "planned_tasks": len(plan.tasks),
                "at": utc_now(),
            },
        )
    finally:
        writer.close()
        launcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return outcome


def append_or_rescue(
    writer: ResultWriter, records: list[dict[str, Any]], run_id: str, record: dict[str, Any]
) -> None:
    """The last record of an interrupted run; if it cannot be written, nothing is lost."""
    try:
        writer.append(record)
    except OSError as error:
        where = rescue_records([*records, record], run_id)
        print(
            f"harness: writing results failed ({error.strerror}); the records are in {where}.",
            file=sys.stderr,
        )


def _not_written(
    path: Path, error: OSError, records: list[dict[str, Any]], run_id: str
) -> UserError:
    """The run stops: every record measured so far is saved elsewhere and named."""
    where = rescue_records(records, run_id)
    reason = error.strerror or str(error)
    return UserError(
        f"Writing results to {path} failed ({reason}), so the run stopped; the "
        f"{len(records)} record(s) measured are saved in {where}: free space or choose "
        "another --output, and run again."
    )


def describe_task(task: Task) -> str:
    from harness.params import format_params

    repeat = f" #{task.process_index + 1}" if task.process_index else ""
    return f"{task.workload} [{task.device}] {format_params(task.params)}{repeat}"


def plain_progress(stream=None) -> ProgressCallback:
    """Progress lines for logs and CI (no terminal)."""
    out = stream or sys.stderr

    def report(done: int, total: int, task: Task, record: dict[str, Any] | None) -> None:
        if record is None:
            print(f"[{done + 1}/{total}] {describe_task(task)} ...", file=out, flush=True)
            return
        status = record.get("status")
        step = (record.get("summary") or {}).get("step", {}).get("median")
        detail = (
            f"median step {step * 1e3:.3f} ms"
            if step
            else (record.get("error") or {}).get("message", "")
        )
        print(f"[{done}/{total}] {status}: {detail}", file=out, flush=True)

    return report
