"""A terminal that is not UTF-8 gets ASCII stand-ins, never a traceback, and every command's
exit code keeps its meaning: real ``harness`` processes under PYTHONIOENCODING=ascii, latin-1
and cp1252."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.render.document import Table
from harness.render.terminal import table_text
from harness.terminal_text import ascii_fallback, fit
from tests.conftest import ROOT

LABEL = "Zürich ✓ µ-bench"  # a label with letters no 8-bit code page holds all of


def harness(*args: str, encoding: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True, cwd=cwd, env=env, timeout=300,
    )  # fmt: skip


def readable(done: subprocess.CompletedProcess, encoding: str) -> str:
    """stdout decoded strictly in ``encoding`` (fails if the process wrote anything else)."""
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    return done.stdout.decode(encoding)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """``harness run --report`` under an ASCII terminal: the run's own report is printed."""
    folder = tmp_path_factory.mktemp("ascii")
    done = harness(
        "run", "--suite", "smoke", "--workload", "numpy.linreg", "--min-blocks", "2",
        "--max-blocks", "2", "--label", LABEL, "--results-file", "r.jsonl", "--report",
        encoding="ascii", cwd=folder,
    )  # fmt: skip
    text = readable(done, "ascii")
    assert done.returncode == 0, done.stderr.decode(errors="replace")  # was 1: "a workload failed"
    assert "numpy.linreg" in text and "+/-" in text and "us" in text
    return folder / "r.jsonl"


def test_run_report_prints_ascii_and_exits_0(results):
    assert results.exists()


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_report_degrades_in_every_8_bit_encoding(results, encoding):
    done = harness("report", str(results), encoding=encoding, cwd=results.parent)
    text = readable(done, encoding)
    assert done.returncode == 0
    assert "numpy.linreg" in text
    if encoding != "ascii":
        assert "±" in text  # what the encoding holds is written as it is
    # each table is laid out for the encoding: all its lines as wide as its first
    assert tables(text) and all(len({len(line) for line in t}) == 1 for t in tables(text))


def tables(text: str) -> list[list[str]]:
    """Runs of consecutive box lines (one per table)."""
    runs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith(("|", "+", "┃", "│", "┏", "┡", "└")):
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def test_compare_under_ascii(results):
    done = harness("compare", str(results), str(results), encoding="ascii", cwd=results.parent)
    text = readable(done, "ascii")
    assert done.returncode == 0, done.stderr
    assert "numpy.linreg" in text


def test_list_and_env_under_ascii(results):
    listing = harness("list", encoding="ascii", cwd=results.parent)
    assert listing.returncode == 0
    assert "28x28" in readable(listing, "ascii")  # torch.mlp: "28×28 inputs"
    env = harness("env", encoding="ascii", cwd=results.parent)
    assert env.returncode == 0 and readable(env, "ascii")


def test_a_user_error_keeps_exit_2_under_ascii(tmp_path):
    done = harness("report", str(tmp_path / "Zürich.jsonl"), encoding="ascii", cwd=tmp_path)
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert b"Z" in done.stderr and b"rich.jsonl does not exist" in done.stderr


def test_ascii_stand_ins():
    assert [ascii_fallback(c) for c in "±µ×·—é✅"] == ["+/-", "u", "x", ".", "--", "e", "[ok]"]
    assert [ascii_fallback(c) for c in "─│┼╭█"] == ["-", "|", "+", "+", "#"]
    assert ascii_fallback("漢") == "?"
    assert fit("5 µs ± 2%", "ascii") == "5 us +/- 2%"
    assert fit("5 µs ± 2%", "latin-1") == "5 µs ± 2%"
    assert fit("a × b — c", "cp1252") == "a × b — c"  # cp1252 holds both


def test_a_table_keeps_its_columns_when_fitted_to_ascii():
    table = Table(rows=[{"name": "Zürich ✓", "±": "1.0%"}, {"name": "x", "±": "2.0%"}])
    text = table_text(table, "ascii")
    text.encode("ascii")
    lines = [line for line in text.splitlines() if line.strip()]
    assert len({len(line) for line in lines}) == 1 and "Zurich ok" in text
