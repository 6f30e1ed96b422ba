"""Read pytest-benchmark JSON into harness records, so ``harness report`` puts them in the same
tidy table as the harness's own results.

Benchmarks written with ``benchmark.extra_info`` keys ``workload``, ``framework``, ``kind``,
``device``, ``params`` and ``items_per_step`` (as ``benchmarks/`` does) map one to one; others
are named after the test. Raw per-round times are used when the file was saved with
``--benchmark-save-data``; otherwise the median stands in as a single sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.machine.environment import stamp
from harness.record import Record, Timing

#: where pytest-benchmark files have kept the CPU's name, newest first: py-cpuinfo 7+ writes
#: ``brand_raw``; older py-cpuinfo (files of pytest-benchmark before 3.4) wrote ``brand``; files
#: without py-cpuinfo have only ``platform.processor()`` as ``machine_info.processor``
CPU_NAME_KEYS = ("brand_raw", "brand")


def cpu_model(machine: dict[str, Any]) -> str | None:
    """The CPU's name from a pytest-benchmark ``machine_info``, whichever spelling it has."""
    cpu = machine.get("cpu") or {}
    if isinstance(cpu, dict):
        for key in CPU_NAME_KEYS:
            if cpu.get(key):
                return str(cpu[key]).strip()
    return machine.get("processor") or None


def records_from_pytest_benchmark(path: Path) -> list[Record]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read pytest-benchmark file {path}: {error}.") from None
    machine = data.get("machine_info") or {}
    cpu = machine.get("cpu") or {}
    commit = (data.get("commit_info") or {}).get("id")
    environment: dict[str, Any] = {
        "host": machine.get("node"),
        "cpu_model": cpu_model(machine),
        "usable_cores": cpu.get("count"),
        "os": f"{machine.get('system', '')} {machine.get('release', '')}".strip(),
        "python": machine.get("python_version"),
        "git_commit": commit,
        "launcher": "pytest-benchmark",
        "packages": {},
        "gpu_name": None,
    }
    records = []
    for bench in data.get("benchmarks", []):
        stats = bench.get("stats") or {}
        info = bench.get("extra_info") or {}
        samples = stats.get("data") or ([stats["median"]] if "median" in stats else [])
        environment_for = dict(environment)
        if info.get("packages"):
            environment_for["packages"] = info["packages"]
        record = Record(
            run_id=data.get("datetime"),
            workload=info.get("workload") or bench.get("name"),
            framework=info.get("framework", "pytest-benchmark"),
            kind=info.get("kind", "train_step"),
            device=info.get("device", "cpu"),
            params=info.get("params") or bench.get("params") or {},
            changed_params=info.get("changed_params"),
            code_version=info.get("code_version"),
            samples={"step": [float(v) for v in samples]},
            items_per_step=info.get("items_per_step", 1),
            timing=Timing(block_size=stats.get("iterations", 1)),
            label=info.get("label"),
            started_at=data.get("datetime"),
        )
        stamp(record, run=environment_for)  # what pytest-benchmark says of its machine
        records.append(record)
    return records
