"""harness gpu-check: prove on a GPU machine that the harness measures it correctly (see
harness.machine.gpu_check); exit 2 where there is no GPU, 1 when a check fails.

The device side is one object, ``GpuCheckDevice``: the GPUs the machine shows, the probe
processes and the harness run of the phase-sum workloads. ``handle`` takes it as an argument, so
the tests run the whole command on a CPU machine with a stand-in (tests/test_gpu_check_command.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import EXIT_FAILURES, EXIT_OK

if TYPE_CHECKING:
    from harness.config import RunConfig
    from harness.record import Record


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    check = sub.add_parser(
        name, help="prove the measurement on this GPU; writes results/reference/<gpu>.jsonl"
    )
    check.add_argument(
        "--results-dir", type=Path, default=Path("results"), metavar="DIR",
        help="folder the check's records and peaks go to (default results)",
    )  # fmt: skip


def phase_config(output: Path) -> RunConfig:
    """The run whose CUDA-event phases are summed: every ``torch.mlp`` entry of the ``gpu``
    suite (fp32, TF32 and bf16: three tasks), on CUDA."""
    from harness.config import RunConfig

    return RunConfig(suite="gpu", workloads=("torch.mlp",), devices=("cuda",), output=output)


@dataclass
class GpuCheckDevice:
    """What gpu-check asks of the machine. ``probe_module`` is run as
    ``python -m probe_module ARGS`` (workloads/gpu_probes.py: JSON on the last stdout line)."""

    probe_module: str = "workloads.gpu_probes"
    probe_timeout_s: float = 900.0

    def gpus(self) -> list[dict[str, Any]]:
        from harness.machine import environment

        return list(environment.collect().get("gpus") or [])

    def probe(self, args: tuple[str, ...], keys: tuple[str, ...]) -> dict[str, Any]:
        """One probe process's figures; where it dies or prints no JSON, ``<key>_error`` for
        each of ``keys`` (its checks), so each becomes a FAIL row with the reason."""
        from harness.machine.environment import PROJECT_ROOT

        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        command = [sys.executable, "-m", self.probe_module, *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.probe_timeout_s,
                check=False, env={**os.environ, "PYTHONPATH": path},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            why = f"the probe process did not finish in {self.probe_timeout_s:g} s"
            return {f"{key}_error": why for key in keys}
        lines = done.stdout.strip().splitlines()
        try:
            found: dict[str, Any] = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = (done.stderr.strip().splitlines() or [""])[-1]  # the exception, one line
            why = f"the probe process failed (exit {done.returncode}): {tail}".strip()
            return {f"{key}_error": why for key in keys}
        if "error" in found:
            return {f"{key}_error": str(found["error"]) for key in keys}
        return found

    def run(self, config: RunConfig) -> list[Record]:
        from harness.runner import run

        return list(run(config).records)


def phase_runs(device: GpuCheckDevice) -> list[dict[str, Any]]:
    """Each ``torch.mlp`` record's phase and step medians (or its error), labelled by the
    precision it ran in (``dtype``, ``tf32``)."""
    from harness.errors import UserError

    with tempfile.TemporaryDirectory() as folder:
        try:
            records = device.run(phase_config(Path(folder) / "phases.jsonl"))
        except UserError as error:  # e.g. torch absent: the check is a FAIL row, not the end
            return [{"label": "torch.mlp", "error": str(error)}]
        except Exception as error:  # anything else the run raised: shown in that row, too
            return [{"label": "torch.mlp", "error": f"{type(error).__name__}: {error}"}]
    runs: list[dict[str, Any]] = []
    for record in records:
        params = record.params
        precision = {"bfloat16": "bf16", "float16": "fp16"}.get(str(params.get("dtype")))
        label = f"{record.workload} {precision or ('tf32' if params.get('tf32') else 'fp32')}"
        if not record.ok or "step" not in record.samples:
            message = record.error.message if record.error else record.status
            runs.append({"label": label, "error": f"{record.status}: {message}"})
            continue
        runs.append({
            "label": label,
            "phase_medians": {p: record.median(p) for p in record.phases},
            "step_median": record.step_median,
        })  # fmt: skip
    return runs


def handle(args: argparse.Namespace, device: GpuCheckDevice | None = None) -> int:
    from harness.durable import append_synced
    from harness.machine.gpu_check import (
        PROBE_PROCESSES,
        judge,
        reference_name,
        require_gpu,
        verdict_rows,
    )
    from harness.render import render
    from harness.render.document import Document, Heading, Table, Text
    from harness.results import utc_now

    device = device or GpuCheckDevice()
    gpus = device.gpus()
    require_gpu([gpu["name"] for gpu in gpus if gpu.get("name")])
    name = gpus[0]["name"]
    print(f"harness: checking {name} (a few minutes) ...", file=sys.stderr)
    probes: dict[str, Any] = {"phase_runs": phase_runs(device)}
    for probe_args, keys in PROBE_PROCESSES.values():  # torch, CuPy, Keras: one process each
        probes.update(device.probe(probe_args, keys))
    rows = verdict_rows(judge(probes, name))
    path = args.results_dir / "reference" / f"{reference_name(name)}.jsonl"
    line = {"gpu": gpus[0], "at": utc_now(), "probes": probes, "verdicts": rows}
    append_synced(path, json.dumps(line) + "\n")  # one line per check run
    columns = ["result", "check", "measured", "expected", "note"]
    document = Document(
        [
            Heading(f"gpu-check: {name}"),
            Table([{c: str(row[c]) for c in columns} for row in rows]),
            Text(f"Reference written to {path}."),
        ],
        title=f"gpu-check: {name}",
    )
    print(render(document, "table"))
    return EXIT_FAILURES if any(row["result"] == "FAIL" for row in rows) else EXIT_OK
