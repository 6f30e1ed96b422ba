"""The machine watched while a task is measured, not assumed steady.

Inside the worker, around the measured blocks:

* a **reference kernel** (the same pure-Python loop every time, one thread, no library) is timed
  before and after (the median of 21 runs each, with that median's own 95% interval); its drift
  says whether the machine itself changed speed (frequency, a noisy neighbour, thermal limits).
  A drift counts when it exceeds the precision target plus the two readings' own resolution;
* ``/proc/stat`` before and after: the share of CPU time stolen by the hypervisor, and the CPU
  that *other* processes used (the machine's busy time minus this worker's process tree);
* load average, the CPU frequency governor and current frequency where readable;
* on a GPU, through NVML (nvidia-ml-py): SM and memory clocks against their maximum, throttle
  reasons, temperature, power, other processes on the device.

A task during which the reference drifted beyond the precision target, another process took
part of a core, or the hypervisor stole time is flagged ``noisy-machine`` with the figures that
tripped it. Every reading is a plain function of text or numbers, so tests feed recorded inputs.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """CPU seconds of this process and its live children (DataLoader workers...)."""
    import psutil

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


def gpu_facts(nvml: Any = None, index: int = 0) -> dict[str, Any] | None:
    """Clocks, throttle reasons, temperature, power and other processes of GPU ``index``
    through NVML; None without nvidia-ml-py or a GPU. ``nvml`` may be a stand-in module."""
    from harness.gpu_inventory import started_nvml

    nvml = started_nvml(nvml)
    if nvml is None:
        return None
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        sm = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)
        sm_max = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)
        memory = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)
        reasons = nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
        own = os.getpid()
        others = [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle) if p.pid != own]
        return {
            "sm_clock_mhz": sm,
            "sm_clock_max_mhz": sm_max,
            "memory_clock_mhz": memory,
            "throttle_reasons": throttle_names(nvml, reasons),
            "temperature_c": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            "power_w": nvml.nvmlDeviceGetPowerUsage(handle) / 1000,
            "other_processes": others,
        }
    except Exception as error:  # a partial NVML (MIG, old driver): say so, never guess
        return {"error": str(error)}
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


#: NVML throttle-reason bits that slow a benchmark (idle and application-clock settings do not)
THROTTLE_BITS = {
    "nvmlClocksThrottleReasonSwPowerCap": "power cap",
    "nvmlClocksThrottleReasonHwSlowdown": "hardware slowdown",
    "nvmlClocksThrottleReasonSwThermalSlowdown": "thermal (software)",
    "nvmlClocksThrottleReasonHwThermalSlowdown": "thermal (hardware)",
    "nvmlClocksThrottleReasonHwPowerBrakeSlowdown": "power brake",
    "nvmlClocksThrottleReasonSyncBoost": "sync boost",
}


def throttle_names(nvml: Any, bits: int) -> list[str]:
    return [name for attr, name in THROTTLE_BITS.items() if bits & int(getattr(nvml, attr, 0))]


def noisy_reasons(watch: dict[str, Any], precision_target: float) -> list[str]:
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
    gpu = watch.get("gpu_after") or {}
    if gpu.get("throttle_reasons"):
        reasons.append("the GPU was throttled: " + ", ".join(gpu["throttle_reasons"]))
    if gpu.get("other_processes"):
        reasons.append(f"{len(gpu['other_processes'])} other process(es) used the GPU")
    return reasons


class MachineWatch:
    """Start before the measured blocks, stop after: a dict for the record."""

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
        self.gpu_before: dict[str, Any] | None = None

    def start(self) -> None:
        self.reference_before, self.reference_before_precision = time_reference(
            self.kernel, clock=self.clock
        )
        if self.device == "cuda":
            self.gpu_before = gpu_facts(self.nvml)
        self.before = read_cpu_times()

    def stop(self, precision_target: float) -> dict[str, Any]:
        after = read_cpu_times()
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
        if self.device == "cuda":
            watch["gpu_before"] = self.gpu_before
            watch["gpu_after"] = gpu_facts(self.nvml)
        reasons = noisy_reasons(watch, precision_target)
        watch["noisy"] = bool(reasons)
        watch["noisy_reasons"] = reasons
        return watch
