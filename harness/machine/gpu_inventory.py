"""The GPUs of this machine through NVML (nvidia-ml-py), not by parsing ``nvidia-smi``: name,
memory, driver and CUDA versions, clocks (current, maximum, application), power limit,
persistence, ECC, MIG, PCIe link and active NVLinks. Each figure is read on its own, so a query
a GPU does not support leaves that one field ``None`` and the rest intact.

This machine has no GPU: the readings are tested through a stand-in module
(tests/test_gpu_inventory.py); ``harness.machine.environment`` falls back to ``nvidia-smi`` where
nvidia-ml-py is not installed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable
from typing import Any

NVLINK_MAX_LINKS = 18  # NVML_NVLINK_MAX_LINKS


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _read(call: Callable[[], Any]) -> Any:
    try:
        return _text(call())
    except Exception:  # NVMLError_NotSupported, NoPermission, a function this driver lacks
        return None


def cuda_version(encoded: int | None) -> str | None:
    """NVML's CUDA driver version (12040) as text ("12.4")."""
    if not encoded:
        return None
    return f"{encoded // 1000}.{(encoded % 1000) // 10}"


def _pair(value: Any) -> dict[str, bool] | None:
    """(current, pending) modes, as ECC and MIG return them."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    return {"current": bool(value[0]), "pending": bool(value[1])}


def one_gpu(nvml: Any, index: int) -> dict[str, Any]:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = _read(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    sm, mem = nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM
    power_mw = _read(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
    links = []
    for link in range(NVLINK_MAX_LINKS):
        state = _read(functools.partial(nvml.nvmlDeviceGetNvLinkState, handle, link))
        if state == 1:
            links.append(_read(functools.partial(nvml.nvmlDeviceGetNvLinkVersion, handle, link)))
    return {
        "index": index,
        "name": _read(lambda: nvml.nvmlDeviceGetName(handle)),
        "uuid": _read(lambda: nvml.nvmlDeviceGetUUID(handle)),
        "memory_mib": int(memory.total / 2**20) if memory is not None else None,
        "driver": _read(nvml.nvmlSystemGetDriverVersion),
        "cuda_driver_version": cuda_version(_read(nvml.nvmlSystemGetCudaDriverVersion)),
        "clocks_mhz": {
            "sm": _read(lambda: nvml.nvmlDeviceGetClockInfo(handle, sm)),
            "sm_max": _read(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, sm)),
            "sm_application": _read(lambda: nvml.nvmlDeviceGetApplicationsClock(handle, sm)),
            "memory": _read(lambda: nvml.nvmlDeviceGetClockInfo(handle, mem)),
            "memory_max": _read(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, mem)),
        },
        # NVML reports no "locked" flag; nvidia-smi --lock-gpu-clocks shows only in the clocks
        "clocks_locked": "unknown: NVML does not report it",
        "power_limit_w": power_mw / 1000 if power_mw is not None else None,
        "persistence_mode": _read(lambda: nvml.nvmlDeviceGetPersistenceMode(handle)),
        "ecc": _pair(_read(lambda: nvml.nvmlDeviceGetEccMode(handle))),
        "mig": _pair(_read(lambda: nvml.nvmlDeviceGetMigMode(handle))),
        "pcie": {
            "generation": _read(lambda: nvml.nvmlDeviceGetCurrPcieLinkGeneration(handle)),
            "generation_max": _read(lambda: nvml.nvmlDeviceGetMaxPcieLinkGeneration(handle)),
            "width": _read(lambda: nvml.nvmlDeviceGetCurrPcieLinkWidth(handle)),
            "width_max": _read(lambda: nvml.nvmlDeviceGetMaxPcieLinkWidth(handle)),
        },
        "nvlink": {"active_links": len(links), "versions": sorted({v for v in links if v})},
    }


def started_nvml(nvml: Any = None) -> Any:
    """NVML initialized (``nvml``, a stand-in module, or nvidia-ml-py's ``pynvml``); None where
    it cannot be used: nvidia-ml-py or the driver absent. The caller shuts it down."""
    if nvml is None:
        try:
            nvml = importlib.import_module("pynvml")  # nvidia-ml-py
        except ImportError:
            return None
    try:
        nvml.nvmlInit()
    except Exception:
        return None
    return nvml


def nvml_gpus(nvml: Any = None) -> list[dict[str, Any]] | None:
    """Every GPU's facts, the worker's own marked ``"worker": true`` (resolved as energy and
    the machine watch resolve it: ``harness.machine.nvml_device``); None where NVML cannot be used
    (nvidia-ml-py or the driver absent)."""
    nvml = started_nvml(nvml)
    if nvml is None:
        return None
    try:
        found = [one_gpu(nvml, index) for index in range(nvml.nvmlDeviceGetCount())]
    except Exception:
        return None
    worker = _worker_uuid(nvml)
    for gpu in found:
        gpu["worker"] = worker is not None and gpu["uuid"] == worker
    return found


def _worker_uuid(nvml: Any) -> str | None:
    """The UUID of the GPU the worker uses (``harness.machine.nvml_device.worker_gpu``), or None."""
    from harness.machine.nvml_device import worker_gpu

    try:
        return worker_gpu(nvml).uuid
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
