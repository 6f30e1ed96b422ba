"""What Slurm says about an array's elements, read from ``scontrol`` (which needs no accounting
database, unlike ``sacct``), what a finished element's state means for its record, and the records
of one submitted array as they come back."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.launch.base import failure_record
from harness.launch.slurm_element import record_path
from harness.machine.environment import stamp
from harness.record import Record
from harness.record_parts import Placement
from harness.task import Task

POLL_SECONDS = 2.0
#: a record written just before the element ended may take a moment to show on a shared
#: filesystem; an ended element without one is a failure after this long
RECORD_GRACE_SECONDS = 10.0
#: consecutive polls in which scontrol answers "Invalid job id" for the array (purged after
#: MinJobAge); any other scontrol error (a busy controller's "Socket timed out") is no answer
FORGOTTEN_POLLS = 3
#: pending reasons that never clear by waiting: the request itself cannot be met
NEVER_STARTS = {
    "PartitionConfig": "the partition cannot give what the job asks (CPUs, memory, nodes)",
    "BadConstraints": "no node has the features or resources asked for",
    "DependencyNeverSatisfied": "a job it depends on can no longer end as required",
    "PartitionTimeLimit": "the time limit is above the partition's MaxTime (--time-limit)",
    "PartitionNodeLimit": "more nodes than the partition allows",
    "InvalidAccount": "the account is not valid (--account)",
    "InvalidQOS": "the QoS is not valid (--qos)",
    "QOSMaxCpuPerJobLimit": "more CPUs than the QoS allows a job (--cpus-per-task)",
    "QOSMaxMemoryPerJob": "more memory than the QoS allows a job (--memory)",
    "QOSMaxWallDurationPerJobLimit": "a longer time limit than the QoS allows (--time-limit)",
    "AssocMaxWallDurationPerJobLimit": "a longer time limit than the account allows",
    "AssocMaxCpuPerJobLimit": "more CPUs than the account allows a job",
}
#: Slurm states that decide a record even when the element wrote one: the worker's signal
#: (SIGTERM at the time limit, SIGKILL of an OOM kill) is Slurm's doing, not the workload's
SLURM_ENDED = {"TIMEOUT", "DEADLINE", "CANCELLED", "OUT_OF_MEMORY", "PREEMPTED", "NODE_FAIL",
               "BOOT_FAIL"}  # fmt: skip
#: seconds a failure record waits for the element's terminal state
SIGNAL_RECORD_WAIT_SECONDS = 30.0

#: states after which an element will not run again
TERMINAL = {
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "CANCELLED",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    "SPECIAL_EXIT",
}

#: Slurm state -> (record status, what happened)
FAILURES = {
    "TIMEOUT": ("timeout", "Slurm ended the element at its time limit"),
    "DEADLINE": ("timeout", "Slurm ended the element at its deadline"),
    "OUT_OF_MEMORY": ("oom", "Slurm ended the element: it ran out of its memory allocation"),
    "CANCELLED": ("cancelled", "the element was cancelled (scancel, or an administrator)"),
    "NODE_FAIL": ("node-failure", "the element's node failed"),
    "BOOT_FAIL": ("node-failure", "the element's node failed to boot"),
    "PREEMPTED": ("preempted", "a job of higher priority preempted the element"),
    "REVOKED": ("cancelled", "Slurm revoked the element (a federated sibling ran it)"),
    "SPECIAL_EXIT": ("error", "the element ended in Slurm's SPECIAL_EXIT state"),
}


@dataclass(frozen=True)
class ElementState:
    """One array element as ``scontrol show job`` describes it."""

    task: int
    state: str
    reason: str = ""
    exit_code: int | None = None
    exit_signal: int | None = None
    node: str = ""
    stderr: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def pending(self) -> bool:
        return self.state in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "CONFIGURING")


def _task_ids(text: str) -> list[int]:
    """``ArrayTaskId`` values: ``3``, ``1-4%2``, ``1,3,5-7`` (pending elements folded)."""
    ids: list[int] = []
    for part in text.split("%")[0].split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        step = 1
        if ":" in high:
            high, step_text = high.split(":", 1)
            step = int(step_text)
        ids.extend(range(int(low), int(high or low) + 1, step))
    return ids


def parse_show_job(text: str) -> dict[int, ElementState]:
    """Every element of one array from ``scontrol -o show job ARRAY_JOB_ID`` (one line per
    element, or per folded range of pending ones)."""
    elements: dict[int, ElementState] = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobState" not in fields:
            continue
        # submitit submits an "array" of one task as a plain job: its one element is task 0
        fields.setdefault("ArrayTaskId", "0")
        code, _, sig = fields.get("ExitCode", "").partition(":")
        for task in _task_ids(fields["ArrayTaskId"]):
            elements[task] = ElementState(
                task=task,
                state=fields["JobState"],
                reason=fields.get("Reason", ""),
                exit_code=int(code) if code.isdigit() else None,
                exit_signal=int(sig) if sig.isdigit() else None,
                node=fields.get("NodeList", "") or fields.get("BatchHost", ""),
                stderr=fields.get("StdErr", ""),
            )
    return elements


@dataclass(frozen=True)
class NoAnswer:
    """scontrol did not describe the array: ``forgotten`` when Slurm said the job ID is invalid
    (purged after MinJobAge), else the controller did not answer (busy, restarting)."""

    forgotten: bool
    reason: str


def array_states(array_id: str) -> dict[int, ElementState] | NoAnswer:
    """The elements of ``array_id`` now, or why scontrol could not say."""
    try:
        done = subprocess.run(
            ["scontrol", "-o", "show", "job", array_id],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return NoAnswer(False, f"scontrol did not answer ({type(error).__name__})")
    if done.returncode != 0:
        return answer_of_error(done.stderr)
    return parse_show_job(done.stdout)


def answer_of_error(stderr: str) -> NoAnswer:
    """Only "Invalid job id" means Slurm forgot the job; anything else is no answer."""
    text = " ".join(stderr.split()) or "no message"
    return NoAnswer("invalid job id" in text.lower(), text[:200])


def min_job_age() -> float | None:
    """Slurm's MinJobAge (seconds a finished job stays listed), from ``scontrol show config``."""
    try:
        done = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"^MinJobAge\s*=\s*(\d+)", done.stdout, flags=re.MULTILINE)
    return float(found.group(1)) if found else None


