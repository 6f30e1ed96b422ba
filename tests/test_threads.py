"""Threads per worker come from the CPUs the worker may use where it runs (its affinity mask,
a container's cpuset, a CPU quota), not from the machine that started the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.machine.environment import cpu_quota, usable_cores, worker_threads
from tests.conftest import ROOT


def cgroup(tmp_path, cpu_max: str):
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    return tmp_path


def test_cpu_quota_is_read_from_cgroup_v2(tmp_path):
    assert cpu_quota(cgroup(tmp_path, "150000 100000")) == 1.5
    assert cpu_quota(cgroup(tmp_path, "max 100000")) is None


def test_cpu_quota_from_cgroup_v1(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(tmp_path) == 0.5
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_quota(tmp_path) is None


def test_a_quota_below_the_cpuset_sets_the_threads(tmp_path):
    cores = usable_cores()
    assert worker_threads(cgroup(tmp_path, "max 100000")) == (cores, "cpuset")
    count, source = worker_threads(cgroup(tmp_path, "50000 100000"))  # half a CPU
    assert count == 1
    assert source == ("cpu-quota" if cores > 1 else "cpuset")


def run_worker_with_affinity(cpus: set[int], threads: int | None) -> dict:
    task = {
        "workload": "numpy.linreg",
        "path": "workloads.numpy_train:LinearRegressionStep",
        "params": {
            "batch_size": 8,
            "lr": 0.01,
            "array_module": "numpy",
            "dtype": "float32",
            "features": 4,
            "outputs": 1,
        },
        "device": "cpu",
        "timer": {
            "warmup_time": 0,
            "warmup_max_steps": 1,
            "min_time": 0,
            "min_blocks": 2,
            "max_blocks": 2,
            "min_block_time": 0.001,
            "overhead_factor": 10.0,
        },
        "threads": threads,
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "64"}
    done = subprocess.run(
        [sys.executable, "-m", "harness.worker", "--task", json.dumps(task)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux affinity masks")
def test_a_worker_pinned_to_one_cpu_runs_one_thread():
    record = run_worker_with_affinity({0}, None)
    assert record["status"] == "ok"
    assert record["thread_count"] == 1 and record["thread_source"] == "cpuset"
    # the environment's 64 threads were replaced before NumPy was imported
    assert set(record["threads"].values()) == {"1"}


def test_threads_given_are_kept():
    record = run_worker_with_affinity(set(os.sched_getaffinity(0)), 3)
    assert record["thread_count"] == 3 and record["thread_source"] == "--threads"
    assert record["threads"]["OMP_NUM_THREADS"] == "3"
