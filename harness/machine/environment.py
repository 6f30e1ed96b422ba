"""What a result ran on: hardware, OS, Python, package versions, project commit.

Cheap by design: reads /proc and package metadata, runs ``git`` and ``nvidia-smi`` when present,
and never imports a framework. The worker adds the framework's own view (``runtime``).
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.machine import cgroups
from harness.record_parts.placement import HostFacts, Placement

PACKAGES = (
    "trainstep-harness",
    "numpy",
    "pandas",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "jaxlib",
    "cupy",
    "cupy-cuda12x",
    "pillow",
    "safetensors",
    "docker",
)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model name", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """CPUs this process can really use: affinity ∩ cgroup cpusets, lowered to the tightest CPU
    quota of its own cgroup and its ancestors (``harness.machine.cgroups.usable_cores``)."""
    return cgroups.usable_cores()


def cpu_quota(
    cgroup_root: Path = cgroups.CGROUP_ROOT, self_cgroup: Path = cgroups.SELF_CGROUP
) -> float | None:
    """The tightest CPU bandwidth limit in CPUs (docker --cpus, Kubernetes limits, a systemd
    slice, a batch job) over this process's cgroup and its ancestors, v1 or v2; None if none."""
    return cgroups.cpu_quota_file(cgroup_root, self_cgroup)[0]


def worker_threads(
    cgroup_root: Path = cgroups.CGROUP_ROOT, self_cgroup: Path = cgroups.SELF_CGROUP
) -> tuple[int, str]:
    """Threads a worker should use when --threads does not say: the CPUs it may really use.

    The affinity mask ∩ cpusets, lowered to the CPU quota rounded up (docker --cpus 1.5 -> 2).
    Returns (count, where it came from: "cpuset" or "cpu-quota").
    """
    limits = cgroups.cpu_limits(cgroup_root, self_cgroup)
    return limits.usable, limits.source


def memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cgroup_limits(
    cgroup_root: Path = cgroups.CGROUP_ROOT, self_cgroup: Path = cgroups.SELF_CGROUP
) -> dict[str, Any]:
    """This process's CPU and memory limits from its own cgroup and its ancestors (v1 and v2):
    cpu_quota (CPUs) and the file that sets it, cpuset_cpus, affinity_cpus, usable_cores,
    memory_max (bytes; None: no limit) and the group it lives in."""
    limits = cgroups.cpu_limits(cgroup_root, self_cgroup)
    groups = cgroups.own_groups(self_cgroup)
    return {
        "group": groups.get("cpu") or groups.get(""),
        "cpu_quota": limits.quota,
        "cpu_quota_file": limits.quota_file,
        "cpuset_cpus": limits.cpuset,
        "affinity_cpus": limits.affinity,
        "usable_cores": limits.usable,
        "memory_max": cgroups.memory_limit(cgroup_root, self_cgroup),
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_branch() -> str | None:
    """The branch being measured: HARNESS_GIT_BRANCH, a CI's own variable (a CI checks out a
    detached HEAD), else git's."""
    for variable in (
        "HARNESS_GIT_BRANCH",
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "CI_COMMIT_REF_NAME",
    ):
        if os.environ.get(variable):
            return os.environ[variable]
    if not shutil.which("git"):
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    branch = out.stdout.strip()
    return branch if out.returncode == 0 and branch and branch != "HEAD" else None


def git_commit() -> str | None:
    if os.environ.get("HARNESS_GIT_COMMIT"):
        return os.environ["HARNESS_GIT_COMMIT"]
    if not shutil.which("git"):
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def gpus() -> list[dict[str, Any]]:
    """NVIDIA GPUs as nvidia-smi reports them; empty when there is none."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,memory.total,driver_version,uuid",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            found.append(
                {
                    "name": parts[0],
                    "memory_mib": int(float(parts[1])),
                    "driver": parts[2],
                    "uuid": parts[3],
                }
            )
    return found


def collect(launcher: str = "local", extra: dict[str, Any] | None = None) -> HostFacts:
    """The facts of this machine (``HostFacts``); ``extra``: a launcher's own (image,
    limits), which win a key both have."""
    from harness.machine.gpu_inventory import nvml_gpus

    gpu_list = nvml_gpus() or gpus()  # NVML's facts; nvidia-smi where nvidia-ml-py is absent
    env = {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_arch": platform.machine(),
        "usable_cores": usable_cores(),
        "logical_cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "cgroup": cgroup_limits(),
        "os": f"{platform.system()} {platform.release()}",
        "os_release": _os_release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_branch": git_branch(),
        "launcher": launcher,
        "gpu_count": len(gpu_list),
        # the GPU the worker uses (harness.machine.nvml_device marks it), else the first
        "gpu_name": next(
            (g["name"] for g in gpu_list if g.get("worker")),
            gpu_list[0]["name"] if gpu_list else None,
        ),
        "gpus": gpu_list,
    }
    if extra:
        env.update(extra)
    return HostFacts.from_dict(env)


def _os_release() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class ContainerFacts:
    """What the worker saw of its own container (``Record.worker_environment``), folded into
    the record's environment as ``container_<field>`` by the Docker launcher."""

    python: str | None = None
    os: str | None = None
    packages: dict[str, str] | None = None
    cgroup: dict[str, Any] | None = None
    uid: int | None = None
    root_writable: bool | None = None

    @classmethod
    def of(cls, inner: dict[str, Any]) -> ContainerFacts:
        """From the worker's own ``collect()`` (with ``uid`` and ``root_writable``)."""
        return cls(inner.get("python"), inner.get("os_release"), inner.get("packages"),
                   inner.get("cgroup"), inner.get("uid"), inner.get("root_writable"))  # fmt: skip

    def placement(self) -> Placement:
        """The environment keys these facts fill (``container_<field>``, every one)."""
        return Placement.of(**{f"container_{key}": value for key, value in asdict(self).items()})


def stamp(
    record: Any,
    run: Mapping[str, Any] | None = None,
    launcher: Mapping[str, Any] | None = None,
    placement: Placement | Mapping[str, Any] | None = None,
) -> None:
    """Fold where ``record`` ran into ``record.environment``: the one writer of that part, used
    by the runner, every launcher and every element (Slurm, Kubernetes, ab).

    Precedence, lowest first (a later source wins a key both have):

    1. ``run``: the facts of the machine the run started on (``collect()``: host, CPU, GPU,
       packages, commit), the defaults for every record;
    2. ``launcher``: what the launcher sets for all its tasks (``Launcher.environment()``:
       image, limits, its name);
    3. what the record already holds: facts written closer to the task (a Slurm element's
       node, stamped before the record reached the runner);
    4. ``placement``: this one task's place, known only where it ran (its container's facts,
       Slurm's job and node, the Kubernetes pod, ab's side and pair), a ``Placement``: the
       fields it was given win, null ones included.

    ``run`` is a ``HostFacts`` (``collect()``) or, from outside readers (pytest-benchmark), the
    same keys as a mapping; the result is the record's environment object as it is written.
    """
    record.environment = {
        **_plain(run),
        **_plain(launcher),
        **(record.environment or {}),
        **_plain(Placement.from_dict(placement) if placement is not None else None),
    }


def _plain(facts: Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(facts, HostFacts | Placement):
        return facts.to_dict()
    return dict(facts or {})
