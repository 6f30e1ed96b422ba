"""Test-only slowdowns of real workloads, made of real work: ``HARNESS_TEST_EXTRA_WORK=0.05``
makes every phase of every step do about 5% more arithmetic.

The extra work is a real matrix product, 32×32 by 32×32 in float64 (2·32³ = 65,536 floating-point
operations, a few microseconds), run right after each phase's own work and before its mark, so
it lands in that phase and in the step. How many products each phase gets is fixed once, from
the first steps after the first one (at most ``CALIBRATION_STEPS`` steps or
``CALIBRATION_SECONDS``, inside the timer's warm-up): ``share × the phase's median duration /
one product's median duration``, kept as a fraction whose running remainder carries from step
to step. From then on the clock is not read again: the same products every step, whatever the
machine does, as a real change of code would add. The share is therefore known to within the
calibration's own noise; the record carries the products per step (``metrics``).

The self-benchmark measures the gate's power with it (benchmarks/selfbench/power.py); the record
says so (``metrics.test_extra_work``). Never set it otherwise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

EXTRA_WORK_VARIABLE = "HARNESS_TEST_EXTRA_WORK"
CALIBRATION_STEPS = 10
CALIBRATION_SECONDS = 0.25  # half the default warm-up: calibrated before the measured blocks
UNIT_SIZE = 32
#: work after a step's last mark (or a step without marks: a fused step)
TAIL = "step"

Clock = Callable[[], float]


def matmul_unit() -> Callable[[], None]:
    """One 32×32 float64 matrix product into a preallocated output (NumPy)."""
    import numpy

    rng = numpy.random.default_rng(0)
    a, b = rng.standard_normal((UNIT_SIZE, UNIT_SIZE)), rng.standard_normal((UNIT_SIZE, UNIT_SIZE))
    out = numpy.empty((UNIT_SIZE, UNIT_SIZE))

    def unit() -> None:
        numpy.matmul(a, b, out=out)

    return unit


class ExtraWork:
    """The extra products of one wrapped step function: calibrated, then fixed."""

    def __init__(self, share: float, clock: Clock, unit: Callable[[], None]):
        self.share, self.clock, self.unit = share, clock, unit
        self.steps = 0
        self.durations: dict[str, list[float]] = {}
        self.calibration_start: float | None = None
        #: products per step for each phase (fractions), None while calibrating
        self.repeats: dict[str, float] | None = None
        self.credit: dict[str, float] = {}

    @property
    def calibrating(self) -> bool:
        return self.repeats is None

    def phase_done(self, phase: str, started: float) -> None:
        """At the end of a phase's own work: calibrate, or run its products."""
        if self.repeats is None:
            if self.steps > 0:  # the first step (compilation, allocation) is not typical
                self.durations.setdefault(phase, []).append(self.clock() - started)
            return
        credit = self.credit.get(phase, 0.0) + self.repeats.get(phase, 0.0)
        whole = int(credit + 1e-9)  # 24.999999... products are 25
        self.credit[phase] = credit - whole
        for _ in range(whole):
            self.unit()

    def step_done(self) -> None:
        self.steps += 1
        if self.repeats is not None or self.steps < 2:
            return
        now = self.clock()
        if self.calibration_start is None:
            self.calibration_start = now
        calibrated = max((len(v) for v in self.durations.values()), default=0)
        if calibrated >= CALIBRATION_STEPS or now - self.calibration_start >= CALIBRATION_SECONDS:
            self.calibrate()

    def unit_seconds(self, batches: int = 5, per_batch: int = 20) -> float:
        """Median duration of one product, timed in batches."""
        times = []
        for _ in range(batches):
            start = self.clock()
            for _ in range(per_batch):
                self.unit()
            times.append((self.clock() - start) / per_batch)
        return statistics.median(times)

    def calibrate(self) -> None:
        unit = self.unit_seconds()
        self.repeats = {
            phase: self.share * statistics.median(values) / unit if unit > 0 else 0.0
            for phase, values in self.durations.items()
        }

    def products_per_step(self) -> float | None:
        return sum(self.repeats.values()) if self.repeats is not None else None


def add_extra_work(
    workload: Any,
    share: float,
    clock: Clock = time.perf_counter,
    unit: Callable[[], None] | None = None,
) -> list[ExtraWork]:
    """Make every phase (and so the step) of ``workload`` do about ``share`` more real work:
    its ``step`` (and ``fused_step``) are wrapped. ``unit`` replaces the matrix product (tests
    drive a fake clock with it). Returns the wrappers' state (products per step)."""
    unit = unit or matmul_unit()

    def wrap(step: Any) -> tuple[Any, ExtraWork]:
        work = ExtraWork(share, clock, unit)

        def slowed(*args: Any) -> None:
            since = clock() if work.calibrating else 0.0
            if not args:  # a fused step: no marks
                step()
            else:
                outer = args[0]

                def mark(phase: str) -> None:
                    nonlocal since
                    work.phase_done(phase, since)
                    outer(phase)
                    if work.calibrating:
                        since = clock()

                step(mark)
            work.phase_done(TAIL, since)  # work after the last mark, or a step with no marks
            work.step_done()

        return slowed, work

    workload.step, stepped = wrap(workload.step)
    works = [stepped]
    if workload.has_fused_step:
        workload.fused_step, fused = wrap(workload.fused_step)
        works.append(fused)
    return works