def record_grace(age: float | None) -> float:
    """The record grace under MinJobAge ``age``: never past half of it, never under a poll."""
    if age is None:
        return RECORD_GRACE_SECONDS
    return max(POLL_SECONDS, min(RECORD_GRACE_SECONDS, age / 2))


def never_starts(states: dict[int, ElementState]) -> ElementState | None:
    """A pending element whose reason never clears by waiting, if any."""
    for state in states.values():
        if state.pending and state.reason in NEVER_STARTS:
            return state
    return None


def failure_for(state: ElementState, minutes: int | None) -> tuple[str, str]:
    """(record status, one sentence) for an element that ended without a record."""
    where = f" on {state.node}" if state.node else ""
    if state.state in FAILURES:
        status, what = FAILURES[state.state]
        if state.state == "TIMEOUT" and minutes:
            what += f" ({minutes} min; raise it with --time-limit)"
        if state.state == "OUT_OF_MEMORY":
            what += "; ask for more with --memory"
        return status, f"Slurm state {state.state}{where}: {what}"
    if state.state == "FAILED":
        if state.exit_signal:
            name = _signal_name(state.exit_signal)
            return "crashed", f"Slurm state FAILED{where}: the element died with signal {name}"
        return "error", (
            f"Slurm state FAILED{where}: the element exited with code {state.exit_code} "
            f"({state.reason or 'no reason given'}) and wrote no record"
        )
    return "error", f"Slurm state {state.state}{where}: the element ended and wrote no record"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def progress_line(states: dict[int, ElementState], total: int) -> str:
    """``3 pending (Resources) · 1 running · 4 finished`` from the elements' states."""
    pending = sum(1 for s in states.values() if s.pending)
    reasons = sorted({s.reason for s in states.values() if s.pending and s.reason not in
                      ("", "None")})  # fmt: skip
    running = sum(1 for s in states.values() if s.state in ("RUNNING", "COMPLETING"))
    finished = sum(1 for s in states.values() if s.terminal)
    unknown = total - len(states)
    waiting = f"{pending} pending" + (f" ({', '.join(reasons)})" if reasons else "")
    parts = [waiting, f"{running} running", f"{finished} finished"]
    if unknown > 0:
        parts.append(f"{unknown} not listed")
    return " · ".join(parts)


