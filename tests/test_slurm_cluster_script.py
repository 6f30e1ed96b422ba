"""slurm/cluster.sh is safe on a real cluster node: it never replaces a slurm.conf it did not
write, and `down` stops only the processes whose pid files its own cluster wrote. Run with the
configuration and state folders in a scratch directory, so no real daemon is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="slurm/cluster.sh needs root")

FOREIGN = "ClusterName=site\nSlurmctldHost=head01\n"


def script(tmp_path, action):
    env = {**os.environ, "SLURM_CONF_DIR": str(tmp_path / "etc"),
           "SLURM_STATE": str(tmp_path / "state")}  # fmt: skip
    return subprocess.run(
        ["bash", str(ROOT / "slurm" / "cluster.sh"), action],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def daemon(tmp_path, name):
    """A stand-in process whose name (/proc/PID/comm) is ``name``."""
    binary = tmp_path / name
    shutil.copy("/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "300"])
    time.sleep(0.2)
    return process


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "state").mkdir()
    return tmp_path


def test_up_refuses_a_slurm_conf_it_did_not_write(folders):
    conf = folders / "etc" / "slurm.conf"
    conf.write_text(FOREIGN)
    done = script(folders, "up")
    assert done.returncode == 2 and "not written by this script" in done.stderr, done
    assert conf.read_text() == FOREIGN


def test_down_stops_only_what_its_pid_files_name(folders):
    (folders / "etc" / "slurm.conf").write_text("# Written by slurm/cluster.sh for test\n")
    theirs, ours, renamed = (daemon(folders, "slurmd"), daemon(folders, "slurmctld"),
                             daemon(folders, "sleep"))  # fmt: skip
    try:
        (folders / "state" / "slurmctld.pid").write_text(f"{ours.pid}\n")
        (folders / "state" / "slurmd.pid").write_text(f"{renamed.pid}\n")  # a reused pid
        done = script(folders, "down")
        assert done.returncode == 0, done
        assert ours.wait(timeout=20) is not None  # its own controller is stopped
        assert theirs.poll() is None  # a slurmd it did not start runs on
        assert renamed.poll() is None  # a pid file naming another program is not obeyed
    finally:
        for process in (theirs, ours, renamed):
            process.kill()
            process.wait()


def test_down_leaves_a_foreign_cluster_alone(folders):
    (folders / "etc" / "slurm.conf").write_text(FOREIGN)
    theirs = daemon(folders, "slurmctld")
    try:
        (folders / "state" / "slurmctld.pid").write_text(f"{theirs.pid}\n")
        done = script(folders, "down")
        assert done.returncode == 0 and "nothing stopped" in done.stdout, done
        assert theirs.poll() is None
    finally:
        theirs.kill()
        theirs.wait()
