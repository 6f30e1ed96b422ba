"""How a record's figures were measured: the timer's ``Timing`` and Callgrind's
``InstructionCount`` (both re-exported by ``harness.record``, where readers import them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Timing:
    """How the timer measured: first step, warm-up, block size and counts."""

    first_step_s: float | None = None
    first_step_phases: dict[str, float] = field(default_factory=dict)
    warmup_steps: int | None = None
    warmup_elapsed_s: float | None = None
    block_size: int | None = None
    blocks: int | None = None
    calibration_blocks: int | None = None
    clock_overhead_s: float | None = None
    #: why measuring stopped: precision (target reached), max-time (budget), max-blocks
    stop_reason: str | None = None
    #: the step median's precision when it stopped (relative half-width of its 95% interval)
    precision: float | None = None
    precision_target: float | None = None
    measured_s: float | None = None


@dataclass
class InstructionCount:
    """Callgrind's count of one step (``harness.measures.instructions``): instructions."""

    #: instructions per step: (count of 2N steps - count of N steps) / N
    per_step: float | None = None
    #: whole-process counts: [N steps, 2N steps] (import and set-up cancel in the difference)
    counts: list[int] = field(default_factory=list)
    #: N
    steps: int | None = None
    tool: str = "callgrind"
