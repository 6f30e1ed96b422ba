"""Kubernetes: a run as one Indexed Job, one completion per task.

``harness k8s manifest`` writes a ``List`` of a ConfigMap (the run's tasks as JSON) and an
Indexed Job whose pod ``i`` runs task ``i`` (``JOB_COMPLETION_INDEX``) in the harness image:
``python -m harness.k8s --tasks /harness/tasks.json --results /results/NAME/RUN_ID``. The
ConfigMap also holds ``run.json``: the run ID (made when the manifest is written), the label and
the suite, stamped into every pod's record, so ``history add`` takes the files as one run. Each
element writes its record, fsynced, to its own new file on the results volume (a named
PersistentVolumeClaim); a file already there means the same manifest ran before, and the element
refuses rather than mix two runs in one file. A record's ``host`` is the node's name (the pod's
own name is ``k8s_pod``), so a fleet's report has one setup per node.
``harness report /results/NAME/RUN_ID/*.jsonl`` reads them like any results file. The pods are
hardened as the Docker launcher's containers: non-root, read-only root filesystem, no
privilege escalation, every capability dropped. No cluster runs where this was built: the
manifest is checked against the Kubernetes schemas (kubernetes-validate), never applied here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.record_parts import Placement

UID = 10001
TASKS_MOUNT = "/harness"
RESULTS_MOUNT = "/results"


def manifest(
    tasks: list[dict[str, Any]],
    image: str,
    name: str,
    pvc: str,
    gpus: int = 0,
    node_selector: dict[str, str] | None = None,
    parallelism: int = 1,
    namespace: str | None = None,
    run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ConfigMap and the Indexed Job of one run, as a Kubernetes ``List``. ``run`` holds
    ``run_id`` (made here when absent), ``label`` and ``suite``."""
    import secrets

    from harness.results import new_run_id

    if not tasks:
        raise UserError("The selection has no task to put in a Job.")
    run = {"label": None, "suite": None, **(run or {})}
    # unique even for two manifests written in one second: each is a run of its own
    run["run_id"] = run.get("run_id") or f"{new_run_id(f'k8s-{name}')}-{secrets.token_hex(3)}"
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "harness"}}
    if namespace:
        metadata["namespace"] = namespace
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {**metadata, "name": f"{name}-tasks"},
        "data": {"tasks.json": json.dumps(tasks), "run.json": json.dumps(run)},
    }
    limits: dict[str, Any] = {"nvidia.com/gpu": gpus} if gpus else {}
    container = {
        "name": "worker",
        "image": image,
        "command": ["python", "-m", "harness.k8s"],
        "args": [
            "--tasks",
            f"{TASKS_MOUNT}/tasks.json",
            "--results",
            f"{RESULTS_MOUNT}/{name}/{run['run_id']}",
        ],
        "env": [
            {"name": "HARNESS_SCRATCH_DIR", "value": "/scratch"},
            {"name": "HARNESS_DATA_DIR", "value": "/scratch/data"},  # disk, not the memory /tmp
            {"name": "HARNESS_IN_CONTAINER", "value": "1"},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"limits": limits} if limits else {},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tasks", "mountPath": TASKS_MOUNT, "readOnly": True},
            {"name": "results", "mountPath": RESULTS_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "scratch", "mountPath": "/scratch"},
        ],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "fsGroup": UID},
        "containers": [container],
        "volumes": [
            {"name": "tasks", "configMap": {"name": f"{name}-tasks"}},
            {"name": "results", "persistentVolumeClaim": {"claimName": pvc}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}},
            {"name": "scratch", "emptyDir": {}},  # the node's disk: checkpoint loads read it
        ],
    }
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": len(tasks),
            "parallelism": parallelism,
            "backoffLimitPerIndex": 0,  # a failed task is a failed record, never a retry
            "maxFailedIndexes": len(tasks),  # ... and the other tasks go on
            "template": {"metadata": {"labels": metadata["labels"]}, "spec": pod_spec},
        },
    }
    return {"apiVersion": "v1", "kind": "List", "items": [config_map, job]}


def run_element(tasks_file: Path, results: Path, index: int) -> int:
    """Inside the pod: run task ``index`` in a fresh worker process and write its record to a
    new file ``results/<index>.jsonl`` (fsynced), stamped with the run of ``run.json`` beside
    the tasks file. Raises UserError when the index is outside the tasks or the file exists
    (the same manifest ran before)."""
    from harness.launch import make_launcher
    from harness.results import ResultWriter
    from harness.task import Task

    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    if not 0 <= index < len(tasks):
        raise UserError(f"JOB_COMPLETION_INDEX {index} is outside the {len(tasks)} tasks.")
    run_file = tasks_file.with_name("run.json")
    run = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else {}
    out = results / f"{index:05d}.jsonl"
    if out.exists():
        raise UserError(
            f"{out} already holds a record of run {run.get('run_id', '?')}: this manifest ran "
            "before; write a new one (harness k8s manifest) for a new run."
        )
    task = Task.from_dict(tasks[index])
    record = make_launcher("local").run(task)
    from harness.machine import environment

    # the facts of the node that ran it: a fleet's report has one setup per node
    node = os.environ.get("NODE_NAME")
    facts = environment.collect(launcher="k8s")
    placement = Placement.of(launcher="k8s", k8s_index=index, k8s_node=node,
                             k8s_pod=os.environ.get("POD_NAME") or facts.host,
                             host=node or facts.host)  # fmt: skip
    environment.stamp(record, run=facts, placement=placement)
    record.run_id = run.get("run_id") or record.run_id
    record.label = record.label or run.get("label")
    record.suite = run.get("suite") or record.suite
    with ResultWriter(out) as writer:
        writer.append(record)
    return 0 if not record.failed else 3


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or args[0] != "--tasks" or args[2] != "--results":
        print("usage: python -m harness.k8s --tasks FILE --results DIR", file=sys.stderr)
        return 2
    index = int(os.environ.get("JOB_COMPLETION_INDEX", "-1"))
    try:
        return run_element(Path(args[1]), Path(args[3]), index)
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