class SubmittedArray:
    """One submitted array: its elements' states and the records back so far."""

    def __init__(self, partition: str | None, array_id: str, tasks: list[Task],
                 keys: list[str], jobs: list[Any]):  # fmt: skip
        self.partition, self.array_id, self.tasks, self.keys, self.jobs = (
            partition, array_id, tasks, keys, jobs)  # fmt: skip
        self.states: dict[int, ElementState] = {}
        self.records: dict[int, Record] = {}
        self.ended_at: dict[int, float] = {}
        self.forgotten = 0
        self.forgotten_since: float | None = None
        #: how long an ended element's record may take to show: RECORD_GRACE_SECONDS, but under
        #: half of Slurm's MinJobAge (set by the launcher), so the element's own state is still
        #: there to read when the record never comes
        self.record_grace = RECORD_GRACE_SECONDS
        self.no_answer: NoAnswer | None = None
        self.given_up = False  # a record was made for an element Slurm may still run
        self.signal_records_at: dict[int, float] = {}
        self.next = 0  # records are handed on in task order
        self.handed_on: set[int] = set()
        self.cancelled = False

    @property
    def finished(self) -> bool:
        return self.cancelled or self.next >= len(self.tasks)

    def poll(self, folder: Path, minutes: int | None, cancelled: bool = False) -> None:
        from harness.results import read_records

        states = array_states(self.array_id)
        now = time.monotonic()
        if isinstance(states, NoAnswer):
            self.no_answer = states
            if states.forgotten:
                self.forgotten += 1
                self.forgotten_since = self.forgotten_since or now
        else:
            self.no_answer, self.forgotten, self.forgotten_since = None, 0, None
            self.states = states
        forgotten = (
            self.forgotten >= FORGOTTEN_POLLS
            and self.forgotten_since is not None
            and now - self.forgotten_since >= RECORD_GRACE_SECONDS
        )
        for position, task in enumerate(self.tasks):
            if position in self.records or position in self.handed_on:
                continue
            # the last state scontrol gave: a terminal one outlives Slurm forgetting the job
            state = self.states.get(position)
            if forgotten and state is not None and not state.terminal:
                state = None
            path = record_path(folder, self.keys[position])
            if path.exists():
                found = [r for r in read_records(path) if isinstance(r, Record)]
                if found:
                    decided = self._decide(task, position, found[0], state, minutes, now,
                                           cancelled or forgotten)  # fmt: skip
                    if decided is not None:
                        self.records[position] = decided
                    continue
            if cancelled:
                continue
            if forgotten and state is not None:  # it ended, and Slurm said how, before forgetting
                self.records[position] = self._failure(task, position, state, minutes)
            elif forgotten:
                self.given_up = True
                self.records[position] = failure_record(
                    task, "error", f"Slurm no longer lists element {self.array_id}_{position} "
                    "(Invalid job id: purged after MinJobAge, or lost) and it wrote no "
                    "record")  # fmt: skip
            elif state is not None and state.terminal:
                ended = self.ended_at.setdefault(position, now)
                grace = self.record_grace if state.state == "COMPLETED" else 2 * POLL_SECONDS
                if now - ended >= grace:
                    self.records[position] = self._failure(task, position, state, minutes)

    def _decide(self, task: Task, position: int, record: Record, state: ElementState | None,
                minutes: int | None, now: float, final: bool) -> Record | None:  # fmt: skip
        """The element's own record, unless it is a failure and Slurm ended the element: then
        Slurm's terminal state (TIMEOUT, CANCELLED, OUT_OF_MEMORY, ...) decides, whether the
        worker died of Slurm's signal or its own SIGTERM handler raised or exited. None: wait
        for that state a little longer."""
        if record.ok or record.status == "skipped":
            return record
        if state is not None and state.terminal:
            if state.state not in SLURM_ENDED:
                return record
            decided = self._failure(task, position, state, minutes)
            if decided.error is not None and record.error is not None:
                decided.error.stderr_tail = record.error.stderr_tail or decided.error.stderr_tail
                decided.error.message += f" (then: {record.error.message})"
            return decided
        first = self.signal_records_at.setdefault(position, now)
        if final or now - first >= SIGNAL_RECORD_WAIT_SECONDS:
            return record
        return None

    def _failure(self, task: Task, position: int, state: ElementState,
                 minutes: int | None) -> Record:  # fmt: skip
        status, message = failure_for(state, minutes)
        code = state.exit_code if not state.exit_signal else -state.exit_signal
        record = failure_record(task, status, message, code, _tail(self.jobs[position]))
        placement = Placement.of(
            launcher="slurm",
            slurm_state=state.state,
            slurm_array_job_id=self.array_id,
            slurm_array_task_id=str(position),
            slurm_partition=self.partition,
            slurm_node=state.node or None,
        )
        stamp(record, placement=placement)
        return record

    def ready(self, in_order: bool = True) -> Generator[Record, None, None]:
        """Records to hand on: the next ones in task order (or every one back, at the end)."""
        while self.next < len(self.tasks) and self.next in self.records:
            self.handed_on.add(self.next)
            yield self.records.pop(self.next)
            self.next += 1
        if not in_order:
            for position in sorted(self.records):
                self.handed_on.add(position)
                yield self.records.pop(position)


def _tail(job: Any, lines: int = 20) -> str:
    """The end of the element's stderr log, as submitit wrote it."""
    try:
        text = Path(job.paths.stderr).read_text(encoding="utf-8", errors="replace")
    except (OSError, AttributeError):  # no log, or no submitit job to read it from
        return ""
    return "\n".join(text.splitlines()[-lines:])
