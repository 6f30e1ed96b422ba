"""The launcher of ``harness ab``: a baseline and a candidate measured on the same machine in
one run, alternating process by process in ABBA order (A B B A A B B A ...), so whatever the
machine does over the run reaches both alike. The verdicts on the pairs are
``harness.analysis.ab``'s.

The two sides differ in where the worker comes from: two Python environments (``--*-python``),
two images (``--*-image``, docker), two git refs (``--*-ref``: a worktree whose code the worker
imports first, with this environment's packages, ``worktree_for``), or environment variables
(``--*-env``). Each workload case (workload, params, device) runs pair after pair until the
sequential rule of ``harness.sequential`` decides its ``step`` phase, or the case's time
budget (wall seconds of its processes, start-up included, checked after each whole ABBA cycle) or
its most pairs run out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from harness.launch.base import Capabilities, Launcher
from harness.machine.environment import stamp
from harness.measures import measure_for
from harness.plan import RunPlan
from harness.record import Record
from harness.record_parts import Placement
from harness.sequential import SequentialRule
from harness.task import Task

__all__ = ["BASELINE", "CANDIDATE", "InterleavedLauncher", "side_of", "step_value", "worktree_for"]

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


def worktree_for(ref: str) -> str:
    """A git worktree of ``ref`` under .harness/worktrees/, made once per commit: its harness
    and workloads are what the side's workers import (with this environment's packages). The
    repository is the one the current directory is in (a project's own ``module:Class``
    workloads), else harness's own."""
    import subprocess
    from pathlib import Path

    from harness.errors import UserError
    from harness.machine.environment import PROJECT_ROOT

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
