"""make bench-gpu says no in seconds, before any download, where the CUDA image cannot run.

The decision is tested on recorded ``nvidia-smi -L``, ``nvidia-smi`` and ``docker info`` outputs
(this machine has no GPU) against the real CUDA lock; the Makefile path is run for real here,
where it must stop at the first question.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.errors import UserError
from harness.machine.gpu_preflight import (
    CUDA_LOCK,
    check,
    check_driver,
    driver_cuda,
    gpu_names,
    image_cuda,
)
from tests.conftest import ROOT

H100 = (
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5a1c2a4e-6f0b-8d7e-1c3b-2b2f8a9c0d11)\n"
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-7b2d3b5f-7a1c-9e8f-2d4c-3c3a9bad1e22)\n"
)
RUNC_ONLY = {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}}
WITH_NVIDIA = {**RUNC_ONLY, "nvidia": {"path": "nvidia-container-runtime"}}


def test_gpus_and_the_runtime_pass():
    assert gpu_names(H100) == ["NVIDIA H100 80GB HBM3"] * 2
    assert check(H100, WITH_NVIDIA, []) == ["NVIDIA H100 80GB HBM3"] * 2
    # CDI (nvidia-ctk cdi generate) instead of the runtime
    assert check(H100, RUNC_ONLY, ["/etc/cdi/nvidia.yaml"])


@pytest.mark.parametrize(
    "listing, runtimes, words",
    [
        (None, None, "nvidia-smi is not installed or failed"),
        ("No devices were found\n", None, "nvidia-smi lists none"),
        (H100, None, "the Docker engine does not answer"),
        (H100, RUNC_ONLY, "install the NVIDIA Container Toolkit"),
    ],
)
def test_what_is_missing_is_one_sentence(listing, runtimes, words):
    with pytest.raises(UserError) as caught:
        check(listing, runtimes, [])
    message = str(caught.value)
    assert words in message and message.count(". ") == 0 and message.endswith(".")


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this host has a GPU driver")
def test_make_bench_gpu_stops_before_the_venv_and_any_download(tmp_path):
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "--no-print-directory", "bench-gpu", f"VENV={venv}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "make bench-gpu needs an NVIDIA GPU on this host" in done.stderr
    assert not venv.exists()  # nothing installed, nothing downloaded


def smi_header(driver: str, cuda: str) -> str:
    """The header of ``nvidia-smi`` as drivers print it (recorded from a 550 driver)."""
    return (
        "+------------------------------------------------------------------------------+\n"
        f"| NVIDIA-SMI {driver}     Driver Version: {driver}     CUDA Version: {cuda}     |\n"
        "|-----------------------------------+-------------------+----------------------+\n"
    )


def test_the_image_needs_the_cuda_its_torch_is_built_for():
    # the lock pins torch's CUDA 13 runtime and TensorFlow's CUDA 12 one: the higher decides
    assert image_cuda(CUDA_LOCK.read_text()) == (13, 0)
    assert image_cuda("nvidia-cuda-runtime-cu12==12.9.79\nnvidia-cuda-runtime==13.1.2\n") == (13, 1)
    assert image_cuda("torch==2.13.0\n") is None
    assert driver_cuda(smi_header("550.54.15", "12.4")) == (12, 4)
    assert driver_cuda("NVIDIA-SMI has failed") is None


def test_a_driver_too_old_for_the_image_is_one_sentence():
    lock = CUDA_LOCK.read_text()
    with pytest.raises(UserError) as caught:
        check_driver(smi_header("550.54.15", "12.4"), lock)
    message = str(caught.value)
    assert "CUDA 13.0" in message and "550.54.15" in message and "CUDA 12.4" in message
    assert "580.65.06" in message  # the oldest driver for CUDA 13
    assert message.count(". ") == 0 and message.endswith(".")
    # new enough (the same or a later CUDA), or unreadable (the toolkit still checks): no word
    check_driver(smi_header("580.65.06", "13.0"), lock)
    check_driver(smi_header("590.44.01", "13.1"), lock)
    check_driver(None, lock)


def test_the_image_carries_the_same_requirement():
    dockerfile = (ROOT / "docker" / "cuda.Dockerfile").read_text()
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=${CUDA_VERSION}"' in dockerfile
    assert "ARG CUDA_VERSION=13.0" in dockerfile  # the default agrees with the lock
    assert image_cuda(CUDA_LOCK.read_text()) == (13, 0)


def test_make_bench_gpu_measures_the_peaks_in_the_image_before_the_suite(tmp_path):
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "bench-gpu", f"VENV={tmp_path / 'venv'}",
         f"RESULTS={tmp_path / 'results'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.replace("\\\n", " ").splitlines()
    peaks = next(i for i, line in enumerate(lines) if " harness peaks " in line)
    suite = next(i for i, line in enumerate(lines) if "run --suite gpu" in line)
    assert peaks < suite
    assert "harness:cuda" in lines[peaks] and "--gpus all" in lines[peaks]
    assert '--hostname "$(hostname)"' in lines[peaks]  # the key the report looks up
