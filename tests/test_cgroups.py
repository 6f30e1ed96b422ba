"""CPU and memory limits come from the process's own cgroup and its ancestors (v1 and v2), not
only from the root: fake trees on disk, and a real child cgroup where this machine allows one."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.machine.cgroups import (
    cpu_limits,
    cpu_quota_file,
    cpuset_cpus,
    memory_limit,
    usable_cores,
)
from harness.machine.environment import cgroup_limits, cpu_quota, worker_threads
from tests.conftest import ROOT

TWO = {0, 1}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def v1_tree(tmp_path: Path, group: str) -> tuple[Path, Path]:
    """A cgroup v1 hierarchy (cpu, cpuset, memory) with no limit at the root, the process in
    ``group`` of every controller."""
    root = tmp_path / "cgroup"
    for mount in ("cpu", "cpuset", "memory"):
        (root / mount).mkdir(parents=True)
    write(root / "cpu" / "cpu.cfs_quota_us", "-1")
    write(root / "cpu" / "cpu.cfs_period_us", "100000")
    write(root / "memory" / "memory.limit_in_bytes", "9223372036854771712")
    write(root / "cpuset" / "cpuset.cpus", "0-63")
    own = tmp_path / "self-cgroup"
    write(own, f"4:memory:{group}\n3:cpuset:{group}\n1:cpu:{group}\n0::/")
    return root, own


def v2_tree(tmp_path: Path, group: str) -> tuple[Path, Path]:
    root = tmp_path / "cgroup2"
    root.mkdir(parents=True)
    write(root / "cgroup.controllers", "cpuset cpu memory")
    own = tmp_path / "self-cgroup"
    write(own, f"0::{group}")
    return root, own


def test_a_v1_quota_on_the_process_own_nested_group_sets_one_thread(tmp_path):
    # the example: 100000 over 100000 on a nested group, nothing at the root
    root, own = v1_tree(tmp_path, "/batch/job7")
    write(root / "cpu" / "batch" / "job7" / "cpu.cfs_quota_us", "100000")
    write(root / "cpu" / "batch" / "job7" / "cpu.cfs_period_us", "100000")
    assert cpu_quota(root, own) == 1.0
    assert worker_threads(root, own) == (1, "cpu-quota")  # the old code read the root only
    limits = cgroup_limits(root, own)
    assert limits["cpu_quota"] == 1.0 and limits["group"] == "/batch/job7"
    assert limits["cpu_quota_file"].endswith("batch/job7/cpu.cfs_quota_us")


def test_a_quota_set_at_a_parent_bounds_the_child(tmp_path):
    root, own = v1_tree(tmp_path, "/slice/job/step")
    write(root / "cpu" / "slice" / "cpu.cfs_quota_us", "150000")  # 1.5 CPUs on the slice
    write(root / "cpu" / "slice" / "cpu.cfs_period_us", "100000")
    write(root / "cpu" / "slice" / "job" / "step" / "cpu.cfs_quota_us", "-1")
    write(root / "cpu" / "slice" / "job" / "step" / "cpu.cfs_period_us", "100000")
    assert cpu_quota_file(root, own)[0] == 1.5
    limits = cpu_limits(root, own, cpus=set(range(8)))
    assert (limits.usable, limits.source) == (2, "cpu-quota")


def test_the_tightest_v2_quota_wins_and_max_means_no_limit(tmp_path):
    root, own = v2_tree(tmp_path, "/system.slice/docker-abc.scope")
    write(root / "system.slice" / "cpu.max", "300000 100000")
    write(root / "system.slice" / "docker-abc.scope" / "cpu.max", "max 100000")
    assert cpu_quota(root, own) == 3.0
    write(root / "system.slice" / "docker-abc.scope" / "cpu.max", "50000 100000")
    assert cpu_quota(root, own) == 0.5
    assert usable_cores(root, own, cpus=set(range(16))) == 1
    write(root / "system.slice" / "cpu.max", "max 100000")
    write(root / "system.slice" / "docker-abc.scope" / "cpu.max", "max 100000")
    assert cpu_quota(root, own) is None
    assert cpu_limits(root, own, cpus=set(range(16))).source == "cpuset"


def test_a_mount_rooted_at_the_own_group_is_read(tmp_path):
    # a private cgroup namespace: /proc/self/cgroup names a path the mount does not show
    root, own = v2_tree(tmp_path, "/kubepods/pod1/ctr")
    write(root / "cpu.max", "200000 100000")
    assert cpu_quota(root, own) == 2.0


def test_cpusets_of_the_own_group_and_ancestors_intersect_the_affinity(tmp_path):
    root, own = v1_tree(tmp_path, "/a/b")
    write(root / "cpuset" / "a" / "cpuset.cpus", "0-3")
    write(root / "cpuset" / "a" / "b" / "cpuset.cpus", "2-5,9")
    assert cpuset_cpus(root, own) == {2, 3}
    assert usable_cores(root, own, cpus=set(range(16))) == 2
    root2, own2 = v2_tree(tmp_path / "v2", "/x")
    write(root2 / "x" / "cpuset.cpus.effective", "1")
    assert cpu_limits(root2, own2, cpus=TWO).usable == 1


def test_the_tightest_memory_limit_of_the_ancestors(tmp_path):
    root, own = v1_tree(tmp_path, "/a/b")
    write(root / "memory" / "a" / "memory.limit_in_bytes", str(2 << 30))
    write(root / "memory" / "a" / "b" / "memory.limit_in_bytes", "9223372036854771712")
    assert memory_limit(root, own) == 2 << 30
    root2, own2 = v2_tree(tmp_path / "v2", "/u")
    write(root2 / "u" / "memory.max", "max")
    assert memory_limit(root2, own2) is None
    write(root2 / "memory.max", str(1 << 30))
    assert cgroup_limits(root2, own2)["memory_max"] == 1 << 30


def test_unreadable_or_odd_files_are_no_limit(tmp_path):
    root, own = v2_tree(tmp_path, "/g")
    write(root / "g" / "cpu.max", "garbage")
    assert cpu_quota(root, own) is None
    assert cpu_quota(root, tmp_path / "absent") is None


# --- a real child cgroup (as root: the v1 cpu controller, else a v2 tree with cpu enabled) ----

V1_CPU = Path("/sys/fs/cgroup/cpu")
V2_ROOT = Path("/sys/fs/cgroup")


def _hierarchy() -> tuple[Path, str] | str:
    """(where to make groups, "v1" or "v2"), or why no real group can be made here."""
    if os.geteuid() != 0:
        return "creating a cgroup needs root"
    if (V1_CPU / "cpu.cfs_quota_us").exists():
        return V1_CPU, "v1"
    try:
        enabled = (V2_ROOT / "cgroup.subtree_control").read_text().split()
    except OSError:
        return "neither a cgroup v1 cpu controller nor a cgroup v2 tree at /sys/fs/cgroup"
    if "cpu" not in enabled:
        return "the cgroup v2 root does not enable the cpu controller for its children"
    return V2_ROOT, "v2"


@pytest.fixture
def one_cpu_group():
    """A nested child group parent/job with a 1-CPU quota on the parent, removed after."""
    found = _hierarchy()
    if isinstance(found, str):
        pytest.skip(found)
    root, version = found
    parent = root / f"harness-test-{uuid.uuid4().hex[:8]}"
    child = parent / "job"
    try:
        parent.mkdir()
        if version == "v1":
            (parent / "cpu.cfs_period_us").write_text("100000")
            (parent / "cpu.cfs_quota_us").write_text("100000")
        else:
            (parent / "cpu.max").write_text("100000 100000")
        child.mkdir()
    except OSError as error:
        if parent.exists():
            with contextlib.suppress(OSError):
                parent.rmdir()
        pytest.skip(f"cannot create a child cgroup here: {error}")
    yield child
    for group in (child, parent):
        for pid in (group / "cgroup.procs").read_text().split():  # left-over workers
            (root / "cgroup.procs").write_text(pid)
        group.rmdir()


def test_a_real_run_in_a_child_cgroup_with_one_cpu_uses_one_thread(one_cpu_group, tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 or more CPUs to tell a quota of 1 from the affinity")
    out = tmp_path / "r.jsonl"
    procs = str(one_cpu_group / "cgroup.procs")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--suite", "smoke", "--workload", "numpy.linreg",
         "--min-blocks", "2", "--max-blocks", "2", "--results-file", str(out)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
        preexec_fn=lambda: Path(procs).write_text(str(os.getpid())),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text().splitlines()[0])
    assert record["thread_count"] == 1 and record["thread_source"] == "cpu-quota"
    assert record["environment"]["cgroup"]["cpu_quota"] == 1.0
    assert record["environment"]["usable_cores"] == 1
