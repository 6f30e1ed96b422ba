"""A workload that does nothing: what remains is the harness's own cost per step and phase."""

from __future__ import annotations

import time

from harness.params import Param
from harness.workload import Mark, Workload


class NoOpStep(Workload):
    name = "harness.noop"
    framework = "python"
    kind = "train_step"
    description = "Empty phases; measures the cost of a phase boundary and of a step."
    params = (
        Param("batch_size", "int", 1, "items reported per step", minimum=1),
        Param(
            "extra_work_us",
            "float",
            0.0,
            "busy-wait added to each step (microseconds); "
            "a calibrated slowdown for testing the regression gate",
            minimum=0,
        ),
    )

    def setup(self) -> None:
        self._extra = self.param_values["extra_work_us"] * 1e-6

    def step(self, mark: Mark) -> None:
        if self._extra:
            end = time.perf_counter() + self._extra
            while time.perf_counter() < end:
                pass
        mark("forward")
        mark("backward")
        mark("update")
