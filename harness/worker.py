"""The worker: runs one task inside a fresh process (or container) and prints one JSON record.

    python -m harness.worker < task.json        (or: python -m harness.worker --task '{...}')

Anything the workload or its framework prints goes to stderr; stdout carries only the record,
so a launcher reads it back whether it started a child process or a container.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from harness.errors import EXIT_USAGE, UserError
from harness.extra_work import EXTRA_WORK_VARIABLE, add_extra_work
from harness.record import OK, SKIPPED, Failure, Record, dumps, iso_time
from harness.record_parts import EnergyReading, Work
from harness.threads import THREAD_VARIABLES, thread_environment


def peak_memory() -> dict[str, int]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"peak_rss_bytes": own, "peak_rss_children_bytes": children}


def derived_metrics(
    metrics: dict[str, Any], summary: dict[str, Any], phases: tuple[str, ...]
) -> dict[str, Any]:
    """Rates from the medians: achieved GFLOP/s (the step's FLOPs counted as the verdicts
    count them, ``counted_per_step``), and GB/s of each phase that moves ``bytes``."""
    from harness.workload import counted_per_step

    out = dict(metrics)
    step = (summary.get("step") or {}).get("median")
    flops = counted_per_step(metrics, "flops")
    if flops and step:
        out["achieved_gflops"] = flops / step / 1e9
    if out.get("train_steps_per_step") and step:
        out["seconds_per_train_step"] = step / out["train_steps_per_step"]
    if out.get("bytes"):
        for phase in phases:
            median = summary.get(phase, {}).get("median")
            if median:
                out[f"{phase}_gb_per_s"] = out["bytes"] / median / 1e9
    return out


class UnsupportedMeasure(Exception):
    """The task asks for a measure this worker does not run (its launcher should have refused
    it): a failed record with the reason, never a record of another measure."""


def worker_measure(name: str) -> Any:
    """The measure ``name`` when it runs inside the worker; UnsupportedMeasure otherwise."""
    from harness.measures import MEASURES, measure_for

    if name not in MEASURES:
        raise UnsupportedMeasure(
            f"this worker knows no measure '{name}' (it knows {', '.join(MEASURES)})"
        )
    measure = measure_for(name)
    if not measure.in_worker:
        raise UnsupportedMeasure(
            f"the measure '{name}' runs beside the worker, in a launcher that declares it "
            "(the local launcher), not inside the worker; this launcher handed it on"
        )
    return measure


class Skipped(Exception):
    """The task cannot run here (its framework is absent): a reason, not a failure."""


def missing_modules(workload: Any) -> list[str]:
    import importlib.util

    return [m for m in workload.required_modules() if importlib.util.find_spec(m) is None]


def run_task(task_data: dict[str, Any]) -> Record:
    """Run one task and return its record (status ``ok``, ``skipped`` or ``error``; never
    raises)."""
    from harness.machine.environment import worker_threads
    from harness.task import Task

    task = Task.from_dict({k: v for k, v in task_data.items() if k != "collect_environment"})
    if task.threads is not None:
        threads, thread_source = task.threads, "--threads"
    else:
        threads, thread_source = worker_threads()
    # Set before any math library is imported; what the launcher's environment said is replaced.
    os.environ.update(thread_environment(threads))
    from harness import compile_cache

    caches = compile_cache.prepare(task.compile_cache)  # before any framework is imported
    started = time.time()
    record = Record.from_task(
        task,
        threads={name: os.environ.get(name) for name in THREAD_VARIABLES},
        thread_count=threads,
        thread_source=thread_source,
        timer_settings=task.timer.to_dict(),
        started_at=iso_time(started),
        worker_pid=os.getpid(),
        harness_root=str(Path(__file__).resolve().parent.parent),
        compile_cache=caches.state(),
    )
    workload = None
    try:
        import numpy

        from harness.workload import describe, load_workload_class

        measure = worker_measure(task.measure)  # before anything is set up
        random.seed(task.seed)
        numpy.random.seed(task.seed)  # workloads use seeded generators; this covers the rest
        cls = load_workload_class(task.path)
        for key, value in describe(cls, task.params).items():
            setattr(record, key, value)
        workload = cls(task.params, task.device, seed=task.seed, threads=threads)
        missing = missing_modules(workload)
        if missing:
            raise Skipped(f"{', '.join(missing)} not installed where this task ran")
        setup_start = time.perf_counter()
        workload.setup()
        record.setup_s = time.perf_counter() - setup_start
        extra = float(os.environ.get(EXTRA_WORK_VARIABLE) or 0)
        injected = add_extra_work(workload, extra) if extra else []
        measure.measure(workload, task, record)
        record.items_per_step = workload.items_per_step()
        # the one writer of the counted work: split from the workload's figures
        record.work, record.metrics = Work.split(
            derived_metrics(workload.metrics(), record.summary, cls.phases)
        )
        dataset = getattr(workload, "dataset_dir", None)
        if dataset is not None:  # where a pipeline's files were: disk, or memory (tmpfs)
            from harness.machine.mounts import filesystem_here

            record.metrics["data_dir"] = str(dataset)
            record.metrics["data_filesystem"] = filesystem_here(Path(dataset))
        if extra:
            record.metrics["test_extra_work"] = extra
            products = [w.products_per_step() for w in injected[:1]]
            record.metrics["test_extra_matmuls_per_step"] = products[0] if products else None
        record.energy = energy_per_step(workload, task.device, record.items_per_step)
        record.runtime = workload.runtime_info()
        record.phase_method = workload.phase_method() if cls.phases else None
        record.status = OK
    except UnsupportedMeasure as refusal:
        record.status = "error"
        record.error = Failure(type="unsupported-measure", message=str(refusal))
    except Skipped as skip:
        record.status = SKIPPED
        record.error = Failure(type=SKIPPED, message=str(skip))
    except Exception as error:  # the failure is the result: recorded, never raised
        record.status = "error"
        record.error = Failure(
            type=type(error).__name__,
            message=str(error) or type(error).__name__,
            traceback_tail=traceback.format_exc().splitlines()[-12:],
        )
    finally:
        if workload is not None:
            try:
                workload.teardown()
            except Exception as error:  # a failed teardown must not lose the measurement
                record.warnings.append(f"teardown failed: {error}")
        if record.status == OK and record.kind == "train_step":
            workload = None  # the measured instance goes before the fresh one is built
            record_first_losses(record, task, threads)
        caches.close()
    if task_data.get("collect_environment"):
        from harness.machine.environment import collect

        # the worker's own facts, read back by the launcher as ContainerFacts
        record.worker_environment = {
            **collect(launcher="worker").to_dict(),
            "uid": os.getuid(),
            "root_writable": os.access("/usr", os.W_OK),
        }
    record.finished_at = iso_time(time.time())
    record.memory = peak_memory()
    return record


def record_first_losses(record: Record, task: Any, threads: int) -> None:
    """The numerics check's losses (harness/analysis/numerics.py), outside every timed region."""
    from harness.loss_check import first_losses
    from harness.workload import load_workload_class

    try:
        losses = first_losses(
            load_workload_class(task.path), task.params, task.device, task.seed, threads
        )
    except Exception as error:  # the measurement stands; the check says why it is missing
        record.warnings.append(f"numerics check: the first losses failed: {error}")
        return
    if losses is not None:
        record.metrics["first_losses"] = losses


