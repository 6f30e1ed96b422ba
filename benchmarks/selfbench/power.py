"""The regression gate's power on real workloads: A/A false alarms, and how often 5% and 10%
slowdowns of numpy.mlp and torch.mlp are called *different*, *same* or *undecided*, for
`harness ab` (its sequential rule, within its default 120 s budget) and for `harness compare` on
separate runs (three processes a side).

The slowdown is real work: HARNESS_TEST_EXTRA_WORK makes every phase of every step also run
32×32 matrix products for about that share of its time, their number counted in the warm-up and
fixed from then on (harness.extra_work). Every side of every comparison sets the variable (0 for
a baseline), so the two sides of an A/A comparison are launched alike.

* ab: each comparison is one real `harness ab` run through the public API (the interleaved
  launcher, ABBA pairs, `SequentialRule` at its defaults, a 120 s wall budget per case, start-up
  included), judged by `harness.analysis.ab.judge_frame`. Comparisons of the arms alternate
  (A/A, 5%, 10%, A/A, ...) so that the machine's slow hours reach every arm.
* compare: rounds of four separate runs of three processes each (baseline, A/A, +5%, +10%);
  each arm's run against the round's baseline run, judged by
  `harness.analysis.compare.compare_frames`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.selfbench.common import Row, log
from harness.config import RunConfig, TimerOverrides
from harness.launch.local import LocalConfig, LocalLauncher
from harness.params import parse_override

ARMS = {"A/A": 0.0, "5%": 0.05, "10%": 0.10}
BUDGET_S = 120.0  # harness ab's default --budget
MIN_EFFECT = 0.03  # harness ab's default --min-effect for wall time
PER_RUN = 3  # processes per side of a compare comparison: the fewest it judges
SIZES = {
    "numpy.mlp": ("batch_size=256", "features=784", "hidden=256"),
    "torch.mlp": ("batch_size=256", "hidden=256"),
}
#: ab comparisons per (workload, arm); at least 20 A/A comparisons in all
AB_COMPARISONS = {"numpy.mlp": {"A/A": 20, "5%": 8, "10%": 8},
                  "torch.mlp": {"A/A": 4, "5%": 6, "10%": 6}}  # fmt: skip
#: compare rounds per workload (each gives one comparison per arm)
COMPARE_ROUNDS = {"numpy.mlp": 20, "torch.mlp": 6}
TIMER = TimerOverrides(
    warmup_time=0.3, min_time=0.3, min_blocks=10, max_blocks=10_000, max_time=0.6
)


def _config(workload: str, processes: int, out: Path) -> RunConfig:
    return RunConfig(
        suite="smoke",
        workloads=(workload,),
        overrides=tuple(parse_override(p) for p in SIZES[workload]),
        processes=processes,
        timer=TIMER,
        output=out,
    )


def _launcher(share: float) -> LocalLauncher:
    return LocalLauncher(LocalConfig(env=(f"HARNESS_TEST_EXTRA_WORK={share}",)))


def ab_comparison(workload: str, share: float, quick: bool) -> dict[str, Any]:
    """One `harness ab` run: the step row's verdict, its pairs, and its wall seconds."""
    from harness.analysis.ab import judge_frame
    from harness.launch.interleaved import InterleavedLauncher
    from harness.results import load_frame
    from harness.runner import RunEvents, run
    from harness.sequential import SequentialRule

    rule = SequentialRule(MIN_EFFECT)
    budget = BUDGET_S / 2 if quick else BUDGET_S
    launcher = InterleavedLauncher(_launcher(0.0), _launcher(share), rule, budget)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "ab.jsonl"
        started = time.monotonic()
        run(_config(workload, 2 * rule.max_pairs, out), RunEvents(), launcher)
        wall = time.monotonic() - started
        verdicts = judge_frame(load_frame([out]), rule)
    step = verdicts[verdicts["phase"] == "step"]
    if step.empty:
        return {"verdict": "failed", "pairs": 0, "wall": wall, "ratio": float("nan")}
    row = step.iloc[0]
    return {"verdict": row["verdict"], "pairs": int(row["pairs"]), "wall": wall,
            "ratio": float(row["ratio"])}  # fmt: skip


