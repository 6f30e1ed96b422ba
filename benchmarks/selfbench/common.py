"""What every section shares: the row it reports, runs through the public API, workloads for
timing plain functions."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import RunConfig, TimerOverrides
from harness.params import parse_override
from harness.record import Record
from harness.results import load_records
from harness.runner import RunEvents, run
from harness.workload import Mark, Workload


@dataclass
class Row:
    section: str
    figure: str
    value: str
    target: str
    passed: bool | None  # None: informational, or could not be measured here
    detail: str = ""


def log(message: str) -> None:
    print(f"[selfbench] {message}", file=sys.stderr, flush=True)


def run_records(
    *params: str, launcher: str = "local", launcher_config: Any = None, **config: Any
) -> list[Record]:
    """One harness run through the public API (fresh worker processes, as ``harness run``);
    the records it wrote, read back with the record loader. ``params`` are ``KEY=V[,V]``."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "r.jsonl"
        outcome = run(
            RunConfig(
                overrides=tuple(parse_override(p) for p in params),
                launcher=launcher,
                launcher_config=launcher_config,
                output=out,
                **config,
            ),
            RunEvents(),
        )
        if outcome.interrupted:
            raise KeyboardInterrupt
        return load_records([out])


def measured_run(quick: bool) -> dict[str, Any]:
    """The smoke suite's single entry per workload, with meaningful measurement settings; the
    caller gives the sizes (the default suite has several entries for some workloads)."""
    return {
        "suite": "smoke",
        "timer": TimerOverrides(
            warmup_time=0.3,
            min_time=0.5 if quick else 1.0,
            min_blocks=10,
            max_blocks=10_000,
            max_time=1.5 if quick else 3.0,
        ),
    }


def step_median(record: Record, phase: str = "step") -> float:
    return float(record.median(phase) or "nan")


class FunctionStep(Workload):
    """Wraps a plain function as a workload with no phases (the harness times the step)."""

    name = "selfbench.function"
    phases = ()

    def __init__(self, function: Callable[[], Any]):
        super().__init__({}, "cpu")
        self.function = function

    def step(self, mark: Mark) -> None:
        self.function()