def energy_per_step(
    workload: Any, device: str, items_per_step: int, counters: list[Any] | None = None
) -> EnergyReading:
    """Joules per step where a counter sees this device (harness.machine.energy), else why not.

    The step is the one the timer's ``step`` samples time: ``fused_step`` where the workload
    has one (keras.step on TensorFlow, whose phased ``step`` runs the three phase prefixes, about
    twice the work), else ``step`` with no marks, as the instruction counter does. An error while
    reading energy costs this section only (``available: false`` and the error), never the
    timing record. ``counters`` defaults to the device's own (tests pass stand-ins)."""
    from harness.machine import energy

    try:
        counters = energy.counters_for(device) if counters is None else counters
        if not counters:
            return energy.not_available(device)
        if workload.has_fused_step:
            run_step = workload.fused_step
        else:

            def run_step() -> None:
                workload.step(lambda phase: None)

        return energy.measure(counters, run_step, workload.synchronize, items_per_step)
    except Exception as error:  # NVMLError mid-read, an unreadable RAPL file, a failed step
        return energy.read_failed(error)


WORKER_USE = (
    "harness.worker (the images' entrypoint) runs one task given as JSON, with --task JSON or on "
    "stdin; for a shell in an image, run docker run --rm -it --entrypoint bash harness:cpu"
)


def read_task(args: list[str], stdin: Any) -> dict[str, Any]:
    """The task of ``--task JSON`` or of ``stdin``; ``UserError`` (one sentence) when there is
    none, it is not JSON, or it is not a task: a person who ran the image with a command (the
    entrypoint is this worker) is told how to get a shell instead."""
    from harness.task import Task

    if args[:1] == ["--task"] and len(args) == 2:
        text, where = args[1], "--task"
    elif args:
        shown = " ".join(args)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise UserError(f"No task was given, only the arguments {shown!r}: {WORKER_USE}.")
    elif stdin is None or stdin.isatty():
        raise UserError(f"No task was given (stdin is a terminal): {WORKER_USE}.")
    else:
        text, where = stdin.read(), "stdin"
    if not text.strip():
        raise UserError(f"No task was given ({where} was empty): {WORKER_USE}.")
    try:
        task = json.loads(text)
    except ValueError as error:
        raise UserError(f"The task on {where} is not JSON ({error}): {WORKER_USE}.") from None
    try:
        if not isinstance(task, dict):
            raise TypeError(f"a JSON {type(task).__name__}, not an object")
        Task.from_dict({k: v for k, v in task.items() if k != "collect_environment"})
    except (KeyError, TypeError, AttributeError) as error:
        reason = f"no {error}" if isinstance(error, KeyError) else str(error)
        raise UserError(f"The JSON on {where} is not a task ({reason}): {WORKER_USE}.") from None
    return task


def main(argv: list[str] | None = None) -> int:
    from harness.machine import parent_watch
    from harness.terminal_text import degrade_gracefully

    degrade_gracefully()
    parent_watch.start()  # first: a worker whose launcher is gone ends before anything else
    args = sys.argv[1:] if argv is None else argv
    try:
        task = read_task(list(args), sys.stdin)
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return EXIT_USAGE
    # Keep the real stdout for the record; everything else the workload prints goes to stderr.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    record = run_task(task)
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(dumps(record) + "\n")
        out.flush()
    return 0 if record.status in (OK, SKIPPED) else 3


if __name__ == "__main__":
    raise SystemExit(main())
