"""The ``instructions`` measure: Callgrind's instructions per step (``harness.instructions``
counts them), run by the launcher beside the worker: two fresh processes of its own under
Valgrind, N and 2N steps, in the side's source tree. Its part of the record is
``Record.instructions`` (``InstructionCount``: ``per_step`` in instructions, ``counts`` of N and
2N steps, ``steps`` N, ``tool``); in the tidy table, ``instructions_per_step``; compare and ab judge
one count per process (``judge_counts``: the threshold or the counts' own spread)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from typing import Any

from harness.errors import UserError
from harness.measures.base import BesideContext, Measure
from harness.record import InstructionCount, Record, iso_time
from harness.record_failures import task_failure as failure_record

#: the smallest relative change worth a verdict (counts repeat to about one part in a million)
DEFAULT_THRESHOLD = 0.01


class InstructionsMeasure(Measure):
    name = "instructions"
    help = (
        "instructions: counted under Valgrind's Callgrind, a figure a noisy machine does not "
        "move (local launcher; small steps)"
    )
    in_worker = False
    unit = "instructions per step"
    title = "instructions per step (Callgrind: the difference of N and 2N steps)"
    default_min_effect = DEFAULT_THRESHOLD
    part_key = "instructions"

    def preflight(self, tasks: Sequence[Any]) -> None:
        from harness.instructions import valgrind

        if valgrind() is None:
            raise UserError(
                "--measure instructions counts under Valgrind, which is not installed: "
                "apt-get install valgrind (or brew install valgrind)."
            )

    def run_beside(self, task: Any, context: BesideContext) -> Record:
        """Callgrind's count of one step of ``task``, as a record (a failed one when the
        counted process fails or runs past the task's timeout)."""
        from harness.instructions import EXTRA_STEPS_VARIABLE, measure
        from harness.workload import describe, load_workload_class

        started = time.time()
        try:
            counted, facts = measure(
                task, task.instruction_steps, context.python, context.env, task.timeout,
                context.cwd,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return failure_record(
                task, "timeout", f"Callgrind ran past the timeout of {task.timeout:g} s"
            )
        except RuntimeError as error:
            return failure_record(task, "error", str(error))
        record = Record.from_task(
            task,
            thread_count=1,
            thread_source="instructions: one thread",
            started_at=iso_time(started),
            **describe(load_workload_class(task.path), task.params),
        )
        self.set_part(record, InstructionCount(**counted))
        # What the counted process imported (the side's worktree), not what this one did.
        record.harness_root = facts.get("harness_root")
        for key, value in facts.get("workload", {}).items():
            setattr(record, key, value)
        extra = context.env.get(EXTRA_STEPS_VARIABLE)
        if extra:
            record.metrics["test_extra_steps"] = float(extra)
        return record
