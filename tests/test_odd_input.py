"""Bad input and odd states get one sentence and exit 2, never a traceback: reports of runs where
nothing was timed (every format, every section), and output paths that cannot be written,
found before anything is measured or drawn."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_USAGE
from harness.record import Failure, Record, dumps

FORMATS = ("table", "markdown", "csv", "parquet", "html", "gab", "bmf")
DATA_FORMATS = ("csv", "parquet", "gab", "bmf")


def not_timed(status: str, workload: str, message: str) -> Record:
    return Record(
        workload=workload,
        framework="numpy",
        kind="train_step",
        device="cpu",
        params={"batch_size": 8},
        changed_params={"batch_size": 8},
        status=status,
        error=Failure(type="RuntimeError", message=message),
        run_id="2026-11-30T00-00-00_cpu-local",
        suite="default",
    )


@pytest.fixture
def all_failed(tmp_path) -> Path:
    """A run where every task failed: one error, one timeout, one skipped."""
    path = tmp_path / "all-failed.jsonl"
    records = [
        not_timed("error", "numpy.mlp", "this workload raises on purpose"),
        not_timed("timeout", "numpy.linreg", "no record within 5 s"),
        not_timed("skipped", "torch.mlp", "torch is not installed"),
    ]
    path.write_text("".join(dumps(r) + "\n" for r in records))
    return path


def report(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_sentence(err: str) -> bool:
    lines = err.strip().splitlines()
    named = re.match(r"harness( [a-z0-9 -]+)?: ", lines[0]) if lines else None  # and its command
    return len(lines) == 1 and named is not None and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
def test_a_report_of_a_run_where_every_task_failed_lists_the_failures(
    fmt, all_failed, tmp_path, capsys
):
    out = tmp_path / f"report.{fmt}"
    code, _, err = report(capsys, str(all_failed), "--format", fmt, "--output", str(out))
    assert code == 0, err
    text = out.read_text()
    assert "numpy.mlp [cpu] batch_size=8: error" in text
    assert "numpy.linreg [cpu] batch_size=8: timeout" in text
    assert "torch is not installed" in text
    # the reference option computes speed-ups: nothing to compare, nothing to crash on
    code, _, err = report(capsys, str(all_failed), "--format", fmt, "--reference", "x")
    assert code == 0 or one_sentence(err)


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_a_data_export_of_a_run_where_nothing_was_timed_says_so(fmt, all_failed, tmp_path, capsys):
    out = tmp_path / f"report.{fmt}"
    code, _, err = report(capsys, str(all_failed), "--format", fmt, "--output", str(out))
    assert code == EXIT_USAGE and one_sentence(err), err
    assert "no timed samples" in err and "1 error" in err and "1 skipped" in err
    assert not out.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_report_of_an_empty_file_is_one_sentence(fmt, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = report(capsys, str(empty), "--format", fmt, "--output", str(tmp_path / "r"))
    assert code == EXIT_USAGE and one_sentence(err) and "empty" in err


# --- outputs that cannot be written: found first -----------------------------------------------


@pytest.fixture
def blocked(tmp_path) -> Path:
    """A path under a plain file: no folder can be made there, whoever runs the test (root
    included, unlike a read-only folder)."""
    plain = tmp_path / "a-file"
    plain.write_text("")
    return plain / "sub"


def test_a_results_folder_that_cannot_be_written_stops_the_run_before_any_task(
    blocked, tmp_path, capsys, monkeypatch
):
    from harness.launch.local import LocalLauncher

    preflights = []
    monkeypatch.setattr(LocalLauncher, "preflight", lambda self, plan: preflights.append(plan))
    for flag, value in (("--results-dir", blocked), ("--results-file", blocked / "r.jsonl")):
        code = main(["run", "--workload", "numpy.linreg", flag, str(value), "--no-progress"])
        err = capsys.readouterr().err
        assert code == EXIT_USAGE and f"{flag} " in err and "cannot be written" in err
    assert preflights == []  # stopped before the launcher was even asked


def test_a_history_database_that_cannot_be_written_stops_the_run_before_any_task(
    blocked, tmp_path, capsys
):
    results = tmp_path / "results.jsonl"
    code = main(
        ["run", "--workload", "numpy.linreg", "--results-file", str(results), "--history",
         "--db", str(blocked / "history.duckdb"), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "--db " in err and "cannot be written" in err
    assert not results.exists()  # nothing was measured


@pytest.mark.parametrize("fmt", ["markdown", "html", "csv", "parquet", "gab"])
def test_a_report_output_that_cannot_be_written_is_one_sentence(fmt, blocked, capsys):
    fixture = Path(__file__).parent / "fixtures" / "results-v2.jsonl"
    code, _, err = report(capsys, str(fixture), "--format", fmt, "--output", str(blocked / "r"))
    assert code == EXIT_USAGE and one_sentence(err) and "cannot be written" in err


def test_compare_and_manifest_outputs_that_cannot_be_written_are_one_sentence(blocked, capsys):
    fixture = str(Path(__file__).parent / "fixtures" / "results-v2.jsonl")
    code = main(["compare", fixture, fixture, "--output", str(blocked / "c.md")])
    assert code == EXIT_USAGE and one_sentence(capsys.readouterr().err)
    code = main(
        ["k8s", "manifest", "--image", "harness:cpu", "--workload", "numpy.linreg",
         "--output", str(blocked / "job.json")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and one_sentence(err), err


def test_a_writable_output_is_left_as_it_was(tmp_path):
    from harness.writable import check_writable

    fresh = tmp_path / "new" / "r.jsonl"
    check_writable(fresh, "--output")
    assert not fresh.exists()  # checked, not created
    kept = tmp_path / "kept.jsonl"
    kept.write_text(json.dumps({"a": 1}) + "\n")
    check_writable(kept, "--output")
    assert kept.read_text() == '{"a": 1}\n'


# --- the worker (the images' entrypoint) given no task, or not one -----------------------------


def worker(*args: str, stdin: int | None = None, text: str | None = None):
    import os
    import subprocess
    import sys

    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run(
        [sys.executable, "-m", "harness.worker", *args],
        input=text,
        stdin=stdin if text is None else None,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


@pytest.mark.parametrize(
    "args, text, says",
    [
        (
            ("python", "-c", "print(1)"),
            "",
            "only the arguments 'python -c print(1)'",
        ),  # docker run IMAGE CMD
        ((), "", "stdin was empty"),
        ((), "{not json", "is not JSON"),
        ((), "[1, 2]", "a JSON list, not an object"),
        ((), '{"workload": "numpy.linreg"}', "is not a task (no 'timer')"),
        (("--task", ""), None, "--task was empty"),
        (("--task", '{"timer": {}}'), None, "is not a task"),
    ],
)
def test_a_worker_given_no_task_says_so_in_one_sentence(args, text, says):
    done = worker(*args, text=text if text is not None else "")
    assert done.returncode == EXIT_USAGE
    assert one_sentence(done.stderr) and says in done.stderr, done.stderr
    assert "--entrypoint bash" in done.stderr  # how to get a shell in the image instead
    assert done.stdout == ""  # no record: nothing was measured


def test_a_worker_whose_stdin_is_a_terminal_does_not_wait_for_a_task():
    import os

    controller, terminal = os.openpty()
    try:
        done = worker(stdin=terminal)  # docker run -it IMAGE: a terminal, no task
    finally:
        os.close(controller)
        os.close(terminal)
    assert done.returncode == EXIT_USAGE and "stdin is a terminal" in done.stderr
    assert one_sentence(done.stderr)


@pytest.mark.parametrize("base", ["python:3.11-slim\nRUN echo injected", "python 3", ""])
def test_an_image_build_base_that_is_not_one_reference_is_refused(base):
    from harness.errors import UserError
    from harness.images import build_image

    with pytest.raises(UserError, match=r"--base .* is not an image reference"):
        build_image("cpu", base=base)  # refused before the engine is asked anything


@pytest.mark.parametrize(
    "args",
    [["run", "--launcher", "slurm", "--sbatch=--"], ["run", "--param=--"],
     ["run", "--workload=--"], ["run", "--launcher", "slurm", "--partition=--"]],
)  # fmt: skip
def test_an_option_given_only_dashes_is_one_sentence(cli, args):
    done = cli(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done
    assert "was given '--' as its value" in done.stderr


def test_peaks_into_a_folder_that_cannot_be_written_is_refused_before_measuring(cli, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    done = cli("peaks", "--refresh", "--results-dir", str(blocked))
    assert done.returncode == 2 and "cannot be written" in done.stderr, done
    assert "measuring" not in done.stdout
