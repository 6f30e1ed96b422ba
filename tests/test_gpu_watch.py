"""Throttling seen while it happens, and the worker not counted as another process. This
machine has no GPU: NVML is a stand-in whose clocks, clock-event reasons and violation
counters move as a real GPU's would while the measured blocks run."""

from __future__ import annotations

import os
import threading
import types

import pytest

from harness.machine.gpu_watch import (
    GpuWatch,
    during,
    other_processes,
    own_pids,
    throttle_names,
    throttled_reasons,
)
from harness.machine.machine_watch import MachineWatch, noisy_reasons

POWER_CAP, HW_THERMAL, IDLE = 0x4, 0x40, 0x1


class Violation(types.SimpleNamespace):
    """nvmlViolationTime_t: referenceTime (µs) and violationTime (ns)."""


class LoadedGpu:
    """A GPU that, once ``load()`` is called, runs at 1410 MHz power-capped and accumulates
    power-policy violation time; idle before and after (1980 MHz, the idle bit). Only the
    NVML 12.5+ names exist here (nvmlDeviceGetCurrentClocksEventReasons and
    nvmlClocksEventReason*), as in recent nvidia-ml-py."""

    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2
    NVML_TEMPERATURE_GPU = 0
    NVML_PERF_POLICY_POWER = 0
    NVML_PERF_POLICY_THERMAL = 1
    nvmlClocksEventReasonSwPowerCap = POWER_CAP
    nvmlClocksEventReasonHwThermalSlowdown = HW_THERMAL

    def __init__(self, processes=()):
        self.loaded = threading.Event()
        self.power_violation_ns = 5_000_000_000  # since the driver loaded
        self.processes = list(processes)
        self.shutdowns = 0

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("gpu", index)

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle[1]}"

    def nvmlDeviceGetClockInfo(self, handle, clock):
        if clock == self.NVML_CLOCK_MEM:
            return 2619
        return 1410 if self.loaded.is_set() else 1980

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        return 1980

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return POWER_CAP if self.loaded.is_set() else IDLE

    def nvmlDeviceGetViolationStatus(self, handle, policy):
        if policy == self.NVML_PERF_POLICY_THERMAL:
            raise RuntimeError("NVMLError_NotSupported")
        return Violation(referenceTime=0, violationTime=self.power_violation_ns)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [types.SimpleNamespace(pid=p, usedGpuMemory=2**30) for p in self.processes]

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 80

    def nvmlDeviceGetPowerUsage(self, handle):
        return 700_000

    def load(self, violation_s):
        self.loaded.set()
        self.power_violation_ns += int(violation_s * 1e9)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_throttling_during_the_blocks_is_seen_and_flagged(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpu, clock = LoadedGpu(), FakeClock()
    watch = GpuWatch(gpu, clock=clock)
    watch.start()
    assert watch.sampler is not None
    watch.sampler.interval_s = 0.001
    gpu.load(violation_s=0.5)  # the measured blocks: power-capped for 0.5 s of 4 s
    clock.now += 4.0
    for _ in range(20_000):  # until the sampler has seen the load three times
        if sum(1 for mhz, _ in list(watch.sampler.samples) if mhz == 1410) >= 3:
            break
        threading.Event().wait(0.001)
    gpu.loaded.clear()  # the last synchronize: the GPU is idle when "after" is read
    found = watch.stop()
    assert found["gpu_after"]["throttle_reasons"] == []  # the idle reading cannot see it
    assert found["gpu_before"]["sm_clock_mhz"] == 1980
    seen = found["gpu_during"]
    assert seen["violation_s"] == {"power": pytest.approx(0.5), "thermal": None}
    assert seen["violation_share"]["power"] == pytest.approx(0.125)
    assert seen["sm_clock_under_load_mhz"]["median"] == 1410 and seen["sample_interval_s"] == 0.001
    assert seen["throttle_samples"]["power cap"] >= 3
    assert found["gpu_device"]["uuid"] == "GPU-0" and gpu.shutdowns == 1
    reasons = noisy_reasons({**found, "reference_drift": 0.0}, precision_target=0.01)
    assert any("power policy held the GPU clocks down for 0.50 s (12%" in r for r in reasons)
    assert any("throttled (power cap) in" in r for r in reasons)


def test_a_calm_gpu_is_not_flagged():
    summary = during(LoadedGpu(), [(1980, 0), (1975, 0)], {"power": 0, "thermal": 10_000}, 2.0)
    assert summary["sm_clock_under_load_mhz"] == {"median": 1977.5, "min": 1975, "max": 1980}
    assert throttled_reasons(summary) == []  # 10 µs of thermal policy: below the 1% limit
    assert during(LoadedGpu(), [(210, IDLE)], {}, 1.0)["sm_clock_under_load_mhz"] is None


def test_old_and_new_clock_reason_names_and_the_header_bits():
    assert throttle_names(LoadedGpu(), POWER_CAP | IDLE) == ["power cap"]
    old = types.SimpleNamespace(nvmlClocksThrottleReasonHwThermalSlowdown=HW_THERMAL)
    assert throttle_names(old, HW_THERMAL | 0x8) == ["hardware slowdown", "thermal (hardware)"]


def test_the_worker_is_not_another_process_on_the_host_or_in_a_container():
    me = os.getpid()
    assert me in own_pids()
    assert own_pids("Name:\tpython\nNSpid:\t4242\t17\n") >= {4242, 17}
    # on the host: NVML reports our PID, which is dropped; the rest are others
    assert other_processes([me, 901], {me}, uses_gpu=True, pid_visible=lambda p: True) == [901]
    # in a container: NVML reports host PIDs (none of ours); one we cannot see is ourselves
    in_container = other_processes(
        [88001], {me}, uses_gpu=True, pid_visible=lambda pid: False
    )  # fmt: skip
    assert in_container == []
    two = other_processes([88001, 88002], {me}, uses_gpu=True, pid_visible=lambda p: False)
    assert len(two) == 1
    # a watcher with no context on the GPU (doctor, gpu_facts) drops nothing
    assert other_processes([88001], {me}, uses_gpu=False, pid_visible=lambda p: False) == [88001]


def test_the_machine_watch_in_a_container_counts_no_process_for_the_worker(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    host_pid = 3_999_999_999  # no such PID here: the host's view of this worker
    watch = MachineWatch(device="cuda", kernel=lambda: None, nvml=LoadedGpu([host_pid]))
    watch.start()
    found = watch.stop(precision_target=0.5)
    assert found["gpu_after"]["other_processes"] == []
    assert not any("used the GPU" in r for r in found["noisy_reasons"])


def test_a_gpu_that_cannot_be_named_is_said_not_guessed(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    gpu = LoadedGpu()
    watch = GpuWatch(gpu)
    watch.start()
    assert watch.stop() == {"gpu_error": "CUDA_VISIBLE_DEVICES='-1' shows no device 0"}
    assert gpu.shutdowns == 1
