"""The plan: which tasks a selection makes, in which order, with which settings."""

import pytest

from harness.errors import UserError
from harness.params import parse_override
from harness.plan import build_plan
from harness.suites import get_suite
from harness.task import Task
from harness.timer import TimerSettings


def test_a_sweep_times_processes_makes_one_task_each_in_order():
    plan = build_plan(
        get_suite("smoke"),
        workloads=["numpy.mlp"],
        overrides=[parse_override("batch_size=8,16")],
        processes=2,
        seed=7,
        threads=1,
        timeout=30,
    )
    assert [(t.params["batch_size"], t.process_index) for t in plan.tasks] == [
        (8, 0),
        (8, 1),
        (16, 0),
        (16, 1),
    ]
    assert [t.index for t in plan.tasks] == [0, 1, 2, 3]
    assert {(t.seed, t.threads, t.timeout, t.device) for t in plan.tasks} == {(7, 1, 30, "cpu")}
    assert plan.tasks[0].path == "workloads.numpy_train:NumpyMLPStep"


def test_a_task_travels_as_json_and_back():
    [task] = build_plan(get_suite("smoke"), workloads=["numpy.linreg"]).tasks
    data = task.to_dict()
    assert isinstance(data["timer"], dict) and data["index"] == 0
    again = Task.from_dict(data)
    assert again == task and isinstance(again.timer, TimerSettings)
    assert "numpy.linreg [cpu]" in task.describe()


def test_the_framework_filter_keeps_only_its_workloads():
    plan = build_plan(get_suite("smoke"), frameworks=["numpy"])
    assert plan.tasks and {t.workload.split(".")[0] for t in plan.tasks} == {"numpy"}


def test_tasks_whose_framework_is_absent_here_are_skipped_only_when_they_run_here():
    name = "workloads.faults:NeedsAbsentModule"
    here = build_plan(get_suite("smoke"), workloads=[name])
    assert not here.tasks and "not installed" in here.skipped[0]
    elsewhere = build_plan(get_suite("smoke"), workloads=[name], check_installed=False)
    assert len(elsewhere.tasks) == 1 and not elsewhere.skipped


@pytest.mark.parametrize(
    "options, message",
    [
        ({"workloads": ["nope"]}, "Unknown workload 'nope'; valid workloads:"),
        ({"frameworks": ["cobol"]}, "Unknown framework 'cobol'"),
        ({"devices": ["tpu"]}, "Unknown device 'tpu'"),
        ({"workloads": ["workloads.faults:Raise"], "devices": ["cuda"]}, "does not run on cuda"),
        ({"overrides": [parse_override("nope=1")]}, "No selected workload has a parameter"),
        ({"processes": 0}, "--processes must be at least 1"),
    ],
)
def test_a_bad_selection_is_one_sentence(options, message):
    with pytest.raises(UserError, match=message):
        build_plan(get_suite("smoke"), **options)
