"""The result record: one schema, versioned, crossing every boundary as JSON.

A results file is JSON Lines: one record per (workload, params, device, process), appended with
flush + fsync so that nothing measured is lost when a later workload or the machine fails.
A run interrupted by SIGINT/SIGTERM ends with an ``interrupted`` record.

``load_frame`` turns files into a tidy pandas DataFrame, one row per raw sample:

======================  =====================================================================
column                  meaning
======================  =====================================================================
source                  path of the results file
run_id                  the run that wrote the record
record                  index of the record within its file
workload                workload name (``numpy.mlp``)
framework, kind         ``numpy``/``torch``/``keras``..., ``train_step``/``save_load``/``pipeline``
device                  ``cpu`` or ``cuda``
params                  canonical JSON of the parameters (a grouping key)
changed_params          canonical JSON of the parameters that differ from the workload's
                        defaults (empty for records written before schema version 3)
code_version            hash of the workload's source where it ran (empty before version 3)
workers                 value of the workload's workers parameter (pipelines), else empty
param_<name>            each parameter as its own column
status                  ``ok``, ``skipped`` (its framework is absent where it ran) or a failure
                        status (``error``, ``crashed``, ``timeout``, ``oom``...)
message                 why it failed or was skipped (empty when ``ok``)
measure                 ``time`` (samples in seconds) or ``instructions`` (no samples)
<measure columns>       what each registered measure adds (``Measure.frame_columns``):
                        time: block_size, first_step_s, stop_reason, precision_target;
                        instructions: instructions_per_step (Callgrind, per step)
phase                   ``step`` (the whole step) or a phase name (``forward``, ``save``...)
sample                  index of the sample (one per measured block)
process                 which repeat process produced it (``--processes N``)
process_id              the process's identity across files: run, repeat, pid and start time
seconds                 seconds per step (per phase) averaged over one block
block_size              steps per block
items_per_step          items (samples, images) one step processes
items_per_second        items_per_step / seconds
setup                   the setup label: ``--label`` or host/launcher/image/framework versions
host, cpu_model, ...    environment: host, cpu_model, usable_cores, gpu_name, launcher, image,
                        framework_version, git_commit, git_branch, cpus_limit,
                        memory_limit_bytes, python; thread_count (the worker's threads)
first_step_s            latency of the first step (compile / trace), repeated per row
peak_rss_bytes          the worker's peak resident memory
phase_gap               (step median − sum of phase medians) / step median, for the record
stop_reason             why measuring stopped: precision (target reached), max-time (the
                        task's budget), max-blocks; empty before schema version 3
precision_target        the precision the timer aimed for (0.01: the median to ±1%)
noisy_machine           True when the machine watch flagged the task (harness.machine.machine_watch)
noisy_reasons           the figures that tripped it, joined by "; "
loss_diverged           True when the training loss was not finite (harness.loss_check)
load_cache              save/load: ``cold`` (every load read the disk, verified by mincore),
                        ``warm`` (the page cache) or ``unverified`` (mincore could not be
                        called); empty for other kinds and older records
started_at              when the record's process started (UTC ISO 8601)
parameters              a model's parameter count (its ``metrics.parameters``), else empty
======================  =====================================================================
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.durable import write_synced
from harness.errors import UserError
from harness.record import Interrupted, Record, dumps, iso_time, loads
from harness.setups import framework_version, setup_label


class ResultsWarning(UserWarning):
    """A results file loaded, but with something skipped (a torn final line)."""


def utc_now() -> str:
    """Now, as records write times (``harness.record.iso_time``)."""
    return iso_time(time.time())


def new_run_id(label: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    return f"{stamp}_{safe}"


class ResultWriter:
    """Appends records to a JSONL file, one ``write`` per line, flushed and fsynced."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.existed = self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise UserError(
                f"Cannot write results to {self.path}: {error.strerror}. "
                "Choose another --results-file or --results-dir."
            ) from None
        self.count = 0

    def append(self, record: Record | Interrupted) -> None:
        write_synced(self._file, dumps(record) + "\n")
        self.count += 1

    def close(self) -> None:
        # a failed append left bytes in the buffer; they are rescued elsewhere
        with contextlib.suppress(OSError):
            self._file.close()

    def discard_if_empty(self) -> None:
        """Remove the file this writer created when nothing was written to it (a run refused
        before its first record leaves no empty results file behind)."""
        if self.count == 0 and not self.existed:
            with contextlib.suppress(OSError):
                if self.path.stat().st_size == 0:
                    self.path.unlink()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rescue_records(records: list[Record | Interrupted], run_id: str) -> str:
    """Save records that could not be written where asked (a full disk): to a file in the
    temporary folder or the home folder, else to stderr as JSON lines. Returns where."""
    import sys
    import tempfile

    lines = [dumps(r) + "\n" for r in records]
    for folder in (Path(tempfile.gettempdir()), Path.home()):
        target = folder / f"harness-rescued-{run_id}.jsonl"
        try:
            with open(target, "w", encoding="utf-8") as handle:
                write_synced(handle, "".join(lines))
            return str(target)
        except OSError:
            target.unlink(missing_ok=True)
    sys.stderr.writelines(lines)
    sys.stderr.flush()
    return "standard error above (as JSON lines)"


