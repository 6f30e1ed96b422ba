"""The worker's GPU watched through NVML (nvidia-ml-py) while the measured blocks run.

Three readings, all of the GPU that ``harness.machine.nvml_device.worker_gpu`` resolves (not GPU 0):

* **facts** before and after the blocks (clocks, clock-event reasons, temperature, power, other
  processes). The "after" reading comes after the last synchronize, when the GPU is idle: it
  cannot see throttling that stopped with the work;
* **violation counters** (``nvmlDeviceGetViolationStatus`` with ``NVML_PERF_POLICY_POWER`` and
  ``NVML_PERF_POLICY_THERMAL``: nanoseconds the clocks were held below their target by the power
  or thermal policy, counted by the driver) read at both edges: their deltas are the time
  throttled *during* the blocks, whatever the sampling misses;
* a **sampler thread** during the blocks reads the SM clock and the clock-event reasons every
  ``SAMPLE_INTERVAL_S`` (0.1 s): the SM clock under load (samples whose reasons carry the idle
  bit are left out) and which reasons were seen in how many samples. It perturbs the timing
  negligibly: each sample is two NVML calls (ctypes releases the GIL during them), about 20 µs
  of GIL every 100 ms, 0.02% of the measured time, far below the 1% precision target.

A block that throttled (a violation counter advanced by more than ``VIOLATION_SHARE_LIMIT`` of
the watched time, or a sample showing a throttling reason) is flagged by
``harness.machine.machine_watch.noisy_reasons``. Other processes on the GPU exclude the worker
itself (``other_processes`` says how, inside a container too). This machine has no GPU: everything
is tested through stand-in NVML modules (tests/test_gpu_watch.py).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SAMPLE_INTERVAL_S = 0.1
#: a violation counter that advanced by more than this share of the watched time is throttling
VIOLATION_SHARE_LIMIT = 0.01
#: NVML_PERF_POLICY_POWER and NVML_PERF_POLICY_THERMAL (nvml.h), where the module lacks them
POLICIES = {"power": ("NVML_PERF_POLICY_POWER", 0), "thermal": ("NVML_PERF_POLICY_THERMAL", 1)}
#: clock-event reasons that slow a benchmark (idle and application-clock settings do not):
#: NVML 12.5+ names (nvmlClocksEventReason…), the older nvmlClocksThrottleReason… names, and the
#: bit from nvml.h where a module has neither
THROTTLE_BITS = {
    "SwPowerCap": ("power cap", 0x4),
    "HwSlowdown": ("hardware slowdown", 0x8),
    "SyncBoost": ("sync boost", 0x10),
    "SwThermalSlowdown": ("thermal (software)", 0x20),
    "HwThermalSlowdown": ("thermal (hardware)", 0x40),
    "HwPowerBrakeSlowdown": ("power brake", 0x80),
}
IDLE_BIT = 0x1  # nvmlClocksEventReasonGpuIdle


def _bit(nvml: Any, suffix: str, default: int) -> int:
    for prefix in ("nvmlClocksEventReason", "nvmlClocksThrottleReason"):
        value = getattr(nvml, prefix + suffix, None)
        if value is not None:
            return int(value)
    return default


def throttle_names(nvml: Any, bits: int) -> list[str]:
    """The throttling reasons set in ``bits`` (a clock-event reasons mask), by name."""
    return [name for key, (name, bit) in THROTTLE_BITS.items() if bits & _bit(nvml, key, bit)]


def clock_event_reasons(nvml: Any, handle: Any) -> int:
    """The clock-event reasons mask (``nvmlDeviceGetCurrentClocksEventReasons``; the older
    ``…ThrottleReasons`` name where the module predates it)."""
    read = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    if read is None:
        read = nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return int(read(handle))


def own_pids(status: str | None = None) -> set[int]:
    """This process's PIDs: ``os.getpid()`` and the ``NSpid`` line of /proc/self/status (its
    PID in each PID namespace that procfs shows)."""
    pids = {os.getpid()}
    if status is None:
        with contextlib.suppress(OSError):
            status = Path("/proc/self/status").read_text()
    for line in (status or "").splitlines():
        if line.startswith("NSpid:"):
            pids.update(int(v) for v in line.split()[1:] if v.isdigit())
    return pids


def _pid_visible(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def other_processes(
    reported: Iterable[int],
    own: set[int],
    uses_gpu: bool,
    pid_visible: Callable[[int], bool] = _pid_visible,
) -> list[int]:
    """PIDs NVML reports on the GPU, less the worker's own.

    Inside a container NVML reports host PIDs, which neither ``os.getpid()`` nor ``NSpid``
    knows (procfs there shows the container's namespace only). So where the worker holds a
    context on the GPU (``uses_gpu``) and none of the reported PIDs is one of its own, one
    reported PID that this process cannot see in its /proc is taken to be the worker itself and
    dropped: the count of others is right, though which host PID is ours is not known. On the
    host every PID is visible, so nothing is dropped there by this rule."""
    reported = list(reported)
    others = [pid for pid in reported if pid not in own]
    if uses_gpu and len(others) == len(reported):
        unseen = [pid for pid in others if not pid_visible(pid)]
        if unseen:
            others.remove(unseen[0])
    return others


def read_facts(nvml: Any, handle: Any, uses_gpu: bool) -> dict[str, Any]:
    """Clocks, clock-event reasons, temperature, power and other processes of ``handle``."""
    sm = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)
    sm_max = nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)
    memory = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)
    reasons = clock_event_reasons(nvml, handle)
    running = [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)]
    return {
        "sm_clock_mhz": sm,
        "sm_clock_max_mhz": sm_max,
        "memory_clock_mhz": memory,
        "throttle_reasons": throttle_names(nvml, reasons),
        "temperature_c": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
        "power_w": nvml.nvmlDeviceGetPowerUsage(handle) / 1000,
        "other_processes": other_processes(running, own_pids(), uses_gpu),
    }


def violation_times(nvml: Any, handle: Any) -> dict[str, int | None]:
    """Nanoseconds the power and thermal policies have held the clocks down (None where the
    GPU does not count it)."""
    found: dict[str, int | None] = {}
    for name, (constant, default) in POLICIES.items():
        try:
            reading = nvml.nvmlDeviceGetViolationStatus(handle, getattr(nvml, constant, default))
            found[name] = int(reading.violationTime)
        except Exception:  # NVMLError_NotSupported (consumer boards, vGPU), NoPermission
            found[name] = None
    return found


class ClockSampler:
    """A daemon thread: every ``interval_s`` the SM clock and the clock-event reasons."""

    def __init__(self, read: Callable[[], tuple[int, int]], interval_s: float = SAMPLE_INTERVAL_S):
        self.read = read
        self.interval_s = interval_s
        self.samples: list[tuple[int, int]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harness-gpu-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            try:
                self.samples.append(self.read())
            except Exception as error:  # an NVML that stops answering: keep what was read
                self.errors.append(str(error))
                return
            if self._stop.wait(self.interval_s):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def during(
    nvml: Any,
    samples: list[tuple[int, int]],
    violations_ns: dict[str, int | None],
    watched_s: float,
) -> dict[str, Any]:
    """What the GPU did during the blocks, from the sampler's (SM MHz, reasons) pairs and the
    violation counters' deltas over ``watched_s`` seconds."""
    loaded = [mhz for mhz, bits in samples if not bits & IDLE_BIT]
    seen: dict[str, int] = {}
    for _, bits in samples:
        for name in throttle_names(nvml, bits):
            seen[name] = seen.get(name, 0) + 1
    shares = {
        name: (ns / 1e9 / watched_s if ns is not None and watched_s > 0 else None)
        for name, ns in violations_ns.items()
    }
    return {
        "watched_s": watched_s,
        "samples": len(samples),
        "samples_under_load": len(loaded),
        "sm_clock_under_load_mhz": {
            "median": statistics.median(loaded),
            "min": min(loaded),
            "max": max(loaded),
        }
        if loaded
        else None,
        "throttle_samples": seen,
        "violation_s": {k: (v / 1e9 if v is not None else None) for k, v in violations_ns.items()},
        "violation_share": shares,
    }


def throttled_reasons(gpu_during: dict[str, Any] | None) -> list[str]:
    """Why the GPU counts as throttled during the blocks, each with its figure."""
    if not gpu_during:
        return []
    reasons = []
    for name, share in (gpu_during.get("violation_share") or {}).items():
        if share is not None and share > VIOLATION_SHARE_LIMIT:
            seconds = gpu_during["violation_s"][name]
            reasons.append(
                f"the {name} policy held the GPU clocks down for {seconds:.2f} s "
                f"({share:.0%} of the measured blocks)"
            )
    total = gpu_during.get("samples") or 0
    for name, count in (gpu_during.get("throttle_samples") or {}).items():
        reasons.append(f"the GPU was throttled ({name}) in {count} of {total} samples")
    return reasons


class GpuWatch:
    """Start before the measured blocks, stop after: ``before``, ``after``, ``during`` and the
    device, for the record's ``machine`` section. ``nvml`` may be a stand-in module."""

    def __init__(self, nvml: Any = None, clock: Callable[[], float] = time.monotonic):
        self.nvml_module = nvml
        self.clock = clock
        self.nvml: Any = None
        self.device: Any = None
        self.error: str | None = None
        self.before: dict[str, Any] | None = None
        self.sampler: ClockSampler | None = None
        self.violations: dict[str, int | None] = {}
        self.began = 0.0

    def _facts(self) -> dict[str, Any]:
        try:
            return read_facts(self.nvml, self.device.handle, uses_gpu=True)
        except Exception as error:  # a partial NVML (MIG, vGPU, old driver): say so, never guess
            return {"error": str(error)}

    def start(self) -> None:
        from harness.machine.gpu_inventory import started_nvml
        from harness.machine.nvml_device import GpuNotFound, worker_gpu

        self.nvml = started_nvml(self.nvml_module)
        if self.nvml is None:
            self.error = "NVML is not available (nvidia-ml-py or the driver missing)"
            return
        try:
            self.device = worker_gpu(self.nvml)
        except GpuNotFound as error:
            self.error = str(error)
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()
            return
        self.before = self._facts()
        self.violations = violation_times(self.nvml, self.device.handle)
        nvml, handle = self.nvml, self.device.handle

        def sample() -> tuple[int, int]:
            mhz = nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM)
            return int(mhz), clock_event_reasons(nvml, handle)

        self.sampler = ClockSampler(sample)
        self.began = self.clock()
        self.sampler.start()

    def stop(self) -> dict[str, Any]:
        if self.device is None:
            return {"gpu_error": self.error}
        try:
            assert self.sampler is not None
            self.sampler.stop()
            watched = self.clock() - self.began
            after = violation_times(self.nvml, self.device.handle)
            deltas: dict[str, int | None] = {}
            for name, start in self.violations.items():
                end = after.get(name)
                deltas[name] = end - start if start is not None and end is not None else None
            gpu_during = during(self.nvml, self.sampler.samples, deltas, watched)
            gpu_during["sample_interval_s"] = self.sampler.interval_s
            if self.sampler.errors:
                gpu_during["sampler_error"] = self.sampler.errors[0]
            return {
                "gpu_device": self.device.describe(),
                "gpu_before": self.before,
                "gpu_after": self._facts(),
                "gpu_during": gpu_during,
            }
        finally:
            with contextlib.suppress(Exception):
                self.nvml.nvmlShutdown()


def gpu_facts(nvml: Any = None) -> dict[str, Any] | None:
    """One reading of the worker's GPU (``read_facts`` and the device); None without
    nvidia-ml-py or a driver."""
    from harness.machine.gpu_inventory import started_nvml
    from harness.machine.nvml_device import GpuNotFound, worker_gpu

    nvml = started_nvml(nvml)
    if nvml is None:
        return None
    try:
        device = worker_gpu(nvml)
        return {**read_facts(nvml, device.handle, uses_gpu=False), "device": device.describe()}
    except GpuNotFound as error:
        return {"error": str(error)}
    except Exception as error:  # a partial NVML (MIG, old driver): say so, never guess
        return {"error": str(error)}
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
