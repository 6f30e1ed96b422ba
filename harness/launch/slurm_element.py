"""One Slurm array element: run one task in a fresh worker process on the node, stamp the
record with the node's own facts, and leave it in the job folder for the launcher to gather.

This is the function ``submitit`` pickles and runs on the node (``python -m
submitit.core._submit``); it imports nothing the submitting machine has and the node lacks.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.launch import launcher_class, make_launcher
from harness.launch.base import failure_record
from harness.plan import RunPlan
from harness.record import Record
from harness.record_parts import Placement
from harness.task import Task

#: Slurm's environment variables worth keeping, by the record field they fill
SLURM_FACTS = {
    "slurm_job_id": "SLURM_JOB_ID",
    "slurm_array_job_id": "SLURM_ARRAY_JOB_ID",
    "slurm_array_task_id": "SLURM_ARRAY_TASK_ID",
    "slurm_partition": "SLURM_JOB_PARTITION",
    "slurm_node": "SLURMD_NODENAME",
    "slurm_cluster": "SLURM_CLUSTER_NAME",
    "slurm_account": "SLURM_JOB_ACCOUNT",
    "slurm_qos": "SLURM_JOB_QOS",
    "slurm_cpus_on_node": "SLURM_CPUS_ON_NODE",
    "slurm_job_gpus": "SLURM_JOB_GPUS",
}


#: DockerConfig.gpus as the submitting side writes it: the GPUs Slurm allocates to the element,
#: known only on the node (``allocated_gpus``)
ALLOCATED_GPUS = "slurm-allocated"
#: where the node says which GPUs the element got, most exact first: Slurm's global GPU indices
#: (not relative to the device cgroup, so Docker, outside that cgroup, opens the same GPUs),
#: then CUDA_VISIBLE_DEVICES (exact for UUIDs; indices there may be relative to the cgroup)
GPU_VARIABLES = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES")


def allocated_gpus(environ: dict[str, str] | None = None) -> str:
    """The ``--gpus`` value that gives a container exactly the GPUs Slurm allocated
    (``device=0,2``), never ``all``. Raises UserError where the element got none."""
    environ = dict(os.environ) if environ is None else environ
    for name in GPU_VARIABLES:
        ids = [item.strip() for item in environ.get(name, "").split(",") if item.strip()]
        if ids and not ids[0].startswith(("-", "NoDevFiles")):
            return "device=" + ",".join(ids)
    raise UserError(
        "Slurm allocated no GPUs to this element (SLURM_STEP_GPUS, SLURM_JOB_GPUS and "
        "CUDA_VISIBLE_DEVICES are unset); ask for them with --gres gpu:N."
    )


def slurm_facts(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The Slurm job's identity and placement, from the variables Slurm sets in the element."""
    environ = dict(os.environ) if environ is None else environ
    return {field: environ[name] for field, name in SLURM_FACTS.items() if environ.get(name)}


def record_path(folder: Path, key: str) -> Path:
    return Path(folder) / "records" / f"{key}.jsonl"


def write_record(record: Record, path: Path) -> None:
    """Write the record next to its final name, fsync it, then rename: the launcher never
    reads half a record, and a record that exists survived the node."""
    from harness.durable import replace_synced
    from harness.record import dumps

    replace_synced(path, dumps(record) + "\n")


def run_element(task: dict[str, Any], folder: str, key: str, container: dict | None) -> str:
    """Run ``task`` here (the node) as the local launcher would, or in a container when
    ``container`` holds a DockerConfig's fields; returns the record's path."""
    from harness.machine import environment

    # A benchmark element is never checkpointed nor requeued: submitit's USR2 handler would
    # requeue a preempted element or stop one near its limit. Slurm's own states (TIMEOUT,
    # PREEMPTED) say what happened, and the launcher turns them into failed records.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    the_task = Task.from_dict(task)
    launcher: Any
    try:
        if container is not None:  # through the launcher registry, as harness run does
            if container.get("gpus") == ALLOCATED_GPUS:
                container = {**container, "gpus": allocated_gpus()}
            launcher = make_launcher("docker", launcher_class("docker").Config(**container))
        else:
            launcher = make_launcher("local")
    except UserError as error:  # the node gave no GPUs for the container
        launcher = None
        record = failure_record(the_task, "error", f"on {socket.gethostname()}: {error}")
    if launcher is not None:
        try:
            launcher.preflight(RunPlan([the_task], suite=""))
            record = launcher.run(the_task)
        except UserError as error:  # this node cannot run it (no Docker engine, no image)
            record = failure_record(the_task, "error", f"on {socket.gethostname()}: {error}")
        finally:
            launcher.close()
    environment.stamp(
        record,
        run=environment.collect(launcher="slurm"),  # the node's own facts
        launcher=launcher.environment() if launcher is not None else {},
        placement=Placement.of(
            launcher="slurm",
            slurm_container="docker" if container is not None else None,
            **slurm_facts(),
        ),
    )
    path = record_path(Path(folder), key)
    write_record(record, path)
    return str(path)
