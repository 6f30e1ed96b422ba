"""The Slurm launcher: one job array per run (per partition), one element per task, submitted
through submitit.

Each element runs the task in a fresh worker process on its node, as the local launcher does
(or in the CPU/CUDA image with ``--container docker``), and leaves its record, fsynced, in the
job folder (``harness.launch.slurm_element``). This launcher gathers the records in task order
as they come, reads the elements' states from ``scontrol`` (no accounting database needed) and
turns an element that ended without a record into a failed record naming its Slurm state.
Ctrl-C cancels the arrays (``scancel``) and waits until ``squeue`` no longer lists them.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
import uuid
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.launch.base import Capabilities, Launcher, Option, memory_option
from harness.launch.slurm_config import (
    SlurmConfig,
    _names,
    _positive,
    _sbatch_line,
    sbatch_reason,
)
from harness.launch.slurm_element import ALLOCATED_GPUS, run_element
from harness.launch.slurm_states import (
    NEVER_STARTS,
    POLL_SECONDS,
    RECORD_GRACE_SECONDS,
    SubmittedArray,
    min_job_age,
    never_starts,
    progress_line,
    record_grace,
)
from harness.plan import RunPlan
from harness.record import Record
from harness.task import Task


class SlurmLauncher(Launcher):
    name = "slurm"
    Config = SlurmConfig
    options = (
        Option("--partition", "partition(s), comma-separated: one run per partition", _names,
               "P[,P...]"),
        Option("--account", "Slurm account to charge", metavar="NAME"),
        Option("--qos", "Slurm quality of service", metavar="NAME"),
        Option("--time-limit", "minutes per element (default: --timeout plus 5)", _positive,
               "MIN"),
        memory_option(),
        Option("--cpus-per-task", "CPUs per element (sbatch --cpus-per-task)", _positive, "N"),
        Option("--gres", "generic resources per element, like gpu:1", metavar="SPEC"),
        Option("--constraint", "node features, like h100", metavar="FEATURES"),
        Option("--array-parallelism", "elements running at once", _positive, "N"),
        Option("--sbatch", "an extra sbatch option, like --sbatch=--exclusive (repeatable)",
               _sbatch_line, "OPTION", many=True),
        Option("--node-sharing", "exclusive (default: a node per element) or shared",
               metavar="MODE"),
        Option("--container", "run each element's worker in a container: docker",
               metavar="ENGINE"),
        Option("--image", "cpu, cuda or an image reference (default: cpu)", metavar="IMAGE"),
        Option("--job-dir", "folder every node sees, for records and logs", metavar="DIR"),
        Option("--max-pending", "seconds an element may wait to start before the run gives up "
               "(default: no bound)", _positive, "S"),
    )  # fmt: skip
    runs_here = False
    #: the measures its elements' workers run (time); none beside them
    capabilities = Capabilities(measures=frozenset({"time"}), cuda=True)

    def __init__(self, config: SlurmConfig | None = None):
        super().__init__(config)
        self.partitions: tuple[str | None, ...] = self.config.partition or (None,)
        run = f"{time.strftime('%Y-%m-%dT%H-%M-%S')}-{uuid.uuid4().hex[:8]}"
        self.folder = Path(self.config.job_dir or ".harness/slurm").resolve() / run
        self.arrays: list[SubmittedArray] = []
        self.time_limit: int | None = self.config.time_limit
        self.record_grace = RECORD_GRACE_SECONDS

    @property
    def records_per_task(self) -> int:
        return len(self.partitions)

    # --- before submitting -----------------------------------------------------------------
    def preflight(self, plan: RunPlan) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError(
                "The Slurm launcher needs submitit: pip install 'trainstep-harness[slurm]' "
                "(make venv installs it)."
            ) from None
        if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
            raise UserError(
                "sbatch and scontrol are not on PATH: run from a Slurm login node "
                "(or start the one-node cluster with make slurm-up)."
            )
        known = _partitions()
        if known is None:
            raise UserError(
                "Slurm does not answer (sinfo failed): check that slurmctld runs "
                "(make slurm-up starts a one-node cluster here)."
            )
        for partition in self.config.partition:
            if partition not in known:
                raise UserError(
                    f"Slurm has no partition '{partition}'; partitions: {', '.join(known)}."
                )
        if any(task.device == "cuda" for task in plan.tasks) and not (
            self.config.gres and "gpu" in self.config.gres
        ):
            raise UserError("CUDA workloads on Slurm need GPUs: add --gres gpu:1.")
        self.record_grace = record_grace(min_job_age())
        if self.time_limit is None:
            longest = max(task.timeout for task in plan.tasks)
            self.time_limit = math.ceil(longest / 60) + 5
        try:
            (self.folder / "records").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(
                f"Cannot create the job folder {self.folder}: {error.strerror}; "
                "choose one every node can write with --job-dir."
            ) from None

    def environment(self) -> dict[str, Any]:
        return {
            "launcher": self.name,
            "slurm_node_sharing": self.config.node_sharing,
            "slurm_time_limit_min": self.time_limit,
            "slurm_job_folder": str(self.folder),
            "slurm_container": self.config.container,
            "slurm_gres": self.config.gres,
            "slurm_constraint": self.config.constraint,
        }

    # --- submitting ----------------------------------------------------------------------
    def _parameters(self, partition: str | None, count: int) -> dict[str, Any]:
        config = self.config
        extra: dict[str, Any] = {}
        for line in config.sbatch:
            key, sep, value = line[2:].partition("=")
            extra[key] = value if sep else True
        given: dict[str, Any] = {
            "job_name": "harness",
            "partition": partition,
            "account": config.account,
            "qos": config.qos,
            "time": self.time_limit,
            "mem": f"{math.ceil(config.memory / 2**20)}M" if config.memory else None,
            "cpus_per_task": config.cpus_per_task,
            "gres": config.gres,
            "constraint": config.constraint,
            "exclusive": True if config.node_sharing == "exclusive" else None,
            "array_parallelism": config.array_parallelism or count,
            "additional_parameters": {"no-requeue": True, **extra},
        }
        return {key: value for key, value in given.items() if value is not None}

    def _container(self) -> dict[str, Any] | None:
        if self.config.container is None:
            return None
        # the GPUs Slurm allocates to each element, resolved on the node; never all of them
        gpus = ALLOCATED_GPUS if self.config.gres and "gpu" in self.config.gres else None
        return {"image": self.config.image or "cpu", "gpus": gpus, "memory": self.config.memory}

    def _submit(self, tasks: list[Task], partition: str | None) -> SubmittedArray:
        import submitit

        logs = self.folder / "logs"
        executor = submitit.SlurmExecutor(folder=logs)
        executor.update_parameters(**self._parameters(partition, len(tasks)))
        keys = [_key(partition, task.index) for task in tasks]
        try:
            jobs = executor.map_array(
                run_element,
                [task.to_dict() for task in tasks],
                [str(self.folder)] * len(tasks),
                keys,
                [self._container()] * len(tasks),
            )
        except Exception as error:  # sbatch refused: bad partition, account, QoS, gres...
            self.cancel()
            raise UserError(f"sbatch refused the array: {sbatch_reason(str(error))}") from None
        array = SubmittedArray(partition, jobs[0].job_id.split("_")[0], tasks, keys, jobs)
        array.record_grace = self.record_grace
        self.arrays.append(array)
        return array

    # --- gathering -----------------------------------------------------------------------
    def run_all(self, tasks: Iterable[Task]) -> Generator[Record, None, None]:
        tasks = list(tasks)
        for partition in self.partitions:
            array = self._submit(tasks, partition)
            where = f", partition {partition}" if partition else ""
            self.on_status(f"Slurm array {array.array_id}: {len(tasks)} elements{where}")
        submitted = time.monotonic()
        try:
            while any(not array.finished for array in self.arrays):
                for array in self.arrays:
                    array.poll(self.folder, self.time_limit)
                    yield from array.ready()
                    self._give_up_if_never_starting(array, time.monotonic() - submitted)
                self.on_status(self._status_line())
                if any(not array.finished for array in self.arrays):
                    time.sleep(POLL_SECONDS)
            self.cancel()  # arrays with elements given up may still hold a node
        except GeneratorExit:
            self.cancel()
            raise
        except BaseException:  # Ctrl-C or SIGTERM: cancel, keep what came back, re-raise
            self.cancel()
            for array in self.arrays:
                array.poll(self.folder, self.time_limit, cancelled=True)
                yield from array.ready(in_order=False)
            raise

    def _give_up_if_never_starting(self, array: SubmittedArray, waited: float) -> None:
        """Cancel the run (UserError) when an element waits for a reason that never clears, or
        longer than --max-pending."""
        stuck = never_starts(array.states)
        limit = self.config.max_pending
        if stuck is None and limit is not None and waited > limit:
            stuck = next((s for s in array.states.values() if s.pending), None)
        if stuck is None:
            return
        self.cancel()
        why = NEVER_STARTS.get(stuck.reason)
        detail = (
            f"Slurm will never start it ({stuck.reason}: {why})"
            if why
            else f"it waited over {limit} s (--max-pending) for {stuck.reason or 'no reason'}"
        )
        raise UserError(
            f"Element {array.array_id}_{stuck.task} is still pending and {detail}; the arrays "
            "were cancelled: change the request (partition, CPUs, memory, time limit) and run "
            "again."
        )

    def _status_line(self) -> str:
        parts = []
        for array in self.arrays:
            name = f"{array.array_id}{f' [{array.partition}]' if array.partition else ''}"
            line = progress_line(array.states, len(array.tasks))
            if array.no_answer is not None:
                line += f" · scontrol: {array.no_answer.reason}"
            parts.append(f"{name}: {line}")
        return "slurm " + "; ".join(parts)

    def cancel(self) -> None:
        """scancel every array still running, and every array with elements given up (they may
        still run), and wait until squeue no longer lists them."""
        live = [
            array.array_id
            for array in self.arrays
            if not array.cancelled and (not array.finished or array.given_up)
        ]
        if not live:
            return
        subprocess.run(["scancel", *live], capture_output=True, check=False, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = subprocess.run(
                ["squeue", "-h", "-j", ",".join(live), "-o", "%i"],
                capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
            if listed.returncode != 0 or not listed.stdout.strip():
                break
            time.sleep(0.5)
        for array in self.arrays:
            array.cancelled = True

    def close(self) -> None:
        self.cancel()


def _key(partition: str | None, index: int) -> str:
    return f"{partition or 'default'}-{index:05d}"


def _partitions() -> list[str] | None:
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]
