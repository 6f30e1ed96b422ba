"""run(config): records stamped with their run and appended as they come, whatever order a
launcher returns them in; interrupts and launcher settings. The launchers here are registered
the way a new one would be: one class, one line in LAUNCHERS."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

from harness.config import RunConfig, TimerOverrides
from harness.errors import UserError
from harness.launch import LAUNCHERS
from harness.launch.base import Launcher, Option, failure_record
from harness.record import Record
from harness.results import load_records, read_records
from harness.runner import RunEvents, run
from harness.task import Task


@dataclass(frozen=True)
class EchoConfig:
    step_s: float = 0.001
    fail_index: int | None = None

    def __post_init__(self):
        if self.step_s <= 0:
            raise UserError(f"--step-s must be positive, got {self.step_s}.")


class EchoLauncher(Launcher):
    """Answers every task with a record of known samples, without starting a process."""

    name = "echo"
    Config = EchoConfig
    options = (Option("--step-s", "seconds each made-up step takes", float),)
    runs_here = True

    def environment(self):
        return {"launcher": self.name, "echo_step_s": self.config.step_s}

    def run(self, task: Task) -> Record:
        if task.index == self.config.fail_index:
            return failure_record(task, "crashed", "made to fail", exit_code=-11)
        step = self.config.step_s * (1 + task.index)
        return Record(
            workload=task.workload,
            device=task.device,
            params=task.to_dict()["params"],
            process_index=task.process_index,
            task_index=task.index,
            samples={"step": [step, step]},
            environment={"where": f"node-{task.index}"},
        )


class BatchLauncher(EchoLauncher):
    """Submits everything at once; records come back in reverse order."""

    name = "batch"

    def run_all(self, tasks: Iterable[Task]) -> Iterator[Record]:
        yield from reversed([self.run(task) for task in tasks])


class InterruptingLauncher(EchoLauncher):
    name = "interrupting"

    def run_all(self, tasks):
        for task in tasks:
            if task.index == 2:
                raise KeyboardInterrupt
            yield self.run(task)


class Events(RunEvents):
    def __init__(self):
        self.seen = []

    def planned(self, plan, launcher, path):
        self.seen.append(("planned", len(plan.tasks), launcher))

    def task_started(self, done, total, task):
        self.seen.append(("started", done, task.index))

    def task_finished(self, done, total, record):
        self.seen.append(("finished", done, record.task_index))


@pytest.fixture
def registered(monkeypatch):
    for name, cls in (
        ("echo", "EchoLauncher"),
        ("batch", "BatchLauncher"),
        ("interrupting", "InterruptingLauncher"),
    ):
        monkeypatch.setitem(LAUNCHERS, name, f"tests.test_runner:{cls}")


def config(tmp_path, launcher="echo", launcher_config=None, **options):
    return RunConfig(
        suite="smoke",
        workloads=("numpy.linreg",),
        processes=4,
        launcher=launcher,
        launcher_config=launcher_config,
        output=tmp_path / "r.jsonl",
        label="lab",
        timer=TimerOverrides(min_blocks=2),
        **options,
    )


def test_records_are_stamped_with_their_run_and_written_in_order(registered, tmp_path):
    events = Events()
    outcome = run(config(tmp_path, launcher_config=EchoConfig(step_s=0.5)), events)
    assert [r.task_index for r in outcome.records] == [0, 1, 2, 3]
    on_disk = load_records([outcome.path])
    assert [r.samples["step"][0] for r in on_disk] == [0.5, 1.0, 1.5, 2.0]
    first = on_disk[0]
    assert first.run_id == outcome.records[0].run_id and first.run_id.endswith("cpu-echo-lab")
    assert first.suite == "smoke" and first.label == "lab" and first.wall_s >= 0
    # the run's machine facts, the launcher's own, and what it said of the task's node
    assert first.environment["host"] and first.environment["echo_step_s"] == 0.5
    assert [r.environment["where"] for r in on_disk] == [f"node-{i}" for i in range(4)]
    assert events.seen[0] == ("planned", 4, "echo")
    assert events.seen[1:4] == [("started", 0, 0), ("finished", 1, 0), ("started", 1, 1)]
    assert events.seen[-1] == ("finished", 4, 3)


def test_a_batch_launcher_may_return_records_in_any_order(registered, tmp_path):
    outcome = run(config(tmp_path, launcher="batch"))
    assert [r.task_index for r in outcome.records] == [3, 2, 1, 0]
    assert not outcome.failed and not outcome.interrupted


def test_a_failure_is_a_record_and_the_run_goes_on(registered, tmp_path):
    outcome = run(config(tmp_path, launcher_config=EchoConfig(fail_index=1)))
    assert [r.status for r in outcome.records] == ["ok", "crashed", "ok", "ok"]
    [failed] = outcome.failed
    assert failed.error.signal == "SIGSEGV" and failed.framework == "numpy"
    assert failed.code_version  # described from the workload class by the shared constructor


def test_an_interrupt_keeps_what_was_measured_and_says_so(registered, tmp_path):
    outcome = run(config(tmp_path, launcher="interrupting"))
    assert outcome.interrupted == "SIGINT" and len(outcome.records) == 2
    *results, last = list(read_records(outcome.path))
    assert len(results) == 2
    assert (last.record_type, last.completed_tasks, last.planned_tasks) == ("interrupted", 2, 4)


def test_a_config_of_the_wrong_launcher_is_refused(registered, tmp_path):
    from harness.launch.local import LocalConfig

    with pytest.raises(UserError, match="The echo launcher takes a EchoConfig"):
        config(tmp_path, launcher_config=LocalConfig())
    with pytest.raises(UserError, match="valid launchers: local, docker, slurm, echo"):
        config(tmp_path, launcher="nope")
    with pytest.raises(UserError, match="--timeout must be a positive"):
        config(tmp_path, timeout=0)
