"""Frameworks side by side (harness/analysis/frameworks.py) and MFU on the record, from real runs of
torch.gpt and keras.gpt (TensorFlow) at the smoke suite's tiny size."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis import frameworks
from harness.machine import peaks
from harness.machine.environment import collect

ROOT = Path(__file__).resolve().parent.parent
NEEDS = ("torch", "tensorflow", "keras")


def test_the_real_models_declare_their_model():
    assert frameworks.model_of("torch.gpt") == frameworks.model_of("keras.gpt") == "gpt"
    assert frameworks.model_of("torch.resnet") == frameworks.model_of("keras.resnet") == "resnet50"
    assert frameworks.model_of("torch.mlp") is None
    assert frameworks.model_of("not.a.workload") is None


def test_variant_labels_say_backend_and_compilation():
    assert frameworks.variant_label("keras.gpt", {"backend": "torch"}) == "keras.gpt on torch"
    assert frameworks.variant_label("torch.gpt", {"compile": True}) == "torch.gpt · compile"


@pytest.mark.slow
@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in NEEDS), reason="torch and Keras needed"
)
def test_report_pairs_the_frameworks_and_records_carry_mfu(tmp_path):
    env = collect()
    key = peaks.machine_key(env.get("host"), env.get("cpu_model"), env.get("usable_cores"),
                            env.get("gpu_name"))  # fmt: skip
    stand_in = peaks.path_for(tmp_path, key)  # stand-in peaks: the arithmetic, not the machine
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text(json.dumps({"cpu_fp32_flops": 1e12, "cpu_bf16_flops": 2e12}))
    results = tmp_path / "run.jsonl"
    run_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--suite", "smoke", "--workload", "torch.gpt",
         "--workload", "keras.gpt", "--no-progress", "--results-file", str(results)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=run_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    by_name = {r["workload"]: r for r in records if r.get("workload")}
    for name in ("torch.gpt", "keras.gpt"):
        metrics = by_name[name]["metrics"]
        step = by_name[name]["summary"]["step"]["median"]
        assert metrics["mfu"] == pytest.approx(metrics["flops_per_step"] / step / 1e12)
        assert "cpu_fp32_flops" in metrics["mfu_peak"]
    assert (
        by_name["torch.gpt"]["metrics"]["parameters"]
        == by_name["keras.gpt"]["metrics"]["parameters"]
    )
    report = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(results), "--format", "markdown"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=run_env,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-2000:]
    section = report.stdout.split("Frameworks side by side", 1)[1]
    assert "keras.gpt on tensorflow" in section and "reference" in section
    assert "×" in section and "% of fp32" in section and "fwd" in section


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch needed")
def test_a_run_of_one_framework_shows_its_models_size_and_mfu(tmp_path):
    results = tmp_path / "run.jsonl"
    run_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--suite", "smoke", "--workload", "torch.gpt",
         "--no-progress", "--results-file", str(results), "--output", str(tmp_path / "r.md")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=run_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    section = (tmp_path / "r.md").read_text(encoding="utf-8").split("Models: size", 1)[1]
    parameters = record["metrics"]["parameters"]
    assert f"{parameters / 1e3:.1f} k" in section  # the record's own count
    assert "no measured cpu fp32 peak" in section  # no peaks in this folder: says so
