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

from harness.extra_work import EXTRA_WORK_VARIABLE, add_extra_work
from harness.record import OK, SKIPPED, Failure, PhaseGap, Record, Timing, dumps, iso_time

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


def thread_environment(threads: int) -> dict[str, str]:
    """Environment that fixes every math library's thread count (set before any import)."""
    env = {name: str(threads) for name in THREAD_VARIABLES}
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def peak_memory() -> dict[str, int]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"peak_rss_bytes": own, "peak_rss_children_bytes": children}


def derived_metrics(
    metrics: dict[str, Any], summary: dict[str, Any], phases: tuple[str, ...]
) -> dict[str, Any]:
    """Rates from the medians: achieved GFLOP/s, and GB/s of each phase that moves ``bytes``."""
    out = dict(metrics)
    step = summary["step"]["median"]
    if out.get("flops_per_step") and step:
        out["achieved_gflops"] = out["flops_per_step"] / step / 1e9
    if out.get("train_steps_per_step") and step:
        out["seconds_per_train_step"] = step / out["train_steps_per_step"]
    if out.get("bytes"):
        for phase in phases:
            median = summary.get(phase, {}).get("median")
            if median:
                out[f"{phase}_gb_per_s"] = out["bytes"] / median / 1e9
    return out


class Skipped(Exception):
    """The task cannot run here (its framework is absent): a reason, not a failure."""


def missing_modules(workload: Any) -> list[str]:
    import importlib.util

    return [m for m in workload.required_modules() if importlib.util.find_spec(m) is None]


def run_task(task_data: dict[str, Any]) -> Record:
    """Run one task and return its record (status ``ok``, ``skipped`` or ``error``; never
    raises)."""
    from harness.environment import worker_threads
    from harness.plan import Task

    task = Task.from_dict({k: v for k, v in task_data.items() if k != "collect_environment"})
    if task.threads is not None:
        threads, thread_source = task.threads, "--threads"
    else:
        threads, thread_source = worker_threads()
    # Set before any math library is imported; what the launcher's environment said is replaced.
    os.environ.update(thread_environment(threads))
    started = time.time()
    record = Record(
        workload=task.workload,
        device=task.device,
        params=task.to_dict()["params"],
        process_index=task.process_index,
        task_index=task.index,
        seed=task.seed,
        threads={name: os.environ.get(name) for name in THREAD_VARIABLES},
        thread_count=threads,
        thread_source=thread_source,
        timer_settings=task.timer.to_dict(),
        started_at=iso_time(started),
        worker_pid=os.getpid(),
        harness_root=str(Path(__file__).resolve().parent.parent),
    )
    workload = None
    try:
        import numpy

        from harness.machine_watch import MachineWatch
        from harness.stats import summarize
        from harness.timer import Timer
        from harness.workload import describe, load_workload_class

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
        measurement = Timer(task.timer).run(workload, watch=MachineWatch(task.device))
        record.timing = Timing(**measurement.to_dict())
        record.machine = measurement.machine
        record.samples = measurement.samples
        record.host_samples = measurement.host_samples
        record.summary = {name: summarize(v) for name, v in measurement.samples.items()}
        record.phase_gap = PhaseGap.of(
            record.summary["step"]["median"],
            [record.summary[p]["median"] for p in cls.phases],
        )
        record.items_per_step = workload.items_per_step()
        record.metrics = derived_metrics(workload.metrics(), record.summary, cls.phases)
        if extra:
            record.metrics["test_extra_work"] = extra
            products = [w.products_per_step() for w in injected[:1]]
            record.metrics["test_extra_matmuls_per_step"] = products[0] if products else None
        record.energy = energy_per_step(workload, task.device, record.items_per_step)
        record.runtime = workload.runtime_info()
        record.phase_method = workload.phase_method() if cls.phases else None
        record.status = OK
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
    if task_data.get("collect_environment"):
        from harness.environment import collect

        inner = collect(launcher="worker")
        inner["uid"] = os.getuid()
        inner["root_writable"] = os.access("/usr", os.W_OK)
        record.worker_environment = inner
    record.finished_at = iso_time(time.time())
    record.memory = peak_memory()
    return record


def energy_per_step(workload: Any, device: str, items_per_step: int) -> dict[str, Any]:
    """Joules per step where a counter sees this device (harness.energy), else why not."""
    from harness import energy

    counters = energy.counters_for(device)
    if not counters:
        return energy.not_available(device)
    return energy.measure(
        counters, lambda: workload.step(lambda phase: None), workload.synchronize, items_per_step
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = args[1] if args[:1] == ["--task"] and len(args) == 2 else sys.stdin.read()
    task = json.loads(text)
    from harness import parent_watch

    parent_watch.start()
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
