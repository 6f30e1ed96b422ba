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
param_<name>            each parameter as its own column
status                  ``ok``, ``skipped`` (its framework is absent where it ran) or a failure
                        status (``error``, ``crashed``, ``timeout``, ``oom``...)
message                 why it failed or was skipped (empty when ``ok``)
phase                   ``step`` (the whole step) or a phase name (``forward``, ``save``...)
sample                  index of the sample (one per measured block)
process                 which repeat process produced it (``--processes N``)
seconds                 seconds per step (per phase) averaged over one block
block_size              steps per block
items_per_step          items (samples, images) one step processes
items_per_second        items_per_step / seconds
setup                   the setup label: ``--label`` or host/launcher/image/framework versions
host, cpu_model, ...    environment: host, cpu_model, usable_cores, gpu_name, launcher, image,
                        framework_version, git_commit
first_step_s            latency of the first step (compile / trace), repeated per row
peak_rss_bytes          the worker's peak resident memory
phase_gap               (step median − sum of phase medians) / step median, for the record
load_cache              save/load: ``cold`` (every load read the disk, verified by mincore) or
                        ``warm`` (the page cache); empty for other kinds and older records
started_at              when the record's process started (UTC ISO 8601)
======================  =====================================================================
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import UserError

SCHEMA_VERSION = 2
# Version history:
#   1  first release; peak_rss_bytes / peak_rss_children_bytes at the top level
#   2  memory figures grouped under "memory"; "units" says what samples and memory measure
RESULT = "result"
INTERRUPTED = "interrupted"


class ResultsWarning(UserWarning):
    """A results file loaded, but with something skipped (a torn final line)."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id(label: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)
    return f"{stamp}_{safe}"


class ResultWriter:
    """Appends records to a JSONL file, one ``write`` per line, flushed and fsynced."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise UserError(
                f"Cannot write results to {self.path}: {error.strerror}. "
                "Choose another --output or --results-dir."
            ) from None
        self.count = 0

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n"
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.count += 1

    def close(self) -> None:
        # a failed append left bytes in the buffer; they are rescued elsewhere
        with contextlib.suppress(OSError):
            self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rescue_records(records: list[dict[str, Any]], run_id: str) -> str:
    """Save records that could not be written where asked (a full disk): to a file in the
    temporary folder or the home folder, else to stderr as JSON lines. Returns where."""
    import sys
    import tempfile

    lines = [json.dumps(r, separators=(",", ":"), allow_nan=True) + "\n" for r in records]
    for folder in (Path(tempfile.gettempdir()), Path.home()):
        target = folder / f"harness-rescued-{run_id}.jsonl"
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fsync(handle.fileno())
            return str(target)
        except OSError:
            target.unlink(missing_ok=True)
    sys.stderr.writelines(lines)
    sys.stderr.flush()
    return "standard error above (as JSON lines)"


def migrate(record: dict[str, Any]) -> dict[str, Any]:
    """Bring a record of any earlier schema version up to SCHEMA_VERSION."""
    version = record.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"unknown schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is newer than this harness understands ({SCHEMA_VERSION}); "
            "upgrade harness"
        )
    if version == 1:
        record = dict(record)
        if record.get("record_type", RESULT) == RESULT:
            memory = {
                key: record.pop(key)
                for key in ("peak_rss_bytes", "peak_rss_children_bytes")
                if key in record
            }
            record["memory"] = memory
            record["units"] = {
                "samples": "seconds per step, averaged over one block",
                "memory": "bytes",
            }
        record["schema_version"] = 2
        record["migrated_from"] = 1
    return record


