"""Energy per step: the arithmetic on recorded counters and a fake clock (no GPU, no RAPL on
this machine), the RAPL reader on a powercap tree written to disk, NVML through a stand-in
module, and a real record saying "not available" where neither counter exists."""

from __future__ import annotations

import pytest

from harness.machine import energy
from harness.machine.energy import Counter
from tests.conftest import read_jsonl


class Meter:
    """A fake clock and an energy counter that fills at idle power, plus a known energy per
    step while steps run."""

    def __init__(self, idle_watts: float, joules_per_step: float, step_seconds: float):
        self.now = 0.0
        self.joules = 1000.0
        self.idle_watts = idle_watts
        self.per_step = joules_per_step
        self.step_seconds = step_seconds

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.joules += self.idle_watts * seconds

    def step(self) -> None:
        self.now += self.step_seconds
        self.joules += self.idle_watts * self.step_seconds + self.per_step


@pytest.fixture
def binary_poll(monkeypatch):
    """Poll the counter every 2^-10 s: with steps of 2^-6 s every time on the fake clock is a
    binary fraction, so window edges fall exactly where the arithmetic says."""
    monkeypatch.setattr(energy, "POLL_S", 2**-10)


def test_idle_is_subtracted_and_energy_is_per_step_and_per_item(binary_poll):
    meter = Meter(idle_watts=40.0, joules_per_step=0.25, step_seconds=2**-6)
    counter = Counter("gpu0", "nvml-total-energy", "known", lambda: meter.joules)
    found = energy.measure(
        [counter], meter.step, lambda: None, items_per_step=128,
        clock=meter.clock, sleep=meter.sleep,
    )  # fmt: skip
    assert found["available"] is True and found["method"] == "nvml-total-energy"
    assert found["idle_watts"] == pytest.approx(40.0)
    assert found["steps"] == 64 and found["window_s"] == pytest.approx(1.0)
    assert found["joules_per_step"] == pytest.approx(0.25)
    assert found["joules_per_item"] == pytest.approx(0.25 / 128)
    assert found["watts_above_idle"] == pytest.approx(16.0)
    assert found["cooldown_settled"] is True and found["counter_update_s"] == 2**-10


def test_a_counter_that_rolls_over_is_read_across_the_wrap():
    counter = Counter("package-0", "rapl", "known", lambda: 0.0, wrap=262143.328850)
    assert counter.delta(262143.0, 2.0) == pytest.approx(2.328850)
    assert counter.delta(5.0, 7.5) == 2.5


def write_zone(root, name, label, energy_uj, wrap_uj):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
    return zone


def test_rapl_reads_one_counter_per_package_not_its_subzones(tmp_path):
    package = write_zone(tmp_path, "intel-rapl:0", "package-0", 5_000_000, 262143328850)
    write_zone(tmp_path, "intel-rapl:0:0", "core", 1_000_000, 262143328850)
    write_zone(tmp_path, "intel-rapl:1", "package-1", 7_000_000, 262143328850)
    counters = energy.rapl_counters(tmp_path)
    assert [c.name for c in counters] == ["package-0", "package-1"]
    assert counters[0].read() == 5.0 and counters[0].wrap == pytest.approx(262143.328850)
    (package / "energy_uj").write_text("6500000\n")
    assert counters[0].read() == 6.5
    assert [c.name for c in energy.counters_for("cpu", root=tmp_path)] == ["package-0", "package-1"]


class StandInNVML:
    """nvidia-ml-py's functions that the energy counter calls, over a recorded reading."""

    def __init__(self, millijoules: int | None):
        self.millijoules = millijoules

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        return f"handle{index}"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if self.millijoules is None:
            raise RuntimeError("NVMLError_NotSupported")  # a GPU older than Volta
        return self.millijoules


def test_nvml_counter_is_in_joules_and_absent_where_not_supported():
    nvml = StandInNVML(123_456_789)
    [counter] = energy.counters_for("cuda", nvml=nvml)
    assert counter.read() == pytest.approx(123_456.789) and counter.method == "nvml-total-energy"
    assert energy.counters_for("cuda", nvml=StandInNVML(None)) == []


def test_not_available_says_why(tmp_path):
    missing = energy.not_available("cpu", tmp_path / "powercap")
    assert missing["available"] is False and "does not exist" in missing["reason"]
    assert "root" in energy.not_available("cpu", tmp_path)["reason"]
    assert "NVML" in energy.not_available("cuda")["reason"]


