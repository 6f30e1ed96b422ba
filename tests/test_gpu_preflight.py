"""make bench-gpu says no in seconds, before any download, where the CUDA image cannot run.

The decision is tested on recorded ``nvidia-smi -L`` and ``docker info`` outputs (this machine
has no GPU); the Makefile path is run for real here, where it must stop at the first question.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness.errors import UserError
from harness.gpu_preflight import check, gpu_names
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
