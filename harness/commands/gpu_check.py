"""harness gpu-check: prove on a GPU machine that the harness measures it correctly (see
harness.gpu_check); exit 2 where there is no GPU, 1 when a check fails."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import EXIT_FAILURES, EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    check = sub.add_parser(
        name, help="prove the measurement on this GPU; writes results/reference/<gpu>.jsonl"
    )
    check.add_argument("--results-dir", type=Path, default=Path("results"))


def _probe(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "workloads.gpu_probes", *args],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    try:
        found: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise UserError(f"The GPU probes failed (exit {done.returncode}): {tail}") from None
    if "error" in found:
        raise UserError(f"The GPU probes could not run: {found['error']}.")
    return found


def _phase_sum() -> dict[str, Any]:
    """The phases of torch.mlp on the device, timed by the harness itself (CUDA events)."""
    from harness.config import RunConfig
    from harness.runner import run

    with tempfile.TemporaryDirectory() as folder:
        config = RunConfig(suite="gpu", workloads=("torch.mlp",), devices=("cuda",),
                           output=Path(folder) / "phases.jsonl")  # fmt: skip
        [record] = run(config).records
    if not record.ok:
        message = record.error.message if record.error else record.status
        raise UserError(f"torch.mlp did not run on the GPU: {message}.")
    phases = {p: record.summary[p]["median"] for p in record.phases}
    return {"phase_medians": phases, "step_median": record.summary["step"]["median"]}


def handle(args: argparse.Namespace) -> int:
    from harness import environment
    from harness.gpu_check import judge, reference_name, require_gpu, verdict_rows
    from harness.render import render
    from harness.render.document import Document, Heading, Table, Text
    from harness.results import utc_now

    gpus = environment.collect().get("gpus") or []
    require_gpu([gpu["name"] for gpu in gpus if gpu.get("name")])
    name = gpus[0]["name"]
    print(f"harness: checking {name} (a few minutes) ...", file=sys.stderr)
    probes = {**_probe(), **_probe("--keras"), **_phase_sum()}
    rows = verdict_rows(judge(probes, name))
    path = args.results_dir / "reference" / f"{reference_name(name)}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"gpu": gpus[0], "at": utc_now(), "probes": probes, "verdicts": rows}
    with open(path, "a", encoding="utf-8") as out:  # one line per check run, fsynced
        out.write(json.dumps(line) + "\n")
        out.flush()
        os.fsync(out.fileno())
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
