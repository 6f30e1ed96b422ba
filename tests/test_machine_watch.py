"""The machine watch and `harness doctor`, on recorded inputs (this VM has no cpufreq, no GPU
and no NVML: their arithmetic is tested on readings written down here) and on this machine."""

import types

import pytest

from harness.machine import doctor
from harness.machine.machine_watch import (
    CpuTimes,
    MachineWatch,
    cpu_usage,
    gpu_facts,
    noisy_reasons,
    parse_proc_stat,
    time_reference,
)

PROC_STAT = """cpu  1000 10 500 8000 100 5 5 20 0 0
cpu0 500 5 250 4000 50 2 2 10 0 0
intr 12345
"""


def test_proc_stat_busy_steal_and_total():
    busy, steal, total = parse_proc_stat(PROC_STAT)
    assert (busy, steal, total) == (1000 + 10 + 500 + 5 + 5, 20, 9640)
    with pytest.raises(ValueError):
        parse_proc_stat("intr 1\n")


def test_other_processes_cores_and_steal_between_two_readings():
    # 2 s of wall time at 100 ticks/s: the machine was busy for 300 ticks (3 CPU-seconds), of
    # which this task used 1.9 s; 4% of all ticks were stolen
    before = CpuTimes(busy=1000, steal=20, total=10_000, own_seconds=5.0, wall=100.0)
    after = CpuTimes(busy=1300, steal=36, total=10_400, own_seconds=6.9, wall=102.0)
    usage = cpu_usage(before, after, ticks_per_second=100)
    assert usage["own_cores"] == pytest.approx(0.95)
    assert usage["others_cores"] == pytest.approx(0.55)
    assert usage["steal_share"] == pytest.approx(0.04)


def test_each_reason_names_the_figure_that_tripped_it():
    watch = {
        "reference_drift": 0.032,
        "reference_resolution": 0.01,
        "others_cores": 0.6,
        "steal_share": 0.05,
        "gpu_after": {"throttle_reasons": ["thermal (hardware)"], "other_processes": [42]},
    }
    reasons = noisy_reasons(watch, precision_target=0.01)
    assert "drifted +3.2%" in reasons[0] and "±1.0% resolution" in reasons[0]
    assert "0.60 cores" in reasons[1] and "stole 5.0%" in reasons[2]
    assert "thermal (hardware)" in reasons[3] and "1 other process" in reasons[4]
    calm = {"reference_drift": 0.015, "reference_resolution": 0.01, "others_cores": 0.1}
    assert noisy_reasons(calm, 0.01) == []  # 1.5% is within target + resolution


