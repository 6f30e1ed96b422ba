"""What a worker saw of its own run (``Record.loss``, ``Record.compile_cache``), each written by
one module: the loss by ``harness.loss_check``, the compile caches by ``harness.compile_cache``;
on disk the objects they have always been."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.record_parts.base import Part


@dataclass(frozen=True, kw_only=True)
class LossReading(Part):
    """The training loss, read after the first step and after each measured block (never
    inside one) by ``harness.loss_check.LossCheck``. Absent for a workload without a loss."""

    #: the loss after the first step, and at the last read (the workload's own units)
    first: float | None = None
    final: float | None = None
    #: reads made, and how many of them were NaN or infinite
    checked: int = 0
    non_finite: int = 0
    #: where the first non-finite value was read ("first step", "measured block 3")
    first_non_finite: str | None = None
    #: every read was finite
    finite: bool = True

    KEEP_NONE = frozenset({"first", "final", "first_non_finite"})


@dataclass(frozen=True, kw_only=True)
class CompileCacheState(Part):
    """The on-disk compile caches of one task (inductor, Triton, XLA, CUDA): ``fresh`` (an
    empty folder of its own) or ``keep`` (one shared folder), the folder, the variables that
    point every cache there, and the files it held when the task started."""

    mode: str = "fresh"
    folder: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    files_at_start: int = 0

    KEEP_NONE = frozenset({"folder"})