@pytest.mark.skipif(
    bool(energy.rapl_counters()), reason="this machine has RAPL: the record measures energy"
)
def test_a_record_says_energy_is_not_available_here(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    done = cli("run", "--suite", "smoke", "--workload", "numpy.linreg", "--results-file", str(out))
    assert done.returncode == 0, done
    [record] = read_jsonl(out)
    assert record["energy"]["available"] is False
    assert "RAPL" in record["energy"]["reason"]


class TailMeter(Meter):
    """A board still hot from the measured blocks: on top of idle, a tail of ``tail_watts``
    that decays with time constant ``tau_s`` (energy integrated exactly)."""

    def __init__(self, tail_watts: float, tau_s: float, **kwargs):
        super().__init__(**kwargs)
        self.tail_watts, self.tau_s, self.hot_until = tail_watts, tau_s, 0.0

    def _tail(self, start: float, end: float) -> float:
        import math

        since = (start - self.hot_until, end - self.hot_until)
        return (
            self.tail_watts
            * self.tau_s
            * (math.exp(-since[0] / self.tau_s) - math.exp(-since[1] / self.tau_s))
        )

    def sleep(self, seconds: float) -> None:
        self.joules += self._tail(self.now, self.now + seconds)
        super().sleep(seconds)


def test_the_idle_window_waits_for_the_board_to_cool(binary_poll):
    # 150 W of tail decaying with a 1 s time constant: read at once, idle would be ~2.4x
    meter = TailMeter(
        tail_watts=150.0, tau_s=1.0, idle_watts=40.0, joules_per_step=0.25, step_seconds=2**-6
    )
    counter = Counter("gpu0", "nvml-total-energy", "known", lambda: meter.joules)
    found = energy.measure(
        [counter], meter.step, lambda: None, items_per_step=1,
        clock=meter.clock, sleep=meter.sleep,
    )  # fmt: skip
    assert found["cooldown_settled"] is True and found["cooldown_s"] > 2.0
    assert found["idle_watts"] == pytest.approx(40.0, rel=0.05)
    meter_without_wait = TailMeter(
        tail_watts=150.0, tau_s=1.0, idle_watts=40.0, joules_per_step=0.25, step_seconds=2**-6
    )
    start = meter_without_wait.joules
    meter_without_wait.sleep(1.0)
    assert meter_without_wait.joules - start > 100.0  # what the old idle window measured


class SteppedCounter:
    """A counter that, like NVML's, refreshes only every ``update_s``: a read returns the
    energy at the last update."""

    def __init__(self, meter: Meter, update_s: float):
        self.meter, self.update_s = meter, update_s
        self.shown, self.next_update = meter.joules, 0.0

    def read(self) -> float:
        while self.meter.now >= self.next_update:
            self.shown = self.meter.joules
            self.next_update += self.update_s
        return self.shown


def test_the_counter_granularity_is_measured_and_bounds_the_error():
    meter = Meter(idle_watts=70.0, joules_per_step=0.5, step_seconds=0.003)
    stepped = SteppedCounter(meter, update_s=0.1)
    counter = Counter("gpu0", "nvml-total-energy", "known", stepped.read)
    found = energy.measure(
        [counter], meter.step, lambda: None, items_per_step=1,
        clock=meter.clock, sleep=meter.sleep,
    )  # fmt: skip
    assert found["counter_update_s"] == pytest.approx(0.1, abs=0.002)
    assert found["window_s"] >= 20 * 0.1 - 0.01  # at least 20 updates, not 1 s
    error = found["granularity_error_joules_per_step"]
    assert error > 0 and found["granularity_error_share"] == pytest.approx(error / 0.5, rel=0.05)
    assert abs(found["joules_per_step"] - 0.5) <= error  # the truth lies within the bound


def test_a_counter_that_never_moves_in_the_poll_limit_gives_the_limit_as_its_interval():
    clock = [0.0]

    def sleep(s):
        clock[0] += s

    frozen = Counter("gpu0", "nvml-total-energy", "known", lambda: 5.0)
    assert energy.update_interval([frozen], lambda: clock[0], sleep) == energy.UPDATE_LIMIT_S


class FusedWorkload:
    """A workload with a fused step (as keras.step on TensorFlow): ``step`` runs the three
    phase prefixes (about twice the joules), ``fused_step`` the real step once."""

    has_fused_step = True

    def __init__(self, meter: Meter | None = None):
        self.meter = meter
        self.calls = {"step": 0, "fused": 0}

    def step(self, mark):
        self.calls["step"] += 1
        for _ in range(2):
            self.meter.step()

    def fused_step(self):
        self.calls["fused"] += 1
        self.meter.step()

    def synchronize(self):
        pass


def test_energy_runs_the_fused_step_where_the_workload_has_one(monkeypatch, binary_poll):
    from harness.worker import energy_per_step

    meter = Meter(idle_watts=1.0, joules_per_step=0.25, step_seconds=2**-6)
    measure = energy.measure
    monkeypatch.setattr(
        energy, "measure",
        lambda *args, **kwargs: measure(*args, clock=meter.clock, sleep=meter.sleep, **kwargs),
    )  # fmt: skip
    workload = FusedWorkload(meter)
    counter = Counter("gpu0", "nvml-total-energy", "known", lambda: meter.joules)
    found = energy_per_step(workload, "cuda", items_per_step=4, counters=[counter])
    assert found["available"] is True and workload.calls["step"] == 0
    assert workload.calls["fused"] == found["steps"] > 0
    assert found["joules_per_step"] == pytest.approx(0.25)  # not the phased step's 0.5


def test_an_energy_read_error_costs_the_energy_section_only():
    from harness.worker import energy_per_step

    def broken():
        raise OSError("NVMLError_GpuIsLost: GPU is lost")

    found = energy_per_step(
        FusedWorkload(), "cuda", 1, counters=[Counter("gpu0", "nvml", "known", broken)]
    )
    assert found.to_dict() == {
        "available": False,
        "reason": "the energy read failed: OSError: NVMLError_GpuIsLost: GPU is lost",
    }
