"""harness explain: the ranking arithmetic on stated inputs, Callgrind's dump parser on a real
dump's format, the hint compare/ab print, and real profiled processes of workloads with an
injected cause (tests/fixtures/explain_workloads.py), where the cause must rank first."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest

from harness.analysis.explain import (
    ProfileSide,
    explain_frame,
    explain_hint,
    profile_process,
    top_cause,
)
from harness.cli import build_parser, main
from harness.plan import build_plan
from harness.profiling.profile_callgrind import callgrind_self_costs
from harness.profiling.profile_segments import numbered, per_step
from harness.suites import get_suite

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None and not os.environ.get("HARNESS_REQUIRE_VALGRIND"),
    reason="no valgrind here (CI sets HARNESS_REQUIRE_VALGRIND=1: then a missing one fails)",
)
TORCH_FIXTURE = "tests.fixtures.explain_workloads:TorchInjected"
NUMPY_FIXTURE = "tests.fixtures.explain_workloads:NumpyInjected"
TF_FIXTURE = "tests.fixtures.explain_workloads:TensorflowInjected"


def rows(side: str, process: int, values: dict[tuple[str, str], float]) -> list[dict]:
    return [
        {"side": side, "process": process, "phase": phase, "measure": "cpu time", "op": op,
         "value": value, "calls": 1.0}
        for (phase, op), value in values.items()
    ]  # fmt: skip


def test_ranks_by_change_until_the_cover_and_shares_add_up():
    base = {("backward", "mm"): 100.0, ("backward", "add"): 10.0, ("backward", "t"): 5.0}
    cand = {("backward", "mm"): 170.0, ("backward", "add"): 30.0, ("backward", "t"): 4.0,
            ("backward", "svd"): 10.0}  # fmt: skip
    frame = pd.DataFrame(rows("baseline", 0, base) + rows("candidate", 0, cand))
    out = explain_frame(frame, cover=0.8)
    # changes +70, +20, +10, -1: shares of the growth (100) are 70%, 20%, 10%
    assert out["op"].tolist() == ["mm", "add"]
    assert out["share"].tolist() == pytest.approx([0.7, 0.2])
    assert out["cumulative"].tolist() == pytest.approx([0.7, 0.9])
    assert out["phase_change"].iloc[0] == pytest.approx(99.0)
    assert explain_frame(frame, cover=1.0)["op"].tolist() == ["mm", "add", "svd"]


def test_a_faster_phase_ranks_the_largest_fall_and_medians_take_the_middle_process():
    base = [rows("baseline", p, {("update", "step"): 50.0, ("update", "norm"): 10.0})
            for p in range(3)]  # fmt: skip
    cand = [
        rows("candidate", 0, {("update", "step"): 20.0, ("update", "norm"): 10.0}),
        rows("candidate", 1, {("update", "step"): 25.0, ("update", "norm"): 11.0}),
        rows("candidate", 2, {("update", "step"): 900.0}),  # a preempted process; norm absent
    ]
    frame = pd.DataFrame([r for group in base + cand for r in group])
    out = explain_frame(frame)
    assert out["op"].tolist() == ["step"]
    assert out["candidate"].iloc[0] == pytest.approx(25.0)  # median of 20, 25, 900
    assert out["change"].iloc[0] == pytest.approx(-25.0)


def test_unchanged_phases_list_nothing_and_a_bad_cover_is_an_error():
    same = {("forward", "mm"): 5.0}
    frame = pd.DataFrame(rows("baseline", 0, same) + rows("candidate", 0, same))
    assert explain_frame(frame).empty
    from harness.errors import UserError

    with pytest.raises(UserError):
        explain_frame(frame, cover=1.5)


def test_per_step_values_are_medians_over_steps_absent_steps_count_zero():
    totals = {("forward", "cpu time", "mm"): {0: [10.0, 1], 1: [12.0, 1], 2: [500.0, 1]},
              ("forward", "cpu time", "rare"): {1: [90.0, 1]}}  # fmt: skip
    out = {r["op"]: r for r in per_step(totals, steps=3)}
    assert out["mm"]["value"] == 12.0
    assert out["rare"]["value"] == 0.0 and out["rare"]["calls"] == pytest.approx(1 / 3)
    assert numbered(["forward", "(after the last mark)", "forward"]) == [
        ("forward", 0), ("(after the last mark)", 0), ("forward", 1)
    ]  # fmt: skip


def test_callgrind_costs_are_self_and_a_math_librarys_work_goes_to_its_entry():
    dump = """# callgrind format
