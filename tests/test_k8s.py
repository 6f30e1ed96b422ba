"""harness k8s manifest: an Indexed Job checked against the Kubernetes 1.37 schemas, and the
element entry point each pod runs, run here on the manifest's own tasks. No cluster runs here:
nothing talks to an API server."""

import json
import subprocess
import sys

import kubernetes_validate
import pytest

from tests.conftest import ROOT, read_jsonl

K8S_VERSION = "1.37"


def manifest(cli, tmp_path, *extra):
    result = cli(
        "k8s", "manifest", "--suite", "smoke", "--framework", "numpy", "--image",
        "registry.example.com/harness:cpu", "--output", "job.json", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result
    return json.loads((tmp_path / "job.json").read_text())


def test_the_manifest_passes_the_kubernetes_schemas(cli, tmp_path):
    document = manifest(cli, tmp_path, "--gpus", "1", "--node-selector", "gpu=h100")
    config_map, job = document["items"]
    for item in (config_map, job):
        kubernetes_validate.validate(item, K8S_VERSION, strict=True)
    spec = job["spec"]
    tasks = json.loads(config_map["data"]["tasks.json"])
    assert spec["completionMode"] == "Indexed" and spec["completions"] == len(tasks) == 2
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert pod["nodeSelector"] == {"gpu": "h100"}
    hardening = container["securityContext"]
    assert hardening["runAsNonRoot"] and hardening["readOnlyRootFilesystem"]
    assert hardening["allowPrivilegeEscalation"] is False
    assert hardening["capabilities"] == {"drop": ["ALL"]}
    claims = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [
        {"name": "results", "persistentVolumeClaim": {"claimName": "harness-results"}}
    ]


def test_each_manifest_is_its_own_run(cli, tmp_path):
    first = json.loads(manifest(cli, tmp_path)["items"][0]["data"]["run.json"])["run_id"]
    second = json.loads(manifest(cli, tmp_path)["items"][0]["data"]["run.json"])["run_id"]
    assert first != second


def test_the_schema_check_can_fail(cli, tmp_path):
    job = manifest(cli, tmp_path)["items"][1]
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_each_pod_runs_its_task_and_writes_its_record(cli, tmp_path):
    config_map, job = manifest(cli, tmp_path, "--label", "fleet-a")["items"]
    tasks = tmp_path / "tasks.json"
    tasks.write_text(config_map["data"]["tasks.json"])
    (tmp_path / "run.json").write_text(config_map["data"]["run.json"])
    run = json.loads(config_map["data"]["run.json"])
    assert run["label"] == "fleet-a" and run["suite"] == "smoke" and run["run_id"]
    results_arg = job["spec"]["template"]["spec"]["containers"][0]["args"][-1]
    assert results_arg == f"/results/harness-run/{run['run_id']}"  # one folder per run
    results = tmp_path / "results" / "harness-run" / run["run_id"]

    def element(index):
        return subprocess.run(
            [sys.executable, "-m", "harness.k8s", "--tasks", str(tasks), "--results", str(results)],
            env={
                "PYTHONPATH": str(ROOT),
                "JOB_COMPLETION_INDEX": str(index),
                "NODE_NAME": "node-a",
                "PATH": "/usr/bin:/bin",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )

    for index in (0, 1):
        done = element(index)
        assert done.returncode == 0, done.stderr
    records = [read_jsonl(results / f"{i:05d}.jsonl")[0] for i in (0, 1)]
    assert [r["workload"] for r in records] == [
        t["workload"] for t in json.loads(tasks.read_text())
    ]
    assert all(r["status"] == "ok" and r["environment"]["launcher"] == "k8s" for r in records)
    # the node's own facts, as the Slurm elements collect them: a fleet report groups by them
    assert all(r["environment"]["k8s_node"] == "node-a" for r in records)
    assert all(r["environment"]["host"] == "node-a" for r in records)  # a setup per node
    assert {r["run_id"] for r in records} == {run["run_id"]}
    assert {r["label"] for r in records} == {"fleet-a"}
    added = cli("history", "add", *(str(results / f"{i:05d}.jsonl") for i in (0, 1)),
                "--db", "h.duckdb")  # fmt: skip
    assert added.returncode == 0 and "added" in added.stderr, added
    again = element(0)  # the same manifest run a second time on the same volume
    assert again.returncode == 2 and "ran before" in again.stderr, again.stderr
    assert len(read_jsonl(results / "00000.jsonl")) == 1  # two runs never share a file
    assert all(r["environment"]["cpu_model"] and r["environment"]["host"] for r in records)
    report = cli("report", str(results / "00000.jsonl"), str(results / "00001.jsonl"))
    assert report.returncode == 0 and "numpy.linreg" in report.stdout
    outside = element(7)
    assert outside.returncode == 2 and "outside the 2 tasks" in outside.stderr
