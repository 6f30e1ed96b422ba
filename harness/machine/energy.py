"""Energy per step, where the hardware counts it: NVML's total-energy counter on an NVIDIA GPU
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded; Volta and newer)
and RAPL's package counters on a CPU (``/sys/class/powercap/intel-rapl:N/energy_uj``).

Never power × time from sampled readings: both are energy counters, read at the edges of a
window. The method (``measure``): find how often the counter updates (NVML's about every
100 ms), wait until the board has cooled from the measured blocks, take the idle power over a
window of sleep, then run steps for a window of at least 20 counter updates; energy above idle
÷ steps = joules per step, with the error the counter's update interval allows. The GPU is the
worker's own (``harness.machine.nvml_device``). Where neither counter exists (a VM, a laptop without
RAPL access) the record says "not available" and why; an error while reading becomes "not
available" with the error (``harness.worker.energy_per_step``), never a failed task.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.record_parts.energy import EnergyReading

POWERCAP = Path("/sys/class/powercap")
NVML_ERROR = (
    "NVML total-energy counter (board energy in mJ); the window lasts at least 20 counter "
    "updates (granularity_error_* bound what the update interval leaves); the board sensor's "
    "own accuracy applies and is not measured here"
)
RAPL_ERROR = (
    "RAPL package counter: the whole CPU package, other processes included (idle measured "
    "before and subtracted); the CPU's own energy model, not an external meter"
)


@dataclass
class Counter:
    """One energy counter: ``read()`` returns joules; ``wrap`` is where it rolls over."""

    name: str
    method: str
    known_error: str
    read: Callable[[], float]
    wrap: float | None = None

    def delta(self, start: float, end: float) -> float:
        """Joules between two readings, across one roll-over of the counter."""
        if end >= start or self.wrap is None:
            return end - start
        return end + self.wrap - start


def rapl_counters(root: Path = POWERCAP) -> list[Counter]:
    """One counter per CPU package (``intel-rapl:N``, name ``package-N``) that can be read."""
    counters = []
    for zone in sorted(root.glob("intel-rapl:*")):
        if zone.name.count(":") != 1:  # subzones (core, uncore, dram) are inside the package
            continue
        try:
            name = (zone / "name").read_text().strip()
            wrap = int((zone / "max_energy_range_uj").read_text()) / 1e6
            int((zone / "energy_uj").read_text())  # readable? (root only on recent kernels)
        except (OSError, ValueError):
            continue
        read = functools.partial(_joules_from_microjoules, zone / "energy_uj")
        counters.append(Counter(name, "rapl", RAPL_ERROR, read, wrap))
    return counters


def _joules_from_microjoules(path: Path) -> float:
    return int(path.read_text()) / 1e6


def nvml_counter(nvml: Any = None) -> Counter | None:
    """The total-energy counter of the worker's GPU (``harness.machine.nvml_device.worker_gpu``), or
    None where NVML, the GPU or the counter is missing."""
    from harness.machine.gpu_inventory import started_nvml
    from harness.machine.nvml_device import worker_gpu

    nvml = started_nvml(nvml)
    if nvml is None:
        return None
    try:
        device = worker_gpu(nvml)
        handle = device.handle
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:  # no driver, no GPU, a MIG slice, a GPU older than Volta: NVMLError
        return None

    def read() -> float:
        return float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0

    return Counter(device.uuid or "gpu", "nvml-total-energy", NVML_ERROR, read)


def counters_for(device: str, nvml: Any = None, root: Path = POWERCAP) -> list[Counter]:
    """The counters that see a task on ``device``: the GPU's for cuda, the packages' for cpu."""
    if device == "cuda":
        found = nvml_counter(nvml)
        return [found] if found else []
    return rapl_counters(root)


def not_available(device: str, root: Path = POWERCAP) -> EnergyReading:
    """Why no counter sees a task on ``device``."""
    if device == "cuda":
        why = "NVML's total-energy counter is not readable (nvidia-ml-py, driver or GPU missing)"
    elif not root.exists():
        why = f"no RAPL counters ({root} does not exist: a virtual machine or a non-Intel/AMD CPU)"
    else:
        why = f"no readable RAPL package counter under {root} (reading energy_uj needs root)"
    return EnergyReading(available=False, reason=why)


def read_failed(error: BaseException) -> EnergyReading:
    """An error while reading energy: this part says so, the task's timing stands."""
    return EnergyReading(
        available=False, reason=f"the energy read failed: {type(error).__name__}: {error}"
    )


#: the counter is polled this often to find its update interval
POLL_S = 0.001
#: how long to poll for two updates of a counter before taking that long as its interval
UPDATE_LIMIT_S = 0.5
#: cool-down: power over windows of this many counter updates (and at least 0.5 s) ...
SETTLE_UPDATES = 10
SETTLE_MIN_WINDOW_S = 0.5
#: ... for at least this long (a GPU's power falls to idle within about a second) and until two
#: windows in a row agree within 2% (or the counter's own resolution, where coarser) ...
COOLDOWN_MIN_S = 1.0
SETTLE_TOLERANCE = 0.02
#: ... or this long has passed (the record says whether it settled)
COOLDOWN_LIMIT_S = 8.0
#: the idle and the measured windows last at least this many counter updates
WINDOW_UPDATES = 20


