"""Which GPU the worker uses, as an NVML handle: the one resolution that energy
(``harness.machine.energy``), the machine watch and its GPU facts (``harness.machine.gpu_watch``)
share, so none of them reads physical GPU 0 while the worker runs on another.

In order:

1. the CUDA device the worker's framework is using, by UUID: torch's current device
   (``torch.cuda.get_device_properties(i).uuid``, read only where the workload already imported
   torch and initialised CUDA) or CuPy's current device (its PCI bus id). A UUID is the same in
   CUDA and NVML whatever ``CUDA_VISIBLE_DEVICES`` and ``CUDA_DEVICE_ORDER`` say;
2. otherwise the entry of ``CUDA_VISIBLE_DEVICES`` at the worker's device ordinal (0 where no
   framework says): a GPU index (NVML numbers GPUs in PCI bus order, so an index is exact only
   under ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` or on a machine of identical GPUs: the record's
   ``source`` says which rule decided), a UUID or a unique prefix of one (``GPU-8932f937``), a
   MIG device (``MIG-<uuid>``, or the older ``MIG-GPU-<uuid>/<gi>/<ci>``);
3. otherwise NVML's GPU at that ordinal: inside a container the NVIDIA runtime shows NVML only
   the container's GPUs, so the first is the container's own.

Nothing here imports a framework; this machine has no GPU, so the rules are tested through
stand-in NVML modules (tests/test_nvml_device.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class GpuNotFound(Exception):
    """NVML cannot name the worker's GPU; the message says why (one sentence)."""


@dataclass(frozen=True)
class CudaIdentity:
    """What the framework says of its current CUDA device: the ordinal among the visible
    devices, and its UUID (without the ``GPU-``/``MIG-`` prefix NVML adds) or PCI bus id."""

    ordinal: int = 0
    uuid: str | None = None
    pci_bus_id: str | None = None


@dataclass(frozen=True)
class NvmlDevice:
    """An NVML handle and how it was found (``source``, for the record)."""

    handle: Any
    uuid: str | None
    source: str

    def describe(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "source": self.source}


def framework_identity() -> CudaIdentity | None:
    """The current CUDA device of torch or CuPy where the workload already initialised one;
    None otherwise (nothing is imported or initialised here)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            index = torch.cuda.current_device()
            return CudaIdentity(index, str(torch.cuda.get_device_properties(index).uuid))
    except Exception:  # a torch without CUDA, a broken driver: fall back to the environment
        pass
    cupy = sys.modules.get("cupy")
    try:
        if cupy is not None:
            device = cupy.cuda.Device()
            return CudaIdentity(int(device.id), pci_bus_id=str(device.pci_bus_id))
    except Exception:
        pass
    return None


def visible_devices(environ: Mapping[str, str]) -> list[str] | None:
    """``CUDA_VISIBLE_DEVICES`` as CUDA reads it (entries up to the first empty or negative
    one); None where it is unset."""
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    entries = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break
        entries.append(entry)
    return entries


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _by_uuid(nvml: Any, uuid: str) -> Any:
    """The handle of a full UUID (``GPU-…`` or ``MIG-…``), or of a unique prefix of a GPU's."""
    try:
        return nvml.nvmlDeviceGetHandleByUUID(uuid)
    except Exception:
        pass
    matches = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        if _text(nvml.nvmlDeviceGetUUID(handle)).startswith(uuid):
            matches.append(handle)
    if len(matches) != 1:
        raise GpuNotFound(f"NVML knows {len(matches)} GPUs whose UUID starts with {uuid}")
    return matches[0]


def _old_mig(nvml: Any, entry: str) -> tuple[Any, str]:
    """``MIG-GPU-<uuid>/<gpu instance>/<compute instance>``: that MIG device, or its GPU."""
    parent_uuid, _, rest = entry[len("MIG-") :].partition("/")
    parent = _by_uuid(nvml, parent_uuid)
    gi, _, ci = rest.partition("/")
    try:
        for index in range(nvml.nvmlDeviceGetMaxMigDeviceCount(parent)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, index)
            except Exception:
                continue
            if str(nvml.nvmlDeviceGetGpuInstanceId(mig)) == gi and (
                str(nvml.nvmlDeviceGetComputeInstanceId(mig)) == ci
            ):
                return mig, f"CUDA_VISIBLE_DEVICES={entry} (MIG device {index})"
    except Exception:
        pass
    return parent, f"CUDA_VISIBLE_DEVICES={entry} (its parent GPU: the MIG device was not found)"


def _from_entry(nvml: Any, entry: str, environ: Mapping[str, str]) -> tuple[Any, str]:
    if entry.isdigit():
        order = environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
        note = "" if order == "PCI_BUS_ID" else f" (NVML's index; CUDA_DEVICE_ORDER={order})"
        return nvml.nvmlDeviceGetHandleByIndex(int(entry)), f"CUDA_VISIBLE_DEVICES={entry}{note}"
    if entry.startswith("MIG-GPU-"):
        return _old_mig(nvml, entry)
    if entry.startswith(("GPU-", "MIG-")):
        return _by_uuid(nvml, entry), f"CUDA_VISIBLE_DEVICES={entry}"
    raise GpuNotFound(f"CUDA_VISIBLE_DEVICES holds {entry!r}, neither an index nor a UUID")


def worker_gpu(
    nvml: Any,
    identity: CudaIdentity | None = None,
    environ: Mapping[str, str] | None = None,
) -> NvmlDevice:
    """The NVML handle of the worker's GPU (rules in the module docstring). ``nvml`` is an
    initialised NVML module (or a stand-in); ``identity`` defaults to ``framework_identity()``
    and ``environ`` to ``os.environ``. Raises GpuNotFound with the reason."""
    environ = os.environ if environ is None else environ
    identity = framework_identity() if identity is None else identity
    ordinal = identity.ordinal if identity else 0
    handle, source = None, ""
    try:
        if identity and identity.uuid:
            bare = identity.uuid
            tried = [bare] if bare.startswith(("GPU-", "MIG-")) else [f"GPU-{bare}", f"MIG-{bare}"]
            for candidate in tried:
                try:
                    handle = nvml.nvmlDeviceGetHandleByUUID(candidate)
                    source = "the CUDA device's UUID"
                    break
                except Exception:
                    continue
        if handle is None and identity and identity.pci_bus_id:
            try:
                handle = nvml.nvmlDeviceGetHandleByPciBusId(identity.pci_bus_id)
                source = "the CUDA device's PCI bus id"
            except Exception:
                pass
        if handle is None:
            visible = visible_devices(environ)
            if visible is not None:
                if ordinal >= len(visible):
                    raise GpuNotFound(
                        f"CUDA_VISIBLE_DEVICES={environ.get('CUDA_VISIBLE_DEVICES')!r} shows "
                        f"no device {ordinal}"
                    )
                handle, source = _from_entry(nvml, visible[ordinal], environ)
            else:
                handle = nvml.nvmlDeviceGetHandleByIndex(ordinal)
                source = f"NVML's GPU {ordinal} (CUDA_VISIBLE_DEVICES unset)"
    except GpuNotFound:
        raise
    except Exception as error:  # NVMLError_NotFound, NoPermission, InvalidArgument ...
        raise GpuNotFound(f"NVML could not open the worker's GPU: {error}") from None
    try:
        uuid: str | None = _text(nvml.nvmlDeviceGetUUID(handle))
    except Exception:
        uuid = None
    return NvmlDevice(handle, uuid, source)
