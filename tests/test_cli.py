"""The command line end to end, in fresh processes, on real files."""

import json

import pytest

from harness.record import SCHEMA_VERSION
from tests.conftest import read_jsonl


@pytest.mark.slow
def test_smoke_run_writes_jsonl_that_report_reads_back(cli, tmp_path):
    out = tmp_path / "smoke.jsonl"
    run = cli("run", "--suite", "smoke", "--framework", "numpy", "--results-file", str(out))
    assert run.returncode == 0, run
    records = read_jsonl(out)
    assert {r["workload"] for r in records} == {"numpy.linreg", "numpy.mlp"}
    for r in records:
        assert r["status"] == "ok"
        assert r["schema_version"] == SCHEMA_VERSION and r["code_version"]
        assert set(r["samples"]) == {"step", "forward", "backward", "update"}
        assert r["summary"]["step"]["count"] == 3
        assert r["memory"]["peak_rss_bytes"] > 0
        assert r["threads"]["OMP_NUM_THREADS"] is not None
        assert r["environment"]["usable_cores"] >= 1
        assert r["environment"]["gpu_count"] == 0 or r["environment"]["gpu_name"]
        assert r["timing"]["warmup_steps"] <= r["timer_settings"]["warmup_max_steps"] == 1
        # the phases add up to the step, the gap (loop and clock overhead) is reported
        assert abs(r["phase_gap"]["relative"]) < 0.5
    for fmt in ("table", "markdown", "csv"):
        report = cli("report", str(out), "--format", fmt)
        assert report.returncode == 0, report
        assert "numpy.mlp" in report.stdout
    html = tmp_path / "r.html"
    assert cli("report", str(out), "--format", "html", "--output", str(html)).returncode == 0
    assert "<img" in html.read_text()


@pytest.mark.slow
def test_sweep_and_threads(cli, tmp_path):
    out = tmp_path / "sweep.jsonl"
    run = cli(
        "run",
        "--suite",
        "smoke",
        "--workload",
        "numpy.linreg",
        "--param",
        "batch_size=8,16",
        "--threads",
        "1",
        "--results-file",
        str(out),
    )
    assert run.returncode == 0, run
    records = read_jsonl(out)
    assert [r["params"]["batch_size"] for r in records] == [8, 16]
    assert all(r["threads"]["OMP_NUM_THREADS"] == "1" for r in records)


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--workload", "nope"], "valid workloads: numpy.linreg"),
        (["run", "--suite", "nope"], "valid suites: smoke"),
        (["run", "--framework", "nope"], "valid frameworks"),
        (["run", "--suite", "smoke", "--param", "nope=1"], "no selected workload has a parameter"),
        (["run", "--suite", "smoke", "--param", "batch_size=big"], "expects a whole number"),
        (["run", "--suite", "smoke", "--processes", "0"], "--processes must be at least 1"),
        (["run", "--suite", "smoke", "--timeout", "-3"], "--timeout must be a positive"),
        (["run", "--suite", "smoke", "--timeout", "soon"], "expects a number of seconds"),
        (["run", "--suite", "smoke", "--min-blocks", "0"], "--min-blocks must be at least 1"),
        (["run", "--suite", "smoke", "--device", "tpu"], "valid devices: cpu, cuda"),
        (["run", "--suite", "smoke", "--image", "cpu"], "--image works with --launcher docker"),
        (["run", "--suite", "smoke", "--launcher", "ssh"], "valid launchers"),
        (["run", "--suite", "smoke", "--memory", "lots"], "Cannot read the size"),
        (["run", "--workload", "numpy.mlp", "--device", "cuda"], "no NVIDIA GPU"),
        (["report", "missing.jsonl"], "does not exist"),
        (["report", "."], "is a folder"),
        (["report", "--format", "pdf", "missing.jsonl"], "invalid choice: 'pdf'"),
        (["compare", "a.jsonl"], "compare needs BASELINE CANDIDATE"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(cli, args, message):
    # GPUs hidden, so that "no NVIDIA GPU" holds on a GPU machine too
    result = cli(*args, env={"CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2, result
    assert message.lower() in result.stderr.lower(), result
    assert "Traceback" not in result.stderr


def test_empty_and_non_json_results(cli, tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "junk.jsonl").write_text("hello\n")
    empty = cli("report", "empty.jsonl")
    assert empty.returncode == 2 and "empty" in empty.stderr
    junk = cli("report", "junk.jsonl")
    assert junk.returncode == 2 and "not a harness result record" in junk.stderr


def test_list_shows_workloads_params_and_suites(cli):
    result = cli("list")
    assert result.returncode == 0
    assert "numpy.mlp" in result.stdout and "--param hidden=256" in result.stdout
    assert "smoke" in result.stdout
    data = json.loads(cli("list", "--json").stdout)
    assert any(w["name"] == "numpy.linreg" for w in data["workloads"])


def test_env_reports_the_machine(cli):
    data = json.loads(cli("env", "--json").stdout)
    assert data["usable_cores"] >= 1 and data["python"] and data["cpu_model"]
    assert data["packages"]["numpy"]


@pytest.mark.slow
def test_processes_repeat_each_workload_in_fresh_processes(cli, tmp_path):
    out = tmp_path / "p.jsonl"
    run = cli(
        "run",
        "--suite",
        "smoke",
        "--workload",
        "numpy.linreg",
        "--processes",
        "3",
        "--label",
        "laptop",
        "--results-file",
        str(out),
    )
    assert run.returncode == 0, run
    records = read_jsonl(out)
    assert [r["process_index"] for r in records] == [0, 1, 2]
    assert len({r["worker_pid"] for r in records}) == 3
    assert {r["label"] for r in records} == {"laptop"}
    report = cli("report", str(out), "--format", "csv")
    assert "laptop" in report.stdout
