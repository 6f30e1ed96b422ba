"""The typed parts of a record: today's JSON shape both ways, unknown keys kept, the mapping
interface old readers use, and a record's part read back into its type."""

import pytest

from harness.record import Record, dumps, loads
from harness.record_parts import GpuDuring, GpuFacts, MachineReading

#: a machine section as a GPU worker wrote it before the part was typed
MACHINE = {
    "reference_before_s": 0.001,
    "reference_after_s": 0.00102,
    "reference_resolution": 0.004,
    "reference_drift": 0.02,
    "load_average": [0.5, 0.4, 0.3],
    "governor": None,
    "cpu_mhz": None,
    "wall_s": 2.0,
    "own_cores": 0.95,
    "others_cores": 0.05,
    "steal_share": 0.0,
    "gpu_device": {"uuid": "GPU-1", "source": "torch"},
    "gpu_before": {"sm_clock_mhz": 1980, "throttle_reasons": [], "other_processes": []},
    "gpu_after": {"sm_clock_mhz": 1755, "throttle_reasons": ["thermal"], "other_processes": []},
    "gpu_during": {
        "watched_s": 1.5,
        "samples": 30,
        "samples_under_load": 28,
        "sm_clock_under_load_mhz": None,
        "throttle_samples": {},
        "violation_s": {"power": 0.0},
        "violation_share": {"power": 0.0},
        "sample_interval_s": 0.05,
    },
    "noisy": True,
    "noisy_reasons": ["the GPU was throttled after the blocks: thermal"],
    "from_a_newer_harness": {"x": 1},
}


def test_machine_reads_todays_shape_and_writes_it_back_unchanged():
    reading = MachineReading.from_dict(MACHINE)
    assert isinstance(reading.gpu_after, GpuFacts) and isinstance(reading.gpu_during, GpuDuring)
    assert reading.gpu_after.throttle_reasons == ["thermal"]
    assert reading.extra == {"from_a_newer_harness": {"x": 1}}
    assert reading.to_dict() == MACHINE
    assert list(reading.to_dict()) == list(MACHINE)  # the same order of keys too


def test_a_part_reads_as_the_mapping_it_replaced():
    reading = MachineReading.from_dict(MACHINE)
    assert reading["reference_drift"] == 0.02 and reading.get("governor") is None
    assert "governor" in reading and "gpu_error" not in reading  # None and never written
    assert reading.get("gpu_error", "absent") == "absent"
    assert reading["gpu_after"]["throttle_reasons"] == ["thermal"]
    assert reading["from_a_newer_harness"] == {"x": 1}
    assert list(reading) == list(MACHINE) and len(reading) == len(MACHINE)
    with pytest.raises(KeyError):
        reading["wrong"]


def test_a_record_holds_its_parts_typed_and_writes_their_json():
    record = Record(workload="w", device="cpu", params={}, machine=dict(MACHINE))
    assert isinstance(record.machine, MachineReading) and record.noisy_machine
    back = loads(dumps(record))
    assert isinstance(back, Record) and back.machine == record.machine
    assert back.to_json()["machine"] == MACHINE


def test_a_part_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="must be an object"):
        MachineReading.from_dict([1, 2])  # type: ignore[arg-type]


def test_energy_writes_every_figure_when_measured_and_only_the_reason_when_not():
    from harness.machine import energy
    from harness.record_parts import EnergyReading

    refused = energy.read_failed(OSError("gone"))
    reason = "the energy read failed: OSError: gone"
    assert refused.to_dict() == {"available": False, "reason": reason}
    measured = {
        "available": True,
        "method": "rapl",
        "counters": ["package-0"],
        "steps": 3,
        "joules_per_step": 0.0,
        "joules_per_item": None,
        "granularity_error_share": None,
    }
    reading = EnergyReading.from_dict(measured)
    written = reading.to_dict()
    assert {k: written[k] for k in measured} == measured
    assert written["idle_watts"] is None  # a measurement writes every figure, null where unset
    assert EnergyReading.from_dict(written) == reading


