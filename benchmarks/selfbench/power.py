"""The regression gate's power on real workloads: A/A false alarms and detection of 2%, 5% and
10% slowdowns of numpy.mlp and torch.mlp, for `harness ab` (pairs interleaved) and for
`harness compare` on separate runs.

The slowdown is real work: HARNESS_TEST_EXTRA_WORK makes every phase of every step also run
32×32 matrix products for about that share of its time, their number counted in the warm-up and
fixed from then on (harness.extra_work). One schedule serves every figure: rounds of five
fresh processes in rotating order (baseline, a second baseline for A/A, +2%, +5%, +10%), each
arm launched by its own LocalLauncher, through the public run API.

* ab: a comparison is four consecutive rounds — four pairs of one arm against the baseline,
  taken in the same rounds, judged by `harness.ab.judge_pairs`.
* compare: a comparison takes the baseline's three processes from some rounds and the arm's
  three from three other rounds, later in the run (separate runs, as two CI jobs would be),
  judged by `harness.compare.compare_frames`.
"""

from __future__ import annotations

from typing import Any

from benchmarks.selfbench.common import Row, log
from harness.config import RunConfig, TimerOverrides
from harness.launch.base import Launcher
from harness.launch.local import LocalConfig, LocalLauncher
from harness.params import parse_override
from harness.plan import Task
from harness.record import Record

ARMS = {"baseline": 0.0, "A/A": 0.0, "2%": 0.02, "5%": 0.05, "10%": 0.10}
PAIRS = 4  # pairs per ab comparison, as harness ab's default
PER_RUN = 3  # processes per side of a compare comparison, as the compare suite
SIZES = {
    "numpy.mlp": ("batch_size=256", "features=784", "hidden=256"),
    "torch.mlp": ("batch_size=256", "hidden=256"),
}


class RotatingLauncher(Launcher):
    """Round r runs the arms in an order rotated by r, so no arm is always first."""

    name = "rotating"

    def __init__(self) -> None:
        super().__init__(None)
        self.arms = {
            name: LocalLauncher(LocalConfig(env=(f"HARNESS_TEST_EXTRA_WORK={share}",)))
            for name, share in ARMS.items()
        }

    def arm_of(self, process_index: int) -> str:
        names = list(self.arms)
        round_index, slot = divmod(process_index, len(names))
        return names[(slot + round_index) % len(names)]

    def run(self, task: Task) -> Record:
        arm = self.arm_of(task.process_index)
        record = self.arms[arm].run(task)
        record.label = arm
        record.environment["power_round"] = task.process_index // len(self.arms)
        return record


def schedule(workload: str, rounds: int, quick: bool) -> Any:
    import tempfile
    from pathlib import Path

    from harness.results import load_frame
    from harness.runner import RunEvents, run

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "power.jsonl"
        config = RunConfig(
            suite="smoke",
            workloads=(workload,),
            overrides=tuple(parse_override(p) for p in SIZES[workload]),
            processes=rounds * len(ARMS),
            timer=TimerOverrides(
                warmup_time=0.2, min_time=0.3, min_blocks=10, max_blocks=10_000, max_time=0.6
            ),
            output=out,
        )
        run(config, RunEvents(), RotatingLauncher())
        frame = load_frame([out])
    frame = frame[frame["phase"] == "step"].copy()
    frame["round"] = frame["process"] // len(ARMS)
    return frame


def ab_verdicts(frame: Any, arm: str) -> tuple[list[str], float]:
    """Verdicts of consecutive groups of PAIRS rounds; mean measured seconds per comparison."""
    from harness.ab import judge_pairs

    medians = frame.groupby(["round", "label"])["seconds"].median().unstack("label")
    verdicts, seconds = [], []
    rounds = sorted(medians.index)
    for start in range(0, len(rounds) - PAIRS + 1, PAIRS):
        chosen = rounds[start : start + PAIRS]
        ratios = (medians.loc[chosen, arm] / medians.loc[chosen, "baseline"]).tolist()
        verdicts.append(judge_pairs(ratios).verdict)
        part = frame[frame["round"].isin(chosen) & frame["label"].isin(["baseline", arm])]
        seconds.append(_measured_seconds(part))
    return verdicts, sum(seconds) / max(len(seconds), 1)


def compare_verdicts(frame: Any, arm: str) -> tuple[list[str], float]:
    """Baseline from rounds 2k·PER_RUN.., the arm from the next PER_RUN rounds: separate runs."""
    from harness.compare import compare_frames

    verdicts, seconds = [], []
    rounds = sorted(frame["round"].unique())
    for start in range(0, len(rounds) - 2 * PER_RUN + 1, 2 * PER_RUN):
        base_rounds = rounds[start : start + PER_RUN]
        cand_rounds = rounds[start + PER_RUN : start + 2 * PER_RUN]
        base = frame[(frame["label"] == "baseline") & frame["round"].isin(base_rounds)]
        cand = frame[(frame["label"] == arm) & frame["round"].isin(cand_rounds)]
        result = compare_frames(base, cand)
        verdicts.append("slower" if not result.regressions.empty else "not flagged")
        seconds.append(_measured_seconds(base) + _measured_seconds(cand))
    return verdicts, sum(seconds) / max(len(seconds), 1)


def _measured_seconds(part: Any) -> float:
    """Seconds inside measured blocks: the samples times the block size."""
    return float((part["seconds"] * part["block_size"]).sum())


def measure(quick: bool) -> list[Row]:
    rows: list[Row] = []
    for workload in SIZES:
        rounds = 16 if quick else (40 if workload == "numpy.mlp" else 24)
        log(f"power: {workload}, {rounds} rounds of {len(ARMS)} processes")
        frame = schedule(workload, rounds, quick)
        for method, judge in (("ab", ab_verdicts), ("compare", compare_verdicts)):
            for arm in ("A/A", "2%", "5%", "10%"):
                verdicts, seconds = judge(frame, arm)
                flagged = sum(v.startswith("slower") for v in verdicts)
                n = len(verdicts)
                target, passed = _target(method, arm, flagged, n, seconds)
                what = "false alarms" if arm == "A/A" else f"{arm} slowdown caught"
                rows.append(
                    Row(
                        "power",
                        f"{workload} · {method} · {what}",
                        f"{flagged}/{n}",
                        target,
                        passed,
                        f"{seconds:.1f} s of measurement per comparison"
                        + (f" ({PAIRS} pairs)" if method == "ab" else f" ({PER_RUN}+{PER_RUN})"),
                    )
                )
    return rows


def _target(method: str, arm: str, flagged: int, n: int, seconds: float) -> tuple[str, bool | None]:
    if n == 0:
        return "—", None
    if arm == "A/A":
        return "≤ 1/20", flagged / n <= 1 / 20
    if method == "ab" and arm == "10%":
        return "≥ 95% within 60 s", flagged / n >= 0.95 and seconds <= 60
    if method == "ab" and arm == "5%":
        return "≥ 80% within 60 s", flagged / n >= 0.80 and seconds <= 60
    return "informational", None
