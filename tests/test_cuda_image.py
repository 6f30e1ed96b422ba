"""The CUDA image, built here offline and proven without a GPU: torch's CUDA build, TensorFlow
and CuPy import; torch.compile compiles inside it (the toolchain Triton and inductor need: gcc,
g++, Python.h); it says which CUDA it needs (NVIDIA_REQUIRE_CUDA, from the lock); the smoke
suite runs on the CPU inside it; and asking for the GPU on a host without the NVIDIA Container
Toolkit stops with exit 2 and the sentence that names it.

Marker ``cuda_image``: it downloads the CUDA wheelhouse (about 6 GB) and builds a large image,
so ``make test-fast`` leaves it out; ``.ci/run`` runs it every time.
"""

from __future__ import annotations

import subprocess

import pytest

from harness.machine.gpu_preflight import CUDA_LOCK, image_cuda
from tests.conftest import build_image, read_jsonl
from tests.test_docker import compiled_mlp_in

pytestmark = [pytest.mark.cuda_image, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def cuda_image(engine):
    return build_image("cuda")


def in_image(image: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image,
         "-c", code],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_frameworks_of_the_cuda_image_import_on_a_cpu(cuda_image):
    done = in_image(
        cuda_image,
        "import json, torch, cupy, pynvml\n"
        "import tensorflow as tf\n"
        "print(json.dumps({'torch_cuda': torch.version.cuda, 'torch': torch.__version__,"
        " 'tf': tf.__version__, 'tf_cuda': tf.sysconfig.get_build_info().get('cuda_version'),"
        " 'cupy': cupy.__version__, 'available': torch.cuda.is_available()}))",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["torch_cuda"], facts  # the CUDA build of torch, not the CPU one
    assert "+cpu" not in facts["torch"]
    assert facts["tf_cuda"], facts  # TensorFlow built with CUDA
    assert facts["cupy"] and facts["available"] is False  # no GPU here


def test_the_smoke_suite_runs_on_the_cpu_inside_it(cuda_image, cli, tmp_path):
    out = tmp_path / "cuda-image-cpu.jsonl"
    run = cli(
        "run", "--launcher", "docker", "--image", "cuda", "--suite", "smoke",
        "--device", "cpu", "--results-file", str(out), timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run
    records = read_jsonl(out)
    assert records and all(r["status"] == "ok" for r in records), [
        (r["workload"], r["status"]) for r in records
    ]
    assert {r["environment"]["image"] for r in records} == {"harness:cuda"}
    assert {r["framework"] for r in records} >= {"numpy", "torch", "keras"}


def test_asking_for_the_gpu_without_the_toolkit_names_it(cuda_image, cli, tmp_path):
    run = cli(
        "run", "--launcher", "docker", "--image", "cuda", "--gpus", "all", "--suite", "gpu",
        "--workload", "torch.mlp", "--device", "cuda",
        "--results-file", str(tmp_path / "none.jsonl"),
    )  # fmt: skip
    assert run.returncode == 2, run
    assert "NVIDIA Container Toolkit" in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 2  # one sentence (after the VM warning)


def test_torch_compile_compiles_inside_it_on_the_cpu(cuda_image):
    # inductor's C++ on the CPU; Triton's launcher (a GPU's path) needs the same gcc and Python.h
    done = in_image(
        cuda_image,
        "import os, shutil, sysconfig, torch\n"
        "f = torch.compile(lambda x: torch.sin(x) * 2 + 1)\n"
        "x = torch.arange(8.0)\n"
        "assert torch.allclose(f(x), torch.sin(x) * 2 + 1)\n"
        "assert shutil.which('gcc') and shutil.which('g++')\n"
        "assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))\n"
        "print('compiled')",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("compiled")


def test_compile_true_runs_in_the_cuda_image(cuda_image, cli, tmp_path):
    compiled_mlp_in(cli, tmp_path, "cuda")


def test_it_says_which_cuda_driver_it_needs(cuda_image):
    done = subprocess.run(
        ["docker", "image", "inspect", "--format",
         '{{json .Config.Env}} {{index .Config.Labels "org.harness.cuda"}}', cuda_image],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    major, minor = image_cuda(CUDA_LOCK.read_text())
    assert f'"NVIDIA_REQUIRE_CUDA=cuda>={major}.{minor}"' in done.stdout
    assert done.stdout.strip().endswith(f" {major}.{minor}")
