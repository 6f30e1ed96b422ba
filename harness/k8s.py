"""Kubernetes: a run as one Indexed Job, one completion per task.

``harness k8s manifest`` writes a ``List`` of a ConfigMap (the run's tasks as JSON) and an
Indexed Job whose pod ``i`` runs task ``i`` (``JOB_COMPLETION_INDEX``) in the harness image:
``python -m harness.k8s --tasks /harness/tasks.json --results /results/RUN``. Each element
writes its record, fsynced, to the results volume (a named PersistentVolumeClaim);
``harness report /results/RUN/*.jsonl`` reads them like any results file. The pods are
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
) -> dict[str, Any]:
    """The ConfigMap and the Indexed Job of one run, as a Kubernetes ``List``."""
    if not tasks:
        raise UserError("The selection has no task to put in a Job.")
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "harness"}}
    if namespace:
        metadata["namespace"] = namespace
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {**metadata, "name": f"{name}-tasks"},
        "data": {"tasks.json": json.dumps(tasks)},
    }
    limits: dict[str, Any] = {"nvidia.com/gpu": gpus} if gpus else {}
    container = {
        "name": "worker",
        "image": image,
        "command": ["python", "-m", "harness.k8s"],
        "args": ["--tasks", f"{TASKS_MOUNT}/tasks.json", "--results", f"{RESULTS_MOUNT}/{name}"],
        "env": [
            {"name": "HARNESS_SCRATCH_DIR", "value": "/scratch"},
            {"name": "HARNESS_IN_CONTAINER", "value": "1"},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
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
    """Inside the pod: run task ``index`` in a fresh worker process, append its record to
    ``results/<index>.jsonl`` (fsynced)."""
    from harness.launch.local import LocalLauncher
    from harness.plan import Task
    from harness.results import ResultWriter

    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    if not 0 <= index < len(tasks):
        raise UserError(f"JOB_COMPLETION_INDEX {index} is outside the {len(tasks)} tasks.")
    task = Task.from_dict(tasks[index])
    record = LocalLauncher().run(task)
    from harness import environment

    # the facts of the node (pod) that ran it: a fleet's report groups by them
    record.environment = {**environment.collect(launcher="k8s"), **record.environment,
                          "launcher": "k8s", "k8s_index": index,
                          "k8s_node": os.environ.get("NODE_NAME")}  # fmt: skip
    with ResultWriter(results / f"{index:05d}.jsonl") as writer:
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
