"""The measured peaks of a machine (``harness peaks``), cached in the results folder under a
key made from the machine's facts, so a report can place each phase against what the machine
that ran it can do: fp32/bf16 matmul FLOP/s, memory-copy bytes/s, JPEG decode images/s per core
(CPU), and the same on the GPU where there is one. The device code is
``workloads/peak_probes.py``, run in a fresh process.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.durable import replace_synced
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
    from harness.machine import environment

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
    replace_synced(path, json.dumps(peaks, indent=2) + "\n")
    return peaks, path


def cached(results_dir: Path) -> tuple[dict[str, Any], Path] | None:
    """This machine's cached peaks, if measured before."""
    from harness.machine import environment

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


#: the columns of a results table (tidy or summary) that name the machine a row ran on, and the
#: file whose folder may hold that machine's peaks
MACHINE_COLUMNS = ("source", "host", "cpu_model", "usable_cores", "gpu_name")


@dataclass(frozen=True)
class MachinePeaks:
    """The cached peaks of each machine a results table ran on, read once by the command that
    shows them (``for_frame``); what judges or draws a row asks ``of(row)``."""

    found: Mapping[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    def of(self, row: Any) -> dict[str, Any]:
        """The peaks of the machine ``row`` ran on; {} where none were measured."""
        return self.found.get(_machine_of(row), {})


def for_frame(frame: Any, folders: list[Path]) -> MachinePeaks:
    """The peaks of every machine in ``frame`` (a tidy table or a summary): for each, first
    beside its results file, then in ``folders`` (a command passes its results folder)."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    if frame.empty or not set(MACHINE_COLUMNS) <= set(frame.columns):
        return MachinePeaks()
    for row in frame[list(MACHINE_COLUMNS)].drop_duplicates().to_dict("records"):
        key = _machine_of(row)
        if key in found:
            continue
        source, host, cpu_model, cores, gpu = key
        beside = [Path(source).parent] if isinstance(source, str) and source else []
        peaks = find([*beside, *folders], host, cpu_model, cores, gpu)
        if peaks:
            found[key] = peaks
    return MachinePeaks(found)


def _machine_of(row: Any) -> tuple[Any, ...]:
    return tuple(_fact(row.get(column)) for column in MACHINE_COLUMNS)


def _fact(value: Any) -> Any:
    """One spelling per fact: NaN is None, 2.0 (a column with gaps) is 2."""
    if isinstance(value, float):
        return None if value != value else int(value) if value.is_integer() else value
    return value


def _now() -> str:
    import time

    from harness.record import iso_time

    return iso_time(time.time())
