"""--measure instructions: Callgrind's counts, their arithmetic on recorded output, and real
counts that catch a few percent of extra real work where wall time could not."""

import os
import shutil
import subprocess
import sys

import pytest

from harness.analysis.compare import judge_instructions
from harness.errors import UserError
from harness.instructions import parse_totals
from tests.conftest import ROOT, project_with_two_commits, read_jsonl

CALLGRIND_OUT = """# callgrind format
version: 1
creator: callgrind-3.19.0
cmd: python -m harness.instructions --task {} --steps 10
events: Ir
fl=(1) ???
fn=(1) 0x0000000000001100
0 5
summary: 405889115
totals: 405889115
"""

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None and not os.environ.get("HARNESS_REQUIRE_VALGRIND"),
    reason="no valgrind here (CI sets HARNESS_REQUIRE_VALGRIND=1: then a missing one fails)",
)


def test_the_total_is_read_from_a_callgrind_file():
    assert parse_totals(CALLGRIND_OUT) == 405_889_115
    assert parse_totals("summary: 12\n") == 12
    with pytest.raises(ValueError):
        parse_totals("events: Ir\n")


def test_instruction_verdicts():
    base = [1_000_000, 1_000_050]
    assert judge_instructions(base, [1_020_000])["verdict"] == "slower"
    assert judge_instructions(base, [1_005_000])["verdict"] == "unchanged"  # under 1%
    assert judge_instructions(base, [980_000])["verdict"] == "faster"
    noisy = judge_instructions([1_000_000, 1_060_000], [1_050_000])
    assert noisy["spread"] > 0.02 and noisy["verdict"] == "unchanged"  # within its own spread


def test_only_the_local_launcher_counts_instructions():
    from harness.launch import check_capabilities, make_launcher
    from harness.plan import build_plan
    from harness.suites import get_suite

    plan = build_plan(get_suite("smoke"), workloads=["numpy.linreg"], measure="instructions")
    check_capabilities(make_launcher("local"), plan)
    for name in ("docker", "slurm"):
        with pytest.raises(UserError, match="local launcher only"):
            check_capabilities(make_launcher(name), plan)


@pytest.mark.slow
@needs_valgrind
def test_counts_repeat_and_catch_ten_percent_more_real_work(cli, tmp_path):
    args = ["run", "--suite", "smoke", "--workload", "numpy.linreg", "--measure", "instructions",
            "--instruction-steps", "50", "--processes", "2"]  # fmt: skip
    assert cli(*args, "--results-file", "a.jsonl").returncode == 0
    assert cli(*args, "--results-file", "b.jsonl").returncode == 0
    slowed = cli(*args, "--results-file", "c.jsonl", env={"HARNESS_TEST_EXTRA_STEPS": "0.1"})
    assert slowed.returncode == 0, slowed
    counts = [r["instructions"]["per_step"] for r in read_jsonl(tmp_path / "a.jsonl")]
    counts += [r["instructions"]["per_step"] for r in read_jsonl(tmp_path / "b.jsonl")]
    assert max(counts) / min(counts) - 1 < 0.005  # the spread target: 0.5%
    same = cli("compare", "a.jsonl", "b.jsonl")
    assert same.returncode == 0 and "instructions" in same.stdout, same
    caught = cli("compare", "a.jsonl", "c.jsonl", "--format", "markdown")
    assert caught.returncode == 1 and "**slower**" in caught.stdout, caught
    [slow] = read_jsonl(tmp_path / "c.jsonl")[:1]
    assert slow["metrics"]["test_extra_steps"] == 0.1
    ratio = slow["instructions"]["per_step"] / min(counts)
    assert ratio == pytest.approx(1.10, abs=0.01)  # exactly five extra real steps in fifty


@pytest.mark.slow
@needs_valgrind
def test_ab_judges_instructions_too(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.linreg", "--measure", "instructions",
        "--instruction-steps", "50", "--pairs", "2", "--results-file", "ab.jsonl",
        "--candidate-env", "HARNESS_TEST_EXTRA_STEPS=0.1",
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "REGRESSION (1 slower)" in result.stdout and "instructions" in result.stdout
    records = read_jsonl(tmp_path / "ab.jsonl")
    assert {r["measure"] for r in records} == {"instructions"}
    assert [r["label"] for r in records] == ["baseline", "candidate", "candidate", "baseline"]


@pytest.mark.slow
@needs_valgrind
def test_ab_between_two_refs_from_the_repository_root_counts_each_side(tmp_path):
    """Run from the repository root, as the Makefile and the CI example do: the current
    directory comes first on a ``python -m`` process's path, so a Callgrind process left there
    counted the current checkout on both sides (old code: ratio 1.000, exit 0)."""
    repo = project_with_two_commits(tmp_path)  # HEAD has 20% more work than HEAD~1
    result = subprocess.run(
        [sys.executable, "-m", "harness", "ab", "--workload", "tiny_work:Tiny",
         "--measure", "instructions", "--instruction-steps", "20", "--pairs", "2",
         "--baseline-ref", "HEAD~1", "--candidate-ref", "HEAD", "--results-file", "ab.jsonl",
         "--no-progress"],
        cwd=repo, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "REGRESSION (1 slower)" in result.stdout and "instructions" in result.stdout
    records = read_jsonl(repo / "ab.jsonl")
    assert all(r["status"] == "ok" for r in records), records
    per_step = {side: [r["instructions"]["per_step"] for r in records if r["label"] == side]
                for side in ("baseline", "candidate")}  # fmt: skip
    assert min(per_step["candidate"]) / max(per_step["baseline"]) > 1.10
    versions = {r["label"]: r["code_version"] for r in records}
    assert versions["baseline"] != versions["candidate"]  # each side hashed its own source
    roots = {r["harness_root"] for r in records}
    assert roots == {str(ROOT)}  # the project has no harness of its own: the installed one


@pytest.mark.slow
@needs_valgrind
def test_instruction_records_say_which_harness_they_counted(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.linreg", "--measure", "instructions",
        "--instruction-steps", "5", "--pairs", "2", "--results-file", "ab.jsonl",
        "--baseline-ref", "HEAD",
    )  # fmt: skip
    assert result.returncode in (0, 1), result
    roots = {r["label"]: r["harness_root"] for r in read_jsonl(tmp_path / "ab.jsonl")}
    assert ".harness/worktrees/" in roots["baseline"]
    assert roots["candidate"] == str(ROOT)
