"""Where a record ran, as ``harness.machine.environment.stamp`` folds it into
``Record.environment``: the machine's facts (``HostFacts``, from
``harness.machine.environment.collect``) and one task's place (``Placement``: its container,
Slurm job, Kubernetes pod, ab side). Each writes the keys it
always wrote, flat in the environment object."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from harness.record_parts.base import Part


@dataclass(frozen=True, kw_only=True)
class HostFacts(Part):
    """The machine a run (or a worker, or a node) started on. Every field is written, null
    where the machine does not say; a launcher's own facts (image, limits) go to ``extra``."""

    host: str | None = None
    cpu_model: str | None = None
    #: ``platform.machine()``: x86_64, aarch64
    cpu_arch: str | None = None
    #: CPUs this process may really use (affinity ∩ cpusets, lowered to the CPU quota)
    usable_cores: int | None = None
    logical_cores: int | None = None
    #: MemTotal (bytes)
    memory_bytes: int | None = None
    #: this process's cgroup limits (``harness.machine.environment.cgroup_limits``): cpu_quota
    #: (CPUs), cpu_quota_file, cpuset_cpus, affinity_cpus, usable_cores, memory_max (bytes), group
    cgroup: dict[str, Any] | None = None
    os: str | None = None
    os_release: str | None = None
    python: str | None = None
    python_implementation: str | None = None
    #: distribution name -> version, of ``harness.machine.environment.PACKAGES`` installed
    packages: dict[str, str] = field(default_factory=dict)
    #: the project's commit ("-dirty" with uncommitted changes) and branch
    git_commit: str | None = None
    git_branch: str | None = None
    #: the launcher that collected the facts: local, docker, slurm, k8s, worker...
    launcher: str | None = None
    gpu_count: int = 0
    #: the GPU the worker uses, else the first; null without one
    gpu_name: str | None = None
    #: every GPU as NVML (else nvidia-smi) reports it: name, memory, driver, uuid...
    gpus: list[dict[str, Any]] = field(default_factory=list)

    def written_when_none(self) -> frozenset[str]:
        return frozenset(self.field_names())


@dataclass(frozen=True, kw_only=True)
class Placement(Part):
    """One task's place, known only where it ran. Writes the fields it was given (null
    included: a placement's null overrides an earlier value, ``stamp``'s precedence 4)."""

    launcher: str | None = None
    host: str | None = None
    #: inside a container (``harness.machine.environment.ContainerFacts``): the worker's own view
    container_python: str | None = None
    container_os: str | None = None
    container_packages: dict[str, str] | None = None
    container_cgroup: dict[str, Any] | None = None
    container_uid: int | None = None
    container_root_writable: bool | None = None
    #: a Slurm element: whether it ran in Docker, and what Slurm says of the job
    slurm_container: str | None = None
    slurm_state: str | None = None
    slurm_job_id: str | None = None
    slurm_array_job_id: str | None = None
    slurm_array_task_id: str | None = None
    slurm_partition: str | None = None
    slurm_node: str | None = None
    slurm_cluster: str | None = None
    slurm_account: str | None = None
    slurm_qos: str | None = None
    slurm_cpus_on_node: str | None = None
    slurm_job_gpus: str | None = None
    #: a Kubernetes indexed job: its index, node and pod
    k8s_index: int | None = None
    k8s_node: str | None = None
    k8s_pod: str | None = None
    #: harness ab: the side (a or b) and the pair's number
    ab_side: str | None = None
    ab_pair: int | None = None
    #: the fields given, null ones included (bookkeeping, never written)
    given: frozenset[str] = field(
        default=frozenset(), compare=False, repr=False, metadata={"written": False}
    )

    @classmethod
    def of(cls, **facts: Any) -> Self:
        """A placement of exactly these facts (unknown names go to ``extra``)."""
        return cls.from_dict(facts)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        if isinstance(data, cls):
            return data
        given = frozenset(k for k in (data or {}) if k in cls.field_names())
        return dataclasses.replace(super().from_dict(data), given=given)

    def written_when_none(self) -> frozenset[str]:
        return self.given
