"""``harness ab``: a baseline and a candidate measured on the same machine in one run,
alternating process by process in ABBA order (A B B A A B B A ...), so whatever the machine does
over the run reaches both alike; then each pair is judged.

The two sides differ in where the worker comes from: two Python environments (``--*-python``),
two images (``--*-image``, docker), two git refs (``--*-ref``: a worktree whose code the worker
imports first, with this environment's packages), or environment variables (``--*-env``).

The verdict comes from the pairs: each pair's ratio of process medians (or instruction counts),
candidate over baseline. Each workload case (workload, params, device) runs pair after pair
until the sequential rule of ``harness.sequential`` says *slower* / *faster*, *same*, or the
case's time budget (wall seconds of its processes, start-up included, checked after each whole
ABBA cycle) or its most pairs run out: then what was not decided is *undecided*. The rule
watches the ``step`` phase; every phase is judged at the look where the case stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterable
from typing import Any

import numpy as np
import pandas as pd

from harness.environment import stamp
from harness.launch.base import Capabilities, Launcher
from harness.measures import counted_measures, measure_for
from harness.plan import RunPlan, Task
from harness.record import Record
from harness.record_parts import Placement
from harness.sequential import SequentialRule, judge_pairs

__all__ = ["InterleavedLauncher", "judge_frame", "judge_pairs", "pair_ratios", "side_of"]

BASELINE, CANDIDATE = "baseline", "candidate"


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

    def __init__(
        self,
        baseline: Launcher,
        candidate: Launcher,
        rule: SequentialRule | None = None,
        budget_s: float = float("inf"),
        clock: Any = time.monotonic,
    ):
        super().__init__(None)
        self.sides = {BASELINE: baseline, CANDIDATE: candidate}
        #: a task runs on either side: what both can run
        self.capabilities: Capabilities = baseline.capabilities & candidate.capabilities
        self.rule = rule or SequentialRule()
        self.budget_s = budget_s
        self.clock = clock

    def run_all(self, tasks: Iterable[Task]) -> Generator[Record, None, None]:
        """Case by case, pair by pair, until the rule decides the case's step or its budget
        or most pairs run out (a failed task also ends its case: its pair has no ratio)."""
        cases: dict[tuple, list[Task]] = {}
        for task in tasks:
            key = (task.workload, task.device, json.dumps(task.to_dict()["params"], sort_keys=True))
            cases.setdefault(key, []).append(task)
        for case in cases.values():
            watch = CaseWatch(self.rule, self.budget_s, self.clock)
            for task in sorted(case, key=lambda t: t.process_index)[: 2 * self.rule.max_pairs]:
                record = self.run(task)
                yield record
                if watch.stop_after(record, task.process_index):
                    break

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
        placement = Placement.of(ab_side=side, ab_pair=task.process_index // 2)
        stamp(record, launcher=launcher.environment(), placement=placement)
        return record

    def close(self) -> None:
        for launcher in self.sides.values():
            launcher.close()


class CaseWatch:
    """What the launcher knows of one case while it runs: each pair's step log ratio, and the
    wall time since the case began."""

    def __init__(self, rule: SequentialRule, budget_s: float, clock: Any):
        self.rule, self.budget_s, self.clock = rule, budget_s, clock
        self.started = clock()
        self.values: dict[int, dict[str, float]] = {}

    def stop_after(self, record: Record, process_index: int) -> bool:
        """Whether the case ends after this record."""
        if record.status != "ok":
            return True
        value = step_value(record)
        if value is None or value <= 0:
            return True  # nothing this rule can judge: no step, or a non-positive one
        pair, second = divmod(process_index, 2)
        self.values.setdefault(pair, {})[record.label or ""] = value
        if not second:
            return False
        pairs = pair + 1
        if self.rule.is_look(pairs):
            logs = self.logs()
            if len(logs) == pairs and str(self.rule.decide(logs)) != "undecided":
                return True
        return pairs % 2 == 0 and self.clock() - self.started >= self.budget_s

    def logs(self) -> np.ndarray:
        both = [v for v in self.values.values() if BASELINE in v and CANDIDATE in v]
        return np.log([v[CANDIDATE] / v[BASELINE] for v in both])


def step_value(record: Record) -> float | None:
    """What a pair compares for one process: its measure's ``value`` (the step median in
    seconds, instructions per step...)."""
    return measure_for(record.measure).value(record)


def pair_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload, params, device, phase, pair): the ratio of the candidate's process
    median to the baseline's; a per-process measure's figure (phase: the measure's name,
    ``instructions``) where counted."""
    ok = frame[(frame["status"] == "ok") & frame["seconds"].notna()].copy()
    for measure in counted_measures():
        if measure.column not in frame:
            continue
        counted = frame[(frame["status"] == "ok") & frame[measure.column].notna()]
        counted = counted.drop_duplicates(["source", "record"]).copy()
        if not counted.empty:
            counted["phase"], counted["seconds"] = measure.name, counted[measure.column]
            ok = pd.concat([ok, counted], ignore_index=True)
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


def judge_frame(frame: pd.DataFrame, rule: SequentialRule | None = None) -> pd.DataFrame:
    """The verdict of every (workload, params, device, phase) from its pairs: the rule's
    decision at the look where the case stopped (its last pair)."""
    rule = rule or SequentialRule()
    pairs = pair_ratios(frame)
    if pairs.empty:
        return pd.DataFrame()
    rows = []
    keys = ["workload", "params", "changed_params", "device", "phase"]
    noisy = _noisy_sides(frame)
    for key, group in pairs.groupby(keys, sort=False, dropna=False):
        verdict = judge_pairs(group["ratio"].tolist(), rule.min_effect, rule.alpha, rule.max_pairs)
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
                "resolution": verdict.resolution,
                "min_effect": rule.min_effect,
                "verdict": verdict.verdict,
                "noisy_machine": noisy.get((key[0], key[1], key[3]), ""),
            }
        )
    return pd.DataFrame(rows)


def _noisy_sides(frame: pd.DataFrame) -> dict[tuple, str]:
    """(workload, params, device) -> the sides the machine watch flagged ('' when none)."""
    if "noisy_machine" not in frame:
        return {}
    flagged = frame[frame["noisy_machine"].fillna(False).astype(bool)]
    found: dict[tuple, set[str]] = {}
    for r in flagged.drop_duplicates(["source", "record"]).itertuples():
        found.setdefault((r.workload, r.params, r.device), set()).add(str(r.label))
    return {k: " and ".join(sorted(v)) for k, v in found.items()}


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
