"""Instructions per step (Callgrind): how much the counts spread between processes, A/A false
alarms, and detection of 2%, 5% and 10% more real work, on numpy.mlp."""

from __future__ import annotations

import itertools
import shutil

from benchmarks.selfbench.common import Row, log, run_records
from harness.analysis.compare import judge_instructions
from harness.launch.local import LocalConfig

SIZE = ("batch_size=64", "features=128", "hidden=64")
STEPS = 50  # one extra real step in fifty is 2%: the N and 2N runs must each see whole steps


def counts(processes: int, extra: float) -> list[float]:
    env = (f"HARNESS_TEST_EXTRA_STEPS={extra}",) if extra else ()
    records = run_records(
        *SIZE,
        suite="smoke",
        workloads=("numpy.mlp",),
        processes=processes,
        measure="instructions",
        instruction_steps=STEPS,
        launcher_config=LocalConfig(env=env),
    )
    return [r.instructions.per_step for r in records if r.ok and r.instructions]


def measure(quick: bool) -> list[Row]:
    if shutil.which("valgrind") is None:
        return [Row("instructions", "instruction counts", "not measured", "—", None, "no valgrind")]
    baselines = 4 if quick else 7
    log(f"instructions: {baselines} baseline processes and 3 per slowdown, under Callgrind")
    base = counts(baselines, 0.0)
    median = sorted(base)[len(base) // 2]
    spread = max(abs(v / median - 1) for v in base)
    rows = [
        Row(
            "instructions",
            "numpy.mlp instructions per step: spread between processes",
            f"{spread:.4%}",
            "≤ 0.5%",
            spread <= 0.005,
            f"{len(base)} processes, {median:,.0f} instructions per step ({STEPS} and "
            f"{2 * STEPS} steps counted)",
        )
    ]
    pairs = list(itertools.combinations(base, 2))
    alarms = sum(judge_instructions([a], [b])["verdict"] != "unchanged" for a, b in pairs)
    rows.append(
        Row(
            "instructions",
            "A/A false alarms (one process against another, 1% threshold)",
            f"{alarms}/{len(pairs)}",
            "0",
            alarms == 0,
        )
    )
    for share in (0.02, 0.05, 0.10):
        slowed = counts(3, share)
        tries = [(b, s) for b in base for s in slowed]
        caught = sum(judge_instructions([b], [s])["verdict"] == "slower" for b, s in tries)
        ratio = sorted(slowed)[0] / median
        rows.append(
            Row(
                "instructions",
                f"{share:.0%} more real work caught (one process against another)",
                f"{caught}/{len(tries)}",
                "≥ 95%" if share == 0.02 else "informational",
                caught / len(tries) >= 0.95 if share == 0.02 and tries else None,
                f"measured ratio {ratio:.4f}",
            )
        )
    return rows
