"""The result record: one type, versioned, crossing every boundary (process, container, file)
as JSON. Every record is built here — by the worker from a measurement, by any launcher from a
failure — and read back here, so the keys of the JSON exist in this module alone.

A results file is JSON Lines: one ``Record`` per (workload, params, device, process), and an
``Interrupted`` record last when SIGINT/SIGTERM ended the run. ``from_json`` migrates records of
every earlier schema version.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from harness.record_parts import CompileCacheState, EnergyReading, LossReading, MachineReading
from harness.record_parts.base import Part
from harness.record_parts.failure import Failure as Failure
from harness.record_parts.measured import InstructionCount as InstructionCount
from harness.record_parts.measured import Timing as Timing
from harness.record_parts.work import Work

SCHEMA_VERSION = 4
# Version history:
#   1  first release; peak_rss_bytes / peak_rss_children_bytes at the top level
#   2  memory figures grouped under "memory"; "units" says what samples and memory measure
#   3  "changed_params" (parameters that differ from the workload's defaults), "code_version"
#      (hash of the workload's source), "workers_param", "task_index"; "machine" (the machine
#      watched during the task); timing "stop_reason", "precision", "precision_target"
#   4  "summary" is derived from the samples (written for outside readers, recomputed on
#      reading: a stored one is dropped); a failure record carries its task's "measure"
RESULT = "result"
INTERRUPTED = "interrupted"

OK = "ok"
SKIPPED = "skipped"
#: statuses of a record that measured nothing because something went wrong
FAILURE_STATUSES = ("error", "crashed", "timeout", "oom", "cancelled", "preempted", "node-failure")

UNITS = {"samples": "seconds per step, averaged over one block", "memory": "bytes"}

#: The phases' medians must add up to the step's median within this share of the step; the gap
#: (loop, clock reads, launch latency) is recorded either way, and flagged when it is larger.
#: Phases timed by separate functions (Keras ``keras.step`` on TensorFlow) each carry one call's
#: overhead, so their sum exceeds the fused step by more at small sizes.
PHASE_GAP_TOLERANCE = 0.10

STDERR_TAIL_LINES = 20


@dataclass
class PhaseGap:
    """How far the phases' medians are from adding up to the step's median."""

    phase_sum_s: float
    step_s: float
    relative: float
    tolerance: float = PHASE_GAP_TOLERANCE
    within_tolerance: bool = True

    @classmethod
    def of(cls, step_s: float, phase_medians: list[float]) -> PhaseGap:
        phase_sum = float(sum(phase_medians))
        relative = (step_s - phase_sum) / step_s if step_s and phase_medians else 0.0
        return cls(
            phase_sum, step_s, relative, PHASE_GAP_TOLERANCE, abs(relative) <= PHASE_GAP_TOLERANCE
        )


@dataclass
class Record:
    """One task's result: raw samples and everything needed to read them later."""

    workload: str
    device: str
    params: dict[str, Any]
    status: str = OK
    framework: str | None = None
    kind: str | None = None
    phases: list[str] = field(default_factory=list)
    #: the parameters that differ from the workload's defaults; None when unknown (old records)
    changed_params: dict[str, Any] | None = None
    #: hash of the workload's source where it ran (asv keeps one per benchmark)
    code_version: str | None = None
    #: the parameter that sets parallel workers (pipelines), for plots against it
    workers_param: str | None = None
    process_index: int = 0
    task_index: int | None = None
    seed: int = 0
    error: Failure | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    host_samples: dict[str, list[float]] = field(default_factory=dict)
    timing: Timing | None = None
    phase_gap: PhaseGap | None = None
    items_per_step: float | None = None
    #: the work one step does as the workload counts it (``Work``: FLOPs, bytes, load cache),
    #: written by the worker; on disk inside ``metrics``
    work: Work | None = None
    #: the workload's other figures and the rates derived from the medians (GFLOP/s, GB/s, MFU)
    metrics: dict[str, Any] = field(default_factory=dict)
    runtime: dict[str, Any] = field(default_factory=dict)
    #: "time" (samples are seconds) or "instructions" (``instructions``, no samples)
    measure: str = "time"
    #: Callgrind's count (harness.instructions): per_step, counts of N and 2N steps, steps
    instructions: InstructionCount | None = None
    #: how the phases were timed (the workload says; keras.step on TensorFlow derives them)
    phase_method: str | None = None
    #: the machine during the measured blocks (``MachineReading``, written by
    #: harness.machine.machine_watch): reference-kernel drift, other processes' CPU, steal,
    #: governor, GPU clocks; ``noisy`` and ``noisy_reasons``
    machine: MachineReading | None = None
    #: joules per step above idle where a counter sees the device (``EnergyReading``, written
    #: by harness.machine.energy), else why not
    energy: EnergyReading | None = None
    #: on-disk compile caches (``CompileCacheState``, written by harness.compile_cache): mode,
    #: folder, variables, files_at_start
    compile_cache: CompileCacheState | None = None
    #: the training loss read outside the timed blocks (``LossReading``, written by
    #: harness.loss_check); None: no loss
    loss: LossReading | None = None
    memory: dict[str, int] = field(default_factory=dict)
    threads: dict[str, str | None] = field(default_factory=dict)
    thread_count: int | None = None
    thread_source: str | None = None
    timer_settings: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    worker_pid: int | None = None
    #: the source tree the worker imported harness from (a worktree under harness ab --*-ref)
    harness_root: str | None = None
    setup_s: float | None = None
    exit_code: int | None = None
    warnings: list[str] = field(default_factory=list)
    #: what the worker saw of its own machine (inside a container); the launcher folds it into
    #: ``environment`` and clears it
    worker_environment: dict[str, Any] | None = None
    #: where it ran: the run's machine facts, and what the launcher adds (image, limits...)
    environment: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    suite: str | None = None
    label: str | None = None
    wall_s: float | None = None
    units: dict[str, str] = field(default_factory=lambda: dict(UNITS))
    schema_version: int = SCHEMA_VERSION
    record_type: str = RESULT
    migrated_from: int | None = None
    #: keys this version does not know (written by a newer minor change): kept for round trips
    extra: dict[str, Any] = field(default_factory=dict)
    #: where the record was read from (file, line index): never written
    source: str | None = field(default=None, compare=False)
    index: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # a part given as its JSON object (a test, an old caller) is read into its type
        for name, cls in _PARTS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, cls):
                setattr(self, name, cls.from_dict(value))
        self.count_work()

    def count_work(self) -> None:
        """Move the counted-work keys of ``metrics`` (a workload's ``metrics()``, an old
        caller) into ``work``: the one place they live in memory."""
        counted, self.metrics = Work.split(self.metrics or {})
        if counted is not None:
            merged = {**(self.work.to_dict() if self.work else {}), **counted.to_dict()}
            self.work = Work.from_dict(merged)

    @classmethod
    def from_task(cls, task: Any, **fields: Any) -> Record:
        """The record of one ``harness.task.Task``: its identity (workload, device, params as
        JSON values, process and task index, seed, measure) from the task, the rest from
        ``fields``. Every record of a task is built here: the worker's, a measure's that runs
        beside it, and the failure record of a process that wrote none."""
        return cls(
            workload=task.workload,
            device=task.device,
            params=task.to_dict()["params"],
            process_index=task.process_index,
            task_index=task.index,
            seed=task.seed,
            measure=task.measure,
            **fields,
        )

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def failed(self) -> bool:
        return self.status not in (OK, SKIPPED)

    @property
    def noisy_machine(self) -> bool:
        return self.machine is not None and bool(self.machine.noisy)

    @property
    def loss_diverged(self) -> bool:
        return self.loss is not None and not self.loss.finite

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """Statistics of each phase's samples (``harness.stats.summarize``: median, IQR, the
        median's interval...), computed from the samples every time: the one source of a
        record's medians. Written to the JSON for outside readers; never read back."""
        from harness.stats import summarize

        return {phase: summarize(values) for phase, values in self.samples.items()}

    def median(self, phase: str = "step") -> float | None:
        """The median of one phase's samples (seconds per step); None without samples."""
        from harness.stats import summarize

        values = self.samples.get(phase)
        return summarize(values)["median"] if values else None

    @property
    def step_median(self) -> float | None:
        return self.median("step")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            if item.name in _TRANSIENT or item.name in ("extra", "work"):
                continue
            value = getattr(self, item.name)
            if item.name in _OMIT_WHEN_EMPTY and not value:
                continue
            data[item.name] = _plain(value)
        if self.work is not None:  # counted work is written where it always was
            data["metrics"] = {**self.metrics, **self.work.to_dict()}
        data["summary"] = self.summary  # derived from the samples, for outside readers
        data.update(self.extra)
        return data


