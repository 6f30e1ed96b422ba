"""The measured peaks of a machine (``harness peaks``), cached in the results folder under a
key made from the machine's facts, so a report can place each phase against what the machine
that ran it can do: fp32/bf16 matmul FLOP/s, memory-copy bytes/s, JPEG decode images/s per core
(CPU), and the same on the GPU where there is one. The device code is
``workloads/peak_probes.py``, run in a fresh process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.errors import UserError

FOLDER = "peaks"


def machine_key(host: Any, cpu_model: Any, usable_cores: Any, gpu_name: Any) -> str:
    """``<host>-<digest>``: the same machine with the same cores and GPU reads the same file."""
    facts = json.dumps([str(host), str(cpu_model), str(usable_cores), str(gpu_name or "")])
    digest = hashlib.sha256(facts.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', str(host))}-{digest}"


def path_for(results_dir: Path, key: str) -> Path:
    return Path(results_dir) / FOLDER / f"{key}.json"


def measure(results_dir: Path) -> tuple[dict[str, Any], Path]:
    """Measure this machine's peaks in a fresh process and cache them; (peaks, file)."""
    from harness import environment

    env = environment.collect()
    done = subprocess.run(
        [sys.executable, "-m", "workloads.peak_probes"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise UserError(f"Measuring the peaks failed (exit {done.returncode}): {tail}") from None
    facts = {k: env.get(k) for k in ("host", "cpu_model", "usable_cores", "gpu_name")}
    peaks = {**found, "machine": facts, "measured_at": _now()}
    path = path_for(results_dir, machine_key(*facts.values()))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(peaks, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return peaks, path


def cached(results_dir: Path) -> tuple[dict[str, Any], Path] | None:
    """This machine's cached peaks, if measured before."""
    from harness import environment

    env = environment.collect()
    key = machine_key(env.get("host"), env.get("cpu_model"), env.get("usable_cores"),
                      env.get("gpu_name"))  # fmt: skip
    path = path_for(results_dir, key)
    found = load(path)
    return (found, path) if found is not None else None


def load(path: Path) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found


def find(folders: list[Path], host: Any, cpu_model: Any, cores: Any, gpu: Any) -> dict | None:
    """The peaks of the machine a record ran on, from the first folder that holds them."""
    key = machine_key(host, cpu_model, cores, gpu)
    for folder in folders:
        found = load(path_for(folder, key))
        if found is not None:
            return found
    return None


def _now() -> str:
    from harness.results import utc_now

    return utc_now()
