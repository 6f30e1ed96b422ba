"""Timer arithmetic with a fake clock: exact numbers."""

import gc

import numpy as np
import pytest

from harness.errors import UserError, WorkloadError
from harness.timer import PRECISION_CHECK_SHARE, Timer, TimerSettings, estimate_clock_overhead
from harness.workload import Workload


class FakeClock:
    def __init__(self, tick: float = 0.0):
        self.now = 0.0
        self.tick = tick  # what one clock read costs

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedStep(Workload):
    """Each phase advances the fake clock by a known amount; the first step is slower."""

    name = "scripted"
    phases = ("forward", "backward", "update")

    def __init__(self, clock: FakeClock, costs=(0.001, 0.002, 0.0005), first_extra=0.5):
        super().__init__({"batch_size": 4}, "cpu")
        self.clock = clock
        self.costs = costs
        self.first_extra = first_extra
        self.steps = 0
        self.gc_states: list[bool] = []

    def step(self, mark) -> None:
        self.gc_states.append(gc.isenabled())
        if self.steps == 0:
            self.clock.advance(self.first_extra)
        self.steps += 1
        for phase, cost in zip(self.phases, self.costs, strict=True):
            self.clock.advance(cost)
            mark(phase)


def test_exact_samples_block_size_and_first_step():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_time=1.0,
        warmup_max_steps=4,
        min_time=0.05,
        min_blocks=3,
        max_blocks=10,
        min_block_time=0.01,
    )
    workload = ScriptedStep(clock)
    m = Timer(settings, clock=clock).run(workload)
    assert m.timing.first_step_s == pytest.approx(0.5035)
    assert m.timing.first_step_phases["forward"] == pytest.approx(0.501)
    # the warm-up budget (1 s of fake time) is never reached: the step cap (4) ends it
    assert m.timing.warmup_steps == 4
    # 0.01 s target / 0.0035 s per step -> 3 steps per block
    assert m.timing.block_size == 3
    assert m.timing.calibration_blocks == 0
    # 0.0105 s per block: min_time 0.05 needs 5 blocks, and the median's interval needs 6
    assert m.blocks == 6
    assert m.timing.stop_reason == "precision" and m.timing.precision == 0.0
    assert m.samples["step"] == pytest.approx([0.0035] * 6)
    assert m.samples["forward"] == pytest.approx([0.001] * 6)
    assert m.samples["backward"] == pytest.approx([0.002] * 6)
    assert m.samples["update"] == pytest.approx([0.0005] * 6)
    assert m.timing.clock_overhead_s == 0.0


def test_warmup_stops_on_time_budget():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_time=0.01,
        warmup_max_steps=1000,
        min_time=0.0,
        min_blocks=1,
        max_blocks=1,
        min_block_time=0.0,
    )
    m = Timer(settings, clock=clock).run(ScriptedStep(clock))
    # 0.0035 s per step: after 3 steps 0.0105 s >= 0.01 s budget
    assert m.timing.warmup_steps == 3
    assert m.timing.warmup_elapsed_s == pytest.approx(0.0105)


def test_block_grows_until_clock_overhead_is_negligible():
    clock = FakeClock(tick=1e-6)  # each clock read costs 1 µs
    settings = TimerSettings(
        warmup_time=0.0,
        warmup_max_steps=0,
        min_time=0.0,
        min_blocks=2,
        max_blocks=2,
        min_block_time=0.0,
        overhead_factor=1000,
    )
    workload = ScriptedStep(clock, costs=(1e-4, 1e-4, 1e-4), first_extra=0.0)
    m = Timer(settings, clock=clock).run(workload)
    assert m.timing.clock_overhead_s == pytest.approx(1e-6)
    # the block must last >= 1000 x 1 µs = 1 ms; a step is ~0.3 ms, so at least 4 steps
    assert m.timing.block_size * m.samples["step"][0] >= 1e-3
    assert m.timing.block_size >= 4


def test_gc_is_off_inside_blocks_and_restored():
    clock = FakeClock()
    workload = ScriptedStep(clock)
    assert gc.isenabled()
    Timer(
        TimerSettings(warmup_max_steps=1, min_time=0, min_blocks=2, max_blocks=2), clock=clock
    ).run(workload)
    assert workload.gc_states and not any(workload.gc_states)
    assert gc.isenabled()


def test_min_and_max_blocks():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_max_steps=0, min_time=100.0, min_blocks=2, max_blocks=4, min_block_time=0.0
    )
    m = Timer(settings, clock=clock).run(ScriptedStep(clock))
    assert m.blocks == 4  # max_blocks caps a min_time that would take too long


def test_phases_must_match_declaration():
    class Sloppy(ScriptedStep):
        phases = ("forward", "backward", "update")

        def step(self, mark):
            self.clock.advance(0.001)
            mark("forward")
            mark("update")

    clock = FakeClock()
    with pytest.raises(WorkloadError, match="marked phases"):
        Timer(TimerSettings(), clock=clock).run(Sloppy(clock))


