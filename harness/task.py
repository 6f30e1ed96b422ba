"""A task: one unit of work for one fresh process (a workload, its parameters, the device, the
timer's settings, which repeat it is), built by the plan and sent to the worker as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from harness.params import to_json_value
from harness.timer import TimerSettings

__all__ = ["Task"]


@dataclass(frozen=True)
class Task:
    """One unit of work for one fresh process: sent to the worker as JSON."""

    workload: str
    path: str
    params: dict[str, Any]
    device: str
    timer: TimerSettings
    seed: int = 0
    #: math-library threads; None: the CPUs the worker may use, found where it runs (a
    #: container's cpuset or CPU quota, a Slurm allocation), not where the run started
    threads: int | None = None
    process_index: int = 0
    timeout: float = 600.0
    #: position in the run's plan: records come back in any order from a batch scheduler
    index: int = 0
    #: a registered measure (harness.measures): "time" (the timer, in the worker) or
    #: "instructions" (Callgrind, beside the worker: harness.measures.instructions)
    measure: str = "time"
    #: instructions: steps of the shorter of the two counted processes (the other runs twice)
    instruction_steps: int = 20
    #: on-disk compile caches (harness.compile_cache): "fresh" per task, or "keep" one shared
    compile_cache: str = "fresh"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["params"] = {k: to_json_value(v) for k, v in self.params.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """A task from its JSON; fields this version does not know (a newer harness sent it,
        as ``harness ab`` does to an older ref) are left out, never an error."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(cls)}
        timer_known = {f.name for f in dataclasses.fields(TimerSettings)}
        timer = TimerSettings(**{k: v for k, v in data["timer"].items() if k in timer_known})
        return cls(**{**{k: v for k, v in data.items() if k in known}, "timer": timer})

    def describe(self) -> str:
        """One line for progress and messages: workload [device] params #repeat."""
        from harness.render.cells import case_label

        repeat = f" #{self.process_index + 1}" if self.process_index else ""
        params = json.dumps({k: to_json_value(v) for k, v in self.params.items()})
        return f"{case_label(self.workload, self.device, params)}{repeat}"
