"""run(config) -> RunOutcome: plan the tasks, hand them to the launcher, append each record to
disk as it comes back. SIGINT/SIGTERM/SIGHUP end the run with an ``interrupted`` record; a full disk
stops it with every record saved elsewhere and named."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from harness.analysis import mfu
from harness.config import RunConfig
from harness.errors import INTERRUPT_SIGNALS, UserError
from harness.launch import check_capabilities, make_launcher
from harness.launch.base import Launcher
from harness.plan import RunPlan, build_plan
from harness.record import SKIPPED, Interrupted, Record
from harness.record_parts import HostFacts
from harness.results import ResultWriter, new_run_id, rescue_records, utc_now
from harness.task import Task
from harness.writable import check_writable


class RunInterrupted(Exception):
    """SIGINT or SIGTERM arrived; what was measured is on disk."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


@dataclass
class RunOutcome:
    path: Path
    plan: RunPlan
    records: list[Record] = field(default_factory=list)
    interrupted: str | None = None
    #: records the run was to produce (tasks × the launcher's records per task)
    planned: int = 0

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if r.failed]

    @property
    def skipped(self) -> list[Record]:
        return [r for r in self.records if r.status == SKIPPED]


class RunEvents:
    """What a run tells its caller as it goes (a progress bar, log lines); no-ops here."""

    def planned(self, plan: RunPlan, launcher: str, path: Path) -> None: ...

    def task_started(self, done: int, total: int, task: Task) -> None: ...

    def task_finished(self, done: int, total: int, record: Record) -> None: ...

    def launcher_status(self, text: str) -> None:
        """The launcher's own progress (a batch scheduler's queue: pending, running...)."""


@dataclass(frozen=True)
class RunInfo:
    """What every record of one run shares."""

    run_id: str
    suite: str
    label: str | None
    environment: HostFacts


def run(
    config: RunConfig, events: RunEvents | None = None, launcher: Launcher | None = None
) -> RunOutcome:
    """Execute ``config``: the whole run, from plan to the last record on disk. ``launcher``
    replaces the config's (``harness ab`` passes one that alternates two)."""
    from harness.machine import environment
    from harness.suites import get_suite

    events = events or RunEvents()
    suite = get_suite(config.suite)
    launcher = launcher or make_launcher(config.launcher, config.launcher_config)
    plan = plan_for(config, check_installed=launcher.runs_here)
    check_capabilities(launcher, plan)  # before anything runs: one sentence, exit 2
    if not plan.tasks:
        raise UserError(
            "Every selected workload was skipped; install the frameworks they need "
            "(make venv installs them all)."
        )
    label = config.label or ""
    device_tag = "-".join(sorted({t.device for t in plan.tasks}))
    run_id = new_run_id(f"{device_tag}-{launcher.name}{('-' + label) if label else ''}")
    path = config.output or (config.results_dir / f"{run_id}.jsonl")
    check_writable(path, "--results-file" if config.output else "--results-dir")
    launcher.preflight(plan)
    info = RunInfo(
        run_id,
        suite.name,
        config.label,
        environment.collect(launcher=launcher.name, extra=launcher.environment()),
    )
    events.planned(plan, launcher.name, path)
    return execute(plan, launcher, path, info, events)


def plan_for(config: RunConfig, check_installed: bool) -> RunPlan:
    """The tasks ``config`` selects (``check_installed``: skip workloads whose framework is
    absent here, for launchers that run tasks here)."""
    from harness.suites import get_suite

    suite = get_suite(config.suite)
    return build_plan(
        suite,
        workloads=config.workloads,
        frameworks=config.frameworks,
        overrides=config.overrides,
        devices=config.devices,
        processes=config.processes,
        timer=config.timer.apply(suite.timer),
        threads=config.threads,
        timeout=config.timeout,
        seed=config.seed,
        check_installed=check_installed,
        measure=config.measure,
        instruction_steps=config.instruction_steps,
        compile_cache=config.compile_cache,
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise RunInterrupted(signal.Signals(signum).name)


def execute(
    plan: RunPlan, launcher: Launcher, path: Path, info: RunInfo, events: RunEvents
) -> RunOutcome:
    """Every task through ``launcher.run_all``; each record stamped with the run and appended."""
    from harness.machine import environment

    outcome = RunOutcome(path, plan, planned=len(plan.tasks) * launcher.records_per_task)
    previous = {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS}
    for sig in previous:
        signal.signal(sig, _raise_interrupt)
    writer = ResultWriter(path)
    total = outcome.planned
    launcher.on_status = events.launcher_status
    try:
        events.task_started(0, total, plan.tasks[0])
        started = time.time()
        with contextlib.closing(launcher.run_all(plan.tasks)) as records:
            for record in records:
                record.run_id, record.suite = info.run_id, info.suite
                record.label = record.label or info.label  # a launcher may name the side
                record.wall_s = time.time() - started
                # the launcher's facts about where the task ran win over the run's defaults
                environment.stamp(record, run=info.environment)
                mfu.stamp(record, [path.parent, Path("results")])  # needs the cached peaks
                outcome.records.append(record)
                try:
                    writer.append(record)
                except OSError as error:
                    raise _not_written(path, error, outcome.records, info.run_id) from None
                done = len(outcome.records)
                events.task_finished(done, total, record)
                if done < total:
                    events.task_started(done, total, plan.tasks[done % len(plan.tasks)])
                started = time.time()
    except (RunInterrupted, KeyboardInterrupt) as interrupt:
        name = interrupt.signal_name if isinstance(interrupt, RunInterrupted) else "SIGINT"
        outcome.interrupted = name
        last = Interrupted(info.run_id, name, len(outcome.records), total, utc_now())
        append_or_rescue(writer, outcome.records, info.run_id, last)
    finally:
        writer.close()
        writer.discard_if_empty()
        launcher.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return outcome


def append_or_rescue(
    writer: ResultWriter, records: list[Record], run_id: str, last: Interrupted
) -> None:
    """The last record of an interrupted run; if it cannot be written, nothing is lost."""
    try:
        writer.append(last)
    except OSError as error:
        where = rescue_records([*records, last], run_id)
        print(
            f"harness: writing results failed ({error.strerror}); the records are in {where}.",
            file=sys.stderr,
        )


def _not_written(path: Path, error: OSError, records: list[Record], run_id: str) -> UserError:
    """The run stops: every record measured so far is saved elsewhere and named."""
    where = rescue_records(list(records), run_id)
    reason = error.strerror or str(error)
    return UserError(
        f"Writing results to {path} failed ({reason}), so the run stopped; the "
        f"{len(records)} record(s) measured are saved in {where}: free space or choose "
        "another --results-file, and run again."
    )
