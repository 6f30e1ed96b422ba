"""The measure registry: what a task's figure is (``Task.measure``, ``harness run --measure``).

A measure is one module with a ``Measure`` subclass (``harness.measures.base``): where it runs
(inside the worker, or beside it in the launcher's process), its part of the record, the columns
``harness.results.load_frame`` adds for it, and how ``compare`` and ``ab`` judge it. Adding a
measure is that module plus one line in ``MEASURES``; a launcher says which measures it runs in
its ``capabilities`` (``harness.launch.base.Capabilities``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.measures.base import Measure

#: name -> "module:Class"
MEASURES: dict[str, str] = {
    "time": "harness.measures.time:TimeMeasure",
    "instructions": "harness.measures.instructions:InstructionsMeasure",
}

DEFAULT = "time"


def measure_for(name: str) -> Measure:
    """The measure registered as ``name``; UserError listing the valid ones otherwise."""
    if name not in MEASURES:
        raise UserError(f"Unknown measure '{name}'; valid measures: {', '.join(MEASURES)}.")
    module_name, _, class_name = MEASURES[name].partition(":")
    cls: type[Measure] = getattr(importlib.import_module(module_name), class_name)
    return cls()


def all_measures() -> list[Measure]:
    """Every registered measure, in registry order."""
    return [measure_for(name) for name in MEASURES]


def counted_measures() -> list[Measure]:
    """The measures that give one figure per process (not the timer's samples)."""
    return [measure for measure in all_measures() if measure.per_process]