events: Ir
ob=(2) /usr/lib/libpython3.so
fl=(1) ???
fn=(5) PyNumber_MatrixMultiply
0 40
cob=(1) /usr/lib/libopenblas.so
cfn=(1) cblas_sgemm
calls=2 0
0 9100
cfn=(6) PyObject_Free
calls=1 0
0 30
fn=(6)
0 30
fn=(3) 0x00000000001234
0 7
ob=(1)
fn=(1)
0 100
cfn=(2) sgemm_kernel
calls=3 0
0 9000
fn=(2)
0 9000
"""
    costs = callgrind_self_costs(dump)
    assert costs == {
        "PyNumber_MatrixMultiply": (40, 0),  # its calls' inclusive costs are not its own
        "cblas_sgemm": (9100, 2),  # the entry: the whole of the library's work for it
        "PyObject_Free": (30, 1),
        "0x00000000001234 [libpython3.so]": (7, 0),
    }


def test_the_hint_is_a_command_line_explain_accepts():
    row = SimpleNamespace(
        workload="torch.mlp", device="cpu", params='{"batch_size": 64, "hidden": [32, 16]}',
        changed_params='{"hidden": [32, 16]}', phase="backward",
    )  # fmt: skip
    hint = explain_hint(row, "--baseline-ref main --candidate-ref HEAD")
    assert hint.startswith("harness explain --workload torch.mlp --device cpu")
    args = build_parser().parse_args(shlex.split(hint)[1:])
    assert args.command == "explain" and args.param == ["hidden=32x16"]
    assert args.phase == ["backward"] and args.candidate_ref == "HEAD"
    assert args.suite == "smoke"  # explain's default: one small entry per workload


def test_same_sides_and_a_bad_side_are_one_sentence_errors(capsys):
    assert main(["explain", "--workload", "numpy.mlp"]) == 2
    assert "same" in capsys.readouterr().err
    assert main(["explain", "--workload", "numpy.mlp", "--candidate-env", "NOEQUALS"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def fixture_task(path: str, **params: str):
    from harness.params import parse_override

    overrides = tuple(parse_override(f"{k}={v}") for k, v in params.items())
    return build_plan(get_suite("smoke"), workloads=[path], overrides=overrides).tasks[0]


def injected(cause: str) -> ProfileSide:
    return ProfileSide("candidate", env=(f"EXPLAIN_FIXTURE_CAUSE={cause}",))


@pytest.fixture(scope="module")
def torch_baseline():
    pytest.importorskip("torch")
    task = fixture_task(TORCH_FIXTURE)
    frames = [
        profile_process(task, ProfileSide("baseline"), "torch", 15, 3, 1).assign(
            side="baseline", process=p
        )
        for p in range(2)
    ]
    return task, frames


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cause", "phase", "expected"),
    [
        ("matmul", "backward", {"aten::mm"}),
        ("svd", "forward", {"aten::_linalg_svd", "aten::linalg_svd"}),
        ("sync", "update", {"aten::copy_", "aten::_to_copy"}),
        ("collate", "batch", {"enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__"}),
    ],
)
def test_torch_profiler_ranks_the_injected_cause_first(torch_baseline, cause, phase, expected):
    task, baseline = torch_baseline
    candidate = [
        profile_process(task, injected(cause), "torch", 15, 3, 1).assign(
            side="candidate", process=p
        )
        for p in range(2)
    ]
    explained = explain_frame(pd.concat(baseline + candidate, ignore_index=True))
    assert top_cause(explained, phase) in expected, explained[explained["phase"] == phase]


@pytest.mark.slow
@needs_valgrind
@pytest.mark.parametrize(
    ("cause", "phase", "expected", "unchanged"),
    [("matmul", "backward", "gemm", "forward"), ("svd", "forward", "gesdd", "backward")],
)
def test_callgrind_ranks_the_injected_cause_first_and_exactly(cause, phase, expected, unchanged):
    pytest.importorskip("numpy")
    task = fixture_task(NUMPY_FIXTURE)
    frame = pd.concat(
        [
            profile_process(task, ProfileSide("baseline"), "callgrind", 2, 1, 1).assign(
                side="baseline", process=0
            ),
            profile_process(task, injected(cause), "callgrind", 2, 1, 1).assign(
                side="candidate", process=0
            ),
        ],
        ignore_index=True,
    )
    explained = explain_frame(frame)
    assert expected in top_cause(explained, phase, "instructions")
    assert explained[explained["phase"] == phase]["share"].iloc[0] > 0.5  # the bulk of it
    other = explained[explained["phase"] == unchanged]
    assert other.empty or other["phase_change"].abs().max() < 1000  # the other phase: exact


@pytest.mark.slow
def test_the_command_explains_an_injected_svd_and_exits_0():
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "explain", "--workload", TORCH_FIXTURE,
         "--candidate-env", "EXPLAIN_FIXTURE_CAUSE=svd", "--processes", "1", "--steps", "8",
         "--phase", "forward", "--format", "markdown"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| forward")]
    assert table and "svd" in table[0], done.stdout


def test_compare_prints_the_explain_command_for_a_flagged_row_only(tmp_path):
    from harness.analysis.compare import compare_frames
    from harness.documents.compare import render_comparison
    from harness.results import load_frame
    from tests.test_compare import write_results

    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3, "numpy.linreg": 1e-4}, seed=1)
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 1.25e-3, "numpy.linreg": 1e-4}, seed=2)
    result = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "b.jsonl"]))
    markdown = render_comparison(result, "markdown")
    hints = [line for line in markdown.splitlines() if "harness explain" in line]
    assert len(hints) == 1 and "--workload numpy.mlp --device cpu --param batch_size=8" in hints[0]
    assert "numpy.linreg" not in hints[0]


def test_ab_prints_the_explain_command_with_its_own_sides():
    from harness.analysis.explain import side_arguments
    from harness.commands.ab import render_verdicts

    verdicts = pd.DataFrame(
        [{"workload": "torch.mlp", "device": "cpu", "params": '{"batch_size": 8}',
          "changed_params": '{"batch_size": 8}', "phase": "backward", "baseline_median_s": 1e-3,
          "candidate_median_s": 2e-3, "ratio": 2.0, "ci_low": 1.9, "ci_high": 2.1, "pairs": 4,
          "min_effect": 0.03, "verdict": "slower", "pair_spread": 0.01, "resolution": 0.02,
          "noisy_machine": ""}]
    )  # fmt: skip
    args = SimpleNamespace(baseline_ref="main", candidate_env=["A=1"])
    text = render_verdicts(verdicts, "markdown", sides=side_arguments(args))
    assert (
        "harness explain --workload torch.mlp --device cpu --param batch_size=8 --phase backward "
        "--baseline-ref main --candidate-env A=1"
    ) in text
    unchanged = render_verdicts(verdicts.assign(verdict="same"), "markdown", sides="")
    assert "harness explain" not in unchanged


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cause", "phase", "expected"),
    [("svd", "forward", {"Svd"}), ("matmul", "backward", {"_MklMatMul", "MatMul"})],
)
def test_tensorflow_profiler_ranks_the_injected_cause_first(cause, phase, expected):
    pytest.importorskip("tensorflow")
    task = fixture_task(TF_FIXTURE)
    frame = pd.concat(
        [
            profile_process(task, ProfileSide("baseline"), "tensorflow", 10, 3, 1).assign(
                side="baseline", process=0
            ),
            profile_process(task, injected(cause), "tensorflow", 10, 3, 1).assign(
                side="candidate", process=0
            ),
        ],
        ignore_index=True,
    )
    explained = explain_frame(frame)
    assert top_cause(explained, phase) in expected, explained


def test_torch_events_go_to_the_segment_they_start_in_kernels_by_device_time():
    """Stand-in events in torch.profiler's shape (no GPU here): CPU operators count their self
    time, CUDA kernels their device time, the segment's own GPU annotation nothing."""
    from harness.profiling.profile_frameworks import torch_rows

    def event(name, start, end, cpu=True, self_cpu=0.0, device=0.0):
        return SimpleNamespace(
            name=name, time_range=SimpleNamespace(start=start, end=end), on_cpu=cpu,
            self_cpu_time_total=self_cpu, device_time_total=device,
        )  # fmt: skip

    events = [
        event("harness.segment#0", 0, 100, self_cpu=5.0),
        event("aten::mm", 10, 40, self_cpu=20.0),
        event("harness.segment#0", 12, 110, cpu=False, device=98.0),  # GPU annotation
        event("sgemm_kernel", 15, 60, cpu=False, device=45.0),
        event("harness.segment#1", 100, 200, self_cpu=3.0),
        event("cudaDeviceSynchronize", 120, 190, self_cpu=70.0),
        event("aten::mm", 300, 310, self_cpu=9.0),  # outside every segment
    ]
    rows = torch_rows(events, ["forward", "(after the last mark)"], 1, lambda e: e.on_cpu)
    out = {(r["phase"], r["measure"], r["op"]): r["value"] for r in rows}
    assert out == {
        ("forward", "cpu time", "(outside operators)"): 5.0,
        ("forward", "cpu time", "aten::mm"): 20.0,
        ("forward", "cuda time", "sgemm_kernel"): 45.0,
        ("(after the last mark)", "cpu time", "(outside operators)"): 3.0,
        ("(after the last mark)", "cpu time", "cudaDeviceSynchronize"): 70.0,
    }


