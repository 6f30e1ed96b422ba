"""Keras workloads, each check in a fresh process (TensorFlow never shares one with torch)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None,
        reason="tensorflow is not installed (make venv installs it)",
    ),
]


def run_check(name: str, tmp_path, **kwargs) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HARNESS_DATA_DIR": str(tmp_path / "data"),
        "HARNESS_SCRATCH_DIR": str(tmp_path / "scratch"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.keras_checks", name, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT=")][-1]
    return json.loads(line.removeprefix("RESULT="))


def test_every_style_builds_and_its_loss_falls(tmp_path):
    result = run_check("styles_train", tmp_path)
    assert len(result) == 6
    for case, r in result.items():
        assert r["marks"] == ["forward", "backward", "update"], case
        assert r["last"] < 0.8 * r["first"], case
        assert r["keras_backend"] == "tensorflow"
    assert result["mlp/sequential"]["class"] == "Sequential"
    assert result["mlp/functional"]["class"] == "Functional"
    assert result["mlp/subclass"]["class"] == "SubclassedModel"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_keras_on_the_torch_backend(tmp_path):
    result = run_check("styles_train", tmp_path, backend="torch")
    for case, r in result.items():
        assert r["keras_backend"] == "torch", case
        assert r["last"] < 0.8 * r["first"], case


def test_regularization_is_really_in_the_model(tmp_path):
    result = run_check("regularization", tmp_path)
    for style in ("sequential", "functional", "subclass"):
        none, l2 = result[f"{style}/none"], result[f"{style}/l2"]
        assert set(none["l2"]) == {"NoneType"} and none["losses"] == 0
        assert set(l2["l2"]) == {"L2"} and l2["losses"] == 3  # one per Dense kernel
        assert result[f"{style}/dropout"]["layers"].count("Dropout") == 2
        assert result[f"{style}/batchnorm"]["layers"].count("BatchNormalization") == 2
        assert "Dropout" not in none["layers"] and "BatchNormalization" not in none["layers"]


def test_fit_mode_measures_model_fit(tmp_path):
    result = run_check("fit_runs", tmp_path)
    assert result["items"] == 64
    assert result["metrics"]["train_steps_per_step"] == 4
    assert result["first"] > min(result["step"])  # the first fit traces the step function
    assert result["runtime"]["intra_op_threads"] == 1
    assert result["runtime"]["tf32"] is False


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_every_save_format_round_trips(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    result = run_check("checkpoints", tmp_path, backend=backend)
    expected = (
        {"keras", "weights", "savedmodel"} if backend == "tensorflow" else {"keras", "weights"}
    )
    assert set(result) == expected
    for fmt, r in result.items():
        assert r["phases"] == ["load", "save", "step"], fmt
        assert r["round_trip_equal"] is True, fmt
        assert r["corruption_detected"] is True, fmt
        assert r["bytes"] > 8 * 16 * 4, fmt
        assert r["removed"] is True, fmt


def test_pipelines_shapes_and_labels_match_folders(tmp_path):
    result = run_check("pipelines", tmp_path)
    assert len(result) == 3
    for case, r in result.items():
        assert r["labels"] == r["expected"] == [0] * 4 + [1] * 4 + [2] * 4, case
        assert r["shapes"] == [[5, 16, 16, 3], [5, 16, 16, 3], [2, 16, 16, 3]], case
        assert r["items"] == 12


def test_flops_follow_the_layers_the_model_really_has(tmp_path):
    result = run_check("flops_from_layers", tmp_path)
    assert result["cnn-one-conv"]["conv_layers"] == 1
    assert result["cnn-two-convs"]["conv_layers"] == 2
    for case in result.values():
        assert case["reported"] == case["from_layers"], result


def test_energy_per_step_runs_the_fused_step_on_tensorflow(tmp_path):
    """keras.step's phased step runs the three phase prefixes (about twice the work); energy
    per step must run the fused step the step samples time."""
    result = run_check("energy_step", tmp_path)
    assert result["available"] and result["steps"] > 0
    assert result["calls"] == {"forward": 0, "forward_backward": 0, "fused": result["steps"]}
