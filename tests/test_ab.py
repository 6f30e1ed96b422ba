"""harness ab: ABBA order, the pair arithmetic, the sequential stop, and real interleaved runs
of two sides."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.analysis.ab import judge_frame
from harness.commands.ab import exit_code, render_verdicts
from harness.launch.base import Launcher
from harness.launch.interleaved import InterleavedLauncher, side_of
from harness.record import Record
from harness.sequential import SequentialRule, judge_pairs, looks_for
from harness.task import Task
from harness.timer import TimerSettings
from tests.conftest import ROOT, read_jsonl


def test_abba_order():
    assert [side_of(i)[0] for i in range(8)] == list("bccbbccb")


def test_pairs_arithmetic():
    # ratios 1.10, 1.12, 1.08, 1.10 with --pairs 4: looks after 3 and 4 pairs, each at
    # alpha / 2, so the interval is the t(3) interval at 97.5% on the logs
    ratios = [1.10, 1.12, 1.08, 1.10]
    verdict = judge_pairs(ratios, min_effect=0.03)
    logs = [math.log(r) for r in ratios]
    mean, sd = sum(logs) / 4, pd.Series(logs).std()
    half = stats.t.ppf(1 - 0.025 / 2, 3) * sd / 2
    assert verdict.ratio == pytest.approx(math.exp(mean))
    assert verdict.ci_low == pytest.approx(math.exp(mean - half))
    assert verdict.ci_high == pytest.approx(math.exp(mean + half))
    assert verdict.verdict == "slower" and verdict.pairs == 4
    assert judge_pairs([0.999, 1.001, 1.0, 1.0005]).verdict == "same"
    assert judge_pairs([0.80, 0.82, 0.79, 0.81]).verdict == "faster"
    assert judge_pairs([1.5, 2.5, 1.4, 2.6]).verdict == "undecided"  # no longer a verdict
    assert judge_pairs([0.97, 1.03, 1.0, 1.01]).verdict == "undecided"  # not inside ±3% yet
    assert judge_pairs([1.1]).verdict == "undecided"


def test_the_looks_and_what_each_may_spend():
    assert looks_for(64) == (3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
    assert looks_for(5) == (3, 4, 5) and looks_for(2) == (2,)
    assert SequentialRule(alpha=0.05, max_pairs=64).look_alpha == pytest.approx(0.005)
    with pytest.raises(ValueError):
        looks_for(1)


class ScriptedSide(Launcher):
    """A side whose processes report scripted step medians (no process is started)."""

    def __init__(self, seconds, status="ok", clock=None, machine=None):
        super().__init__(None)
        self.seconds, self.status, self.clock, self.machine = seconds, status, clock, machine

    def run(self, task):
        if self.clock:
            self.clock.now += 1.0  # each process takes a second of the (fake) clock
        value = self.seconds(task.process_index) if callable(self.seconds) else self.seconds
        return Record(
            workload=task.workload,
            device=task.device,
            params=task.params,
            process_index=task.process_index,
            status=self.status,
            samples={"step": [value] * 7} if self.status == "ok" else {},
            machine=self.machine,
        )


def tasks(pairs, workloads=("numpy.mlp",)):
    timer = TimerSettings()
    return [
        Task(name, name, {"batch_size": 8}, "cpu", timer, process_index=i)
        for name in workloads
        for i in range(2 * pairs)
    ]


class FakeWallClock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_interleaved_launcher_stops_a_case_at_the_first_decisive_look():
    def noisy(process):  # a 20% slower candidate, 1% alternating noise
        return 1.2e-3 * (1 + 0.01 * (-1) ** (process // 2))

    baseline = ScriptedSide(1e-3)
    launcher = InterleavedLauncher(baseline, ScriptedSide(noisy), SequentialRule(0.03))
    records = list(launcher.run_all(tasks(64, ("numpy.mlp", "numpy.linreg"))))
    assert len(records) == 2 * 2 * 3  # each case decided at the first look: 3 pairs
    assert [r.label for r in records[:6]] == [
        "baseline",
        "candidate",
        "candidate",
        "baseline",
    ] * 1 + [
        "baseline",
        "candidate",
    ]
    verdicts = judge_frame(frame_of(records), SequentialRule(0.03))
    assert set(verdicts["verdict"]) == {"slower"} and set(verdicts["pairs"]) == {3}
    # the sides shown are the ratio's own terms: candidate / baseline is the ratio
    shown = verdicts["candidate_median_s"] / verdicts["baseline_median_s"]
    assert np.allclose(shown, verdicts["ratio"])


def test_the_budget_ends_a_case_undecided_after_a_whole_abba_cycle():
    def wobbly(process):  # candidate pairs swing ±10%: nothing decides in a few pairs
        return 1e-3 * (1.1 if (process // 2) % 3 else 0.9)

    clock = FakeWallClock()
    sides = ScriptedSide(1e-3, clock=clock), ScriptedSide(wobbly, clock=clock)
    launcher = InterleavedLauncher(*sides, SequentialRule(0.03), 10.0, clock)
    records = list(launcher.run_all(tasks(64)))
    assert len(records) == 2 * 6  # 10 s spent during pair 5; checked after whole cycles
    verdicts = judge_frame(frame_of(records), SequentialRule(0.03))
    assert set(verdicts["verdict"]) == {"undecided"}
    text = render_verdicts(verdicts, "markdown", 10.0, "pass")
    assert "could not tell a 3% change in 10 s here (6 pairs; pair spread ±" in text
    assert "no regression" not in text
    assert exit_code(verdicts, False, "pass") == 0 and exit_code(verdicts, False, "fail") == 1


def test_a_failed_process_ends_its_case():
    launcher = InterleavedLauncher(ScriptedSide(1e-3), ScriptedSide(1e-3, status="crashed"))
    records = list(launcher.run_all(tasks(64)))
    assert len(records) == 2 and records[-1].status == "crashed"


def test_same_passes_and_slower_fails():
    launcher = InterleavedLauncher(ScriptedSide(1e-3), ScriptedSide(1.0001e-3), SequentialRule())
    same = judge_frame(frame_of(list(launcher.run_all(tasks(64)))))
    assert set(same["verdict"]) == {"same"} and exit_code(same, False, "fail") == 0
    assert "✅ harness ab: no regression (1 same)" in render_verdicts(same, "markdown")
    slower = same.assign(verdict="slower")
    assert exit_code(slower, False, "pass") == 1
    assert "REGRESSION" in render_verdicts(slower, "markdown")


def test_a_noisy_machine_side_is_said_in_the_row():
    busy = ScriptedSide(1e-3, machine={"noisy": True, "noisy_reasons": ["load"]})
    launcher = InterleavedLauncher(ScriptedSide(1e-3), busy, SequentialRule())
    verdicts = judge_frame(frame_of(list(launcher.run_all(tasks(64)))))
    assert set(verdicts["noisy_machine"]) == {"candidate"}
    text = render_verdicts(verdicts, "markdown")
    assert "| noisy: candidate |" in text and "the verdict is computed as usual" in text


def frame_of(records):
    from harness.results import frame_from_records

    for index, record in enumerate(records):
        record.source, record.index = "ab.jsonl", index
    return frame_from_records(records)


@pytest.mark.slow
def test_an_interleaved_run_flags_a_slowed_candidate(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.mlp", "--param", "batch_size=64",
        "--pairs", "5", "--candidate-env", "HARNESS_TEST_EXTRA_WORK=2.0", "--min-blocks", "7",
        "--max-blocks", "7", "--results-file", "ab.jsonl", "--format", "markdown",
        "--output", "ab.md",
    )  # fmt: skip
    assert result.returncode == 1, result
    verdicts = (tmp_path / "ab.md").read_text(encoding="utf-8")
    assert "REGRESSION" in verdicts and "**slower**" in verdicts
    assert "REGRESSION" not in result.stdout and "verdicts written to ab.md" in result.stderr
    records = read_jsonl(tmp_path / "ab.jsonl")
    labels = ["baseline", "candidate", "candidate", "baseline"] * 2 + ["baseline", "candidate"]
    assert len(records) in (6, 8, 10)  # stopped at a look: 3, 4 or 5 pairs
    assert [r["label"] for r in records] == labels[: len(records)]
    slowed = [r for r in records if r["label"] == "candidate"]
    assert all(r["metrics"]["test_extra_work"] == 2.0 for r in slowed)


@pytest.mark.slow
def test_a_git_ref_runs_from_its_own_worktree(cli, tmp_path):
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.linreg", "--pairs", "2",
        "--baseline-ref", "HEAD", "--results-file", "ab.jsonl",
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
        (["--budget", "0", "--candidate-env", "A=1"], "--budget must be a positive number"),
        (["--min-effect", "2", "--candidate-env", "A=1"], "--min-effect must be between"),
        (["--candidate-python", "/no/such/python"], "is not an executable file"),
        (["--candidate-python", "/etc/hostname"], "--candidate-python /etc/hostname"),
        (["--candidate-env", "A=1", "--results-file", "v.html"], "not a document like v.html"),
    ],
)
def test_bad_ab_input_is_one_sentence(cli, args, message):
    result = cli("ab", "--suite", "smoke", "--workload", "numpy.linreg", *args)
    assert result.returncode == 2 and message in result.stderr, result
