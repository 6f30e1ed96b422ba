"""The machine watched during a task's measured blocks (``Record.machine``), written by
``harness.machine.machine_watch.MachineWatch.stop`` alone; on disk the object it has always been."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.record_parts.base import Part


@dataclass(frozen=True, kw_only=True)
class GpuFacts(Part):
    """One NVML reading of the worker's GPU (``harness.machine.gpu_watch.read_facts``), or the error
    that stopped it."""

    #: SM clock now and its maximum (MHz)
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    #: memory clock (MHz)
    memory_clock_mhz: int | None = None
    #: NVML's clock-event reasons active at the reading, by name
    throttle_reasons: list[str] | None = None
    #: degrees Celsius
    temperature_c: int | None = None
    #: board power (watts)
    power_w: float | None = None
    #: process ids of other processes using the GPU
    other_processes: list[int] | None = None
    #: the worker's GPU (``harness.machine.nvml_device``): uuid and how it was found
    device: dict[str, Any] | None = None
    #: why NVML could not read the facts (a MIG slice, an old driver)
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class GpuDuring(Part):
    """What the GPU did during the blocks (``harness.machine.gpu_watch.during``)."""

    #: seconds the sampler watched
    watched_s: float | None = None
    #: SM clock samples taken, and those taken while the GPU was not idle
    samples: int | None = None
    samples_under_load: int | None = None
    #: median, min, max of the SM clock under load (MHz); null without a loaded sample
    sm_clock_under_load_mhz: dict[str, float] | None = None
    #: clock-event reason -> samples in which it was active
    throttle_samples: dict[str, int] = field(default_factory=dict)
    #: policy (power, thermal) -> seconds NVML's violation counter held the clocks down
    violation_s: dict[str, float | None] = field(default_factory=dict)
    #: the same, as a share of ``watched_s``
    violation_share: dict[str, float | None] = field(default_factory=dict)
    #: seconds between two samples
    sample_interval_s: float | None = None
    #: the sampler's first error, where one happened
    sampler_error: str | None = None

    KEEP_NONE = frozenset({"sm_clock_under_load_mhz"})


@dataclass(frozen=True, kw_only=True)
class MachineReading(Part):
    """The machine around the measured blocks: a reference kernel timed before and after, the
    CPU that other processes and the hypervisor took, load, governor and frequency, and on a
    GPU its NVML facts before, after and during; ``noisy`` with the reasons that tripped it."""

    #: the reference kernel's median time before and after the blocks (seconds)
    reference_before_s: float | None = None
    reference_after_s: float | None = None
    #: the two readings' own precision added (relative): a smaller drift is not seen
    reference_resolution: float | None = None
    #: after ÷ before - 1; null when the before-reading was zero
    reference_drift: float | None = None
    #: 1, 5 and 15 minute load averages
    load_average: list[float] | None = None
    #: cpu0's frequency governor and current frequency (MHz); null where not readable
    governor: str | None = None
    cpu_mhz: float | None = None
    #: seconds between the two /proc/stat readings (absent when either failed)
    wall_s: float | None = None
    #: cores used on average by this task's process tree and by every other process
    own_cores: float | None = None
    others_cores: float | None = None
    #: share of the machine's CPU time the hypervisor stole
    steal_share: float | None = None
    #: on a GPU: the worker's device, its facts before and after, what it did during
    gpu_device: dict[str, Any] | None = None
    gpu_before: GpuFacts | None = None
    gpu_after: GpuFacts | None = None
    gpu_during: GpuDuring | None = None
    #: on a GPU: why it could not be watched
    gpu_error: str | None = None
    noisy: bool = False
    noisy_reasons: list[str] = field(default_factory=list)

    KEEP_NONE = frozenset({"reference_drift", "load_average", "governor", "cpu_mhz"})
    NESTED: ClassVar[dict[str, type[Part]]] = {
        "gpu_before": GpuFacts,
        "gpu_after": GpuFacts,
        "gpu_during": GpuDuring,
    }
