"""Accuracy: the harness timer against torch.utils.benchmark and pytest-benchmark."""

from __future__ import annotations

import contextlib
import functools
import json
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
        min_block_time=0.01,
    )
    harness: dict[str, list[float]] = {n: [] for n in names}
    autorange: dict[str, list[float]] = {n: [] for n in names}
    pytest_runs: dict[str, list[float]] = {n: [] for n in names}
    rounds = 2 if quick else 4

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

    def spread(values: list[float]) -> str:
        return f"±{(max(values) - min(values)) / 2 / statistics.median(values):.1%}"

    for name in names:
        ours = statistics.median(harness[name])
        for other, values in (
            ("torch blocked_autorange", autorange[name]),
            ("pytest-benchmark", pytest_runs[name]),
        ):
            theirs = statistics.median(values)
            ratio = ours / theirs
            rows.append(
                Row(
                    "accuracy",
                    f"{name}: harness / {other}",
                    f"{ratio:.3f}",
                    "0.97–1.03",
                    0.97 <= ratio <= 1.03,
                    f"harness {ours * 1e6:.2f} µs, {other} {theirs * 1e6:.2f} µs; "
                    f"round-to-round spread: harness {spread(harness[name])}, "
                    f"{other.split()[0]} {spread(values)}",
                )
            )
    return rows
