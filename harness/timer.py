"""The timer: warm-up, first-step latency, blocks grown until clock overhead is negligible.

It returns raw samples only (seconds per step, one sample per block, for every phase and the
whole step); statistics are computed elsewhere (``harness.stats``). The clock is injected, so
tests drive it with a fake clock and assert exact numbers.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.errors import UserError, WorkloadError
from harness.loss_check import LossCheck
from harness.record import Timing
from harness.record_parts import LossReading, MachineReading
from harness.stats import precision_of
from harness.workload import Workload

Clock = Callable[[], float]
#: blocks on an asynchronous device last at least this: a synchronize at each edge
DEVICE_MIN_BLOCK_TIME = 0.02
#: past 20 blocks, the precision (an interval over every sample of every phase: ~0.2 ms at 300
#: blocks) is computed again after another 1/20 of the blocks so far, not after each block:
#: its work between blocks disturbs the next block's caches (+0.5% on a 8 ms torch.gpt step,
#: paired), and the stop comes at most 5% of the blocks late
PRECISION_CHECK_SHARE = 20


#: the timer settings ``harness run`` and ``harness ab`` take as options
TIMER_OPTIONS = ("warmup_time", "min_time", "min_blocks", "max_blocks", "precision", "max_time")


def setting(name: str) -> str:
    """How an error names a timer setting: its option (``--min-blocks``) where one sets it."""
    return f"--{name.replace('_', '-')}" if name in TIMER_OPTIONS else f"Timer setting '{name}'"


@dataclass(frozen=True)
class TimerSettings:
    warmup_time: float = 0.5  # seconds of warm-up budget ...
    warmup_max_steps: int = 50  # ... or this many steps, whichever comes first
    min_time: float = 1.0  # measured seconds to collect at least
    min_blocks: int = 5
    max_blocks: int = 2000
    #: a block lasts at least this, and 1000x the clock overhead. Short, as blocked_autorange's
    #: blocks of 10-100 steps: on a shared machine another process takes the CPU every few
    #: milliseconds, and the median of blocks shorter than that gap escapes it, where every
    #: block of 10-20 ms holds some (the seed's 63 µs step read 140-210 µs in 10 ms blocks and
    #: 64 µs in 1 ms blocks, alternated, at a load of 6 on 2 cores)
    min_block_time: float = 0.001
    overhead_factor: float = 1000.0
    #: past min_blocks and min_time, measure until the 95% confidence interval of the step's
    #: median, and of every phase's, is within ± this share of that median ...
    precision: float = 0.01
    #: ... or until this many measured seconds (the task's budget), or max_blocks
    max_time: float = 10.0

    def __post_init__(self) -> None:
        """Raise UserError naming the option (``--min-blocks``) that set a value out of range;
        settings no option sets (a suite's or a test's) are named by their field."""
        for name in ("warmup_time", "min_time", "min_block_time", "max_time", "warmup_max_steps"):
            if getattr(self, name) < 0:
                raise UserError(f"{setting(name)} must not be negative, got {getattr(self, name)}.")
        if not 0 < self.precision < 1:
            raise UserError(
                f"{setting('precision')} must be between 0 and 1 (0.01 is ±1%), got "
                f"{self.precision}."
            )
        if self.min_blocks < 1:
            raise UserError(f"{setting('min_blocks')} must be at least 1, got {self.min_blocks}.")
        if self.max_blocks < self.min_blocks:
            raise UserError(
                f"{setting('max_blocks')} must be at least {setting('min_blocks')} "
                f"(got {self.max_blocks} and {self.min_blocks})."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Measurement:
    """Raw result of timing one workload in one process: the samples, and how they were taken
    (``timing``: the record holds this very object)."""

    timing: Timing
    #: seconds per step, one per measured block, for "step" and each phase
    samples: dict[str, list[float]] = field(default_factory=dict)
    #: seconds of host (dispatch) time per step and phase, where the device is asynchronous
    host_samples: dict[str, list[float]] = field(default_factory=dict)
    #: what the machine did during the measured blocks (harness.machine.machine_watch), when watched
    machine: MachineReading | None = None
    #: the training loss read outside the timed blocks (harness.loss_check); None: no loss
    loss: LossReading | None = None

    @property
    def blocks(self) -> int:
        return len(self.samples.get("step", []))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Garbage collection off inside a measured block, restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _unmarked(phase: str) -> None:
    """The mark of a step timed as a whole: nothing to read, nothing to synchronize."""


def estimate_clock_overhead(clock: Clock, reads: int = 201) -> float:
    """Median cost of one clock read (seconds)."""
    stamps = [clock() for _ in range(reads)]
    deltas = sorted(b - a for a, b in itertools.pairwise(stamps))
    return max(deltas[len(deltas) // 2], 0.0)


class Timer:
    def __init__(self, settings: TimerSettings | None = None, clock: Clock = time.perf_counter):
        self.settings = settings or TimerSettings()
        self.clock = clock

    def _block(self, workload: Workload, steps: int) -> tuple[float, dict[str, float], dict]:
        """Run ``steps`` steps with GC off; return (seconds, phase totals, host phase totals)."""
        phase_timer = workload.phase_timer(self.clock)
        with gc_paused():
            workload.synchronize()
            start = self.clock()
            phase_timer.start_block()
            step, mark = workload.step, phase_timer.mark  # no lookup or bound method per step
            for _ in range(steps):
                step(mark)
            workload.synchronize()
            end = self.clock()
        totals = dict(phase_timer.end_block())
        host = phase_timer.host_totals() or {}
        if workload.has_fused_step:
            # the phased block measured the phases; the step samples time the fused call
            with gc_paused():
                workload.synchronize()
                start = self.clock()
                for _ in range(steps):
                    workload.fused_step()
                workload.synchronize()
                end = self.clock()
        elif workload.sync_phases:
            # The phased block synchronized the device at every mark: no overlap of host and
            # device, and a sync's latency per phase. The step samples come from a block of
            # the same steps with no sync inside (one at each edge, as for any block).
            with gc_paused():
                workload.synchronize()
                start = self.clock()
                for _ in range(steps):
                    workload.step(_unmarked)
                workload.synchronize()
                end = self.clock()
        return end - start, totals, dict(host)

    def _check_phases(self, workload: Workload, totals: dict[str, float]) -> None:
        if tuple(totals) != tuple(workload.phases):
            raise WorkloadError(
                f"workload '{workload.name}' marked phases {list(totals)} "
                f"but declares {list(workload.phases)}"
            )

    def run(
        self,
        workload: Workload,
        progress: Callable[[str], None] | None = None,
        watch: Any = None,
    ) -> Measurement:
        """Measure ``workload``. ``watch`` (a ``harness.machine.machine_watch.MachineWatch``) is
        started just before the measured blocks and stopped just after them."""
        s = self.settings
        overhead = estimate_clock_overhead(self.clock)
        target = max(s.min_block_time, s.overhead_factor * overhead)
        if getattr(workload, "device", "cpu") != "cpu":  # a synchronize at each edge: ~10 µs
            target = max(target, DEVICE_MIN_BLOCK_TIME)

        # 1. The first step on its own: compile / trace / allocation latency.
        first, first_phases, _ = self._block(workload, 1)
        self._check_phases(workload, first_phases)
        losses = LossCheck(workload)
        losses.read("first step")  # after the block: never inside a timed region

        # 2. Warm-up on a time budget with a step cap.
        warm_steps = 0
        warm_start = self.clock()
        estimate = first
        while warm_steps < s.warmup_max_steps and (self.clock() - warm_start) < s.warmup_time:
            estimate, _, _ = self._block(workload, 1)
            warm_steps += 1
        warm_elapsed = self.clock() - warm_start

        # 3. Grow the block until it lasts at least the target (as blocked_autorange does).
        steps = max(1, math.ceil(round(target / estimate, 9))) if estimate > 0 else 1
        calibration = 0
        while True:
            elapsed, totals, host = self._block(workload, steps)
            if elapsed >= target or steps >= 1_000_000_000:
                break
            calibration += 1
            grow = math.ceil(target / elapsed) if elapsed > 0 else 10
            steps *= max(2, grow)

        # 4. Measured blocks, all after on_measure_start (which may reset counters such as peak
        # memory or compiled graphs): calibration blocks are never samples.
        workload.on_measure_start()
        if watch is not None:
            watch.start()
        elapsed, totals, host = self._block(workload, steps)
        samples: dict[str, list[float]] = {"step": []}
        next_check = 0  # the block count at which the precision is next computed
        host_samples: dict[str, list[float]] = {}
        measured = 0.0
        while True:
            samples["step"].append(elapsed / steps)
            for phase in workload.phases:
                samples.setdefault(phase, []).append(totals.get(phase, 0.0) / steps)
            for phase, value in host.items():
                host_samples.setdefault(phase, []).append(value / steps)
            measured += elapsed
            blocks = len(samples["step"])
            losses.read(f"measured block {blocks}")  # the block's clock has stopped
            if progress is not None:
                progress(f"block {blocks}")
            reason = self._stop_reason(samples, measured, check_precision=blocks >= next_check)
            if blocks >= next_check:
                next_check = blocks + max(1, blocks // PRECISION_CHECK_SHARE)
            if reason:
                break
            elapsed, totals, host = self._block(workload, steps)
        machine = watch.stop(s.precision) if watch is not None else None
        workload.check_after_measure()
        timing = Timing(
            first_step_s=first,
            first_step_phases=first_phases,
            warmup_steps=warm_steps,
            warmup_elapsed_s=warm_elapsed,
            block_size=steps,
            blocks=len(samples["step"]),
            calibration_blocks=calibration,
            clock_overhead_s=overhead,
            stop_reason=reason,
            precision=precision_of(samples["step"]),
            precision_target=s.precision,
            measured_s=measured,
        )
        return Measurement(timing, samples, host_samples, machine, losses.result())

    def _stop_reason(
        self, samples: dict[str, list[float]], measured: float, check_precision: bool = True
    ) -> str:
        """Why to stop now ('' to go on): past the minimums, the step's and every phase's
        median known to the precision target (computed only where ``check_precision``); the
        time budget spent; or the block cap."""
        s = self.settings
        blocks = len(samples["step"])
        if blocks >= s.min_blocks and measured >= s.min_time:
            if check_precision:
                achieved = [precision_of(values) for values in samples.values()]
                if all(p is not None and p <= s.precision for p in achieved):
                    return "precision"
            if measured >= s.max_time:
                return "max-time"
        if blocks >= s.max_blocks:
            return "max-blocks"
        return ""
