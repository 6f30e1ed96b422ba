"""harness ab: ABBA order, the pair arithmetic, and real interleaved runs of two sides."""

import pytest

from harness.ab import judge_pairs, side_of
from tests.conftest import ROOT, read_jsonl


def test_abba_order():
    assert [side_of(i)[0] for i in range(8)] == list("bccbbccb")


def test_pairs_arithmetic():
    # ratios 1.10, 1.12, 1.08, 1.10: geometric mean 1.0999, t(3) interval on the logs
    verdict = judge_pairs([1.10, 1.12, 1.08, 1.10], min_effect=0.03)
    assert verdict.ratio == pytest.approx(1.09995, rel=1e-4)
    assert 1.07 < verdict.ci_low < 1.09 < 1.11 < verdict.ci_high < 1.13
    assert verdict.verdict == "slower" and verdict.pairs == 4
    assert judge_pairs([0.99, 1.01, 1.0, 1.005]).verdict == "unchanged"
    assert judge_pairs([0.80, 0.82, 0.79, 0.81]).verdict == "faster"
    assert judge_pairs([1.5, 2.5, 1.4, 2.6]).verdict == "slower (noisy)"
    assert judge_pairs([1.1]).verdict == "too few pairs"


@pytest.mark.slow
def test_an_interleaved_run_flags_a_slowed_candidate(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.mlp", "--param", "batch_size=64",
        "--pairs", "5", "--candidate-env", "HARNESS_TEST_EXTRA_WORK=2.0", "--min-blocks", "7",
        "--max-blocks", "7", "--output", "ab.jsonl", "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "REGRESSION" in result.stdout and "**slower" in result.stdout  # (noisy) or not
    records = read_jsonl(tmp_path / "ab.jsonl")
    labels = ["baseline", "candidate", "candidate", "baseline"] * 2 + ["baseline", "candidate"]
    assert [r["label"] for r in records] == labels
    slowed = [r for r in records if r["label"] == "candidate"]
    assert all(r["metrics"]["test_extra_work"] == 2.0 for r in slowed)


@pytest.mark.slow
def test_a_git_ref_runs_from_its_own_worktree(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.linreg", "--pairs", "2",
        "--baseline-ref", "HEAD", "--output", "ab.jsonl",
    )  # fmt: skip
    assert result.returncode in (0, 1), result  # an A/A run: any verdict, but both sides ran
    records = read_jsonl(tmp_path / "ab.jsonl")
    roots = {r["label"]: r["harness_root"] for r in records}
    assert ".harness/worktrees/" in roots["baseline"]
    assert roots["candidate"] == str(ROOT)
    assert all(r["status"] == "ok" for r in records)


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "The two sides are the same"),
        (["--baseline-ref", "no-such-ref"], "is not a commit of this repository"),
        (["--candidate-env", "NOEQUALS"], "must look like KEY=VALUE"),
        (["--pairs", "1", "--candidate-env", "A=1"], "--pairs must be at least 2"),
    ],
)
def test_bad_ab_input_is_one_sentence(cli, args, message):
    result = cli("ab", "--suite", "smoke", "--workload", "numpy.linreg", *args)
    assert result.returncode == 2 and message in result.stderr, result
