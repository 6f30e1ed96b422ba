"""Energy per step: the arithmetic on recorded counters and a fake clock (no GPU, no RAPL on
this machine), the RAPL reader on a powercap tree written to disk, NVML through a stand-in
module, and a real record saying "not available" where neither counter exists."""

from __future__ import annotations

import pytest

from harness import energy
from harness.energy import Counter
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
    done = cli("run", "--suite", "smoke", "--workload", "numpy.linreg", "--output", str(out))
    assert done.returncode == 0, done
    [record] = read_jsonl(out)
    assert record["energy"]["available"] is False
    assert "RAPL" in record["energy"]["reason"]
