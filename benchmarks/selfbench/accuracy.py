"""Accuracy: the harness timer against torch.utils.benchmark and pytest-benchmark."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.selfbench.common import FunctionStep, Row, log
from harness.timer import Timer, TimerSettings
from harness.workload import Workload


@functools.lru_cache(maxsize=1)
def accuracy_cases() -> dict[str, Callable[[], Any]]:
    import numpy as np
    import torch

    from workloads.numpy_train import NumpyMLPStep
    from workloads.torch_train import TorchMLPStep

    rng = np.random.default_rng(0)
    cases: dict[str, Callable[[], Any]] = {}
    for size in (64, 256, 512):
        a = rng.standard_normal((size, size)).astype("float32")
        b = rng.standard_normal((size, size)).astype("float32")
        cases[f"numpy matmul {size}x{size}"] = functools.partial(np.matmul, a, b)

    def workload_step(cls: type[Workload], **params: Any) -> Callable[[], Any]:
        values = {p.name: p.default for p in cls.params}
        values.update(params)
        workload = cls(values, "cpu", seed=0, threads=torch.get_num_threads())
        workload.setup()
        return functools.partial(workload.step, lambda phase: None)

    cases["numpy.mlp step"] = workload_step(NumpyMLPStep, batch_size=256)
    cases["torch.mlp step"] = workload_step(TorchMLPStep, batch_size=256, hidden=(256,))
    return cases


PYTEST_FILE = """
import pytest
from benchmarks.selfbench.accuracy import accuracy_cases

@pytest.mark.parametrize("name", {names!r})
def test_case(benchmark, name):
    benchmark(accuracy_cases()[name])
