"""The CPUs and memory this process may really use: its affinity mask and the limits of its own
cgroup and every ancestor of it, cgroup v1 and v2.

A CPU quota is set where the process lives, rarely at the root: a systemd slice, a batch
system's job step, a container started with ``--cgroupns=host`` (its group is
``/system.slice/docker-<id>.scope``, and the container sees the host's tree). So the group is
read from ``/proc/self/cgroup`` (``hierarchy:controllers:path``; ``0::path`` for v2) and every
directory from that group up to the mount's root is read; the tightest limit wins, since a
child can never use more than any of its ancestors allows. A mount rooted at the process's own
group (a private cgroup namespace) shows the group at the mount's root, which is always read.

Files read (kernel documentation, ``cgroup-v2.rst`` and ``cgroup-v1/cpusets.rst``,
``scheduler/sched-bwc.rst``): v2 ``cpu.max`` ("150000 100000" is 1.5 CPUs, "max 100000" no
limit), ``cpuset.cpus.effective``, ``memory.max``; v1 ``cpu.cfs_quota_us`` /
``cpu.cfs_period_us`` (quota -1: no limit), ``cpuset.cpus``, ``memory.limit_in_bytes``.
Both paths are arguments, so tests build v1 and v2 trees on disk.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
#: v1 reports "no memory limit" as the largest page-aligned 64-bit number
_V1_NO_LIMIT = 1 << 62


@dataclass(frozen=True)
class CpuLimits:
    """What bounds this process's CPUs. ``usable`` is the count workers should use: the
    affinity mask intersected with the cgroup cpusets, lowered to the tightest CPU quota
    rounded up (1.5 CPUs -> 2), never below 1."""

    affinity: int
    cpuset: int | None
    quota: float | None
    quota_file: str | None
    usable: int
    #: "cpu-quota" when the quota is what lowered ``usable``, else "cpuset"
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def own_groups(self_cgroup: Path = SELF_CGROUP) -> dict[str, str]:
    """The process's group per controller ("cpu", "cpuset", "memory"; "" for cgroup v2)."""
    groups: dict[str, str] = {}
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return groups
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            groups[""] = path
        for name in controllers.split(","):
            if name:
                groups[name] = path
    return groups


def _ancestors(path: str) -> list[str]:
    """'/a/b' -> ['a/b', 'a', ''] (relative to a mount; '' is its root)."""
    parts = [p for p in path.strip().split("/") if p and p not in (".", "..")]
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _directories(
    controller: str, cgroup_root: Path, self_cgroup: Path, v1_mounts: tuple[str, ...]
) -> Iterator[tuple[str, Path]]:
    """(version, directory) of the process's group and its ancestors that exist, v2 first."""
    groups = own_groups(self_cgroup)
    seen: set[Path] = set()
    mounts = [("v2", cgroup_root, groups.get("", "/"))]
    mounts += [("v2", cgroup_root / "unified", groups.get("", "/"))]
    for name in v1_mounts:
        mounts.append(("v1", cgroup_root / name, groups.get(controller, "/")))
    for version, mount, group in mounts:
        for relative in _ancestors(group):
            directory = mount / relative if relative else mount
            if directory not in seen and directory.is_dir():
                seen.add(directory)
                yield version, directory


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota_file(
    cgroup_root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP
) -> tuple[float | None, str | None]:
    """The tightest CPU bandwidth limit over the process's group and its ancestors, in CPUs,
    and the file that sets it; (None, None) when nothing limits it."""
    best: tuple[float | None, str | None] = (None, None)
    mounts = ("cpu", "cpu,cpuacct", "cpuacct,cpu")
    for version, directory in _directories("cpu", cgroup_root, self_cgroup, mounts):
        quota: float | None = None
        if version == "v2":
            text = _read(directory / "cpu.max")
            fields = text.split() if text else []
            if len(fields) == 2 and fields[0] != "max":
                try:
                    quota = int(fields[0]) / int(fields[1]) if int(fields[1]) > 0 else None
                except ValueError:
                    quota = None
            source = directory / "cpu.max"
        else:
            quota_text = _read(directory / "cpu.cfs_quota_us")
            period_text = _read(directory / "cpu.cfs_period_us")
            try:
                quota_us, period_us = int(quota_text or ""), int(period_text or "")
                quota = quota_us / period_us if quota_us > 0 and period_us > 0 else None
            except ValueError:
                quota = None
            source = directory / "cpu.cfs_quota_us"
        if quota is not None and (best[0] is None or quota < best[0]):
            best = (quota, str(source))
    return best


def parse_cpu_list(text: str) -> set[int]:
    """'0-3,8,10-11' -> {0, 1, 2, 3, 8, 10, 11} (the kernel's cpuset list format)."""
    cpus: set[int] = set()
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def cpuset_cpus(
    cgroup_root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP
) -> set[int] | None:
    """The CPUs every cpuset from the process's group up allows (their intersection), or None
    where no cpuset file says."""
    allowed: set[int] | None = None
    for version, directory in _directories("cpuset", cgroup_root, self_cgroup, ("cpuset",)):
        names = ("cpuset.cpus.effective", "cpuset.cpus") if version == "v2" else ("cpuset.cpus",)
        for name in names:
            text = _read(directory / name)
            if text:  # an empty v2 cpuset.cpus means "inherit"
                try:
                    cpus = parse_cpu_list(text)
                except ValueError:
                    break
                allowed = cpus if allowed is None else allowed & cpus
                break
    return allowed


def memory_limit(cgroup_root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> int | None:
    """The tightest memory limit (bytes) over the process's group and its ancestors, or None."""
    best: int | None = None
    for version, directory in _directories("memory", cgroup_root, self_cgroup, ("memory",)):
        text = _read(directory / ("memory.max" if version == "v2" else "memory.limit_in_bytes"))
        try:
            value = int(text) if text and text != "max" else None
        except ValueError:
            value = None
        if value is not None and value < _V1_NO_LIMIT and (best is None or value < best):
            best = value
    return best


def affinity() -> set[int]:
    """CPUs this process may be scheduled on (taskset, a container's cpuset)."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def cpu_limits(
    cgroup_root: Path = CGROUP_ROOT,
    self_cgroup: Path = SELF_CGROUP,
    cpus: set[int] | None = None,
) -> CpuLimits:
    """Affinity (``cpus``, default this process's mask) ∩ cpusets, lowered to the quota."""
    mask = affinity() if cpus is None else set(cpus)
    allowed = cpuset_cpus(cgroup_root, self_cgroup)
    usable_set = mask & allowed if allowed is not None and mask & allowed else mask
    cores = max(1, len(usable_set))
    quota, quota_file = cpu_quota_file(cgroup_root, self_cgroup)
    source = "cpuset"
    if quota is not None and math.ceil(quota) < cores:
        cores, source = max(1, math.ceil(quota)), "cpu-quota"
    return CpuLimits(
        affinity=len(mask),
        cpuset=len(allowed) if allowed is not None else None,
        quota=quota,
        quota_file=quota_file,
        usable=cores,
        source=source,
    )


def usable_cores(
    cgroup_root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP, cpus: set[int] | None = None
) -> int:
    """The CPUs this process can really keep busy: affinity ∩ cgroup cpusets, lowered to the
    tightest CPU quota of its own cgroup and its ancestors (rounded up). At least 1."""
    return cpu_limits(cgroup_root, self_cgroup, cpus).usable
