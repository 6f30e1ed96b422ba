"""What every profiler of the profiling worker shares: the segments a step is cut into at its
``mark()`` calls, and per-step medians of what each operation cost in each segment. Only the
standard library: this file also runs from a side's older checkout (see profile_worker.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PROFILERS = ("torch", "callgrind", "tensorflow", "python")
#: the C function whose entry cuts a Callgrind dump: the one behind ``sys.getswitchinterval``,
#: which nothing else calls while steps run (a Python whose own symbols are stripped cannot be
#: cut: the dumps do not match the segments and the worker says so)
CALLGRIND_MARKER = "sys_getswitchinterval"
SETUP, BETWEEN, AFTER = "(set-up)", "(between steps)", "(after the last mark)"
OUTSIDE = "(outside operators)"
#: {(phase, measure, op): {step: [value, calls]}}
Totals = dict[tuple[str, str, str], dict[int, list[float]]]


def load_workload(task: dict[str, Any]) -> Any:
    """The task's workload instance (its module imported from the side's ``PYTHONPATH``)."""
    import importlib

    module_name, _, class_name = task["path"].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(
        task["params"], task["device"], seed=task.get("seed", 0), threads=task.get("threads")
    )


def run_segments(
    workload: Any, steps: int, start: Callable[[], None], cut: Callable[[str], None]
) -> None:
    """``steps`` steps, each cut into segments: ``start()`` opens the first segment of a step;
    ``cut(label)`` closes the open one as ``label`` and opens the next (the device synchronized
    first where it runs asynchronously), and the step's end closes the last."""
    asynchronous = workload.device != "cpu" or bool(getattr(workload, "sync_phases", False))

    def close(label: str) -> None:
        if asynchronous:
            workload.synchronize()
        cut(label)

    for _ in range(steps):
        start()
        workload.step(close)
        close(AFTER)


def warm_up(workload: Any, steps: int) -> None:
    for _ in range(steps):
        workload.step(lambda phase: None)
    workload.synchronize()


def per_step(totals: Totals, steps: int) -> list[dict]:
    """{(phase, measure, op): {step: [value, calls]}} -> rows: the median over the steps of the
    op's value in each step (a step without the op counts 0), so that a step the machine
    preempted moves nothing; calls: the mean per step."""
    import statistics

    rows = []
    for (phase, measure, op), by_step in sorted(totals.items()):
        values = [by_step.get(step, [0.0, 0.0])[0] for step in range(steps)]
        calls = sum(entry[1] for entry in by_step.values()) / steps
        rows.append(
            {
                "phase": phase,
                "measure": measure,
                "op": op,
                "value": statistics.median(values),
                "mean": statistics.fmean(values),
                "calls": calls,
            }
        )
    return rows


def add(
    totals: Totals, key: tuple[str, str, str], step: int, value: float, calls: float = 1
) -> None:
    entry = totals.setdefault(key, {}).setdefault(step, [0.0, 0.0])
    entry[0] += value
    entry[1] += calls


def numbered(labels: list[str]) -> list[tuple[str, int]]:
    """Each segment's label with its step's index (a step ends with its AFTER segment)."""
    out, step = [], 0
    for label in labels:
        out.append((label, step))
        step += label == AFTER
    return out


def segment_of(windows: list[tuple[float, float, Any]], at: float) -> Any:
    """The segment of the window [start, end] holding ``at`` (windows sorted, disjoint)."""
    import bisect

    index = bisect.bisect_right([w[0] for w in windows], at) - 1
    if index >= 0 and at <= windows[index][1]:
        return windows[index][2]
    return None
