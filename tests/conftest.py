from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class CliResult:
    def __init__(self, completed: subprocess.CompletedProcess, pid: int = 0):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        #: the harness process's id: what it created (containers, labelled host:pid) is its own
        self.pid = pid

    def __repr__(self) -> str:
        return f"<rc={self.returncode}\nstdout={self.stdout[-2000:]}\nstderr={self.stderr[-2000:]}>"


#: ids of the `harness` processes the cli fixture started this session
HARNESS_PIDS: set[int] = set()


@pytest.fixture
def cli(tmp_path):
    """Run the real `harness` command in a fresh process, in a scratch folder."""

    def run(*args: str, timeout: float = 300, env: dict | None = None) -> CliResult:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        with subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=full_env,
        ) as process:
            HARNESS_PIDS.add(process.pid)
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        return CliResult(done, process.pid)

    return run


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


TINY_WORKLOAD = '''
from harness.workload import Workload


class Tiny(Workload):
    """A user's own workload in a user's own repository: pure Python, so Callgrind is quick."""

    name = "tiny"
    framework = "python"

    def step(self, mark):
        total = 0
        for i in range({n}):
            total += i * i
        mark("forward")
        mark("backward")
        mark("update")
'''


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def project_with_two_commits(folder: Path) -> Path:
    """A user's git repository with a ``module:Class`` workload (``tiny_work:Tiny``) and two
    commits: HEAD's step does 20% more work than HEAD~1's."""
    repo = folder / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "tiny_work.py").write_text(TINY_WORKLOAD.format(n=2000))
    _git(repo, "add", "tiny_work.py")
    _git(repo, "commit", "-q", "-m", "base")
    (repo / "tiny_work.py").write_text(TINY_WORKLOAD.format(n=2400))
    _git(repo, "commit", "-q", "-am", "more work")
    return repo


def _cluster_answers() -> str | None:
    """None when a Slurm cluster answers with an idle node, else why not."""
    if shutil.which("sinfo") is None:
        return "Slurm is not installed (make slurm-up installs and starts a one-node cluster)"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 20 s"
    if done.returncode != 0:
        return f"sinfo failed: {done.stderr.strip()}"
    states = [state.rstrip("*~#!%$@^-") for state in done.stdout.split()]
    if not any(state in ("idle", "mix", "alloc", "plnd", "comp", "resv") for state in states):
        return f"no node is up (sinfo: {done.stdout.split()})"
    return None


@pytest.fixture
def cluster():
    why = _cluster_answers()
    if why is not None:
        if os.environ.get("HARNESS_REQUIRE_SLURM") == "1":
            pytest.fail(f"HARNESS_REQUIRE_SLURM=1 but no Slurm cluster answers: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
def engine():
    from harness.errors import UserError
    from harness.launch.docker import docker_client

    try:
        client = docker_client()
    except UserError as error:
        if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
            pytest.fail(f"HARNESS_REQUIRE_DOCKER=1 but the engine is unusable: {error}")
        pytest.skip(f"no Docker engine: {error}")
    started = time.time()
    yield client
    # No test may leave a container behind, not even one created and never started. Only this
    # session's count: made by a launcher in this process or in a `harness` it started (the
    # launcher label names host:pid), or unlabelled and made by this process's tests, never
    # another person's on a shared engine.
    import socket

    from harness.launch.docker import LAUNCHER_LABEL

    owners = {f"{socket.gethostname()}:{pid}" for pid in {os.getpid(), *HARNESS_PIDS}}
    left = [
        container
        for container in client.containers.list(all=True)
        if (container.attrs.get("Config", {}).get("Image", "") or "").startswith("harness")
        and _created_at(container) >= started - 1
        and container.labels.get(LAUNCHER_LABEL, f"{socket.gethostname()}:{os.getpid()}") in owners
    ]
    for container in left:
        container.remove(force=True, v=True)
    client.close()
    assert not left, f"the tests left containers: {[(c.name, c.status) for c in left]}"


def _created_at(container) -> float:
    import datetime as dt

    stamp = container.attrs.get("Created", "")[:26].rstrip("Z")  # nanoseconds cut to micro
    try:
        return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return float("inf")


def build_image(target: str) -> str:
    """Build harness:<target> through the real CLI, on HARNESS_BASE_IMAGE where set (cached
    layers make a rebuild quick)."""
    base = os.environ.get("HARNESS_BASE_IMAGE")
    command = [sys.executable, "-m", "harness", "images", "build", "--target", target]
    if base:
        command += ["--base", base]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    return f"harness:{target}"
