"""The real models (torch.gpt, keras.gpt, torch.resnet, keras.resnet): the same model in both
frameworks, FLOPs counted twice, MFU against the measured peaks."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis import mfu
from harness.record import Record
from harness.record_parts import Work
from workloads import model_flops

ROOT = Path(__file__).resolve().parent.parent
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_TF = importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("keras")
SIZES = [
    {"layers": 1, "d_model": 32, "heads": 2, "seq_len": 16, "vocab": 64},
    {"layers": 2, "d_model": 48, "heads": 3, "seq_len": 24, "vocab": 100},
    {"layers": 3, "d_model": 64, "heads": 4, "seq_len": 8, "vocab": 257},
]


def run_python(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (a framework of its own) and read its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def make(cls, **params):
    values = {p.name: p.default for p in cls.params}
    values.update(params)
    workload = cls(values, "cpu", seed=0, threads=1)
    workload.setup()
    return workload


# --- the formulas -------------------------------------------------------------------------------


def test_gpt2_small_has_its_published_parameter_count():
    assert model_flops.GPTShape(12, 768, 12, 1024, 50257).parameters() == 124_439_808


def test_resnet50_parameter_counts_of_both_variants():
    assert model_flops.resnet50_parameters(1000, conv_bias=False) == 25_557_032  # torchvision
    assert model_flops.resnet50_parameters(1000, conv_bias=True) == 25_583_592  # Keras


def test_resnet_v1_5_costs_more_than_v1_at_the_same_size():
    v15 = sum(model_flops.resnet50_conv_macs(224, 1000, "3x3"))
    v1 = sum(model_flops.resnet50_conv_macs(224, 1000, "1x1"))
    assert v15 > v1
    assert 4.0e9 < v15 < 4.2e9  # torchvision's own figure: 4.09 GMACs
    assert 3.8e9 < v1 < 3.95e9  # He et al. Table 1: 3.8 G


# --- PyTorch: parameters and the two FLOP counts -----------------------------------------------


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize("size", SIZES)
def test_torch_gpt_counts_agree_with_the_formulas(size):
    from workloads.torch_gpt import TorchGPTStep

    workload = make(TorchGPTStep, batch_size=2, **size)
    workload.step(lambda phase: None)
    metrics = workload.metrics()
    assert metrics["parameters"] == model_flops.GPTShape(**size).parameters()
    assert metrics["flops_counter"] == pytest.approx(metrics["flops_per_step"], rel=0.03)
    assert sum(metrics["flops_per_phase"].values()) == metrics["flops_per_step"]
    assert workload.items_per_step() == 2 * size["seq_len"]


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_gpt_loss_starts_near_log_vocab_and_falls():
    import math

    from workloads.torch_gpt import TorchGPTStep

    workload = make(TorchGPTStep, lr=3e-3, batch_size=2, **SIZES[0])
    losses = []
    for _ in range(8):
        workload.step(lambda phase: None)
        losses.append(workload.metrics()["final_loss"])
    assert losses[0] == pytest.approx(math.log(64), rel=0.05)
    assert losses[-1] < losses[0]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_resnet_counter_matches_the_layers_and_the_architecture():
    from workloads.torch_resnet import TorchResNetStep

    workload = make(TorchResNetStep, batch_size=2, classes=1000, image_size=64)
    metrics = workload.metrics()
    assert metrics["parameters"] == 25_557_032
    assert metrics["flops_counter"] == pytest.approx(metrics["flops_per_step"], rel=0.03)


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_the_built_in_resnet_is_torchvisions_where_torchvision_imports():
    import torch

    from workloads.torch_resnet import resnet50_like_torchvision

    try:
        import torchvision
    except Exception as error:  # absent, or built for another torch
        pytest.skip(f"torchvision does not import here: {error}")
    ours = resnet50_like_torchvision(torch, 10)
    theirs = torchvision.models.resnet50(weights=None, num_classes=10)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in theirs.named_parameters()
    ]


# --- Keras builds the same model ---------------------------------------------------------------

KERAS_COUNTS = """
import json, os
os.environ["KERAS_BACKEND"] = {backend!r}
from workloads.keras_gpt import KerasGPTStep
from workloads.model_flops import GPTShape
out = []
for size in {sizes!r}:
    values = {{p.name: p.default for p in KerasGPTStep.params}}
    values.update(size, batch_size=2, backend={backend!r})
    w = KerasGPTStep(values, "cpu", seed=0, threads=1)
    w.setup()
    w.step(lambda phase: None)
    m = w.metrics()
    out.append([m["parameters"], m["flops_per_step"], m["final_loss"], w.items_per_step()])
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TF, reason="tensorflow/keras not installed")
@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_keras_gpt_has_torch_gpts_parameter_count_at_every_size(backend):
    if backend == "torch" and not HAS_TORCH:
        pytest.skip("torch not installed")
    found = run_python(KERAS_COUNTS.format(backend=backend, sizes=SIZES))
    torch_counts = run_python(
        "import json\n"
        "from tests.test_models import make, SIZES\n"
        "from workloads.torch_gpt import TorchGPTStep\n"
        "print(json.dumps([make(TorchGPTStep, batch_size=2, **s).metrics()['parameters']"
        " for s in SIZES]))"
    )
    assert [row[0] for row in found] == torch_counts
    for size, (params, flops, loss, items) in zip(SIZES, found, strict=True):
        shape = model_flops.GPTShape(**size)
        assert params == shape.parameters()
        assert flops == shape.train_flops_per_step(2)
        assert items == 2 * size["seq_len"]
        assert 0 < loss < 2 * __import__("math").log(size["vocab"])


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TF, reason="tensorflow/keras not installed")
def test_keras_resnet_counts_its_own_variant():
    found = run_python(
        "import json\n"
        "from tests.test_models import make\n"
        "from workloads.keras_resnet import KerasResNetStep\n"
        "w = make(KerasResNetStep, batch_size=2, classes=1000)\n"
        "w.step(lambda phase: None)\n"
        "print(json.dumps(w.metrics()))"
    )
    assert found["parameters"] == 25_583_592
    assert found["parameters_total"] == 25_583_592 + 53_120  # BatchNorm moving statistics
    assert found["flops_per_step"] == model_flops.resnet50_train_flops_per_step(32, 1000, 2, "1x1")


