"""A workload that raises, aborts, segfaults, exits, hangs or eats memory costs one result."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, read_jsonl

FAST = ["--suite", "smoke", "--min-blocks", "2", "--max-blocks", "2"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault, status, detail",
    [
        ("Raise", "error", "raises on purpose"),
        ("Abort", "crashed", "SIGABRT"),
        ("Segfault", "crashed", "SIGSEGV"),
        ("Exit", "error", "exited with code 7"),
    ],
)
def test_failure_is_recorded_and_the_suite_goes_on(cli, tmp_path, fault, status, detail):
    out = tmp_path / "r.jsonl"
    result = cli(
        "run",
        *FAST,
        "--workload",
        f"workloads.faults:{fault}",
        "--workload",
        "numpy.linreg",
        "--results-file",
        str(out),
    )
    assert result.returncode == 1, result
    first, second = read_jsonl(out)
    assert first["status"] == status
    error = first["error"]
    text = " ".join(
        [
            error["message"],
            str(error.get("signal")),
            *error.get("stderr_tail", []),
            *error.get("traceback_tail", []),
        ]
    )
    assert detail in text
    assert second["workload"] == "numpy.linreg" and second["status"] == "ok"
    assert "FAILED" in result.stderr and "Traceback" not in result.stderr.split("FAILED")[0]


def marked(marker: str) -> list:
    """Live processes whose environment carries ``HARNESS_TEST_MARK=marker``: what this test
    started, never another test's (or another person's) processes on a shared machine."""
    import psutil

    found = []
    for process in psutil.process_iter(["environ"]):
        try:
            if (process.info["environ"] or {}).get("HARNESS_TEST_MARK") == marker:
                found.append(process)
        except psutil.Error:
            continue
    return [p for p in found if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def is_hang_worker(process) -> bool:
    """The worker of workloads.faults:Hang (not the harness run that names it too)."""
    import psutil

    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "harness.worker" in command and "workloads.faults:Hang" in command


@pytest.mark.slow
def test_hang_past_timeout_is_killed(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    marker = f"hang-{os.getpid()}-{tmp_path.name}"
    result = cli(
        "run", *FAST, "--workload", "workloads.faults:Hang", "--timeout", "3",
        "--results-file", str(out),
        env={"HARNESS_TEST_MARK": marker},
    )  # fmt: skip
    # the run returned (cli's own timeout guards a hang): SIGKILL followed the ignored SIGTERM
    assert result.returncode == 1
    [record] = read_jsonl(out)
    assert record["status"] == "timeout"
    assert "timeout of 3 s" in record["error"]["message"]
    assert marked(marker) == []  # and the worker is gone


@pytest.mark.slow
def test_memory_limit_stops_a_greedy_workload(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    result = cli(
        "run",
        *FAST,
        "--workload",
        "workloads.faults:Allocate",
        "--param",
        "megabytes=3000",
        "--memory",
        "300m",
        "--results-file",
        str(out),
    )
    assert result.returncode == 1, result
    [record] = read_jsonl(out)
    assert record["status"] == "oom"
    assert "memory limit of 300 MiB" in record["error"]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_interrupt_keeps_what_was_measured(tmp_path, sig):
    out = tmp_path / "r.jsonl"
    marker = f"interrupt-{os.getpid()}-{tmp_path.name}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            *FAST,
            "--workload",
            "numpy.linreg",
            "--workload",
            "workloads.faults:Hang",
            "--workload",
            "numpy.mlp",
            "--results-file",
            str(out),
            "--no-progress",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_TEST_MARK": marker},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    hanging: list = []
    while time.monotonic() < deadline and not hanging:  # until the Hang worker runs
        hanging = [p for p in marked(marker) if is_hang_worker(p)]
        time.sleep(0.1)
    assert hanging, "the hanging workload never started"
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = out.read_text().splitlines()
    assert out.read_text().endswith("\n")  # no torn line
    records = read_jsonl(out)
    assert records[0]["workload"] == "numpy.linreg" and records[0]["status"] == "ok"
    assert records[-1]["record_type"] == "interrupted"
    assert records[-1]["signal"] == sig.name
    assert len(lines) == 2
    assert "everything measured so far" in stderr
    # the hanging child is gone (this test's, found by its mark, not by a name others share)
    assert marked(marker) == []
