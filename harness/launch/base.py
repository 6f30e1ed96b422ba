"""What every launcher does: check prerequisites, run one task, turn any failure into a record."""

from __future__ import annotations

import json
import signal
from typing import Any

from harness.plan import RunPlan, Task, workload_class

STDERR_TAIL_LINES = 20


class Launcher:
    name = "base"

    def preflight(self, plan: RunPlan) -> None:
        """Raise UserError when the run cannot start (no daemon, no image, no GPU)."""

    def environment(self) -> dict[str, Any]:
        """Fields this launcher adds to the environment record (image ID, limits...)."""
        return {"launcher": self.name}

    def run(self, task: Task) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the launcher holds (clients, containers)."""


def parse_record(stdout: str) -> dict[str, Any] | None:
    """The worker's record: the last line of stdout that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return None
        return record if isinstance(record, dict) else None
    return None


def stderr_tail(text: str, lines: int = STDERR_TAIL_LINES) -> list[str]:
    return text.rstrip().splitlines()[-lines:]


def failure_record(
    task: Task,
    status: str,
    message: str,
    exit_code: int | None = None,
    stderr: str = "",
) -> dict[str, Any]:
    """A record for a process that produced no result of its own."""
    try:
        cls = workload_class(task.path if ":" in task.path else task.workload)
        meta: dict[str, Any] = {
            "framework": cls.framework,
            "kind": cls.kind,
            "phases": list(cls.phases),
        }
    except Exception:
        meta = {"framework": None, "kind": None, "phases": []}
    signal_name = None
    if exit_code is not None and exit_code < 0:
        try:
            signal_name = signal.Signals(-exit_code).name
        except ValueError:
            signal_name = f"signal {-exit_code}"
    elif exit_code is not None and exit_code > 128:
        try:  # shells and container runtimes report death by signal N as 128 + N
            signal_name = signal.Signals(exit_code - 128).name
        except ValueError:
            signal_name = None
    return {
        "workload": task.workload,
        **meta,
        "params": task.to_dict()["params"],
        "device": task.device,
        "process_index": task.process_index,
        "seed": task.seed,
        "status": status,
        "error": {
            "type": status,
            "message": message,
            "exit_code": exit_code,
            "signal": signal_name,
            "stderr_tail": stderr_tail(stderr),
        },
        "samples": {},
        "summary": {},
    }
