"""GPU facts for the environment record, through NVML. No GPU here: a stand-in module answers
as nvidia-ml-py would for an H100 (values recorded from NVML's documented return types), with
one query unsupported, as older GPUs answer."""

from __future__ import annotations

import types

from harness.machine.gpu_inventory import cuda_version, nvml_gpus


class NotSupported(Exception):
    """What NVMLError_NotSupported is to this test."""


class StandInNVML(types.SimpleNamespace):
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("handle", index)

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetUUID(self, handle):
        return "GPU-5a1c2a4e"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(total=85520809984, used=0, free=85520809984)

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return {1: 1980, 2: 2619}[clock]

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        return {1: 1980, 2: 2619}[clock]

    def nvmlDeviceGetApplicationsClock(self, handle, clock):
        raise NotSupported

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 700000

    def nvmlDeviceGetPersistenceMode(self, handle):
        return 1

    def nvmlDeviceGetEccMode(self, handle):
        return [1, 1]

    def nvmlDeviceGetMigMode(self, handle):
        return [0, 0]

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle):
        return 5

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle):
        return 5

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle):
        return 16

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle):
        return 16

    def nvmlDeviceGetNvLinkState(self, handle, link):
        return 1 if link < 18 else 0

    def nvmlDeviceGetNvLinkVersion(self, handle, link):
        return 4


def test_every_fact_is_read_and_an_unsupported_one_is_none():
    [gpu] = nvml_gpus(StandInNVML())
    assert gpu["name"] == "NVIDIA H100 80GB HBM3" and gpu["memory_mib"] == 81559
    assert gpu["driver"] == "550.54.15" and gpu["cuda_driver_version"] == "12.4"
    assert gpu["clocks_mhz"]["sm"] == 1980 and gpu["clocks_mhz"]["memory_max"] == 2619
    assert gpu["clocks_mhz"]["sm_application"] is None  # not supported: None, the rest intact
    assert gpu["power_limit_w"] == 700.0 and gpu["persistence_mode"] == 1
    assert gpu["ecc"] == {"current": True, "pending": True}
    assert gpu["mig"] == {"current": False, "pending": False}
    assert gpu["pcie"] == {"generation": 5, "generation_max": 5, "width": 16, "width_max": 16}
    assert gpu["nvlink"] == {"active_links": 18, "versions": [4]}
    assert gpu["clocks_locked"].startswith("unknown")


def test_no_driver_means_no_inventory():
    class NoDriver(StandInNVML):
        def nvmlInit(self):
            raise NotSupported("NVML Shared Library Not Found")

    assert nvml_gpus(NoDriver()) is None
    assert cuda_version(12080) == "12.8" and cuda_version(13000) == "13.0"
    assert cuda_version(None) is None


class TwoGpus(StandInNVML):
    """Two GPUs with their own UUIDs (NVML index 0 and 1)."""

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return f"handle{index}"

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-0000000{handle[-1]}-aaaa"

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return f"handle{uuid[len('GPU-0000000')]}"


def test_the_inventory_marks_the_gpu_the_worker_uses(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-00000001-aaaa")
    assert [g["worker"] for g in nvml_gpus(TwoGpus())] == [False, True]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert [g["worker"] for g in nvml_gpus(TwoGpus())] == [True, False]


class TwoNamedGpus(TwoGpus):
    def nvmlDeviceGetName(self, handle):
        return {"handle0": "NVIDIA A100-SXM4-80GB", "handle1": "NVIDIA H100 80GB HBM3"}[handle]


def test_the_record_names_the_worker_s_gpu_not_gpu_0(monkeypatch):
    from harness.machine import environment, gpu_inventory

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-00000001-aaaa")
    monkeypatch.setattr(gpu_inventory, "nvml_gpus", lambda: nvml_gpus(TwoNamedGpus()))
    facts = environment.collect()
    assert [g["name"] for g in facts["gpus"]] == ["NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"]
    assert facts["gpu_name"] == "NVIDIA H100 80GB HBM3"  # GPU 1, the worker's
