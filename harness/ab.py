"""``harness ab``: a baseline and a candidate measured on the same machine in one run,
alternating process by process in ABBA order (A B B A A B B A ...), so whatever the machine does
over the run reaches both alike; then each pair is judged.

The two sides differ in where the worker comes from: two Python environments (``--*-python``),
two images (``--*-image``, docker), two git refs (``--*-ref``: a worktree whose code the worker
imports first, with this environment's packages), or environment variables (``--*-env``).

The verdict comes from the pairs: each pair's ratio of process medians, candidate over baseline;
their geometric mean with a Student-t interval on the log ratios (pairs are independent; blocks
of one process are not). Verdicts as ``harness compare``: slower, faster, unchanged, and
``slower (noisy)`` / ``unstable`` when the pairs disagree by more than 25%.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.compare import verdict_for
from harness.launch.base import Launcher
from harness.plan import RunPlan, Task
from harness.record import Record

BASELINE, CANDIDATE = "baseline", "candidate"
NOISY_PAIRS = 0.25  # pair ratios spread (IQR / median) beyond this: noisy

#: two-sided 95% Student-t quantiles by degrees of freedom (1..30); above: the normal's 1.96
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def side_of(process_index: int) -> str:
    """ABBA: pair p holds processes 2p and 2p+1; even pairs run baseline first, odd pairs
    candidate first."""
    pair, second = divmod(process_index, 2)
    first = BASELINE if pair % 2 == 0 else CANDIDATE
    other = CANDIDATE if first == BASELINE else BASELINE
    return other if second else first


class InterleavedLauncher(Launcher):
    """Runs each task with the baseline's or the candidate's launcher, by its process index."""

    name = "ab"

    def __init__(self, baseline: Launcher, candidate: Launcher):
        super().__init__(None)
        self.sides = {BASELINE: baseline, CANDIDATE: candidate}

    def preflight(self, plan: RunPlan) -> None:
        for launcher in self.sides.values():
            launcher.preflight(plan)

    def environment(self) -> dict[str, Any]:
        return {"launcher": "ab"}

    def run(self, task: Task) -> Record:
        side = side_of(task.process_index)
        launcher = self.sides[side]
        record = launcher.run(task)
        record.label = side
        record.environment = {
            **launcher.environment(),
            **record.environment,
            "ab_side": side,
            "ab_pair": task.process_index // 2,
        }
        return record

    def close(self) -> None:
        for launcher in self.sides.values():
            launcher.close()


@dataclass(frozen=True)
class PairVerdict:
    ratio: float
    ci_low: float
    ci_high: float
    pairs: int
    spread: float
    verdict: str


def judge_pairs(
    ratios: list[float], min_effect: float = 0.03, confidence_t: tuple[float, ...] = T_975
) -> PairVerdict:
    """Geometric mean of the pairs' ratios with a t interval on their logs."""
    logs = [math.log(r) for r in ratios if r > 0]
    n = len(logs)
    if n < 2:
        nan = float("nan")
        return PairVerdict(ratios[0] if ratios else nan, nan, nan, n, nan, "too few pairs")
    mean = statistics.fmean(logs)
    sd = statistics.stdev(logs)
    t = confidence_t[n - 2] if n - 1 <= len(confidence_t) else 1.96
    half = t * sd / math.sqrt(n)
    ratio, low, high = math.exp(mean), math.exp(mean - half), math.exp(mean + half)
    quartiles = statistics.quantiles(ratios, n=4) if n >= 4 else [min(ratios), 0, max(ratios)]
    spread = (quartiles[2] - quartiles[0]) / statistics.median(ratios)
    verdict = verdict_for(ratio, low, high, min_effect, noisy=spread > NOISY_PAIRS)
    return PairVerdict(ratio, low, high, n, spread, verdict)


def pair_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload, params, device, phase, pair): the ratio of the candidate's process
    median to the baseline's."""
    ok = frame[(frame["status"] == "ok") & frame["seconds"].notna()].copy()
    ok["pair"] = ok["process"] // 2
    medians = ok.groupby(
        ["workload", "params", "changed_params", "device", "phase", "pair", "label"],
        dropna=False,
        sort=False,
    )["seconds"].median()
    table = medians.unstack("label")
    if BASELINE not in table or CANDIDATE not in table:
        return pd.DataFrame()
    table = table.dropna(subset=[BASELINE, CANDIDATE])
    table["ratio"] = table[CANDIDATE] / table[BASELINE]
    return table.reset_index()


def judge_frame(frame: pd.DataFrame, min_effect: float = 0.03) -> pd.DataFrame:
    """The verdict of every (workload, params, device, phase) from its pairs."""
    pairs = pair_ratios(frame)
    rows = []
    if pairs.empty:
        return pd.DataFrame()
    keys = ["workload", "params", "changed_params", "device", "phase"]
    for key, group in pairs.groupby(keys, sort=False, dropna=False):
        verdict = judge_pairs(group["ratio"].tolist(), min_effect)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "baseline_median_s": float(group[BASELINE].median()),
                "candidate_median_s": float(group[CANDIDATE].median()),
                "ratio": verdict.ratio,
                "ci_low": verdict.ci_low,
                "ci_high": verdict.ci_high,
                "pairs": verdict.pairs,
                "pair_spread": verdict.spread,
                "min_effect": min_effect,
                "verdict": verdict.verdict,
            }
        )
    return pd.DataFrame(rows)


def worktree_for(ref: str) -> str:
    """A git worktree of ``ref`` under .harness/worktrees/, made once per commit: its harness
    and workloads are what the side's workers import (with this environment's packages). The
    repository is the one the current directory is in (a project's own ``module:Class``
    workloads), else harness's own."""
    import subprocess
    from pathlib import Path

    from harness.environment import PROJECT_ROOT
    from harness.errors import UserError

    here = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    root = Path(here.stdout.strip()) if here.returncode == 0 else PROJECT_ROOT

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )

    found = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UserError(f"{ref!r} is not a commit of this repository; give a branch, tag or SHA.")
    sha = found.stdout.strip()
    folder = root / ".harness" / "worktrees" / sha[:12]
    if not (folder / ".git").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "prune")
        made = git("worktree", "add", "--detach", "--force", str(folder), sha)
        if made.returncode != 0:
            raise UserError(f"Cannot make a worktree of {ref}: {made.stderr.strip()}.")
    return str(folder)
