"""The local launcher: one fresh child process per task, watched for timeout and memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError
from harness.launch.base import Capabilities, Launcher, failure_record, memory_option
from harness.machine import parent_watch
from harness.measures import measure_for
from harness.measures.base import BesideContext
from harness.plan import RunPlan
from harness.record import Record
from harness.record_failures import parse_worker_output
from harness.task import Task

POLL_SECONDS = 0.05
TERM_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class LocalConfig:
    #: bytes; the watchdog ends a worker whose process tree grows past it
    memory: int | None = None
    #: the Python that runs the workers (default: this one)
    python: str | None = None
    #: KEY=VALUE pairs added to the workers' environment
    env: tuple[str, ...] = ()
    #: a source tree whose harness and workloads the workers import first (a git worktree)
    source: str | None = None

    def __post_init__(self) -> None:
        if self.memory is not None and self.memory <= 0:
            raise UserError(f"--memory must be a positive size, got {self.memory}.")
        for pair in self.env:
            if "=" not in pair or not pair.split("=", 1)[0]:
                raise UserError(f"An environment setting must look like KEY=VALUE, got {pair!r}.")


class LocalLauncher(Launcher):
    name = "local"
    Config = LocalConfig
    options = (memory_option(),)
    runs_here = True
    #: the worker's measures, and Callgrind's count beside it (harness.measures.instructions)
    capabilities = Capabilities(measures=frozenset({"time", "instructions"}), cuda=True)

    def __init__(self, config: LocalConfig | None = None):
        super().__init__(config)
        self.memory_limit = self.config.memory
        self.python = self.config.python or sys.executable

    def preflight(self, plan: RunPlan) -> None:
        for name in dict.fromkeys(task.measure for task in plan.tasks):
            measure_for(name).preflight(plan.tasks)  # its tools, here (valgrind)
        if any(task.device == "cuda" for task in plan.tasks):
            from harness.machine.environment import gpus

            hidden = os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")
            if hidden or not gpus():
                raise UserError(
                    "CUDA was asked for (--device cuda) but this machine shows no NVIDIA GPU "
                    "(nvidia-smi lists none, or CUDA_VISIBLE_DEVICES hides them); run with "
                    "--device cpu or on a GPU machine."
                )

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"launcher": self.name, "memory_limit_bytes": self.memory_limit}
        if self.config.python:
            env["worker_python"] = self.config.python
        if self.config.env:
            env["worker_env"] = list(self.config.env)
        if self.config.source:
            env["worker_source"] = self.config.source
        return env

    def worker_command(self, task: Task) -> list[str]:
        """The worker's argv (a launcher deriving from this one may wrap it: nice, taskset)."""
        return [self.python, "-m", "harness.worker", "--task", json.dumps(task.to_dict())]

    def child_environment(self) -> dict[str, str]:
        """This process's environment with ``env`` and the source tree (``PYTHONPATH``)."""
        env = dict(os.environ)
        env.update(pair.split("=", 1) for pair in self.config.env)
        if self.config.source:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.config.source, env.get("PYTHONPATH")) if p
            )
        return env

    def run(self, task: Task) -> Record:
        measure = measure_for(task.measure)
        if not measure.in_worker:  # Callgrind: processes of its own, started from here
            context = BesideContext(self.python, self.child_environment(), self.config.source)
            return measure.run_beside(task, context)
        env = self.child_environment()
        env["PYTHONUNBUFFERED"] = "1"
        env[parent_watch.PARENT_VARIABLE] = str(os.getpid())  # the worker dies with us
        env[parent_watch.DEADLINE_VARIABLE] = parent_watch.deadline_for(task.timeout)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen(
                self.worker_command(task),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.config.source,
                start_new_session=True,  # its own process group: killed as a whole
            )
            status, message = self._wait(process, task.timeout)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        code = process.returncode
        record = parse_worker_output(stdout) if status == "exited" else None
        if record is not None:
            record.exit_code = code
            return record
        if status == "exited":
            if code is not None and code < 0:
                status = "crashed"
                message = f"the worker died with signal {signal.Signals(-code).name}"
            else:
                status = "error"
                message = f"the worker exited with code {code} and wrote no result"
        return failure_record(task, status, message, code, stderr)

    def _wait(self, process: subprocess.Popen, timeout: float) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    self._kill(process)
                    return "timeout", f"the workload ran past its timeout of {timeout:g} s"
                if self.memory_limit and _tree_rss(process.pid) > self.memory_limit:
                    self._kill(process)
                    return "oom", (
                        f"the workload exceeded the memory limit of "
                        f"{self.memory_limit / 2**20:.0f} MiB"
                    )
                time.sleep(POLL_SECONDS)
        except BaseException:  # Ctrl-C or SIGTERM: take the child down with us
            self._kill(process)
            raise
        return "exited", ""

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(TERM_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()


def _tree_rss(pid: int) -> int:
    try:
        import psutil
    except ImportError:  # a GPU host's own Python: the process itself, from /proc
        return _proc_rss(pid)

    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def _proc_rss(pid: int) -> int:
    """Resident bytes of ``pid`` from /proc/PID/statm (its children not counted)."""
    import os

    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
