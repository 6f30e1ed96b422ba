"""Which GPU NVML reads: the worker's, not physical GPU 0. This machine has no GPU and no
NVML, so the rules run against a stand-in NVML of three GPUs (one split into MIG devices)
with the UUIDs and answers nvidia-ml-py gives."""

from __future__ import annotations

import types

import pytest

from harness.machine import energy
from harness.machine.nvml_device import CudaIdentity, GpuNotFound, visible_devices, worker_gpu

UUIDS = [
    "GPU-11111111-aaaa-bbbb-cccc-000000000000",
    "GPU-22222222-aaaa-bbbb-cccc-000000000000",
    "GPU-33333333-aaaa-bbbb-cccc-000000000000",
]
MIG = "MIG-44444444-aaaa-bbbb-cccc-000000000000"


class NVMLError_NotFound(Exception):
    pass


class StandInNVML(types.SimpleNamespace):
    """Three GPUs at NVML indices 0..2 (PCI order); GPU 2 holds MIG device 0 (GPU instance 1,
    compute instance 0). Handles are ("gpu", index) or ("mig", index)."""

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 3

    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < 3:
            raise NVMLError_NotFound("Invalid Argument")
        return ("gpu", index)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid in UUIDS:
            return ("gpu", UUIDS.index(uuid))
        if uuid == MIG:
            return ("mig", 0)
        raise NVMLError_NotFound("Not Found")

    def nvmlDeviceGetHandleByPciBusId(self, bus_id):
        return {"00000000:3B:00.0": ("gpu", 1)}[bus_id]

    def nvmlDeviceGetUUID(self, handle):
        return MIG if handle[0] == "mig" else UUIDS[handle[1]]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return 7 if handle == ("gpu", 2) else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        if index != 0:
            raise NVMLError_NotFound("Not Found")
        return ("mig", 0)

    def nvmlDeviceGetGpuInstanceId(self, handle):
        return 1

    def nvmlDeviceGetComputeInstanceId(self, handle):
        return 0

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if handle[0] == "mig":
            raise NVMLError_NotFound("Not Supported")
        return 1_000_000 * (handle[1] + 1)  # GPU i has used (i + 1) * 1000 J


def resolve(environ, identity=None):
    return worker_gpu(StandInNVML(), identity=identity or CudaIdentity(), environ=environ)


def test_unset_visible_devices_means_nvml_gpu_0_and_the_ordinal_otherwise():
    assert resolve({}).handle == ("gpu", 0)
    assert resolve({}, CudaIdentity(ordinal=1)).handle == ("gpu", 1)
    assert "unset" in resolve({}).source and resolve({}).uuid == UUIDS[0]


@pytest.mark.parametrize(
    ("visible", "ordinal", "handle"),
    [
        ("2", 0, ("gpu", 2)),  # an index: NVML's GPU 2, not GPU 0
        ("2,0", 1, ("gpu", 0)),  # the worker's ordinal picks the entry
        (UUIDS[1], 0, ("gpu", 1)),  # a full UUID
        ("GPU-33333333", 0, ("gpu", 2)),  # a unique prefix, as CUDA accepts
        (MIG, 0, ("mig", 0)),  # a MIG device by its UUID
        (f"MIG-{UUIDS[2]}/1/0", 0, ("mig", 0)),  # the older MIG-GPU-<uuid>/gi/ci form
    ],
)
def test_cuda_visible_devices_names_the_gpu(visible, ordinal, handle):
    found = resolve({"CUDA_VISIBLE_DEVICES": visible}, CudaIdentity(ordinal=ordinal))
    assert found.handle == handle and "CUDA_VISIBLE_DEVICES" in found.source


def test_an_index_says_when_cuda_may_number_gpus_otherwise_than_nvml():
    assert "CUDA_DEVICE_ORDER=FASTEST_FIRST" in resolve({"CUDA_VISIBLE_DEVICES": "1"}).source
    exact = resolve({"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
    assert exact.source == "CUDA_VISIBLE_DEVICES=1"


def test_the_frameworks_uuid_wins_over_the_environment():
    # torch's uuid has no GPU- prefix; CUDA_VISIBLE_DEVICES would say GPU 0
    identity = CudaIdentity(ordinal=0, uuid=UUIDS[2][len("GPU-") :])
    found = resolve({"CUDA_VISIBLE_DEVICES": "0"}, identity)
    assert found.handle == ("gpu", 2) and found.source == "the CUDA device's UUID"
    mig = resolve({}, CudaIdentity(uuid=MIG[len("MIG-") :]))
    assert mig.handle == ("mig", 0)
    by_bus = resolve({}, CudaIdentity(pci_bus_id="00000000:3B:00.0"))
    assert by_bus.handle == ("gpu", 1) and "PCI bus id" in by_bus.source


@pytest.mark.parametrize(
    ("visible", "ordinal", "reason"),
    [
        ("-1", 0, "shows no device 0"),
        ("0", 1, "shows no device 1"),
        ("GPU-", 0, "3 GPUs whose UUID starts with GPU-"),
        ("GPU-99", 0, "0 GPUs whose UUID starts"),
        ("7", 0, "NVML could not open"),
        ("fast", 0, "neither an index nor a UUID"),
    ],
)
def test_a_gpu_that_cannot_be_named_says_why(visible, ordinal, reason):
    with pytest.raises(GpuNotFound, match=reason):
        resolve({"CUDA_VISIBLE_DEVICES": visible}, CudaIdentity(ordinal=ordinal))


def test_visible_devices_stops_where_cuda_stops():
    assert visible_devices({}) is None
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "1, 0,-1,2"}) == ["1", "0"]


def test_the_energy_counter_reads_the_workers_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", UUIDS[2])
    [counter] = energy.counters_for("cuda", nvml=StandInNVML())
    assert counter.name == UUIDS[2] and counter.read() == pytest.approx(3000.0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", MIG)  # a MIG slice has no energy counter
    assert energy.counters_for("cuda", nvml=StandInNVML()) == []
