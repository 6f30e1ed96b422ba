"""The workloads as pytest-benchmark benchmarks (``make bench-pytest``), apart from the tests.

TensorFlow and torch never share a process: ``make bench-pytest`` runs the Keras file in a
pytest process of its own.
"""

from __future__ import annotations

import contextlib
import sys
from importlib import metadata

import pytest

from harness.workload import changed_params, code_version


def make_workload(cls, **params):
    values = {p.name: p.default for p in cls.params}
    values.update(params)
    workload = cls(values, "cpu", seed=0, threads=None)
    workload.setup()
    return workload


def package_versions() -> dict[str, str]:
    found = {}
    for name in ("numpy", "torch", "tensorflow-cpu", "tensorflow", "keras"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


@pytest.fixture
def run_workload(benchmark):
    """Benchmark one workload's whole step the pytest-benchmark way; tag it for the bridge."""

    def run(cls, **params):
        workload = make_workload(cls, **params)
        benchmark.extra_info.update(
            workload=cls.name,
            framework=cls.framework,
            kind=cls.kind,
            device="cpu",
            params={
                k: list(v) if isinstance(v, tuple) else v for k, v in workload.param_values.items()
            },
            changed_params=changed_params(cls, workload.param_values),
            code_version=code_version(cls),
            items_per_step=workload.items_per_step(),
            packages=package_versions(),
        )

        def step():
            if workload.has_fused_step:  # Keras on TensorFlow: the real step is the fused one
                workload.fused_step()
            else:
                workload.step(lambda phase: None)
            workload.synchronize()

        benchmark.pedantic(step, rounds=20, iterations=5, warmup_rounds=2)
        workload.teardown()
        return workload

    return run


def pytest_collection_modifyitems(config, items):
    files = {item.path.name for item in items}
    if "test_keras_bench.py" in files and len(files) > 1 and "torch" in sys.modules:
        raise pytest.UsageError(
            "Run benchmarks/test_keras_bench.py in a pytest process of its "
            "own: TensorFlow and torch never share one (make bench-pytest)."
        )
