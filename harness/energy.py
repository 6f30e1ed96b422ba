"""Energy per step, where the hardware counts it: NVML's total-energy counter on an NVIDIA GPU
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded; Volta and newer)
and RAPL's package counters on a CPU (``/sys/class/powercap/intel-rapl:N/energy_uj``).

Never power × time from sampled readings: both are energy counters, read at the edges of a
window. The method: the counter over ``idle_s`` of sleep gives the idle power; then steps run
for at least ``window_s`` (NVML's counter updates about every 100 ms, so a 1 s window sees about
ten updates); energy above idle ÷ steps = joules per step. Where neither counter exists (a VM,
a laptop without RAPL access) the record says "not available" and why.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POWERCAP = Path("/sys/class/powercap")
NVML_ERROR = (
    "NVML total-energy counter (board energy in mJ); the window is at least 1 s so the counter "
    "updates about 10 times; the board sensor's own accuracy applies and is not measured here"
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


def nvml_counter(nvml: Any, index: int = 0) -> Counter | None:
    """The GPU's total-energy counter, or None where NVML or the counter is missing."""
    try:
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except Exception:  # no driver, no GPU, a GPU older than Volta: NVMLError
        return None

    def read() -> float:
        return float(nvml.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0

    return Counter(f"gpu{index}", "nvml-total-energy", NVML_ERROR, read)


def counters_for(device: str, nvml: Any = None, root: Path = POWERCAP) -> list[Counter]:
    """The counters that see a task on ``device``: the GPU's for cuda, the packages' for cpu."""
    if device == "cuda":
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")  # nvidia-ml-py
            except ImportError:
                return []
        found = nvml_counter(nvml)
        return [found] if found else []
    return rapl_counters(root)


def not_available(device: str, root: Path = POWERCAP) -> dict[str, Any]:
    if device == "cuda":
        why = "NVML's total-energy counter is not readable (nvidia-ml-py, driver or GPU missing)"
    elif not root.exists():
        why = f"no RAPL counters ({root} does not exist: a virtual machine or a non-Intel/AMD CPU)"
    else:
        why = f"no readable RAPL package counter under {root} (reading energy_uj needs root)"
    return {"available": False, "reason": why}


def measure(
    counters: list[Counter],
    run_step: Callable[[], None],
    synchronize: Callable[[], None],
    items_per_step: int,
    window_s: float = 1.0,
    idle_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Joules per step and per item above idle, from ``counters`` read at the window's edges."""
    synchronize()
    start = [c.read() for c in counters]
    began = clock()
    sleep(idle_s)
    idle_time = clock() - began
    idle_end = [c.read() for c in counters]
    idle_watts = [
        c.delta(a, b) / idle_time for c, a, b in zip(counters, start, idle_end, strict=True)
    ]

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
    above_idle = total - sum(idle_watts) * elapsed
    per_step = above_idle / steps
    return {
        "available": True,
        "method": "+".join(sorted({c.method for c in counters})),
        "counters": [c.name for c in counters],
        "known_error": "; ".join(sorted({c.known_error for c in counters})),
        "window_s": elapsed,
        "steps": steps,
        "idle_s": idle_time,
        "idle_watts": sum(idle_watts),
        "joules_total": total,
        "joules_per_step": per_step,
        "joules_per_item": per_step / items_per_step if items_per_step else None,
        "watts_above_idle": above_idle / elapsed,
    }
