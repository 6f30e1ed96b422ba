"""Each task runs once: no workload declares a parameter twice, no suite declares the same task
twice, and a selection that makes two tasks equal runs that task once. Processes are counted
per worker process across merged results files."""

from __future__ import annotations

import pytest

from harness.analysis.summary import summary_frame
from harness.errors import UserError
from harness.params import Param, parse_override, resolve_params
from harness.plan import build_plan, catalogue, workload_class
from harness.record import Record, Timing
from harness.results import frame_from_records
from harness.suites import SUITES, get_suite


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_no_workload_declares_a_parameter_twice(name):
    names = [p.name for p in workload_class(name).params]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_a_parameter_declared_twice_is_refused():
    twice = (Param("classes", "int", 10, "a"), Param("lr", "float", 0.1, "b"),
             Param("classes", "int", 4, "c"))  # fmt: skip
    with pytest.raises(UserError, match="classes more than once"):
        resolve_params(twice, {}, [], "x.y")


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_no_suite_declares_the_same_task_twice(suite):
    plan = build_plan(get_suite(suite), check_installed=False)
    assert plan.merged == []
    keys = [(t.path, sorted(t.to_dict()["params"].items(), key=str), t.device, t.process_index)
            for t in plan.tasks]  # fmt: skip
    assert len(keys) == len({repr(k) for k in keys})


def test_entries_an_override_makes_equal_run_once():
    # the default suite's two torch.dataloader entries differ only in num_workers
    plan = build_plan(
        get_suite("default"),
        workloads=["torch.dataloader"],
        overrides=[parse_override("num_workers=1")],
        check_installed=False,
    )
    assert len(plan.tasks) == 1 and [t.index for t in plan.tasks] == [0]
    assert len(plan.merged) == 1 and "declared 2 times" in plan.merged[0]


def test_a_workload_named_twice_or_a_value_swept_twice_runs_once():
    plan = build_plan(get_suite("smoke"), workloads=["numpy.linreg", "numpy.linreg"])
    assert len(plan.tasks) == 1
    sweep = build_plan(
        get_suite("smoke"), workloads=["numpy.linreg"],
        overrides=[parse_override("lr=0.1,0.1,0.2")], processes=2,
    )  # fmt: skip
    assert [(t.params["lr"], t.process_index) for t in sweep.tasks] == [
        (0.1, 0), (0.1, 1), (0.2, 0), (0.2, 1)
    ]  # fmt: skip
    assert [t.index for t in sweep.tasks] == [0, 1, 2, 3]


def record(run_id: str, process: int, pid: int, source: str, index: int) -> Record:
    found = Record(
        workload="numpy.linreg", device="cpu", params={"batch_size": 8}, run_id=run_id,
        process_index=process, worker_pid=pid, started_at=f"2026-11-30T10:00:0{pid % 10}",
        samples={"step": [1.0, 1.1, 0.9]}, items_per_step=8, timing=Timing(first_step_s=2.0),
        framework="numpy", kind="train_step", changed_params={},
    )  # fmt: skip
    found.source, found.index = source, index
    return found


def processes_of(records: list[Record]) -> int:
    return int(summary_frame(frame_from_records(records))["processes"].iloc[0])


def test_processes_are_counted_across_merged_files():
    # two runs of one process each, in two files: both are process 0 of their run
    assert processes_of([record("run-a", 0, 11, "a.jsonl", 0),
                         record("run-b", 0, 12, "b.jsonl", 0)]) == 2  # fmt: skip
    # a run of two processes merged with a run of one: three processes
    assert processes_of([record("run-a", 0, 11, "a.jsonl", 0), record("run-a", 1, 13, "a.jsonl", 1),
                         record("run-b", 0, 12, "b.jsonl", 0)]) == 3  # fmt: skip
    # the same file given twice is still one process
    assert processes_of([record("run-a", 0, 11, "a.jsonl", 0),
                         record("run-a", 0, 11, "copy/a.jsonl", 0)]) == 1  # fmt: skip


def test_a_file_given_twice_counts_each_record_once(tmp_path):
    import shutil

    from harness.analysis.summary import summary_frame
    from harness.record import Record, Timing
    from harness.results import ResultWriter, load_frame

    path = tmp_path / "m2.jsonl"
    with ResultWriter(path) as writer:
        for process in range(2):
            writer.append(Record(run_id="r", workload="numpy.mlp", framework="numpy",
                                 kind="train_step", device="cpu", params={}, process_index=process,
                                 worker_pid=100 + process, started_at="2026-11-30T00:00:00",
                                 samples={"step": [1e-3, 1.1e-3, 0.9e-3]},
                                 timing=Timing(block_size=1)))  # fmt: skip
    shutil.copy(path, tmp_path / "copy.jsonl")
    once = summary_frame(load_frame([path])).iloc[0]
    for files in ([path, path], [path, tmp_path / "copy.jsonl"]):
        twice = summary_frame(load_frame(files)).iloc[0]
        assert (twice["count"], twice["processes"]) == (once["count"], once["processes"]) == (6, 2)
        assert twice["precision"] == once["precision"]