def update_interval(
    counters: list[Counter],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    limit_s: float = UPDATE_LIMIT_S,
) -> float:
    """Seconds between two successive changes of the slowest counter, polled every
    ``POLL_S``; ``limit_s`` where a counter changed less than twice in that time (a bound)."""
    slowest = 0.0
    for counter in counters:
        changes: list[float] = []
        last = counter.read()
        began = clock()
        while len(changes) < 2 and clock() - began < limit_s:
            sleep(POLL_S)
            value = counter.read()
            if value != last:
                changes.append(clock())
                last = value
        slowest = max(slowest, changes[1] - changes[0] if len(changes) == 2 else limit_s)
    return slowest


def _watts(
    counters: list[Counter], clock: Callable[[], float], sleep: Callable[[float], None], s: float
) -> tuple[float, float]:
    """(summed watts, seconds) of ``counters`` over about ``s`` seconds of sleep."""
    start = [c.read() for c in counters]
    began = clock()
    sleep(s)
    elapsed = clock() - began
    end = [c.read() for c in counters]
    joules = sum(c.delta(a, b) for c, a, b in zip(counters, start, end, strict=True))
    return joules / elapsed, elapsed


def cool_down(
    counters: list[Counter],
    update_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    limit_s: float = COOLDOWN_LIMIT_S,
) -> tuple[float, bool]:
    """Wait until the power the counters see has settled after the last steps: successive
    windows of ``SETTLE_UPDATES`` counter updates (at least ``SETTLE_MIN_WINDOW_S``), for at
    least ``COOLDOWN_MIN_S``, until two in a row differ by at most ``SETTLE_TOLERANCE`` (or
    twice one update's share of a window, the counter's own resolution, where that is larger),
    or ``limit_s``. Returns (seconds waited, settled)."""
    window = max(SETTLE_MIN_WINDOW_S, SETTLE_UPDATES * update_s)
    tolerance = max(SETTLE_TOLERANCE, 2 * update_s / window)
    began = clock()
    previous = None
    while True:
        watts, _ = _watts(counters, clock, sleep, window)
        waited = clock() - began
        if (
            previous is not None
            and waited >= COOLDOWN_MIN_S
            and abs(watts - previous) <= tolerance * abs(previous)
        ):
            return waited, True
        if clock() - began >= limit_s:
            return clock() - began, False
        previous = watts


def measure(
    counters: list[Counter],
    run_step: Callable[[], None],
    synchronize: Callable[[], None],
    items_per_step: int,
    window_s: float = 1.0,
    idle_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> EnergyReading:
    """Joules per step and per item above idle, from ``counters`` read at the windows' edges.

    In order: the counters' update interval ``u`` (``update_interval``); a cool-down until the
    power has settled after the measured blocks (``cool_down``: the idle window must not start
    in their power tail); the idle power over ``max(idle_s, WINDOW_UPDATES·u)``; then steps for
    at least ``max(window_s, WINDOW_UPDATES·u)``. A read lags the true energy by at most one
    update, so each difference is off by at most ``u`` × the power at its edges: the
    granularity error per step is ``2u·(P_window + P_idle·window/idle) / steps`` (joules),
    recorded with its share of the joules per step.
    """
    synchronize()
    update_s = update_interval(counters, clock, sleep)
    cooldown_s, settled = cool_down(counters, update_s, clock, sleep)
    idle_watts, idle_time = _watts(counters, clock, sleep, max(idle_s, WINDOW_UPDATES * update_s))
    window_s = max(window_s, WINDOW_UPDATES * update_s)

    start = [c.read() for c in counters]
    began = clock()
    steps = 0
    while True:
        run_step()
        steps += 1
        if clock() - began >= window_s:
            synchronize()
            elapsed = clock() - began
            if elapsed >= window_s:
                break
    end = [c.read() for c in counters]
    total = sum(c.delta(a, b) for c, a, b in zip(counters, start, end, strict=True))
    above_idle = total - idle_watts * elapsed
    per_step = above_idle / steps
    error = 2 * update_s * (total / elapsed + idle_watts * elapsed / idle_time) / steps
    return EnergyReading(
        available=True,
        method="+".join(sorted({c.method for c in counters})),
        counters=[c.name for c in counters],
        known_error="; ".join(sorted({c.known_error for c in counters})),
        window_s=elapsed,
        steps=steps,
        cooldown_s=cooldown_s,
        cooldown_settled=settled,
        idle_s=idle_time,
        idle_watts=idle_watts,
        joules_total=total,
        joules_per_step=per_step,
        joules_per_item=per_step / items_per_step if items_per_step else None,
        watts_above_idle=above_idle / elapsed,
        counter_update_s=update_s,
        granularity_error_joules_per_step=error,
        granularity_error_share=error / abs(per_step) if per_step else None,
    )