class SteppedClock:
    """A clock that moves only when the kernel says: every reference timing is known exactly."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class SlowingKernel:
    """A reference kernel that takes ``seconds`` × ``factor`` on ``clock``: the machine
    changing speed, injected, not hoped for from a real loop on a busy machine."""

    def __init__(self, clock, seconds=2**-10):  # a power of two: the clock's sums are exact
        self.clock = clock
        self.seconds = seconds
        self.factor = 1.0
        self.calls = 0

    def __call__(self):
        self.calls += 1
        self.clock.now += self.seconds * self.factor


@pytest.mark.parametrize("factor, drift", [(1.5, 0.5), (1.125, 0.125), (0.75, -0.25)])
def test_the_drift_check_flags_an_injected_slowdown_of_the_reference(factor, drift):
    clock = SteppedClock()
    kernel = SlowingKernel(clock)
    watch = MachineWatch(kernel=kernel, clock=clock)
    watch.start()
    kernel.factor = factor  # the machine changes speed during the task
    result = watch.stop(precision_target=0.01)
    assert result["reference_drift"] == drift
    assert result["reference_resolution"] == 0.0  # every reading the same: known exactly
    assert result["noisy"] and "reference kernel drifted" in result["noisy_reasons"][0]


def test_an_unchanged_reference_is_not_flagged():
    clock = SteppedClock()
    watch = MachineWatch(kernel=SlowingKernel(clock), clock=clock)
    watch.start()
    result = watch.stop(precision_target=0.01)
    assert result["reference_drift"] == 0.0
    assert not any("reference kernel" in reason for reason in result["noisy_reasons"])


def test_an_unchanged_reference_is_timed_to_a_known_resolution():
    clock = SteppedClock()
    kernel = SlowingKernel(clock, seconds=2**-9)
    seconds, precision = time_reference(kernel, repeats=21, clock=clock)
    assert seconds == 2**-9 and precision == 0.0
    assert kernel.calls == 22  # one warm-up call, then the 21 timed


def test_the_real_reference_kernel_times_to_a_positive_median():
    seconds, precision = time_reference(repeats=5)  # this machine: no bound on either figure
    assert seconds > 0 and precision >= 0


class FakeNvml(types.SimpleNamespace):
    """NVML as nvidia-ml-py exposes it, with recorded answers."""

    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2
    NVML_TEMPERATURE_GPU = 0
    nvmlClocksThrottleReasonSwPowerCap = 0x4
    nvmlClocksThrottleReasonHwThermalSlowdown = 0x40

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return f"gpu{index}"

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return {1: 1410, 2: 1593}[clock]

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        return 1980

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle):
        return 0x4 | 0x1  # power cap, and the idle bit that does not count

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return [types.SimpleNamespace(pid=1), types.SimpleNamespace(pid=2)]

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 71

    def nvmlDeviceGetPowerUsage(self, handle):
        return 301_500  # milliwatts

    def nvmlDeviceGetPersistenceMode(self, handle):
        return 0

    def nvmlDeviceGetEccMode(self, handle):
        return (1, 1)

    def nvmlDeviceGetMigMode(self, handle):
        raise NVMLError_NotSupported("Not Supported")


class NVMLError_NotSupported(Exception):
    pass


class NVMLError_NoPermission(Exception):
    pass


def test_gpu_facts_from_nvml_readings(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    facts = gpu_facts(FakeNvml())
    assert facts.pop("device") == {
        "uuid": None,
        "source": "NVML's GPU 0 (CUDA_VISIBLE_DEVICES unset)",
    }
    assert facts == {
        "sm_clock_mhz": 1410,
        "sm_clock_max_mhz": 1980,
        "memory_clock_mhz": 1593,
        "throttle_reasons": ["power cap"],
        "temperature_c": 71,
        "power_w": 301.5,
        "other_processes": [1, 2],
    }


def test_doctor_gpu_checks_from_nvml_readings():
    checks = {c.name: c for c in doctor.check_gpus(FakeNvml())}
    assert checks["GPU 0 persistence"].ok is False and "-pm 1" in checks["GPU 0 persistence"].advice
    assert (
        checks["GPU 0 processes"].ok is False and "2 process" in checks["GPU 0 processes"].finding
    )
    assert checks["GPU 0 ECC"].finding == "on" and checks["GPU 0 MIG"].finding == "not supported"
    assert "lock-gpu-clocks" in checks["GPU 0 clocks"].advice


class LockedDownNvml(FakeNvml):
    """MIG without root, or a virtualized GPU: NVML answers NoPermission or NotSupported."""

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, index):
        if index == 1:
            raise NVMLError_NoPermission("Insufficient Permissions")
        return "gpu0"

    def nvmlDeviceGetPersistenceMode(self, handle):
        raise NVMLError_NotSupported("Not Supported")

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        raise NVMLError_NoPermission("Insufficient Permissions")


def test_doctor_turns_nvml_refusals_into_lines_not_tracebacks():
    checks = {c.name: c for c in doctor.check_gpus(LockedDownNvml())}
    assert checks["GPU 0 persistence"].finding == "not supported"
    assert checks["GPU 0 processes"].finding == "no permission (needs root)"
    assert checks["GPU 0 MIG"].finding == "not supported" and checks["GPU 0 ECC"].finding == "on"
    assert checks["GPU 1"].finding == "cannot be opened: no permission (needs root)"

    class NoCount(FakeNvml):
        def nvmlDeviceGetCount(self):
            raise NVMLError_NoPermission("Insufficient Permissions")

    [listed] = doctor.check_gpus(NoCount())
    assert listed.ok is None and "no permission" in listed.finding


def test_doctor_turns_docker_api_errors_into_lines():
    import docker

    class FailingEngine:
        closed = False

        def info(self):
            raise docker.errors.APIError("500 Server Error: Internal Server Error")

        def close(self):
            FailingEngine.closed = True

    [engine] = doctor.check_docker(FailingEngine)
    assert engine.ok is False and "info failed: 500 Server Error" in engine.finding
    assert FailingEngine.closed

    def broken_sdk():
        raise docker.errors.DockerException("Error while fetching server API version")

    [sdk] = doctor.check_docker(broken_sdk)
    assert sdk.ok is None and "not usable: Error while fetching" in sdk.finding


def test_doctor_checks_on_recorded_machine_files():
    vm = doctor.check_virtual_machine("processor : 0\nflags : fpu sse2 hypervisor avx2\n")
    metal = doctor.check_virtual_machine("flags : fpu sse2 avx2\n")
    assert vm.ok is False and metal.ok is True
    assert doctor.check_governor(lambda path: None).ok is None
    assert doctor.check_governor(lambda path: "powersave").ok is False
    assert doctor.check_governor(lambda path: "performance").ok is True
    assert doctor.check_boost(lambda path: "0" if "no_turbo" in str(path) else None).ok is False
    swap = doctor.check_swap("SwapTotal: 2097152 kB\nSwapFree: 1048576 kB\n")
    assert swap.ok is False and "1.0 GiB in use" in swap.finding
    assert doctor.check_swap("SwapTotal: 0 kB\nSwapFree: 0 kB\n").ok is True
    mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n"
    from pathlib import Path

    assert doctor.check_scratch(mounts, Path("/dev/shm/x")).ok is False
    assert doctor.check_scratch(mounts, Path("/var/tmp")).finding.endswith("on ext4")
    busy = CpuTimes(busy=0, steal=0, total=0, own_seconds=0.0, wall=0.0)
    later = CpuTimes(busy=100, steal=30, total=400, own_seconds=0.0, wall=1.0)
    activity = {c.name: c for c in doctor.check_cpu_activity(busy, later, 100)}
    assert activity["other processes"].ok is False and activity["steal"].ok is False
    assert "7.5%" in activity["steal"].finding


def test_doctor_on_this_machine_names_what_is_true_here(cli):
    result = cli("doctor")
    assert result.returncode in (0, 1), result
    lines = result.stdout.splitlines()
    named = {line[6:24].strip() for line in lines if line[:4] in ("ok  ", "FAIL", "info")}
    assert {"virtual machine", "CPU governor", "swap", "checkpoint scratch"} <= named
    from pathlib import Path

    cpuinfo = Path("/proc/cpuinfo").read_text()
    if "hypervisor" in cpuinfo:  # this project's machines: a shared VM, which doctor fails
        assert result.returncode == 1 and any(
            line.startswith("FAIL  virtual machine") for line in lines
        )
    governor = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if not governor.exists():
        assert any(
            line.startswith("info  CPU governor") and "not readable" in line for line in lines
        )
