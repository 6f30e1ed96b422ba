"""harness gpu-check end to end on this CPU machine, with the device side stood in: the GPUs
it shows, the records of the phase-sum run and the probe processes are recorded figures (the
probes run for real as processes, from tests/gpu_probe_standin.py); the plan it builds, the
verdicts, the reference line it writes and the exit code are the command's own."""

from __future__ import annotations

import argparse
import json

import pytest

from harness.commands.gpu_check import GpuCheckDevice, handle, phase_config
from harness.errors import UserError
from harness.record import Failure, Record
from harness.runner import plan_for

H100 = {"name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559, "driver": "580.65", "uuid": "GPU-1"}
TORCH = {
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "event_s": 0.2004,
    "host_s": 0.2011,
    "bf16_flops": 690e12,
    "fp32_flops": 50e12,
    "copy_bytes_per_s": 2.7e12,
    "recompiles": 0,
}
TORCH_CRASH = (
    "the probe process failed (exit 1): RuntimeError: CUDA error: an illegal memory access "
    "was encountered (torch)"
)
HEALTHY = {"torch": TORCH, "cupy": {"cupy": None}, "keras": {"keras_torch": None}}


class StandInDevice(GpuCheckDevice):
    """The machine as an H100 host would show it, with recorded torch.mlp records."""

    def __init__(self, gpus=(H100,), failing=()):
        super().__init__(probe_module="tests.gpu_probe_standin", probe_timeout_s=120)
        self._gpus = list(gpus)
        self.failing = failing  # indices of the plan's tasks whose record is a failure
        self.configs = []

    def gpus(self):
        return self._gpus

    def run(self, config):
        self.configs.append(config)
        records = []
        for task in plan_for(config, check_installed=False).tasks:
            if task.index in self.failing:
                error = Failure(type="crashed", message="CUDA out of memory")
                records.append(Record(task.workload, task.device, task.params, status="crashed",
                                      error=error))  # fmt: skip
                continue
            phases = {"forward": 0.40e-3, "backward": 0.71e-3, "update": 0.19e-3}
            samples = {p: [m] for p, m in phases.items()}  # medians come from the samples
            samples["step"] = [1.31e-3]
            records.append(Record(task.workload, task.device, task.params, phases=list(phases),
                                  samples=samples))  # fmt: skip
        return records


def check(tmp_path, monkeypatch, answers, device=None):
    monkeypatch.setenv("GPU_PROBE_STANDIN", json.dumps(answers))
    device = device or StandInDevice()
    code = handle(argparse.Namespace(results_dir=tmp_path), device)
    [line] = [json.loads(x) for x in (tmp_path / "reference" / "NVIDIA-H100-80GB-HBM3.jsonl")
              .read_text().splitlines()]  # fmt: skip
    return code, {row["check"]: row for row in line["verdicts"]}, line


def test_the_phase_run_is_the_three_torch_mlp_entries_of_the_gpu_suite(tmp_path):
    tasks = plan_for(phase_config(tmp_path / "x.jsonl"), check_installed=False).tasks
    assert [t.workload for t in tasks] == ["torch.mlp"] * 3
    assert {t.device for t in tasks} == {"cuda"}
    assert [(t.params.get("tf32"), t.params.get("dtype")) for t in tasks] == [
        (False, "float32"),
        (True, "float32"),
        (False, "bfloat16"),
    ]


def test_a_healthy_gpu_writes_its_reference_and_exits_0(tmp_path, monkeypatch, capsys):
    device = StandInDevice()
    code, rows, line = check(tmp_path, monkeypatch, HEALTHY, device)
    assert code == 0
    assert device.configs[0].devices == ("cuda",) and device.configs[0].suite == "gpu"
    phase_rows = [c for c in rows if c.startswith("phases add up")]
    assert phase_rows == [
        "phases add up to the step (CUDA events): torch.mlp fp32",
        "phases add up to the step (CUDA events): torch.mlp tf32",
        "phases add up to the step (CUDA events): torch.mlp bf16",
    ]
    assert len(rows) == 10 and {r["result"] for r in rows.values()} == {"PASS"}
    assert line["gpu"] == H100 and line["probes"]["bf16_flops"] == 690e12
    assert "Reference written to" in capsys.readouterr().out
    # a second check appends a second line
    handle(argparse.Namespace(results_dir=tmp_path), StandInDevice())
    assert len((tmp_path / "reference" / "NVIDIA-H100-80GB-HBM3.jsonl").read_text().split()) > 1


def test_a_failed_compile_is_a_fail_row_with_its_error(tmp_path, monkeypatch):
    torch = {k: v for k, v in TORCH.items() if k != "recompiles"}
    torch["recompiles_error"] = "BackendCompilerFailed: no C compiler found"
    code, rows, _ = check(tmp_path, monkeypatch, {**HEALTHY, "torch": torch})
    row = rows["torch.compile: no recompiles after the first step"]
    assert code == 1
    assert row["result"] == "FAIL" and "no C compiler found" in row["note"]


def test_absent_optional_packages_are_skipped_rows_with_the_reason(tmp_path, monkeypatch):
    answers = {
        **HEALTHY,
        "cupy": {"cupy_skipped": "cupy is not installed in this Python"},
        "keras": {"keras_torch_skipped": "keras is not installed in this Python"},
    }
    code, rows, _ = check(tmp_path, monkeypatch, answers)
    assert code == 0
    assert rows["CuPy on the device"]["result"] == "skipped"
    assert rows["Keras (torch backend) on it"]["note"] == "keras is not installed in this Python"


def test_a_probe_process_that_dies_fails_each_of_its_checks(tmp_path, monkeypatch):
    code, rows, _ = check(tmp_path, monkeypatch, {**HEALTHY, "torch": "crash"})
    assert code == 1
    failed = [c for c, r in rows.items() if r["result"] == "FAIL"]
    assert len(failed) == 5  # events, bf16, fp32, copy, torch.compile: none disappears
    assert all(rows[c]["note"] == TORCH_CRASH for c in failed)
    assert rows["CuPy on the device"]["result"] == "PASS"  # its own process, unharmed


def test_torch_without_cuda_fails_its_checks_in_one_line_each(tmp_path, monkeypatch):
    answers = {**HEALTHY, "torch": {"error": "torch 2.13.0+cpu sees no CUDA device"}}
    code, rows, _ = check(tmp_path, monkeypatch, answers)
    assert code == 1
    assert rows["fp32 matmul throughput"]["note"] == "torch 2.13.0+cpu sees no CUDA device"


def test_a_failed_phase_run_is_a_fail_row_and_the_others_are_judged(tmp_path, monkeypatch):
    device = StandInDevice(failing=(2,))
    code, rows, _ = check(tmp_path, monkeypatch, HEALTHY, device)
    row = rows["phases add up to the step (CUDA events): torch.mlp bf16"]
    assert code == 1
    assert row["result"] == "FAIL" and row["note"] == "crashed: CUDA out of memory"
    assert rows["phases add up to the step (CUDA events): torch.mlp fp32"]["result"] == "PASS"


@pytest.mark.parametrize(
    "raised, note",
    [
        (UserError("Every workload was skipped."), "Every workload was skipped."),
        (RuntimeError("CUDA driver too old"), "RuntimeError: CUDA driver too old"),
    ],
)
def test_a_phase_run_that_raises_is_a_fail_row(tmp_path, monkeypatch, raised, note):
    class Refused(StandInDevice):
        def run(self, config):
            raise raised

    code, rows, _ = check(tmp_path, monkeypatch, HEALTHY, Refused())
    row = rows["phases add up to the step (CUDA events): torch.mlp"]
    assert code == 1
    assert (row["result"], row["note"]) == ("FAIL", note)


def test_no_gpu_is_a_user_error_before_any_probe(tmp_path, monkeypatch):
    monkeypatch.setenv("GPU_PROBE_STANDIN", json.dumps(HEALTHY))
    device = StandInDevice(gpus=())
    with pytest.raises(UserError, match="this machine shows none"):
        handle(argparse.Namespace(results_dir=tmp_path), device)
    assert device.configs == [] and not (tmp_path / "reference").exists()


PROBE_MODE = """
import json, sys
from workloads.gpu_probes import main
main(sys.argv[1:])
print(json.dumps(sorted(m for m in ("torch", "cupy", "keras") if m in sys.modules)))
"""


def _probe_process(*args):
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "-c", PROBE_MODE, *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, check=True)  # fmt: skip
    found, imported = [json.loads(line) for line in done.stdout.splitlines()[-2:]]
    return found, imported


def test_the_cupy_probe_runs_in_a_process_without_torch():
    """Real processes on this machine (torch CPU build; CuPy installed or not)."""
    import importlib.util

    found, imported = _probe_process("--cupy")
    assert "torch" not in imported and "keras" not in imported
    if importlib.util.find_spec("cupy") is None:
        assert found == {"cupy_skipped": found["cupy_skipped"]}
        assert found["cupy_skipped"].startswith("cupy is not installed")
    else:  # installed, no GPU here: an error of CuPy's own, reported as one line
        assert found["cupy"] and "\n" not in found["cupy"]


def test_the_torch_probes_run_in_a_process_without_cupy_and_say_why_not_here():
    found, imported = _probe_process()
    assert "cupy" not in imported and "torch" in imported
    assert found["error"].endswith("sees no CUDA device")
