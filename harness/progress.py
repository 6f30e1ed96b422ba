"""What ``harness run`` shows while it runs: a rich progress bar on a terminal, plain lines in
logs and CI; both on stderr so that stdout stays clean for --report and pipes."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from harness.plan import RunPlan
from harness.record import Record
from harness.runner import RunEvents
from harness.task import Task

#: a launcher's status line (Slurm's queue) is printed at most this often in plain mode
STATUS_SECONDS = 10.0


class PlainEvents(RunEvents):
    """One line when a task starts and one when it ends."""

    def __init__(self, stream: TextIO | None = None, lines: bool = True):
        self.out = stream or sys.stderr
        self.lines = lines
        self.last_status = ""
        self.status_at = -math.inf

    def planned(self, plan: RunPlan, launcher: str, path: Path) -> None:
        for skipped in plan.skipped:
            print(f"harness: skipping {skipped}", file=self.out)
        for merged in plan.merged:
            print(f"harness: running once: {merged}", file=self.out)
        print(
            f"harness: {len(plan.tasks)} task(s) from suite '{plan.suite}' with the "
            f"{launcher} launcher -> {path}",
            file=self.out,
            flush=True,
        )

    def task_started(self, done: int, total: int, task: Task) -> None:
        if self.lines:
            print(f"[{done + 1}/{total}] {task.describe()} ...", file=self.out, flush=True)

    def task_finished(self, done: int, total: int, record: Record) -> None:
        if not self.lines:
            return
        step = record.step_median
        detail = (
            f"median step {step * 1e3:.3f} ms"
            if step
            else (record.error.message if record.error else "")
        )
        if record.loss_diverged:
            detail += " (the training loss was not finite: see the record's warnings)"
        print(f"[{done}/{total}] {record.status}: {detail}", file=self.out, flush=True)

    def launcher_status(self, text: str) -> None:
        """A line when the launcher's status changes, at most every STATUS_SECONDS."""
        now = time.monotonic()
        if self.lines and text != self.last_status and now - self.status_at >= STATUS_SECONDS:
            print(f"harness: {text}", file=self.out, flush=True)
            self.last_status, self.status_at = text, now


class BarEvents(PlainEvents):
    """A rich progress bar (a terminal)."""

    def __init__(self) -> None:
        super().__init__(lines=False)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar: Any = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.handle: Any = None

    def planned(self, plan: RunPlan, launcher: str, path: Path) -> None:
        super().planned(plan, launcher, path)
        self.bar.start()
        self.handle = self.bar.add_task("starting", total=len(plan.tasks))

    def task_started(self, done: int, total: int, task: Task) -> None:
        self.bar.update(self.handle, completed=done, total=total, description=task.describe()[:60])

    def task_finished(self, done: int, total: int, record: Record) -> None:
        self.bar.update(self.handle, completed=done, total=total)

    def launcher_status(self, text: str) -> None:
        self.bar.update(self.handle, description=text[:60])

    def close(self) -> None:
        self.bar.stop()


def events_for(show_progress: bool) -> PlainEvents:
    """A bar on a terminal, lines otherwise; only the plan line with --no-progress."""
    if not show_progress:
        return PlainEvents(lines=False)
    if sys.stderr.isatty():
        return BarEvents()
    return PlainEvents()
