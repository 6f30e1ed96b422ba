"""Containers: the same workload locally and in the CPU container."""

from __future__ import annotations

import statistics

from benchmarks.selfbench.common import Row, log, measured_run, run_records


def measure(quick: bool) -> list[Row]:
    from harness.errors import UserError
    from harness.images import image_exists
    from harness.launch.docker import DockerConfig
    from harness.machine.docker_client import docker_client

    try:
        client = docker_client()
    except UserError as error:
        return [
            Row("containers", "local ÷ CPU container", "not measured", "≤ 1.05", None, str(error))
        ]
    if not image_exists(client, "harness:cpu"):
        return [
            Row(
                "containers",
                "local ÷ CPU container",
                "not measured",
                "≤ 1.05",
                None,
                "harness:cpu is not built (make images)",
            )
        ]
    rows = []
    sizes = {
        "numpy.mlp": ["batch_size=256", "features=784", "hidden=256"],
        "torch.mlp": ["batch_size=256", "hidden=256"],
    }
    for workload, params in sizes.items():
        config = {**measured_run(quick), "workloads": (workload,), "processes": 3}
        log(f"containers: {workload} local and in harness:cpu")
        local = run_records(*params, **config)
        docker = run_records(
            *params, launcher="docker", launcher_config=DockerConfig(image="cpu"), **config
        )
        local_median = statistics.median(v for r in local for v in r.samples["step"])
        docker_median = statistics.median(v for r in docker for v in r.samples["step"])
        ratio = docker_median / local_median
        rows.append(
            Row(
                "containers",
                f"{workload}: CPU container median ÷ local median",
                f"{ratio:.3f}",
                "≤ 1.05",
                ratio <= 1.05,
                f"local {local_median * 1e3:.3f} ms, container "
                f"{docker_median * 1e3:.3f} ms, 3 processes each",
            )
        )
    return rows
