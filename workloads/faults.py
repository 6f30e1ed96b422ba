"""Workloads that fail on purpose, to check that a failure costs one result and not the run.

Not in the catalogue; run them by dotted path: ``harness run --workload workloads.faults:Crash``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

from harness.params import Param
from harness.workload import Mark, Workload


class _Fault(Workload):
    framework = "python"
    phases = ("forward", "backward", "update")
    params = (
        Param("after_steps", "int", 3, "healthy steps before the fault", minimum=0),
        Param("batch_size", "int", 1, "items per step", minimum=1),
    )

    def setup(self) -> None:
        self.steps = 0

    def step(self, mark: Mark) -> None:
        if self.steps >= self.param_values["after_steps"]:
            self.fault()
        self.steps += 1
        mark("forward")
        mark("backward")
        mark("update")

    def fault(self) -> None:
        raise NotImplementedError


class Raise(_Fault):
    name = "fault.raise"

    def fault(self) -> None:
        raise RuntimeError("this workload raises on purpose")


class Abort(_Fault):
    name = "fault.abort"

    def fault(self) -> None:
        os.abort()


class Segfault(_Fault):
    name = "fault.segfault"

    def fault(self) -> None:
        ctypes.string_at(0)


class Hang(_Fault):
    name = "fault.hang"

    def fault(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # even ignores SIGTERM: needs SIGKILL
        while True:
            time.sleep(0.1)


class Sleep(_Fault):
    """Sleeps forever with every signal's default action: SIGTERM ends it (as a time limit's
    SIGTERM ends most real workloads)."""

    name = "fault.sleep"

    def fault(self) -> None:
        while True:
            time.sleep(0.1)


class Exit(_Fault):
    name = "fault.exit"

    def fault(self) -> None:
        os._exit(7)


class Allocate(_Fault):
    name = "fault.allocate"
    params = (*_Fault.params, Param("megabytes", "int", 2048, "memory to fill", minimum=1))

    def fault(self) -> None:
        chunks = []
        for _ in range(self.param_values["megabytes"]):
            chunks.append(bytearray(2**20))  # bytearray pages are written: real RSS
            time.sleep(0.001)
        self.keep = chunks


class NeedsAbsentModule(_Fault):
    """Needs a module no machine has: the task is skipped with that reason, never failed."""

    name = "fault.needs_absent_module"
    requires = ("harness_module_that_does_not_exist",)

    def fault(self) -> None:
        raise AssertionError("a skipped workload must never run")