@dataclass
class Interrupted:
    """The last line of a run that SIGINT or SIGTERM ended."""

    run_id: str | None = None
    signal: str | None = None
    completed_tasks: int | None = None
    planned_tasks: int | None = None
    at: str | None = None
    schema_version: int = SCHEMA_VERSION
    record_type: str = INTERRUPTED

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_TRANSIENT = {"source", "index"}
#: written for outside readers, computed again on reading (``Record.summary``)
_DERIVED = {"summary"}
_OMIT_WHEN_EMPTY = {"host_samples", "warnings", "worker_environment", "migrated_from"}
_NESTED: dict[str, type] = {
    "error": Failure,
    "phase_gap": PhaseGap,
    "timing": Timing,
    "instructions": InstructionCount,
    "machine": MachineReading,
    "energy": EnergyReading,
    "loss": LossReading,
    "compile_cache": CompileCacheState,
}
#: the typed parts (``harness.record_parts``): written and read as their JSON objects
_PARTS: dict[str, type[Part]] = {k: v for k, v in _NESTED.items() if issubclass(v, Part)}
_RECORD_FIELDS = {f.name for f in dataclasses.fields(Record)} - _TRANSIENT - {"extra", "work"}


def _plain(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _nested(cls: type, data: Any) -> Any:
    if data is None or not isinstance(data, dict):
        return None
    if issubclass(cls, Part):
        return cls.from_dict(data)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a record (as JSON) of any earlier schema version up to SCHEMA_VERSION."""
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"unknown schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is newer than this harness understands ({SCHEMA_VERSION}); "
            "upgrade harness"
        )
    if version == SCHEMA_VERSION:
        return data
    data = dict(data)
    data.setdefault("migrated_from", version)
    is_result = data.get("record_type", RESULT) == RESULT
    if version == 1 and is_result:
        data["memory"] = {
            key: data.pop(key)
            for key in ("peak_rss_bytes", "peak_rss_children_bytes")
            if key in data
        }
        data["units"] = dict(UNITS)
    if version <= 2 and is_result:
        # Not recorded before version 3: unknown, not empty. Reports show every parameter and
        # compare cannot tell whether the workload's code changed.
        data.setdefault("changed_params", None)
        data.setdefault("code_version", None)
        if data.get("workload") in _WORKERS_PARAMS:
            data.setdefault("workers_param", _WORKERS_PARAMS[data["workload"]])
    if version <= 3 and is_result:
        data.pop("summary", None)  # derived from the samples since version 4
    data["schema_version"] = SCHEMA_VERSION
    return data


#: pipelines written before records named their workers parameter
_WORKERS_PARAMS = {"torch.dataloader": "num_workers", "tf.data": "parallelism"}


def from_json(data: dict[str, Any]) -> Record | Interrupted:
    """A record from its JSON object, migrated from any earlier version."""
    data = migrate(data)
    if data.get("record_type", RESULT) == INTERRUPTED:
        known = {f.name for f in dataclasses.fields(Interrupted)}
        return Interrupted(**{k: v for k, v in data.items() if k in known})
    if "workload" not in data or "device" not in data:
        raise ValueError("a result record needs 'workload' and 'device'")
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key in _DERIVED:
            continue  # recomputed from the samples, never trusted from the file
        if key in _NESTED:
            values[key] = _nested(_NESTED[key], value)
        elif key in _RECORD_FIELDS:
            values[key] = value
        else:
            extra[key] = value
    for key in ("params", "samples", "host_samples", "metrics", "runtime"):
        if values.get(key) is None:
            values[key] = {}
    for key in ("memory", "threads", "timer_settings", "environment", "units"):
        if values.get(key) is None:
            values[key] = {}
    values["phases"] = list(values.get("phases") or [])
    values["warnings"] = list(values.get("warnings") or [])
    _check_types(values)
    return Record(**values, extra=extra)


def _check_types(values: dict[str, Any]) -> None:
    """Refuse a record whose parts have the wrong shape (a hand-edited or foreign file), so
    every reader can trust the types: ValueError, which loaders turn into one sentence."""
    for key in ("workload", "device", "status"):
        if key in values and not isinstance(values[key], str):
            raise ValueError(f"'{key}' must be a string")
    for key in ("params", "samples", "metrics", "runtime", "memory", "environment"):
        if not isinstance(values.get(key), dict):
            raise ValueError(f"'{key}' must be an object")
    for phase, samples in values["samples"].items():
        if not isinstance(samples, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in samples
        ):
            raise ValueError(f"samples of '{phase}' must be a list of numbers")
    changed = values.get("changed_params")
    if changed is not None and not isinstance(changed, dict):
        raise ValueError("'changed_params' must be an object")


def iso_time(seconds: float) -> str:
    """A Unix time as UTC ISO 8601 with milliseconds, as records write times."""
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")


def dumps(item: Record | Interrupted) -> str:
    """One JSON line (NaN kept as NaN: a failed phase's median is not a number)."""
    return json.dumps(item.to_json(), separators=(",", ":"), allow_nan=True)


def loads(line: str) -> Record | Interrupted:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return from_json(data)