"""


def pytest_benchmark_medians(names: list[str], min_time: float) -> dict[str, float]:
    import pytest

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pytest.ini").write_text("[pytest]\n")
        test_file = root / f"test_cases_{root.name.replace('-', '_')}.py"  # a fresh module name
        test_file.write_text(PYTEST_FILE.format(names=names))
        out = root / "bench.json"
        with contextlib.redirect_stdout(sys.stderr):
            code = pytest.main(
                [
                    str(test_file),
                    "-q",
                    "-c",
                    str(root / "pytest.ini"),
                    "-p",
                    "no:cacheprovider",
                    "--benchmark-json",
                    str(out),
                    f"--benchmark-min-time={min_time / 20}",
                    f"--benchmark-max-time={min_time}",
                    "--benchmark-min-rounds=10",
                    "--benchmark-disable-gc",
                ]
            )
        if code != 0:
            raise RuntimeError(f"pytest-benchmark run failed with exit code {code}")
        data = json.loads(out.read_text())
    return {b["param"]: b["stats"]["median"] for b in data["benchmarks"]}


def measure(quick: bool) -> list[Row]:
    import torch
    import torch.utils.benchmark as torch_benchmark

    min_time = 0.5 if quick else 1.0
    cases = accuracy_cases()
    names = list(cases)
    settings = TimerSettings(
        warmup_time=0.2,
        warmup_max_steps=1000,
        min_time=min_time,
        max_time=min_time,
        min_blocks=10,
        max_blocks=10_000,
    )  # the default block floor (1 ms), as a user's run
    harness: dict[str, list[float]] = {n: [] for n in names}
    autorange: dict[str, list[float]] = {n: [] for n in names}
    pytest_runs: dict[str, list[float]] = {n: [] for n in names}
    # a multiple of 3, so each timer goes first equally often; 9 rounds bring a row's interval
    # near ±2% where a round's ratio varies ±3% between rounds
    rounds = 3 if quick else 9

    def time_with_harness() -> None:
        for name, function in cases.items():
            m = Timer(settings).run(FunctionStep(function))
            harness[name].append(statistics.median(m.samples["step"]))

    def time_with_autorange() -> None:
        for name, function in cases.items():
            timer = torch_benchmark.Timer(
                stmt="fn()", globals={"fn": function}, num_threads=torch.get_num_threads()
            )
            autorange[name].append(timer.blocked_autorange(min_run_time=min_time).median)

    def time_with_pytest_benchmark() -> None:
        for name, value in pytest_benchmark_medians(names, min_time).items():
            pytest_runs[name].append(value)

    order = [time_with_harness, time_with_autorange, time_with_pytest_benchmark]
    for round_index in range(rounds):
        # Interleaved, and each timer goes first in turn, so drift reaches all three alike.
        log(f"accuracy round {round_index + 1}/{rounds}")
        for timer_run in order[round_index % 3 :] + order[: round_index % 3]:
            timer_run()
    rows = []
    for name in names:
        for other, values in (
            ("torch blocked_autorange", autorange[name]),
            ("pytest-benchmark", pytest_runs[name]),
        ):
            rows.append(paired_row(f"{name}: harness / {other}", harness[name], values))
    return rows + seed_step_rows(quick)


def paired(ours: list[float], theirs: list[float]) -> tuple[float, float, float]:
    """Geometric mean of the rounds' ratios ours/theirs with a 95% Student-t interval on their
    logs (rounds are the independent units: each round measures both sides back to back, so
    the machine's drift between rounds cancels in the ratio)."""
    from scipy import stats

    logs = [math.log(a / b) for a, b in zip(ours, theirs, strict=True)]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(mean), float("nan"), float("nan")
    half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def paired_row(figure: str, ours: list[float], theirs: list[float], tolerance: float = 0.03) -> Row:
    ratio, low, high = paired(ours, theirs)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    return Row(
        "accuracy",
        figure,
        f"{ratio:.3f} [{low:.3f}, {high:.3f}]",
        f"{1 - tolerance:.2f}–{1 + tolerance:.2f}",
        1 - tolerance <= ratio <= 1 + tolerance,
        f"geometric mean of {len(ratios)} paired rounds' ratios, 95% t interval; median "
        f"{statistics.median(ratios):.3f}, range {ratios[0]:.3f}–{ratios[-1]:.3f}; harness "
        f"{statistics.median(ours) * 1e6:.2f} µs, other {statistics.median(theirs) * 1e6:.2f} µs",
    )


#: the seed's linear-regression step: batch 1024, 256 features, float64, one thread, three marks
SEED_WORKLOAD = "workloads.numpy_train:LinearRegressionStep"
SEED_PARAMS = {"batch_size": 1024, "features": 256, "dtype": "float64"}


def seed_step_rows(quick: bool) -> list[Row]:
    """The seed's step as a user runs it (``harness run --workload module:Class``, a fresh
    worker) against torch's ``blocked_autorange`` on the same step in a fresh process of its
    own, one math thread each, alternated over rounds (each side first in turn)."""
    # 30 rounds: a round's ratio varies ±4% between processes (memory layout, the VM), so
    # 10 rounds leave an interval of ±3% about the paired mean; 30 bring it near ±1%
    rounds = 4 if quick else 30
    min_time = 0.5 if quick else 1.0
    ours: list[float] = []
    theirs: list[float] = []
    for round_index in range(rounds):
        log(f"accuracy: seed step, round {round_index + 1}/{rounds}")
        sides = [lambda: ours.append(cli_seed_step(min_time)),
                 lambda: theirs.append(autorange_seed_step(min_time))]  # fmt: skip
        for side in sides[round_index % 2 :] + sides[: round_index % 2]:
            side()
    return [
        paired_row(
            "seed linreg step (CLI, module:Class) / torch blocked_autorange",
            ours,
            theirs,
            tolerance=0.01,
        )
    ]


def cli_seed_step(min_time: float) -> float:
    """The step median of one ``harness run`` of the seed step (the real CLI, a fresh worker)."""
    import os
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "r.jsonl"
        params = [f"--param={k}={v}" for k, v in SEED_PARAMS.items()]
        done = subprocess.run(
            [sys.executable, "-m", "harness", "run", "--workload", SEED_WORKLOAD, *params,
             "--threads", "1", "--processes", "1", "--min-time", str(min_time), "--max-time",
             str(min_time), "--min-blocks", "10", "--max-blocks", "100000", "--results-file",
             str(out), "--no-progress"],
            capture_output=True, text=True, check=False, env={**os.environ},
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"harness run failed: {done.stderr[-2000:]}")
        record = json.loads(out.read_text().splitlines()[0])
        return float(record["summary"]["step"]["median"])


def autorange_seed_step(min_time: float) -> float:
    """torch.utils.benchmark's blocked_autorange median of the same step, in a fresh process
    with one math thread (the environment the worker sets)."""
    import os
    import subprocess

    from harness.worker import thread_environment

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.selfbench.accuracy", "--autorange-seed", str(min_time)],
        capture_output=True, text=True, check=False, env={**os.environ, **thread_environment(1)},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"blocked_autorange failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _autorange_seed(min_time: float) -> float:
    import torch
    import torch.utils.benchmark as torch_benchmark

    from harness.workload import load_workload_class

    cls = load_workload_class(SEED_WORKLOAD)
    values = {p.name: p.default for p in cls.params}
    values.update(SEED_PARAMS)
    workload = cls(values, "cpu", seed=0, threads=1)
    workload.setup()
    timer = torch_benchmark.Timer(
        stmt="step(mark)", globals={"step": workload.step, "mark": lambda phase: None},
        num_threads=1,
    )  # fmt: skip
    del torch
    return float(timer.blocked_autorange(min_run_time=min_time).median)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--autorange-seed"]:
        print(_autorange_seed(float(sys.argv[2])))
