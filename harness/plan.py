"""RunPlan: the list of tasks (workload × params × device × process) a run will execute."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.errors import UserError
from harness.params import ParamOverride, format_params, resolve_params
from harness.suites import Suite, SuiteEntry
from harness.task import Task
from harness.timer import TimerSettings
from harness.workload import Workload, load_workload_class

DEVICES = ("cpu", "cuda")


def check_frameworks(frameworks: Sequence[str]) -> None:
    """Raise UserError naming the first of ``frameworks`` no workload belongs to."""
    known = sorted({workload_class(name).framework for name in catalogue()})
    for framework in frameworks:
        if framework not in known:
            raise UserError(
                f"Unknown framework '{framework}'; valid frameworks: {', '.join(known)}."
            )


def catalogue() -> dict[str, str]:
    from workloads import CATALOGUE

    return dict(CATALOGUE)


def workload_class(name: str) -> type[Workload]:
    """A workload class by catalogue name, or by dotted path ``module:Class``."""
    if ":" in name:
        return load_workload_class(name)
    known = catalogue()
    if name not in known:
        raise UserError(f"Unknown workload '{name}'; valid workloads: {', '.join(known)}.")
    return load_workload_class(known[name])


def workload_path(name: str) -> str:
    return name if ":" in name else catalogue()[name]


def missing_requirements(cls: type[Workload]) -> list[str]:
    """Framework modules the class needs that are not installed here (checked without import)."""
    return [module for module in cls.requires if importlib.util.find_spec(module) is None]


@dataclass
class RunPlan:
    tasks: list[Task]
    suite: str
    skipped: list[str] = field(default_factory=list)
    #: tasks the selection declared more than once (two suite entries that an override made
    #: equal, a workload named twice, a value swept twice): each runs once
    merged: list[str] = field(default_factory=list)


def build_plan(
    suite: Suite,
    workloads: Sequence[str] = (),
    frameworks: Sequence[str] = (),
    overrides: Sequence[ParamOverride] = (),
    devices: Sequence[str] = (),
    processes: int | None = None,
    timer: TimerSettings | None = None,
    threads: int | None = None,
    timeout: float = 600.0,
    seed: int = 0,
    check_installed: bool = True,
    measure: str = "time",
    instruction_steps: int = 20,
    compile_cache: str = "fresh",
) -> RunPlan:
    for device in devices:
        if device not in DEVICES:
            raise UserError(f"Unknown device '{device}'; valid devices: {', '.join(DEVICES)}.")
    if processes is not None and processes < 1:
        raise UserError(f"--processes must be at least 1, got {processes}.")
    if timeout <= 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {timeout:g}.")
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}.")

    entries: list[SuiteEntry]
    if workloads:
        # Named workloads: the suite's settings for them when it has an entry, else defaults.
        entries = []
        for name in workloads:
            workload_class(name)  # unknown names fail here, listing the valid ones
            matching = [e for e in suite.entries if e.workload == name]
            entries.extend(matching or [SuiteEntry(name, {}, tuple(devices) or ("cpu",))])
    else:
        entries = list(suite.entries)

    if frameworks:
        check_frameworks(frameworks)
        entries = [e for e in entries if workload_class(e.workload).framework in frameworks]

    classes = {e.workload: workload_class(e.workload) for e in entries}
    for override in overrides:
        if not any(override.key in {p.name for p in cls.params} for cls in classes.values()):
            names = sorted({p.name for cls in classes.values() for p in cls.params})
            raise UserError(
                f"No selected workload has a parameter '{override.key}'; "
                f"valid parameters: {', '.join(names) or '(none)'}."
            )

    settings = timer or suite.timer
    repeat = processes if processes is not None else suite.processes
    tasks: list[Task] = []
    skipped: list[str] = []
    for entry in entries:
        cls = classes[entry.workload]
        wanted = [d for d in entry.devices if not devices or d in devices]
        if workloads and devices:
            unsupported = [d for d in devices if d not in cls.devices]
            if unsupported:
                raise UserError(
                    f"Workload '{cls.name}' does not run on {', '.join(unsupported)}; "
                    f"it supports: {', '.join(cls.devices)}."
                )
            wanted = list(devices)
        if not wanted:
            continue
        missing = missing_requirements(cls) if check_installed else []
        if missing:
            skipped.append(f"{entry.workload} ({', '.join(missing)} not installed)")
            continue
        strict = len(classes) == 1
        for params in resolve_params(cls.params, entry.params, overrides, cls.name, strict):
            if check_installed:
                needed = cls(params, wanted[0]).required_modules()
                absent = [m for m in needed if importlib.util.find_spec(m) is None]
                if absent:
                    skipped.append(
                        f"{entry.workload} {format_params(params)} "
                        f"({', '.join(absent)} not installed)"
                    )
                    continue
            for device in wanted:
                for index in range(repeat):
                    tasks.append(
                        Task(
                            workload=cls.name if ":" not in entry.workload else entry.workload,
                            path=workload_path(entry.workload),
                            params=params,
                            device=device,
                            timer=settings,
                            seed=seed,
                            threads=threads,
                            process_index=index,
                            timeout=timeout,
                            index=len(tasks),
                            measure=measure,
                            instruction_steps=instruction_steps,
                            compile_cache=compile_cache,
                        )
                    )
    tasks, merged = without_duplicates(tasks)
    if not tasks and not skipped:
        raise UserError(
            "The selection matches no workload: check --workload, --framework and --device "
            "against 'harness list'."
        )
    return RunPlan(tasks, suite.name, skipped, merged)


def without_duplicates(tasks: list[Task]) -> tuple[list[Task], list[str]]:
    """The tasks with identical ones (same workload code, parameters, device and process
    index) kept once, renumbered; and one line per task that was declared more than once."""
    import dataclasses
    import json

    kept: dict[str, Task] = {}
    counts: dict[str, int] = {}
    for task in tasks:
        data = task.to_dict()
        data.pop("index")
        key = json.dumps(data, sort_keys=True, default=str)
        counts[key] = counts.get(key, 0) + 1
        kept.setdefault(key, task)
    unique = [dataclasses.replace(task, index=i) for i, task in enumerate(kept.values())]
    merged = [f"{kept[key].describe()} (declared {n} times)" for key, n in counts.items() if n > 1]
    return unique, merged
