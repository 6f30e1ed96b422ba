"""What every measure shares: where it runs, its part of the record, its columns in the tidy
table and its judge.

A measure runs either inside the worker (``in_worker``: ``measure(workload, task, record)``,
given the workload the worker set up; any launcher whose worker runs can run it) or beside a
fresh process in the launcher's own process (``run_beside(task, context)``: Callgrind counts
two processes of its own; only launchers that name it in their capabilities run it). Its
figures live in the record under ``part_key`` (a ``Record`` field where the record has one,
else a top-level key of the JSON, kept by ``Record.extra``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from harness.record import Record


@dataclass(frozen=True)
class BesideContext:
    """What a launcher gives a measure that runs beside the worker: the Python and the
    environment the worker would get, and the source tree to run in (None: here)."""

    python: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None


class Measure:
    """Base class of a measure (one module each, registered in ``harness.measures.MEASURES``)."""

    name: ClassVar[str] = "base"
    #: one line for ``--measure``'s help
    help: ClassVar[str] = ""
    #: True: the worker runs it around the workload it set up; False: the launcher runs it
    in_worker: ClassVar[bool] = True
    #: what one value is (a column's unit in reports): "seconds per step", "instructions per step"
    unit: ClassVar[str] = ""
    #: the title of its table in reports and comparisons
    title: ClassVar[str] = ""
    #: the smallest relative change worth a verdict (ab's --min-effect default)
    default_min_effect: ClassVar[float] = 0.03
    #: the record key holding its part (None: the timer's samples and timing)
    part_key: ClassVar[str | None] = None
    #: True: one figure per process (``value``), judged by ``judge`` over processes in compare
    #: and pair by pair in ab; False: the timer's samples, one per block, judged per phase
    per_process: ClassVar[bool] = True

    @property
    def column(self) -> str:
        """The tidy table's column of a per-process figure: ``<name>_per_step``."""
        return f"{self.name.replace('-', '_')}_per_step"

    @property
    def frame_columns(self) -> tuple[str, ...]:
        """The columns ``load_frame`` adds for this measure (one value per record)."""
        return (self.column,) if self.per_process else ()

    # --- running -----------------------------------------------------------------------------
    def preflight(self, tasks: Sequence[Any]) -> None:
        """Raise UserError when this machine cannot run the measure (a tool missing)."""

    def measure(self, workload: Any, task: Any, record: Record) -> None:
        """Inside the worker: measure the set-up ``workload`` and fill ``record``'s part."""
        raise NotImplementedError(f"the {self.name} measure does not run inside the worker")

    def run_beside(self, task: Any, context: BesideContext) -> Record:
        """In the launcher's process: measure ``task`` with processes of its own; a record."""
        raise NotImplementedError(f"the {self.name} measure runs inside the worker")

    # --- the record ----------------------------------------------------------------------
    def part(self, record: Record) -> Any:
        """This measure's part of ``record`` (None when it has none)."""
        if self.part_key is None:
            return None
        if self.part_key in Record.__dataclass_fields__:
            return getattr(record, self.part_key)
        return record.extra.get(self.part_key)

    def set_part(self, record: Record, value: Any) -> None:
        """Write this measure's part of ``record`` (a JSON-able dict, or the field's type)."""
        assert self.part_key is not None, f"the {self.name} measure has no record part"
        record.measure = self.name
        if self.part_key in Record.__dataclass_fields__:
            setattr(record, self.part_key, value)
        else:
            record.extra[self.part_key] = value

    def value(self, record: Record) -> float | None:
        """One process's figure per step: what ab's pairs compare (``per_step`` of the part)."""
        part = self.part(record)
        if part is None:
            return None
        found = part.get("per_step") if isinstance(part, dict) else part.per_step
        return float(found) if found is not None else None

    def columns(self, record: Record) -> dict[str, Any]:
        """What ``load_frame`` adds for this measure to each of ``record``'s rows."""
        return {self.column: self.value(record)} if self.per_process else {}

    # --- judging ---------------------------------------------------------------------------
    def judge(
        self, baseline: Sequence[float], candidate: Sequence[float], threshold: float
    ) -> dict[str, Any]:
        """A verdict from one figure per process a side (``judge_counts``)."""
        return judge_counts(baseline, candidate, threshold)


def judge_counts(base: Sequence[float], cand: Sequence[float], threshold: float) -> dict[str, Any]:
    """Counts per step, one a process: slower when the ratio of medians exceeds the threshold
    and the counts' own spread on both sides (largest relative distance from each side's
    median), faster in the mirror case, else unchanged."""
    base_median, cand_median = float(np.median(base)), float(np.median(cand))
    spread = sum(
        float(np.max(np.abs(np.asarray(v, float) / m - 1))) if m else float("inf")
        for v, m in ((base, base_median), (cand, cand_median))
    )
    ratio = cand_median / base_median if base_median else float("nan")
    limit = max(threshold, spread)
    if ratio > 1 + limit:
        verdict = "slower"
    elif ratio < 1 - limit:
        verdict = "faster"
    else:
        verdict = "unchanged"
    return {
        "baseline_per_step": base_median,
        "candidate_per_step": cand_median,
        "ratio": ratio,
        "spread": spread,
        "threshold": threshold,
        "verdict": verdict,
    }
