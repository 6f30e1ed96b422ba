"""What a result ran on: hardware, OS, Python, package versions, project commit.

Cheap by design: reads /proc and package metadata, runs ``git`` and ``nvidia-smi`` when present,
and never imports a framework. The worker adds the framework's own view (``runtime``).
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

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
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model name", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask: a container's cpuset, taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_quota(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU bandwidth limit of this cgroup in CPUs (docker --cpus, Kubernetes limits), if any.

    cgroup v2 ``cpu.max`` ("150000 100000" is 1.5 CPUs, "max 100000" no limit), else cgroup v1
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: no limit).
    """
    try:
        quota, period = (cgroup_root / "cpu.max").read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def worker_threads(cgroup_root: Path = Path("/sys/fs/cgroup")) -> tuple[int, str]:
    """Threads a worker should use when --threads does not say: the CPUs it may really use.

    The affinity mask (cpuset), lowered to the CPU quota rounded up (docker --cpus 1.5 -> 2).
    Returns (count, where it came from).
    """
    cores = usable_cores()
    quota = cpu_quota(cgroup_root)
    if quota is not None and math.ceil(quota) < cores:
        return max(1, math.ceil(quota)), "cpu-quota"
    return cores, "cpuset"


def memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cgroup_limits() -> dict[str, Any]:
    """CPU quota and memory limit of this cgroup (v2), as a container sees them."""
    limits: dict[str, Any] = {}
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        limits["cpu_quota"] = None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        memory = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        limits["memory_max"] = None if memory == "max" else int(memory)
    except (OSError, ValueError):
        pass
    return limits


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


def collect(launcher: str = "local", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from harness.gpu_inventory import nvml_gpus

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
        "gpu_name": gpu_list[0]["name"] if gpu_list else None,
        "gpus": gpu_list,
    }
    if extra:
        env.update(extra)
    return env


def _os_release() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None
