"""Is the training loss still a number? Read outside the measured blocks only.

A training step whose loss went NaN or infinite (``lr=1e30``) still runs, and often at another
speed (NaN arithmetic, denormals, skipped work): its timing is not the timing of training. The
timer reads the workload's loss (``Workload.loss_value``, which may synchronize the device)
after the first step and after each measured block has been timed, never inside one, and the
record says what it saw (``Record.loss``); the report flags the rows (``loss-diverged``).
"""

from __future__ import annotations

import math
from typing import Any

from harness.record_parts import LossReading


class LossCheck:
    """Collects the loss at the points the timer reads it."""

    def __init__(self, workload: Any):
        self.workload = workload
        self.first: float | None = None
        self.final: float | None = None
        self.checked = 0
        self.non_finite = 0
        self.first_non_finite: str | None = None

    def read(self, where: str) -> None:
        """Read the loss now (``where``: "first step", "block 3"); nothing when it has none."""
        value = self.workload.loss_value()
        if value is None:
            return
        value = float(value)
        if self.checked == 0:
            self.first = value
        self.final = value
        self.checked += 1
        if not math.isfinite(value):
            self.non_finite += 1
            self.first_non_finite = self.first_non_finite or where

    def result(self) -> LossReading | None:
        """What the record keeps (``Record.loss``); None for a workload without a loss."""
        if not self.checked:
            return None
        return LossReading(
            first=self.first,
            final=self.final,
            checked=self.checked,
            non_finite=self.non_finite,
            first_non_finite=self.first_non_finite,
            finite=self.non_finite == 0,
        )


def warning(loss: LossReading | None) -> str | None:
    """The record's warning for a loss that was not finite, else None."""
    if loss is None or loss.finite:
        return None
    return (
        f"the training loss was not finite (first at the {loss.first_non_finite}; final "
        f"{loss.final}): the timing of NaN/inf arithmetic is not the timing of training "
        "(a learning rate too high, bad data, an overflow in low precision)"
    )


#: steps whose losses the numerics check compares (harness/analysis/numerics.py)
FIRST_STEPS = 3


def first_losses(cls: Any, params: dict[str, Any], device: str, seed: int,
                 threads: int | None, steps: int = FIRST_STEPS) -> list[float] | None:  # fmt: skip
    """The losses (``metrics()["final_loss"]``) of a fresh instance's first ``steps`` steps;
    None when the workload reports no loss."""
    workload = cls(params, device, seed=seed, threads=threads)
    try:
        workload.setup()
        losses = []
        for _ in range(steps):
            if workload.has_fused_step:  # the real step alone (Keras on TF: one trace, not 3)
                workload.fused_step()
            else:
                workload.step(lambda phase: None)
            workload.synchronize()
            loss = workload.metrics().get("final_loss")
            if loss is None:
                return None
            losses.append(float(loss))
        return losses
    finally:
        workload.teardown()