def test_real_clock_overhead_is_small_and_positive():
    import time

    overhead = estimate_clock_overhead(time.perf_counter)
    assert 0 <= overhead < 1e-3


@pytest.mark.parametrize(
    "bad",
    [
        {"min_blocks": 0},
        {"min_blocks": 5, "max_blocks": 4},
        {"warmup_time": -1},
        {"min_time": -0.5},
        {"warmup_max_steps": -1},
    ],
)
def test_bad_settings_are_user_errors(bad):
    with pytest.raises(UserError):
        TimerSettings(**bad)


class FusedAndPhased(ScriptedStep):
    """Phases by separate functions (costly), the real step fused (cheaper)."""

    has_fused_step = True

    def fused_step(self) -> None:
        self.clock.advance(0.002)


def test_fused_step_supplies_the_step_samples():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_time=0,
        warmup_max_steps=0,
        min_time=0,
        min_blocks=2,
        max_blocks=2,
        min_block_time=0.01,
    )
    m = Timer(settings, clock=clock).run(FusedAndPhased(clock, first_extra=0.0))
    assert m.samples["forward"] == pytest.approx([0.001, 0.001])
    assert m.samples["backward"] == pytest.approx([0.002, 0.002])
    assert m.samples["step"] == pytest.approx([0.002, 0.002])
    assert m.timing.block_size == 5  # calibrated on the fused step: 0.01 / 0.002


class AsyncDevice(Workload):
    """A fake asynchronous device: ``step`` only queues work (host dispatch is cheap), the
    device runs it in order, and ``synchronize`` waits for the queue plus a fixed latency."""

    name = "async"
    phases = ("forward", "backward", "update")
    sync_phases = True
    DISPATCH = 0.00001  # host time per phase
    SYNC_LATENCY = 0.0002  # what one synchronize costs on top of waiting

    def __init__(self, clock: FakeClock, costs=(0.001, 0.002, 0.0005)):
        super().__init__({"batch_size": 4}, "cuda")
        self.clock = clock
        self.costs = costs
        self.busy_until = 0.0
        self.syncs = 0

    def step(self, mark) -> None:
        for phase, cost in zip(self.phases, self.costs, strict=True):
            self.clock.advance(self.DISPATCH)
            self.busy_until = max(self.busy_until, self.clock.now) + cost
            mark(phase)

    def synchronize(self) -> None:
        self.syncs += 1
        self.clock.now = max(self.clock.now, self.busy_until) + self.SYNC_LATENCY


def test_step_samples_of_an_async_device_carry_no_per_phase_syncs():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_time=0, warmup_max_steps=0, min_time=0, min_blocks=3, max_blocks=3
    )
    workload = AsyncDevice(clock)
    m = Timer(settings, clock=clock).run(workload)
    device_step = sum(workload.costs)  # 3.5 ms of device work per step
    steps = m.timing.block_size
    # The step: device work back to back; per block one dispatch before the device starts and
    # one sync latency at the end, nothing per phase.
    expected_step = device_step + (AsyncDevice.DISPATCH + AsyncDevice.SYNC_LATENCY) / steps
    assert m.samples["step"] == pytest.approx([expected_step] * 3)
    # The phases were synchronized at each mark: each carries one sync latency (and the
    # dispatch), so their sum exceeds the step by about 3 syncs per step.
    phase_sum = sum(m.samples[p][0] for p in workload.phases)
    assert phase_sum == pytest.approx(
        device_step + 3 * (AsyncDevice.SYNC_LATENCY + AsyncDevice.DISPATCH)
    )
    assert m.samples["forward"][0] == pytest.approx(
        0.001 + AsyncDevice.SYNC_LATENCY + AsyncDevice.DISPATCH
    )


class CountsFromMeasureStart(ScriptedStep):
    """Records how many steps ran before on_measure_start, and resets a counter there."""

    def __init__(self, clock: FakeClock):
        super().__init__(clock, first_extra=0.0)
        self.steps_at_measure_start: int | None = None

    def on_measure_start(self) -> None:
        self.steps_at_measure_start = self.steps


def test_on_measure_start_comes_after_calibration_and_before_every_measured_block():
    clock = FakeClock()
    settings = TimerSettings(
        warmup_time=1.0, warmup_max_steps=2, min_time=0, min_blocks=4, max_blocks=4
    )
    workload = CountsFromMeasureStart(clock)
    m = Timer(settings, clock=clock).run(workload)
    measured_steps = m.blocks * m.timing.block_size
    # every step after on_measure_start belongs to a measured block, none to calibration
    assert workload.steps - workload.steps_at_measure_start == measured_steps
    # first step + 2 warm-up steps + at least one calibration block ran before it
    assert workload.steps_at_measure_start >= 1 + 2 + m.timing.block_size