# --- MFU ----------------------------------------------------------------------------------------


def test_mfu_is_achieved_flops_over_the_peak_of_the_precision_that_ran():
    peaks = {"cpu_fp32_flops": 100e9, "cpu_bf16_flops": 400e9}
    fp32 = mfu.mfu_metrics(2e9, 0.1, "cpu", {"dtype": "float32"}, peaks)
    assert fp32["mfu"] == pytest.approx(0.2)  # 20 GFLOP/s of 100
    bf16 = mfu.mfu_metrics(2e9, 0.1, "cpu", {"dtype": "bfloat16"}, peaks)
    assert bf16["mfu"] == pytest.approx(0.05)
    assert "cpu_bf16_flops" in bf16["mfu_peak"]
    missing = mfu.mfu_metrics(2e9, 0.1, "cuda", {"dtype": "bfloat16"}, peaks, "NVIDIA H200")
    assert "mfu" not in missing and "harness peaks" in missing["mfu_peak"]
    assert missing["mfu_datasheet"] == pytest.approx(20e9 / 989.4e12)
    assert "H200" in missing["datasheet_peak"]


def test_stamp_reads_the_peaks_cached_for_the_machine_that_ran(tmp_path):
    from harness.machine import peaks

    env = {"host": "box", "cpu_model": "cpu", "usable_cores": 2, "gpu_name": None}
    path = peaks.path_for(tmp_path, peaks.machine_key("box", "cpu", 2, None))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"cpu_fp32_flops": 50e9}))
    record = Record(workload="torch.gpt", device="cpu", params={"dtype": "float32"}, status="ok")
    record.environment = env
    record.samples = {"step": [0.5]}
    record.work = Work(flops_per_step=5e9)
    mfu.stamp(record, [tmp_path])
    assert record.metrics["mfu"] == pytest.approx(0.2)
    other = Record(workload="torch.gpt", device="cpu", params={}, status="ok")
    other.environment = {**env, "host": "elsewhere"}
    other.samples, other.work = {"step": [0.5]}, Work(flops_per_step=5e9)
    mfu.stamp(other, [tmp_path])
    assert "mfu" not in other.metrics and "harness peaks" in other.metrics["mfu_peak"]