def test_counted_work_lives_in_work_and_is_written_inside_metrics():
    from harness.record_parts import Work

    metrics = {"flops_per_phase": {"forward": 2.0, "backward": 4.0}, "bytes": 64,
               "load_cache": "cold", "final_loss": 0.5}  # fmt: skip
    record = Record(workload="w", device="cpu", params={}, metrics=dict(metrics))
    assert record.metrics == {"final_loss": 0.5}
    assert isinstance(record.work, Work) and record.work.load_cache == "cold"
    assert record.work.per_step("flops") == 6.0 and record.work.per_phase("flops", "forward") == 2
    assert record.work.per_step("bytes") is None  # bytes of a save or load, not per phase
    assert dumps(record).count('"work"') == 0
    assert record.to_json()["metrics"] == metrics  # on disk where it always was
    back = loads(dumps(record))
    assert isinstance(back, Record) and back.work == record.work and back.metrics == record.metrics
    assert Work.split({"mfu": 0.2}) == (None, {"mfu": 0.2})


def test_host_facts_write_every_field_and_keep_a_launchers_own():
    from harness.machine import environment
    from harness.record_parts import HostFacts

    facts = environment.collect(launcher="docker", extra={"image": "harness:cpu"})
    assert isinstance(facts, HostFacts) and facts.launcher == "docker"
    written = facts.to_dict()
    assert set(HostFacts.field_names()) <= set(written) and written["image"] == "harness:cpu"
    assert facts["host"] == facts.host and HostFacts.from_dict(written) == facts


def test_stamp_folds_typed_facts_with_a_placements_nulls_winning():
    from harness.machine import environment
    from harness.record_parts import HostFacts, Placement

    record = Record(workload="w", device="cpu", params={}, environment={"slurm_node": "n1"})
    run = HostFacts(host="login", cpu_model="Xeon")
    placement = Placement.of(launcher="slurm", slurm_node=None, slurm_partition="gpu")
    environment.stamp(record, run=run, launcher={"image": "i"}, placement=placement)
    env = record.environment
    assert env["host"] == "login" and env["image"] == "i" and env["launcher"] == "slurm"
    assert env["slurm_node"] is None and env["slurm_partition"] == "gpu"
    assert "slurm_state" not in env and "k8s_pod" not in env  # only the fields given
    facts = environment.ContainerFacts.of({"python": "3.11.2", "uid": 10001})
    assert facts.placement().to_dict() == {
        "container_python": "3.11.2", "container_os": None, "container_packages": None,
        "container_cgroup": None, "container_uid": 10001, "container_root_writable": None,
    }  # fmt: skip


@pytest.mark.parametrize("version", [1, 2, 3])
def test_the_parts_of_older_files_are_written_back_unchanged(version):
    import json
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / f"results-v{version}.jsonl"
    for line in path.read_text().splitlines():
        written = json.loads(line)
        record = loads(line)
        if not isinstance(record, Record):
            continue
        again = record.to_json()
        for key in ("machine", "energy", "metrics", "environment", "loss", "compile_cache"):
            assert again.get(key) == written.get(key, again.get(key)), key


def test_the_loss_and_the_compile_caches_are_typed_in_todays_shape():
    from harness.record_parts import CompileCacheState, LossReading

    loss = {"first": 2.3, "final": None, "checked": 3, "non_finite": 1,
            "first_non_finite": "measured block 2", "finite": False}  # fmt: skip
    caches = {"mode": "fresh", "folder": "/tmp/c", "variables": {"TRITON_CACHE_DIR": "/tmp/c/t"},
              "files_at_start": 0}  # fmt: skip
    record = Record(workload="w", device="cpu", params={}, loss=loss, compile_cache=caches)
    assert isinstance(record.loss, LossReading) and record.loss_diverged
    assert isinstance(record.compile_cache, CompileCacheState)
    assert record.loss.first_non_finite == "measured block 2"
    back = loads(dumps(record)).to_json()
    assert back["loss"] == loss and back["compile_cache"] == caches
