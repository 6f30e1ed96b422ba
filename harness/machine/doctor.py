"""``harness doctor``: the checks a careful person makes before benchmarking, one line each with
what to do. A check is ``ok`` (True), would distort a benchmark (False) or only informs (None:
not readable here, or not needed). Every check reads through a small function that tests feed
with recorded text (``/proc/stat``, ``/proc/cpuinfo``, ``/proc/mounts``, a stand-in NVML)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.machine.machine_watch import (
    OTHER_CORES_LIMIT,
    STEAL_LIMIT,
    CpuTimes,
    cpu_usage,
    read_cpu_times,
    read_text,
)
from harness.machine.mounts import MEMORY_FILESYSTEMS, filesystem_of

SYS_CPU = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    finding: str
    advice: str = ""

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "info"}[self.ok]
        text = f"{mark}  {self.name:18s} {self.finding}"
        return text + (f" — {self.advice}" if self.advice else "")


def check_governor(read: Callable[[Path], str | None] = read_text) -> Check:
    governor = read(SYS_CPU / "cpu0" / "cpufreq" / "scaling_governor")
    if governor is None:
        return Check(
            "CPU governor",
            None,
            "not readable (no cpufreq here: a virtual machine or a container)",
            "the host sets the frequency; watch the reference-kernel drift in each record",
        )
    if governor == "performance":
        return Check("CPU governor", True, "performance")
    return Check(
        "CPU governor",
        False,
        f"{governor}: the frequency follows the load",
        "sudo cpupower frequency-set -g performance",
    )


def check_boost(read: Callable[[Path], str | None] = read_text) -> Check:
    no_turbo = read(SYS_CPU / "intel_pstate" / "no_turbo")
    boost = read(SYS_CPU / "cpufreq" / "boost")
    if no_turbo is None and boost is None:
        return Check("turbo / boost", None, "not readable here")
    if no_turbo == "1" or boost == "0":
        return Check("turbo / boost", True, "off")
    return Check(
        "turbo / boost",
        False,
        "on: the clock depends on temperature and on how many cores are busy",
        "echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo "
        "(or 0 > /sys/devices/system/cpu/cpufreq/boost)",
    )


def check_virtual_machine(cpuinfo: str | None) -> Check:
    flags = next(
        (line for line in (cpuinfo or "").splitlines() if line.startswith("flags")), ""
    ).split()
    if "hypervisor" in flags:
        return Check(
            "virtual machine",
            False,
            "yes (hypervisor flag): a shared VM whose speed moves with other tenants",
            "expect process-to-process variation; run --processes 3 and compare runs made "
            "side by side, or benchmark on dedicated hardware",
        )
    if not flags:
        return Check("virtual machine", None, "unknown (no CPU flags readable)")
    return Check("virtual machine", True, "no hypervisor flag")


def check_cpu_activity(
    before: CpuTimes | None, after: CpuTimes | None, ticks: float
) -> list[Check]:
    """Other processes' CPU and the hypervisor's steal over a short sample."""
    if before is None or after is None:
        return [Check("other processes", None, "/proc/stat not readable")]
    usage = cpu_usage(before, after, ticks)
    if not usage:
        return [Check("other processes", None, "the sample was too short to tell")]
    others, steal = usage["others_cores"], usage["steal_share"]
    checks = [
        Check("other processes", True, f"{others:.2f} cores busy besides this one")
        if others <= OTHER_CORES_LIMIT
        else Check(
            "other processes",
            False,
            f"{others:.2f} cores busy with other processes{busiest_processes()}",
            "stop them, or pin the run away from them (--cpuset-cpus with docker)",
        )
    ]
    checks.append(
        Check("steal", True, f"{steal:.1%} of CPU time stolen by the hypervisor")
        if steal <= STEAL_LIMIT
        else Check(
            "steal",
            False,
            f"{steal:.1%} of CPU time stolen by the hypervisor",
            "another tenant is busy: run later, or on a dedicated host",
        )
    )
    return checks


def busiest_processes(limit: int = 3) -> str:
    try:
        import psutil

        processes = [p for p in psutil.process_iter(["pid", "name"]) if p.pid != os.getpid()]
        for process in processes:  # the first reading only starts each process's count
            try:
                process.cpu_percent(None)
            except psutil.Error:
                continue
        time.sleep(0.3)
        found = []
        for process in processes:
            try:
                percent = process.cpu_percent(None)
            except psutil.Error:
                continue
            if percent > 5:
                found.append((percent, process.info["name"]))
        found.sort(reverse=True)
        return " (" + ", ".join(f"{n} {c:.0f}%" for c, n in found[:limit]) + ")" if found else ""
    except Exception:
        return ""


def check_swap(meminfo: str | None) -> Check:
    values: dict[str, int] = {}
    for line in (meminfo or "").splitlines():
        key, _, rest = line.partition(":")
        if rest.strip().split():
            values[key] = int(rest.split()[0])
    total, free = values.get("SwapTotal"), values.get("SwapFree")
    if total is None or free is None:
        return Check("swap", None, "not readable")
    if total == 0:
        return Check("swap", True, "none")
    used = total - free
    if used > 0:
        return Check(
            "swap",
            False,
            f"{used / 2**20:.1f} GiB in use: memory pages may be on disk",
            "free memory (or swapoff -a) before benchmarking",
        )
    return Check("swap", True, f"{total / 2**20:.1f} GiB configured, none in use")


def check_scratch(mounts: str | None, folder: Path | None = None) -> Check:
    folder = folder or Path(os.environ.get("HARNESS_SCRATCH_DIR") or tempfile.gettempdir())
    kind = filesystem_of(folder, mounts)
    if kind is None:
        return Check("checkpoint scratch", None, f"{folder}: filesystem unknown")
    if kind in MEMORY_FILESYSTEMS:
        return Check(
            "checkpoint scratch",
            False,
            f"{folder} is on {kind} (memory): checkpoint loads cannot be cold",
            "set HARNESS_SCRATCH_DIR to a folder on a real disk",
        )
    return Check("checkpoint scratch", True, f"{folder} on {kind}")


def nvml_answer(error: BaseException) -> str:
    """An NVML error as a finding: NVMLError_NotSupported -> "not supported", NoPermission ->
    "no permission (needs root)", anything else by its message."""
    name = type(error).__name__
    if name.endswith("NotSupported"):
        return "not supported"
    if name.endswith("NoPermission"):
        return "no permission (needs root)"
    return f"NVML error: {str(error).strip() or name}"


def check_docker(client_factory: Callable[[], Any] | None = None) -> list[Check]:
    """Whether the Docker engine answers and has the NVIDIA runtime; an engine that errors is a
    line, never a traceback. ``client_factory`` defaults to the launcher's ``docker_client``."""
    from harness.errors import UserError
    from harness.machine.docker_client import docker_client

    try:
        client = (client_factory or docker_client)()
    except UserError:
        return [Check("Docker engine", None, "not reachable (only --launcher docker needs one)")]
    except Exception as error:  # the SDK's DockerException, a broken socket
        return [Check("Docker engine", None, f"not usable: {_first_line(error)}")]
    try:
        runtimes = set((client.info() or {}).get("Runtimes") or {})
    except Exception as error:  # docker.errors.APIError (500 from the engine), a dropped socket
        return [Check("Docker engine", False, f"reachable, but info failed: {_first_line(error)}")]
    finally:
        with contextlib.suppress(Exception):
            client.close()
    checks = [Check("Docker engine", True, "reachable")]
    if "nvidia" in runtimes:
        checks.append(Check("NVIDIA runtime", True, "registered with Docker"))
    else:
        checks.append(
            Check(
                "NVIDIA runtime",
                None,
                "not registered with Docker (only --gpus needs it)",
                "install the NVIDIA Container Toolkit on a GPU host",
            )
        )
    return checks


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _one_gpu(nvml: Any, index: int) -> list[Check]:
    """The checks of GPU ``index``; each NVML answer that is an error becomes its own line."""
    name = f"GPU {index}"
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
    except Exception as error:  # NoPermission under MIG without root, a lost GPU
        return [Check(name, None, f"cannot be opened: {nvml_answer(error)}")]
    checks = []
    try:
        persistence = nvml.nvmlDeviceGetPersistenceMode(handle)
        checks.append(
            Check(f"{name} persistence", True, "on")
            if persistence
            else Check(
                f"{name} persistence",
                False,
                "off: the driver reloads between runs (slow first steps)",
                "sudo nvidia-smi -pm 1",
            )
        )
    except Exception as error:
        checks.append(Check(f"{name} persistence", None, nvml_answer(error)))
    try:
        others = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        checks.append(
            Check(f"{name} processes", True, "none running")
            if not others
            else Check(
                f"{name} processes",
                False,
                f"{len(others)} process(es) already use it",
                "stop them: they share its SMs and memory",
            )
        )
    except Exception as error:
        checks.append(Check(f"{name} processes", None, nvml_answer(error)))
    for label, getter in (("ECC", "nvmlDeviceGetEccMode"), ("MIG", "nvmlDeviceGetMigMode")):
        try:
            current, _pending = getattr(nvml, getter)(handle)
            checks.append(Check(f"{name} {label}", None, "on" if current else "off"))
        except Exception as error:
            checks.append(Check(f"{name} {label}", None, nvml_answer(error)))
    checks.append(
        Check(
            f"{name} clocks",
            None,
            "NVML cannot say whether clocks are locked",
            "for repeatable figures: sudo nvidia-smi --lock-gpu-clocks=<MHz>",
        )
    )
    return checks


