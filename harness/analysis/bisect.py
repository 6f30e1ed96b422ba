"""``harness bisect GOOD BAD``: the first commit between two refs that changed a workload's speed,
with a decision at every probe.

The commits are those on the first-parent path from GOOD (excluded) to BAD (included), oldest
first. Every probe is the regression gate itself: the sequential A/B of ``harness ab`` between
two commits' worktrees (ABBA pairs until *slower* / *faster*, *same* within the minimum effect,
or *undecided* when its budget runs out). First the ends: BAD against GOOD must differ, and the
direction it differs in (slower, or faster for an improvement) is what is looked for. Then a
binary search keeps ``lo`` (a commit like GOOD) and ``hi`` (a commit like BAD): a probe of the
middle commit against GOOD that says *different* moves ``hi`` to it, *same* moves ``lo``; an
*undecided* one is asked again against BAD (*same* as BAD moves ``hi``, *different* moves
``lo``) and then re-measured up to ``retries`` times. A probe still undecided stops the search
honestly: the change lies in the commits between ``lo`` and ``hi``. With instruction counts
(near-deterministic) every probe decides, so n commits take at most ⌈log₂ n⌉ + 1 probes.

Unlike a fixed threshold (TorchBench's bisector) or a probe with no "undecided" (asv find), a
noisy machine yields a wider range, never a wrong commit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UserError

SLOWER, FASTER, SAME, UNDECIDED = "slower", "faster", "same", "undecided"


@dataclass(frozen=True)
class ProbeResult:
    """One probe: ``candidate`` measured against ``baseline`` by the sequential A/B."""

    baseline: str
    candidate: str
    verdict: str  # slower, faster, same, undecided, or failed
    ratio: float | None = None  # candidate / baseline
    ci_low: float | None = None
    ci_high: float | None = None
    pairs: int = 0


Probe = Callable[[str, str], ProbeResult]


@dataclass
class BisectResult:
    commits: list[str]  # GOOD excluded, BAD included, oldest first
    probes: list[ProbeResult] = field(default_factory=list)
    direction: str | None = None  # what BAD is against GOOD: slower or faster
    first: str | None = None  # the first commit like BAD, when found
    suspects: list[str] = field(default_factory=list)  # where the change lies
    reason: str = ""

    @property
    def found(self) -> bool:
        return self.first is not None


def commits_between(good: str, bad: str, repository: Path) -> list[str]:
    """The first-parent commits after ``good`` up to ``bad``, oldest first (full SHAs).

    Raises UserError when either is not a commit, or ``good`` is not an ancestor of ``bad``."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(repository), *args], capture_output=True,
                              text=True, check=False)  # fmt: skip

    shas = []
    for ref in (good, bad):
        found = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if found.returncode != 0:
            raise UserError(f"{ref!r} is not a commit of {repository}; give a branch, tag or SHA.")
        shas.append(found.stdout.strip())
    if git("merge-base", "--is-ancestor", shas[0], shas[1]).returncode != 0:
        raise UserError(f"{good} is not an ancestor of {bad}: give GOOD first, then BAD.")
    listed = git("rev-list", "--first-parent", "--ancestry-path", "--reverse",
                 f"{shas[0]}..{shas[1]}")  # fmt: skip
    commits = listed.stdout.split()
    if not commits:
        raise UserError(f"There is no commit between {good} and {bad}.")
    return commits


def bisect(good: str, commits: list[str], probe: Probe, retries: int = 1) -> BisectResult:
    """The search itself over ``commits`` (GOOD excluded, oldest first), asking ``probe``."""
    result = BisectResult(commits=list(commits))
    bad = commits[-1]

    def ask(baseline: str, candidate: str) -> ProbeResult:
        answer = probe(baseline, candidate)
        result.probes.append(answer)
        return answer

    ends = ask(good, bad)
    for _ in range(retries):
        if ends.verdict != UNDECIDED:
            break
        ends = ask(good, bad)
    if ends.verdict not in (SLOWER, FASTER):
        result.suspects = list(commits)
        result.reason = (
            f"the ends are {ends.verdict}: no change to look for"
            if ends.verdict == SAME
            else f"the ends themselves were {ends.verdict}: the change (if any) lies anywhere"
        )
        return result
    result.direction = ends.verdict
    lo, hi = -1, len(commits) - 1  # commits[lo] is like GOOD (-1: GOOD), commits[hi] like BAD
    while hi - lo > 1:
        mid = (lo + hi) // 2
        side = _place(good, bad, commits[mid], result.direction, ask, retries)
        if side is None:
            result.suspects = commits[lo + 1 : hi + 1]
            result.reason = (
                f"{commits[mid][:12]} stayed undecided against both ends: the change lies in "
                f"these {hi - lo} commits"
            )
            return result
        if side == "bad":
            hi = mid
        else:
            lo = mid
    result.first, result.suspects = commits[hi], [commits[hi]]
    return result


def _place(good: str, bad: str, commit: str, direction: str,
           ask: Callable[[str, str], ProbeResult], retries: int) -> str | None:  # fmt: skip
    """'good' or 'bad' for ``commit``, or None when no probe could decide."""
    for _ in range(1 + retries):
        against_good = ask(good, commit).verdict
        if against_good == direction:
            return "bad"
        if against_good == SAME:
            return "good"
        against_bad = ask(bad, commit).verdict
        if against_bad == SAME:
            return "bad"
        if against_bad == _opposite(direction):
            return "good"
    return None


def _opposite(direction: str) -> str:
    return FASTER if direction == SLOWER else SLOWER