def ab_rows(workload: str, quick: bool) -> list[Row]:
    counts = {arm: (n + 1) // 2 if quick else n for arm, n in AB_COMPARISONS[workload].items()}
    results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for index in range(max(counts.values())):
        for arm, share in ARMS.items():
            if index < counts[arm]:
                outcome = ab_comparison(workload, share, quick)
                log(f"power: ab {workload} {arm} #{index + 1}: {outcome['verdict']} after "
                    f"{outcome['pairs']} pairs, {outcome['wall']:.0f} s")  # fmt: skip
                results[arm].append(outcome)
    budget = BUDGET_S / 2 if quick else BUDGET_S
    rows = []
    for arm, outcomes in results.items():
        n = len(outcomes)
        tally = {v: sum(o["verdict"] == v for o in outcomes) for v in
                 ("slower", "faster", "same", "undecided", "failed")}  # fmt: skip
        detail = (
            ", ".join(f"{k} {v}" for k, v in tally.items() if v)
            + f"; median {statistics.median(o['pairs'] for o in outcomes):.0f} pairs and "
            f"{statistics.median(o['wall'] for o in outcomes):.0f} s wall per comparison "
            f"(budget {budget:g} s, min effect {MIN_EFFECT:.0%})"
        )
        if arm == "A/A":
            alarms = tally["slower"] + tally["faster"]
            rows.append(Row("power", f"{workload} · ab · A/A: false *different*", f"{alarms}/{n}",
                            "≤ 1/20", alarms / n <= 1 / 20, detail))  # fmt: skip
            continue
        caught = tally["slower"]
        target = 0.95 if arm == "10%" else 0.80
        rows.append(Row("power", f"{workload} · ab · {arm} slowdown called *slower*",
                        f"{caught}/{n}", f"≥ {target:.0%} within {budget:g} s",
                        caught / n >= target, detail))  # fmt: skip
        rows.append(Row("power", f"{workload} · ab · {arm} slowdown left *undecided*",
                        f"{tally['undecided']}/{n}", "informational", None,
                        f"*same* (a false equivalence) {tally['same']}/{n}"))  # fmt: skip
    return rows


def compare_rows(workload: str, quick: bool) -> list[Row]:
    from harness.analysis.compare import compare_frames
    from harness.results import load_frame
    from harness.runner import RunEvents, run

    rounds = COMPARE_ROUNDS[workload] // (2 if quick else 1)
    flagged = {arm: 0 for arm in ARMS}
    unjudged = {arm: 0 for arm in ARMS}
    measured = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(rounds):
            frames = {}
            for name, share in {"baseline": 0.0, **ARMS}.items():
                out = Path(folder) / f"{index}-{name.replace('/', '')}.jsonl"
                run(_config(workload, PER_RUN, out), RunEvents(), _launcher(share))
                frame = load_frame([out])
                frames[name] = frame
            base = frames["baseline"]
            for arm in ARMS:
                result = compare_frames(base, frames[arm])
                flagged[arm] += not result.regressions.empty
                step = result.rows[result.rows["phase"] == "step"]
                unjudged[arm] += bool((step["verdict"] == "unjudged").any())
            measured.append(_measured_seconds(base) + _measured_seconds(frames["A/A"]))
            log(f"power: compare {workload} round {index + 1}/{rounds}")
    rows = []
    detail = (f"{PER_RUN}+{PER_RUN} processes, {statistics.median(measured):.1f} s inside "
              "measured blocks per comparison")  # fmt: skip
    for arm in ARMS:
        what = "A/A: false *slower*" if arm == "A/A" else f"{arm} slowdown called *slower*"
        target, passed = ("≤ 1/20", flagged[arm] / rounds <= 1 / 20) if arm == "A/A" else (
            "informational", None)  # fmt: skip
        extra = f"; unjudged {unjudged[arm]}" if unjudged[arm] else ""
        rows.append(Row("power", f"{workload} · compare · {what}", f"{flagged[arm]}/{rounds}",
                        target, passed, detail + extra))  # fmt: skip
    return rows


def _measured_seconds(part: Any) -> float:
    """Seconds inside measured blocks: the samples times the block size."""
    step = part[part["phase"] == "step"]
    return float((step["seconds"] * step["block_size"]).sum())


def measure(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for workload in SIZES:
        log(f"power: {workload}, harness compare on separate runs")
        rows += compare_rows(workload, quick)
        log(f"power: {workload}, harness ab comparisons")
        rows += ab_rows(workload, quick)
    ab_aa = [r for r in rows if "· ab · A/A" in r.figure]
    alarms = sum(int(r.value.split("/")[0]) for r in ab_aa)
    total = sum(int(r.value.split("/")[1]) for r in ab_aa)
    rows.append(Row("power", "ab · A/A: false *different*, both workloads", f"{alarms}/{total}",
                    "≤ 1/20", total > 0 and alarms / total <= 1 / 20))  # fmt: skip
    return rows
