"""The measure registry and the launchers' capabilities: a measure a launcher does not declare
is refused before anything runs, and a worker handed one writes a failed record saying why."""

import pytest

from harness.config import RunConfig
from harness.errors import UserError
from harness.launch import check_capabilities, make_launcher
from harness.launch.interleaved import InterleavedLauncher
from harness.measures import MEASURES, all_measures, counted_measures, measure_for
from harness.plan import build_plan
from harness.suites import get_suite
from harness.worker import run_task


def plan_of(measure: str, device: str = "cpu"):
    return build_plan(
        get_suite("smoke"), workloads=["numpy.linreg"], devices=[device], measure=measure
    )


def test_the_registry_names_each_measure_once():
    assert list(MEASURES) == [m.name for m in all_measures()]
    assert [m.name for m in counted_measures()] == ["instructions"]
    assert measure_for("instructions").column == "instructions_per_step"
    with pytest.raises(UserError, match="valid measures: time, instructions"):
        measure_for("joules")


def test_a_run_refuses_a_measure_its_launcher_does_not_declare_before_anything_runs(tmp_path):
    from harness.runner import run

    output = tmp_path / "never.jsonl"
    config = RunConfig(
        workloads=("numpy.linreg",), launcher="docker", measure="instructions", output=output
    )
    with pytest.raises(UserError, match="runs with the local launcher only"):
        run(config)  # no Docker engine is asked: the refusal comes first
    assert not output.exists()


def test_ab_runs_what_both_sides_can():
    both = InterleavedLauncher(make_launcher("local"), make_launcher("docker"))
    assert both.capabilities.runs("time") and not both.capabilities.runs("instructions")
    with pytest.raises(UserError, match="the ab launcher cannot run it"):
        check_capabilities(both, plan_of("instructions"))
    check_capabilities(InterleavedLauncher(make_launcher("local"), make_launcher("local")),
                       plan_of("instructions"))  # fmt: skip


def test_a_launcher_without_cuda_refuses_cuda_tasks():
    from harness.launch.base import Capabilities, Launcher

    class CpuOnly(Launcher):
        name = "cpu-only"
        capabilities = Capabilities(cuda=False)

    plan = build_plan(get_suite("smoke"), workloads=["numpy.linreg"], devices=["cuda"],
                      check_installed=False)  # fmt: skip
    with pytest.raises(UserError, match="cannot run CUDA tasks"):
        check_capabilities(CpuOnly(), plan)


def test_the_worker_refuses_a_measure_it_does_not_run():
    """A launcher that forgot the refusal: the record fails with the reason, and says which
    measure was asked for; it never times wall clock under another name."""
    (task, *_) = plan_of("instructions").tasks
    record = run_task(task.to_dict())
    assert record.status == "error" and record.failed
    assert record.error is not None and record.error.type == "unsupported-measure"
    assert "runs beside the worker" in record.error.message
    assert record.measure == "instructions" and not record.samples and record.timing is None

    unknown = run_task({**task.to_dict(), "measure": "joules"})
    assert unknown.status == "error" and "knows no measure 'joules'" in unknown.error.message