def read_records(
    path: Path | str, on_warning: Callable[[str], None] | None = None
) -> Iterator[Record | Interrupted]:
    """Yield migrated records from one JSONL file. A torn final line is skipped with a warning."""
    path = Path(path)
    warn = on_warning or (lambda message: warnings.warn(message, ResultsWarning, stacklevel=3))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"Results file {path} does not exist.") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder; pass the .jsonl files inside it.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"Cannot read results file {path}: {error}.") from None
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except (ValueError, TypeError) as error:
            last = number == len(lines) and not text.endswith("\n")
            if last and number > 1:
                warn(f"{path}:{number}: skipped a torn final line (the run was cut off).")
                continue
            raise UserError(
                f"{path}:{number} is not a harness result record ({error}). "
                "Pass files written by 'harness run' or pytest-benchmark JSON."
            ) from None
        yield record


def is_pytest_benchmark(path: Path) -> bool:
    if path.suffix != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def load_records(
    paths: Iterable[Path | str], on_warning: Callable[[str], None] | None = None
) -> list[Record]:
    """The result records of results files (and pytest-benchmark JSON), each knowing its file
    and position; ``interrupted`` markers are left out."""
    records: list[Record] = []
    for raw in paths:
        path = Path(raw)
        if is_pytest_benchmark(path):
            from harness.pytest_bridge import records_from_pytest_benchmark

            found = records_from_pytest_benchmark(path)
        else:
            found = [r for r in read_records(path, on_warning) if isinstance(r, Record)]
        for index, record in enumerate(found):
            record.source = str(path)
            record.index = index
            records.append(record)
    return records


def _host_seconds(host_samples: dict[str, list[float]], phase: str) -> float | None:
    """The host's dispatch time per step of a phase (CUDA: the host clock at each mark), or
    of the whole step (the phases' sum); None where the record has none."""
    import statistics

    if phase == "step":
        parts = [statistics.median(v) for v in host_samples.values() if v]
        return sum(parts) if parts else None
    values = host_samples.get(phase)
    return statistics.median(values) if values else None