def check_gpus(nvml: Any = None) -> list[Check]:
    """Persistence mode, ECC, MIG and other processes of each GPU (NVML); clocks cannot be
    read as locked or not, so that is advice. An NVML answer of NotSupported or NoPermission
    (MIG without root, a virtualized GPU) is a line, never a traceback."""
    from harness.machine.gpu_inventory import started_nvml

    nvml = started_nvml(nvml)
    if nvml is None:
        return [Check("GPU", None, "no NVIDIA GPU here (nvidia-ml-py or the driver missing)")]
    checks: list[Check] = []
    try:
        count = nvml.nvmlDeviceGetCount()
        for index in range(count):
            checks += _one_gpu(nvml, index)
    except Exception as error:
        checks.append(Check("GPU", None, f"cannot be listed: {nvml_answer(error)}"))
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
    return checks or [Check("GPU", None, "none")]


def run_checks(sample_s: float = 0.5, docker: bool = True, gpus: bool = True) -> list[Check]:
    before = read_cpu_times()
    time.sleep(sample_s)
    after = read_cpu_times()
    checks = [
        check_virtual_machine(read_text(Path("/proc/cpuinfo"))),
        check_governor(),
        check_boost(),
        *check_cpu_activity(before, after, os.sysconf("SC_CLK_TCK")),
        check_swap(read_text(Path("/proc/meminfo"))),
        check_scratch(read_text(Path("/proc/mounts"))),
    ]
    if docker:
        checks += check_docker()
    if gpus:
        checks += check_gpus()
    return checks


def warning_line(checks: list[Check]) -> str | None:
    """One line for ``harness run`` when doctor would fail."""
    failed = [c for c in checks if c.ok is False]
    if not failed:
        return None
    what = "; ".join(f"{c.name}: {c.finding.split(':')[0]}" for c in failed)
    return f"this machine may distort measurements ({what}); run harness doctor for what to do."
