"""A training loss that is not finite is flagged in the record and the report, for every
framework; it is read outside the measured blocks only."""

from __future__ import annotations

import math

import pytest

from harness.loss_check import LossCheck, warning
from harness.timer import Timer, TimerSettings
from harness.workload import Workload
from tests.conftest import read_jsonl

SETTINGS = TimerSettings(
    warmup_time=0.0, warmup_max_steps=1, min_time=0.0, min_blocks=4, max_blocks=4,
    min_block_time=0.0, overhead_factor=0.0,
)  # fmt: skip


class Diverging(Workload):
    """Loss 1.0 for ``good_steps`` steps, then NaN (or inf); logs what the timer calls."""

    name = "test.diverging"
    phases = ()

    def __init__(self, good_steps: int, bad: float = math.nan):
        super().__init__({}, "cpu")
        self.good_steps, self.bad = good_steps, bad
        self.steps = 0
        self.events: list[str] = []

    def step(self, mark) -> None:
        self.steps += 1
        self.events.append("step")

    def synchronize(self) -> None:
        self.events.append("sync")

    def loss_value(self) -> float:
        self.events.append("loss")
        return 1.0 if self.steps <= self.good_steps else self.bad


def reads_outside_blocks(events: list[str]) -> bool:
    """Every loss read comes right after a block's closing synchronize and before the next
    block's opening one: never between a block's two clock reads."""
    for i, event in enumerate(events):
        if event == "loss":
            before = events[i - 1] if i else None
            after = events[i + 1] if i + 1 < len(events) else None
            if before != "sync" or after not in ("sync", "loss", None):
                return False
    return True


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_loss_that_goes_non_finite_during_the_measured_blocks_is_flagged(bad):
    workload = Diverging(good_steps=3, bad=bad)
    loss = Timer(SETTINGS).run(workload).loss
    assert loss is not None and loss["finite"] is False and loss["first"] == 1.0
    assert loss["non_finite"] >= 1 and loss["first_non_finite"].startswith("measured block")
    assert reads_outside_blocks(workload.events)
    assert "not the timing of training" in str(warning(loss))


def test_a_finite_loss_is_recorded_and_not_flagged():
    workload = Diverging(good_steps=10**9)
    loss = Timer(SETTINGS).run(workload).loss
    assert loss is not None and loss["finite"] is True and loss["checked"] == 1 + 4
    assert warning(loss) is None and reads_outside_blocks(workload.events)


def test_a_workload_without_a_loss_records_none():
    class NoLoss(Workload):
        phases = ()

        def step(self, mark) -> None:
            pass

    assert Timer(SETTINGS).run(NoLoss({}, "cpu")).loss is None
    check = LossCheck(NoLoss({}, "cpu"))
    check.read("first step")
    assert check.result() is None


def test_diverged_training_is_flagged_for_every_framework(cli, tmp_path):
    """The issue's example (torch.mlp lr=1e30) and the same in NumPy and Keras; the same
    workloads at a sane learning rate are not flagged."""
    out = tmp_path / "r.jsonl"
    done = cli(
        "run", "--suite", "smoke", "--workload", "torch.mlp", "--workload", "numpy.mlp",
        "--workload", "keras.fit", "--param", "lr=0.01,1e30", "--min-blocks", "2",
        "--max-blocks", "2", "--results-file", str(out), "--report",
    )  # fmt: skip
    assert done.returncode == 0, done
    records = [r for r in read_jsonl(out) if r["status"] == "ok"]
    frameworks = {r["framework"] for r in records}
    assert {"torch", "numpy"} <= frameworks
    for record in records:
        diverged = record["params"]["lr"] > 1
        assert record["loss"]["finite"] is (not diverged), record["workload"]
        assert any("loss was not finite" in w for w in record.get("warnings", [])) is diverged
    flags: list[tuple[bool, bool]] = []  # (row of lr=1e30, row flagged), first table only
    params = ""
    for line in done.stdout.split("What limits")[0].splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if line.startswith("│ ") and len(cells) > 4 and cells[4] not in ("", "phase"):
            params = cells[3] or params  # a section's later rows leave the case's cells blank
            flags.append(("1e+30" in params, "loss-diverged" in line))
    assert {diverged for diverged, _ in flags} == {True, False}
    assert all(diverged == flagged for diverged, flagged in flags), flags
    assert "these timings are of NaN arithmetic" in done.stdout


def test_every_training_workload_reports_its_loss():
    """The kind, not the example: a training workload without ``loss_value`` could diverge
    unseen (the real models once did)."""
    from harness.workload import Workload, load_workload_class
    from workloads import CATALOGUE

    silent = []
    for name, path in CATALOGUE.items():
        cls = load_workload_class(path)
        trains = cls.kind == "train_step" and cls.framework not in ("python",)
        if trains and cls.loss_value is Workload.loss_value:
            silent.append(name)
    assert silent == []