class NoisyStep(Workload):
    """One step per block; each block's cost comes from a script (fake seconds)."""

    name = "noisy"
    phases = ()

    def __init__(self, clock: FakeClock, costs):
        super().__init__({}, "cpu")
        self.clock = clock
        self.costs = list(costs)
        self.calls = 0

    def step(self, mark) -> None:
        # first step, one warm-up step and the calibration block come before the measured ones
        index = max(self.calls - 3, 0)
        self.clock.advance(self.costs[min(index, len(self.costs) - 1)])
        self.calls += 1


def adaptive(**changes):
    values = dict(
        warmup_time=1.0,
        warmup_max_steps=1,
        min_time=0.0,
        min_blocks=6,
        max_blocks=1000,
        min_block_time=0.01,
        precision=0.01,
        max_time=100.0,
    )
    values.update(changes)
    return TimerSettings(**values)


def test_measuring_goes_on_until_the_median_is_known_to_the_target():
    from harness.stats import precision_of

    clock = FakeClock()
    # blocks spread uniformly over +0..+10%: the median's interval narrows as 1/sqrt(blocks)
    rng = np.random.default_rng(3)
    costs = list(0.01 * (1 + 0.1 * rng.random(10_000)))
    m = Timer(adaptive(), clock=clock).run(NoisyStep(clock, costs))
    assert m.timing.stop_reason == "precision"
    assert 20 < m.blocks < 400  # more than the minimum, far from the cap
    assert m.timing.precision is not None and m.timing.precision <= 0.01
    # it stopped at most 1/20 of the blocks after the first count that reached the target
    # (past 20 blocks the precision is computed after each further 1/20, not every block)
    steps = m.samples["step"]
    first = next(n for n in range(2, len(steps) + 1) if (precision_of(steps[:n]) or 1) <= 0.01)
    assert first <= m.blocks <= first + max(1, first // PRECISION_CHECK_SHARE)
    assert m.timing.precision == precision_of(m.samples["step"])
    assert m.timing.precision_target == 0.01


def test_measuring_stops_on_the_time_budget_with_the_precision_reached_so_far():
    clock = FakeClock()
    # a spread that never settles: each block 1 % to 40 % slower than the last, cycling
    costs = [0.01 * (1 + (i % 40) / 100) for i in range(1000)]
    m = Timer(adaptive(max_time=0.5, precision=0.001), clock=clock).run(NoisyStep(clock, costs))
    assert m.timing.stop_reason == "max-time"
    assert 0.5 <= m.timing.measured_s < 0.5 + 0.02  # one block past the budget at most
    assert m.timing.precision is not None and m.timing.precision > 0.001


def test_the_block_cap_stops_measuring_even_below_the_minimum_time():
    clock = FakeClock()
    m = Timer(adaptive(min_blocks=3, max_blocks=3), clock=clock).run(
        NoisyStep(clock, [0.01, 0.02, 0.03])
    )
    assert m.timing.stop_reason == "max-blocks" and m.blocks == 3
    assert m.timing.precision is None  # three blocks cannot bound a median at 95%


def test_a_precision_target_outside_zero_to_one_is_refused():
    with pytest.raises(UserError, match="--precision must be between 0 and 1"):
        TimerSettings(precision=1.5)


class TenthOfAMillisecond(Workload):
    """One phase of 0.1 ms of fake time."""

    name = "tenth"
    phases = ("forward",)

    def __init__(self, clock: FakeClock, device: str = "cpu"):
        super().__init__({}, device)
        self.clock = clock

    def step(self, mark) -> None:
        self.clock.advance(1e-4)
        mark("forward")


@pytest.mark.parametrize("device, steps", [("cpu", range(10, 11)), ("cuda", range(200, 401))])
def test_blocks_are_short_on_a_cpu_and_long_where_each_edge_synchronizes(device, steps):
    """1 ms blocks on a CPU (blocked_autorange's 10-100 steps: their median escapes other
    processes' time slices on a shared machine; old code: 10 ms, 100 steps), 20 ms on a device
    with a synchronize at each block edge."""
    from harness.suites import get_suite

    clock = FakeClock()
    settings = TimerSettings(warmup_max_steps=1, min_time=0, min_blocks=1, max_blocks=1)
    m = Timer(settings, clock=clock).run(TenthOfAMillisecond(clock, device))
    assert m.timing.block_size in steps  # (20 ms of 0.1 ms steps in floating point: 200 or 400)
    for suite in ("default", "compare"):
        timer = get_suite(suite).timer
        assert timer.min_block_time == 0.001
        assert timer.max_blocks * timer.min_block_time >= timer.max_time  # the cap is not hit