def frame_from_records(records: list[Record]):  # -> DataFrame
    import pandas as pd

    from harness.measures import all_measures

    measures = all_measures()  # each adds its own columns (time: block_size, first_step_s...)
    rows: list[dict[str, Any]] = []
    for position, record in enumerate(records):
        env = record.environment
        base = {
            "source": record.source or "",
            "run_id": record.run_id,
            "record": record.index if record.index is not None else position,
            "workload": record.workload,
            "framework": record.framework,
            "kind": record.kind,
            "device": record.device,
            "params": canonical(record.params),
            "changed_params": (
                canonical(record.changed_params) if record.changed_params is not None else None
            ),
            "code_version": record.code_version,
            "workers": record.params.get(record.workers_param) if record.workers_param else None,
            "status": record.status,
            "measure": record.measure,
            **{k: v for measure in measures for k, v in measure.columns(record).items()},
            "message": record.error.message if record.error else None,
            "process": record.process_index,
            "process_id": process_identity(record, position),
            "items_per_step": record.items_per_step,
            "setup": setup_label(record),
            "label": record.label,
            "host": env.get("host"),
            "cpu_model": env.get("cpu_model"),
            "usable_cores": env.get("usable_cores"),
            "gpu_name": env.get("gpu_name"),
            "launcher": env.get("launcher"),
            "image": env.get("image"),
            "framework_version": framework_version(record),
            "python": env.get("python"),
            "thread_count": record.thread_count,
            "cpus_limit": env.get("cpus_limit"),
            "memory_limit_bytes": env.get("memory_limit_bytes"),
            "git_commit": env.get("git_commit"),
            "git_branch": env.get("git_branch"),
            "peak_rss_bytes": record.memory.get("peak_rss_bytes"),
            "phase_gap": record.phase_gap.relative if record.phase_gap else None,
            "noisy_machine": record.noisy_machine,
            "noisy_reasons": "; ".join(record.machine.noisy_reasons if record.machine else []),
            "loss_diverged": record.loss_diverged,
            "load_cache": record.work.load_cache if record.work else None,
            "started_at": record.started_at,
            "parameters": record.metrics.get("parameters"),
            # the numerics check (harness/analysis/numerics.py): JSON text, so the cell stays
            # hashable
            "first_losses": (
                json.dumps(record.metrics["first_losses"])
                if record.metrics.get("first_losses")
                else None
            ),
        }
        for key, value in record.params.items():
            base[f"param_{key}"] = "x".join(map(str, value)) if isinstance(value, list) else value
        if not record.samples:
            rows.append(
                {**base, "phase": None, "sample": None, "seconds": None, "flops": None,
                 "bytes_moved": None, "host_seconds": None}
            )  # fmt: skip
            continue
        for phase, values in record.samples.items():
            counted = {
                "flops": record.work.per_phase("flops", phase) if record.work else None,
                "bytes_moved": record.work.per_phase("bytes", phase) if record.work else None,
                "host_seconds": _host_seconds(record.host_samples, phase),
            }
            for index, seconds in enumerate(values):
                rows.append(
                    {**base, **counted, "phase": phase, "sample": index, "seconds": seconds}
                )
    columns = [
        "source",
        "run_id",
        "record",
        "workload",
        "framework",
        "kind",
        "device",
        "params",
        "changed_params",
        "code_version",
        "workers",
        "status",
        "measure",
        *(column for measure in measures for column in measure.frame_columns),
        "message",
        "phase",
        "sample",
        "process",
        "process_id",
        "seconds",
        "items_per_step",
        "setup",
        "label",
        "host",
        "cpu_model",
        "usable_cores",
        "gpu_name",
        "launcher",
        "image",
        "framework_version",
        "git_commit",
        "git_branch",
        "peak_rss_bytes",
        "phase_gap",
        "noisy_machine",
        "noisy_reasons",
        "loss_diverged",
        "load_cache",
        "started_at",
        "parameters",
        "flops",
        "bytes_moved",
        "host_seconds",
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "items_per_second"])
    extra = [c for c in frame.columns if c not in columns]
    # a record given twice (the same file twice, or a copy of it) counts once
    keys = ["process_id", "setup", "workload", "params", "device", "phase", "sample", "status"]
    frame = frame[columns + extra].drop_duplicates(subset=keys).reset_index(drop=True)
    frame["items_per_second"] = frame["items_per_step"] / frame["seconds"]
    return frame


def process_identity(record: Record, position: int) -> str:
    """One worker process, the same in every copy of a file (else: file and line)."""
    if record.run_id:
        return f"{record.run_id}#{record.process_index}#{record.worker_pid}#{record.started_at}"
    return f"{record.source or ''}#{record.index if record.index is not None else position}"


def canonical(params: dict[str, Any]) -> str:
    """Parameters as canonical JSON: the grouping key of the tidy table."""
    return json.dumps(params, sort_keys=True)


def load_frame(paths: Iterable[Path | str], on_warning: Callable[[str], None] | None = None):
    """Load results files (and pytest-benchmark JSON) into the tidy DataFrame described above."""
    return frame_from_records(load_records(paths, on_warning))
