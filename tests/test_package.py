"""The distribution: a wheel built from this checkout carries the workloads, installs into a
fresh virtual environment, and its `harness` command runs from there (not from the checkout)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_wheel_installs_and_runs_from_a_fresh_virtual_environment(tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("*.whl")
    assert wheel.name.startswith("trainstep_harness-")  # not PyPI's unrelated `harness`
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())  # fmt: skip
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # the dependencies (numpy, pandas, rich, ...) from this environment, after the wheel's own
    # files: a plain path line adds the folder without running its editable finder
    (site / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    command = fresh / "bin" / "harness"
    if not command.exists():  # --target installs put scripts under site/bin
        command = site / "bin" / "harness"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import harness, workloads.numpy_train as w; "
         "print(harness.__file__); print(w.__file__)"],
        cwd=outside, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout
    for args in (["--help"], ["list"]):
        done = subprocess.run(
            [str(python), "-m", "harness", *args] if not command.exists()
            else [str(python), str(command), *args],
            cwd=outside, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert "numpy.linreg" in done.stdout and "torch.mlp" in done.stdout