def read_records(
    path: Path | str, on_warning: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
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
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
            record = migrate(record)
        except (ValueError, json.JSONDecodeError) as error:
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
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for raw in paths:
        path = Path(raw)
        if is_pytest_benchmark(path):
            from harness.pytest_bridge import records_from_pytest_benchmark

            found = records_from_pytest_benchmark(path)
        else:
            found = list(read_records(path, on_warning))
        for index, record in enumerate(found):
            record["_source"] = str(path)
            record["_index"] = index
            records.append(record)
    return records


SETUP_PACKAGES = (
    ("torch", "torch"),
    ("tensorflow", "tf"),
    ("tensorflow-cpu", "tf"),
    ("keras", "keras"),
    ("jax", "jax"),
    ("cupy", "cupy"),
    ("numpy", "numpy"),
)


def setup_label(record: dict[str, Any]) -> str:
    """The setup a record belongs to: its --label, else host · hardware · launcher[:image] ·
    framework versions (those inside the container when it ran in one)."""
    if record.get("label"):
        return str(record["label"])
    env = record.get("environment") or {}
    hardware = env.get("gpu_name") or env.get("cpu_model") or "?"
    place = env.get("launcher", "local")
    if env.get("image"):
        place += f":{env['image']}"
    packages = env.get("container_packages") or env.get("packages") or {}
    versions: list[str] = []
    for package, short in SETUP_PACKAGES:
        version = packages.get(package)
        if version and not any(v.startswith(short + " ") for v in versions):
            versions.append(f"{short} {version.split('+')[0]}")
    return " · ".join([str(env.get("host", "?")), hardware, place, " ".join(versions)])


def framework_version(record: dict[str, Any]) -> str | None:
    runtime = record.get("runtime") or {}
    if runtime.get("framework_version"):
        return str(runtime["framework_version"])
    packages = (record.get("environment") or {}).get("packages") or {}
    framework = record.get("framework", "")
    return packages.get(framework) or packages.get(f"{framework}-cpu")


def frame_from_records(records: list[dict[str, Any]], setup_by: str = "label"):  # -> DataFrame
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for position, record in enumerate(records):
        if record.get("record_type", RESULT) != RESULT:
            continue
        env = record.get("environment") or {}
        params = record.get("params") or {}
        base = {
            "source": record.get("_source", ""),
            "run_id": record.get("run_id"),
            "record": record.get("_index", position),
            "workload": record.get("workload"),
            "framework": record.get("framework"),
            "kind": record.get("kind"),
            "device": record.get("device"),
            "params": json.dumps(params, sort_keys=True),
            "status": record.get("status"),
            "message": (record.get("error") or {}).get("message"),
            "process": record.get("process_index", 0),
            "block_size": (record.get("timing") or {}).get("block_size"),
            "items_per_step": record.get("items_per_step"),
            "setup": setup_label(record),
            "label": record.get("label"),
            "host": env.get("host"),
            "cpu_model": env.get("cpu_model"),
            "usable_cores": env.get("usable_cores"),
            "gpu_name": env.get("gpu_name"),
            "launcher": env.get("launcher"),
            "image": env.get("image"),
            "framework_version": framework_version(record),
            "git_commit": env.get("git_commit"),
            "first_step_s": (record.get("timing") or {}).get("first_step_s"),
            "peak_rss_bytes": (record.get("memory") or {}).get("peak_rss_bytes"),
            "phase_gap": (record.get("phase_gap") or {}).get("relative"),
            "load_cache": (record.get("metrics") or {}).get("load_cache"),
            "started_at": record.get("started_at"),
        }
        for key, value in params.items():
            base[f"param_{key}"] = "x".join(map(str, value)) if isinstance(value, list) else value
        samples = record.get("samples") or {}
        if not samples:
            rows.append({**base, "phase": None, "sample": None, "seconds": None})
            continue
        for phase, values in samples.items():
            for index, seconds in enumerate(values):
                rows.append({**base, "phase": phase, "sample": index, "seconds": seconds})
    columns = [
        "source",
        "run_id",
        "record",
        "workload",
        "framework",
        "kind",
        "device",
        "params",
        "status",
        "message",
        "phase",
        "sample",
        "process",
        "seconds",
        "block_size",
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
        "first_step_s",
        "peak_rss_bytes",
        "phase_gap",
        "load_cache",
        "started_at",
    ]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "items_per_second"])
    extra = [c for c in frame.columns if c not in columns]
    frame = frame[columns + extra]
    frame["items_per_second"] = frame["items_per_step"] / frame["seconds"]
    return frame


def load_frame(paths: Iterable[Path | str], on_warning: Callable[[str], None] | None = None):
    """Load results files (and pytest-benchmark JSON) into the tidy DataFrame described above."""
    return frame_from_records(load_records(paths, on_warning))
