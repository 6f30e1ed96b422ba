"""The machine watched while a task is measured, not assumed steady.

Inside the worker, around the measured blocks:

* a **reference kernel** (the same pure-Python loop every time, one thread, no library) is timed
  before and after (the median of 21 runs each, with that median's own 95% interval); its drift
  says whether the machine itself changed speed (frequency, a noisy neighbour, thermal limits).
  A drift counts when it exceeds the precision target plus the two readings' own resolution;
* ``/proc/stat`` before and after: the share of CPU time stolen by the hypervisor, and the CPU
  that *other* processes used (the machine's busy time minus this worker's process tree);
* load average, the CPU frequency governor and current frequency where readable;
* on a GPU, through NVML (nvidia-ml-py), the worker's own GPU (``harness.machine.gpu_watch``):
  clocks, clock-event reasons, temperature, power and other processes before and after, and
  during the blocks the power/thermal violation counters and a sampled SM clock.

A task during which the reference drifted beyond the precision target, another process took
part of a core, the hypervisor stole time, or the GPU throttled during the blocks is flagged
``noisy-machine`` with the figures that
tripped it. Every reading is a plain function of text or numbers, so tests feed recorded inputs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.machine.gpu_watch import GpuWatch, throttled_reasons
from harness.machine.gpu_watch import gpu_facts as gpu_facts  # one reading of the worker's GPU
from harness.record_parts.machine import MachineReading

REFERENCE_REPEATS = 21
#: other processes using more than this many cores on average took CPU from the task
OTHER_CORES_LIMIT = 0.25
#: hypervisor steal above this share of the machine's CPU time during the task
STEAL_LIMIT = 0.02
PROC_STAT = Path("/proc/stat")
CPUFREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq")


def reference_kernel() -> int:
    """Fixed work: integer arithmetic in a Python loop (about a millisecond)."""
    total = 0
    for i in range(20_000):
        total += (i * i) % 7
    return total


def time_reference(
    kernel: Callable[[], Any] = reference_kernel,
    repeats: int = REFERENCE_REPEATS,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """Median seconds of ``repeats`` runs of the reference kernel, and that median's own
    precision (relative half-width of its 95% interval)."""
    from harness.stats import precision_of

    kernel()  # warm: bytecode caches, the loop's first allocation
    times = []
    for _ in range(repeats):
        start = clock()
        kernel()
        times.append(clock() - start)
    return statistics.median(times), precision_of(times) or 0.0


@dataclass(frozen=True)
class CpuTimes:
    """One reading: the machine's CPU jiffies (busy, steal, total) and this process tree's CPU
    seconds, at a wall-clock time."""

    busy: int
    steal: int
    total: int
    own_seconds: float
    wall: float


def parse_proc_stat(text: str) -> tuple[int, int, int]:
    """(busy, steal, total) jiffies from the aggregate ``cpu`` line of /proc/stat."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            fields = [int(v) for v in line.split()[1:]]
            user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
            total = user + nice + system + idle + iowait + irq + softirq + steal
            return user + nice + system + irq + softirq, steal, total
    raise ValueError("no aggregate cpu line in /proc/stat")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its live children (DataLoader workers...). Without
    psutil (a GPU host's own Python): this process and its reaped children, from getrusage."""
    try:
        import psutil
    except ImportError:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return float(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime)
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return float(total)


def read_cpu_times() -> CpuTimes | None:
    try:
        busy, steal, total = parse_proc_stat(PROC_STAT.read_text())
    except (OSError, ValueError):
        return None
    return CpuTimes(busy, steal, total, own_cpu_seconds(), time.monotonic())


def cpu_usage(before: CpuTimes, after: CpuTimes, ticks_per_second: float) -> dict[str, float]:
    """Cores used by other processes, cores used by this task, and the steal share, between
    two readings. /proc/stat counts in clock ticks (USER_HZ)."""
    wall = after.wall - before.wall
    total = after.total - before.total
    if wall <= 0 or total <= 0:
        return {}
    busy_seconds = (after.busy - before.busy) / ticks_per_second
    own = max(after.own_seconds - before.own_seconds, 0.0)
    return {
        "wall_s": wall,
        "own_cores": own / wall,
        "others_cores": max(busy_seconds - own, 0.0) / wall,
        "steal_share": (after.steal - before.steal) / total,
    }


def read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_facts() -> dict[str, Any]:
    """Load average, governor and current frequency (None where this machine does not say)."""
    mhz = read_text(CPUFREQ / "scaling_cur_freq")
    return {
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "governor": read_text(CPUFREQ / "scaling_governor"),
        "cpu_mhz": int(mhz) / 1000 if mhz and mhz.isdigit() else None,
    }


def noisy_reasons(watch: Mapping[str, Any], precision_target: float) -> list[str]:
    """Why the machine could not be trusted during the task, each with its figure."""
    reasons = []
    drift = watch.get("reference_drift")
    resolution = watch.get("reference_resolution") or 0.0
    if drift is not None and abs(drift) > precision_target + resolution:
        reasons.append(
            f"the reference kernel drifted {drift:+.1%} during the task (beyond the "
            f"±{precision_target:.1%} precision target and its own ±{resolution:.1%} resolution)"
        )
    others = watch.get("others_cores")
    if others is not None and others > OTHER_CORES_LIMIT:
        reasons.append(f"other processes used {others:.2f} cores during the task")
    steal = watch.get("steal_share")
    if steal is not None and steal > STEAL_LIMIT:
        reasons.append(f"the hypervisor stole {steal:.1%} of the CPU time")
    reasons += throttled_reasons(watch.get("gpu_during"))
    gpu = watch.get("gpu_after") or {}
    if gpu.get("throttle_reasons"):
        reasons.append(
            "the GPU was throttled after the blocks: " + ", ".join(gpu["throttle_reasons"])
        )
    if gpu.get("other_processes"):
        reasons.append(f"{len(gpu['other_processes'])} other process(es) used the GPU")
    return reasons


class MachineWatch:
    """Start before the measured blocks, stop after: the record's ``MachineReading``."""

    def __init__(
        self,
        device: str = "cpu",
        kernel: Callable[[], Any] = reference_kernel,
        nvml: Any = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.device = device
        self.kernel = kernel
        self.nvml = nvml
        self.clock = clock  # injected by tests: a slowdown they know, not one they hope for
        self.before: CpuTimes | None = None
        self.reference_before = 0.0
        self.reference_before_precision = 0.0
        self.gpu: GpuWatch | None = None

    def start(self) -> None:
        self.reference_before, self.reference_before_precision = time_reference(
            self.kernel, clock=self.clock
        )
        if self.device == "cuda":
            self.gpu = GpuWatch(self.nvml)
            self.gpu.start()
        self.before = read_cpu_times()

    def stop(self, precision_target: float) -> MachineReading:
        """The one writer of ``Record.machine``."""
        after = read_cpu_times()
        gpu = self.gpu.stop() if self.gpu is not None else {}
        reference_after, after_precision = time_reference(self.kernel, clock=self.clock)
        watch: dict[str, Any] = {
            "reference_before_s": self.reference_before,
            "reference_after_s": reference_after,
            # the drift is only seen beyond what the two readings themselves can resolve
            "reference_resolution": self.reference_before_precision + after_precision,
            "reference_drift": reference_after / self.reference_before - 1
            if self.reference_before
            else None,
            **cpu_facts(),
        }
        if self.before is not None and after is not None:
            watch.update(cpu_usage(self.before, after, os.sysconf("SC_CLK_TCK")))
        watch.update(gpu)
        reasons = noisy_reasons(watch, precision_target)
        return MachineReading.from_dict({**watch, "noisy": bool(reasons), "noisy_reasons": reasons})