def test_an_image_side_runs_the_worker_files_mounted_in_docker_with_its_threads():
    from harness.analysis.explain import WORKER_FILE

    side = ProfileSide("candidate", image="harness:cpu", env=("A=1",))
    arguments = ["--task", '{"threads": 2}', "--profiler", "torch"]
    command = side.command(arguments)
    assert command[:3] == ["docker", "run", "--rm"]
    assert "--env=OMP_NUM_THREADS=2" in command and "--env=A=1" in command
    assert f"--volume={WORKER_FILE.parent}:/opt/harness-profiling:ro" in command
    assert command[command.index("harness:cpu") + 1 :] == [
        "/opt/harness-profiling/profile_worker.py",
        *arguments,
    ]


@pytest.mark.slow
@needs_valgrind
def test_a_git_ref_side_profiles_its_own_worktree(cli):
    """The baseline runs from a worktree of HEAD (its own harness and workloads first on the
    path), the candidate from this checkout: an A/A by Callgrind, so nearly nothing changes."""
    result = cli(
        "explain", "--workload", "numpy.linreg", "--param", "batch_size=8",
        "--param", "features=16", "--baseline-ref", "HEAD", "--steps", "1",
        "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 0, result
    assert "callgrind: 1 fresh process(es) per side" in result.stdout
    for line in result.stdout.splitlines():
        if line.startswith("| forward") or line.startswith("| backward"):
            percent = float(line.split("(")[1].split("%")[0])
            assert abs(percent) < 1.0, line  # same code both sides: well under 1%


@pytest.fixture(scope="module")
def cpu_image_here(engine):
    """harness:cpu as it is on this engine, built only when absent (CI builds it)."""
    import docker
    from tests.conftest import build_image

    try:
        engine.images.get("harness:cpu")
        return "harness:cpu"
    except docker.errors.ImageNotFound:
        return build_image("cpu")


@pytest.mark.slow
@pytest.mark.docker
def test_an_image_side_is_profiled_in_its_container(cli, cpu_image_here):
    result = cli(
        "explain", "--workload", "torch.mlp", "--param", "batch_size=8", "--param", "hidden=16",
        "--candidate-image", cpu_image_here, "--processes", "1", "--steps", "3",
        "--format", "markdown", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result
    assert "torch: 1 fresh process(es) per side" in result.stdout
    assert "| backward | cpu time |" in result.stdout


@pytest.mark.slow
def test_cprofile_ranks_the_python_function_of_an_injected_svd_first():
    task = fixture_task(NUMPY_FIXTURE)
    frame = pd.concat(
        [
            profile_process(task, ProfileSide("baseline"), "python", 20, 3, 1).assign(
                side="baseline", process=0
            ),
            profile_process(task, injected("svd"), "python", 20, 3, 1).assign(
                side="candidate", process=0
            ),
        ],
        ignore_index=True,
    )
    top = top_cause(explain_frame(frame), "forward")
    assert top is not None and top.startswith("svd ("), top
