"""Bisecting and aggregating: probes and wall time for ``harness bisect`` to name an injected
commit of a generated 32-commit repository (instruction counts, and wall time at a 10% change),
and the A/A coverage of ``harness report``'s one number per setup (simulated)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.selfbench.common import Row, log

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = """
import numpy as np

from harness.workload import Workload


class Work(Workload):
    name = "user.work"
    framework = "numpy"
    kind = "train_step"
    phases = ("forward", "backward", "update")
    params = ()

    def setup(self):
        self.a = np.ones((64, 64))
        self.repeats = REPEATS

    def step(self, mark):
        for _ in range(self.repeats):
            self.a = (self.a @ self.a) * 1e-3
        mark("forward")
        mark("backward")
        mark("update")
"""


def generated_repository(folder: Path, commits: int, first_bad: int, extra: float) -> list[str]:
    """A git repository: a first commit, then ``commits`` more; commit ``first_bad`` (0-based
    after the first) makes the step ``extra`` more real work. Returns the SHAs, oldest first."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)

    folder.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    git("config", "user.email", "selfbench@example.com")
    git("config", "user.name", "selfbench")
    repeats = 50
    for i in range(-1, commits):
        if i == first_bad:
            repeats = round(repeats * (1 + extra))
        (folder / "userbench.py").write_text(WORKLOAD.replace("REPEATS", str(repeats)))
        (folder / "notes.txt").write_text(f"commit {i}\n")
        git("add", ".")
        git("commit", "-q", "-m", f"commit {i}")
    listed = subprocess.run(["git", "-C", str(folder), "rev-list", "--reverse", "HEAD"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return listed.stdout.split()


def bisect_once(measure: str, extra: float, commits: int, first_bad: int,
                budget: float) -> tuple[bool | None, int, float, str]:  # fmt: skip
    """(named the injected commit: True / a wrong one: False / a range: None, probes, seconds,
    what it said)."""
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        shas = generated_repository(repo, commits, first_bad, extra)
        extra_args = ["--instruction-steps", "5", "--pairs", "3"] if measure == "instructions" \
            else ["--pairs", "24"]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "harness", "bisect", shas[0], shas[-1], "--workload",
             "userbench:Work", "--measure", measure, "--budget", str(budget), "--no-progress",
             "--results-dir", str(Path(scratch) / "results"), *extra_args],
            cwd=repo, capture_output=True, text=True, timeout=7200,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        seconds = time.perf_counter() - started
        probes = done.stderr.count("harness: probe ")
        injected = shas[1 + first_bad][:12]
        said = next((line.strip() for line in done.stdout.splitlines() if "bisect:" in line), "")
        if done.returncode == 0:
            return injected in said, probes, seconds, said
        return None, probes, seconds, said or done.stderr.strip().splitlines()[-1:][0]


def aggregate_coverage(trials: int) -> float:
    from harness.analysis.aggregate import aggregate_frame
    from tests.test_aggregate import simulated

    rng = np.random.default_rng(2026)
    covered = 0
    for trial in range(trials):
        [row] = aggregate_frame(simulated(rng, ["A", "B"]), "A", resamples=500,
                                seed=trial).itertuples()  # fmt: skip
        covered += row.ci_low <= 1.0 <= row.ci_high
    return covered / trials


def measure(quick: bool) -> list[Row]:
    rows: list[Row] = []
    commits = 32
    bound = math.ceil(math.log2(commits)) + 1
    log("bisect: instructions, 32 commits, +2% at commit 19")
    named, probes, seconds, said = bisect_once("instructions", 0.02, commits, 19, 600)
    rows.append(Row("bisection", "bisect by instructions, 32 commits, +2% injected",
                    f"{probes} probes, {seconds:.0f} s", f"the commit in ≤ {bound} probes",
                    bool(named) and probes <= bound, said))  # fmt: skip
    if not quick:
        log("bisect: wall time, 32 commits, +10% at commit 11")
        named, probes, seconds, said = bisect_once("time", 0.10, commits, 11, 120)
        rows.append(Row("bisection", "bisect by wall time, 32 commits, +10% injected",
                        f"{probes} probes, {seconds:.0f} s",
                        "the commit, or a range holding it; never a wrong commit",
                        named is not False, said))  # fmt: skip
    trials = 100 if quick else 400
    log(f"aggregate: A/A coverage over {trials} simulated comparisons")
    coverage = aggregate_coverage(trials)
    allowance = 3 * math.sqrt(0.95 * 0.05 / trials)
    rows.append(Row("bisection", "one number per setup: A/A interval covers 1.00",
                    f"{coverage:.1%} of {trials}", f"≥ 95% (− {allowance:.1%} for {trials} trials)",
                    coverage >= 0.95 - allowance,
                    "8 workloads, 3 processes × 10 blocks a side, 5% between processes, "
                    "1% within"))  # fmt: skip
    return rows
