"""What a run guarantees when things around it fail: a killed launcher takes its worker with it,
a full disk loses nothing measured, an absent framework is a skip with a reason."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.machine import parent_watch
from tests.conftest import ROOT, read_jsonl

pytestmark = pytest.mark.slow


def harness_process(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def workers_of(parent_pid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            env = process.info["environ"] or {}
            cmdline = process.info["cmdline"] or []
        except psutil.Error:
            continue
        if env.get(parent_watch.PARENT_VARIABLE) == str(parent_pid) and any(
            "harness.worker" in part for part in cmdline
        ):
            found.append(process)
    return found


def test_kill_9_of_a_run_leaves_no_worker(tmp_path):
    run = harness_process(
        tmp_path,
        "run",
        "--workload",
        "workloads.faults:Hang",
        "--timeout",
        "300",
        "--results-file",
        str(tmp_path / "r.jsonl"),
        "--no-progress",
    )
    deadline = time.monotonic() + 30
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and not workers:
        workers = workers_of(run.pid)
        time.sleep(0.1)
    assert workers, "the worker never started"
    run.send_signal(signal.SIGKILL)
    run.communicate()
    # the workers notice their parent is gone and end: wait for that, however busy the machine
    _, alive = psutil.wait_procs(workers, timeout=120)
    alive = [w for w in alive if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"worker(s) outlived the killed run: {[w.pid for w in alive]}"


def test_a_worker_whose_launcher_is_already_gone_ends_at_once():
    # HARNESS_PARENT_PID names a process that is not the worker's parent: it must not run.
    task = {"workload": "numpy.linreg"}  # never parsed: the watch acts first
    done = subprocess.run(
        [sys.executable, "-m", "harness.worker", "--task", json.dumps(task)],
        env={**os.environ, "PYTHONPATH": str(ROOT), parent_watch.PARENT_VARIABLE: "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 137
    assert "is gone" in done.stderr and done.stdout == ""


def test_a_full_disk_exits_2_and_saves_what_was_measured(cli, tmp_path):
    rescue_dir = tmp_path / "rescue"
    rescue_dir.mkdir()
    result = cli(
        "run",
        "--suite",
        "smoke",
        "--workload",
        "numpy.linreg",
        "--workload",
        "numpy.mlp",
        "--results-file",
        "/dev/full",  # every write fails with ENOSPC, as on a full disk
        env={"TMPDIR": str(rescue_dir)},
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr
    [rescued] = list(rescue_dir.glob("harness-rescued-*.jsonl"))
    assert str(rescued) in result.stderr
    records = read_jsonl(rescued)
    # the run stopped at the first record it could not write; that record is kept
    assert [r["workload"] for r in records] == ["numpy.linreg"]
    assert records[0]["status"] == "ok" and records[0]["samples"]["step"]


def test_an_absent_framework_is_a_skip_with_its_reason_not_a_failure(tmp_path):
    from harness.plan import build_plan
    from harness.suites import get_suite

    # where it ran (a container, a cluster node), the worker finds the module missing
    plan = build_plan(
        get_suite("smoke"), workloads=["workloads.faults:NeedsAbsentModule"], check_installed=False
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.worker", "--task", json.dumps(plan.tasks[0].to_dict())],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "skipped"
    assert "harness_module_that_does_not_exist not installed" in record["error"]["message"]
    # the report lists it under Skipped with the reason, not under Failed
    from harness.documents.report import write_report
    from harness.record import from_json
    from harness.results import frame_from_records

    text = write_report(frame_from_records([from_json(record)]), "table", None)
    assert "Skipped:" in text and "not installed" in text and "Failed:" not in text
