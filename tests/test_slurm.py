"""The Slurm launcher: its options, its sbatch script, its reading of Slurm's states (on
``scontrol`` output recorded from Slurm 22.05), and real job arrays on a running cluster.

Tests marked ``slurm`` need one (``make slurm-up`` starts a one-node cluster here; ``.ci/run``
does too). Without one they skip, unless HARNESS_REQUIRE_SLURM=1 (set by ``.ci/run``) turns
the missing cluster into a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.launch import config_from_args
from harness.launch.slurm import SlurmConfig, SlurmLauncher
from harness.launch.slurm_element import slurm_facts
from harness.launch.slurm_states import (
    ElementState,
    NoAnswer,
    SubmittedArray,
    answer_of_error,
    failure_for,
    never_starts,
    parse_show_job,
    progress_line,
)
from harness.record import FAILURE_STATUSES, Record
from harness.results import setup_label
from tests.conftest import ROOT, read_jsonl

# `scontrol -o show job 2` for an array of 5 (two running at most), recorded twice: while
# elements 1-4 waited, and after element 1 exited 3, element 2 aborted and 0 and 3 completed
WAITING = (
    "JobId=2 ArrayJobId=2 ArrayTaskId=1-4%2 ArrayTaskThrottle=2 JobName=arr.sh UserId=root(0) "
    "JobState=PENDING Reason=Resources Dependency=(null) ExitCode=0:0 Partition=cpu NodeList= "
    "StdErr=/tmp/arr_2_4294967294.out\n"
    "JobId=3 ArrayJobId=2 ArrayTaskId=0 JobName=arr.sh JobState=RUNNING Reason=None "
    "ExitCode=0:0 Partition=cpu NodeList=vm BatchHost=vm StdErr=/tmp/arr_2_0.out\n"
)
ENDED = (
    "JobId=2 ArrayJobId=2 ArrayTaskId=4 JobState=PENDING Reason=Resources ExitCode=0:0 "
    "NodeList= StdErr=/tmp/arr_2_4.out\n"
    "JobId=6 ArrayJobId=2 ArrayTaskId=3 JobState=COMPLETED Reason=None ExitCode=0:0 "
    "NodeList=vm StdErr=/tmp/arr_2_3.out\n"
    "JobId=5 ArrayJobId=2 ArrayTaskId=2 JobState=FAILED Reason=JobLaunchFailure ExitCode=0:6 "
    "NodeList=vm StdErr=/tmp/arr_2_2.out\n"
    "JobId=4 ArrayJobId=2 ArrayTaskId=1 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 "
    "NodeList=vm StdErr=/tmp/arr_2_1.out\n"
    "JobId=3 ArrayJobId=2 ArrayTaskId=0 JobState=COMPLETED Reason=None ExitCode=0:0 "
    "NodeList=vm StdErr=/tmp/arr_2_0.out\n"
)


def test_folded_pending_elements_are_unfolded():
    states = parse_show_job(WAITING)
    assert sorted(states) == [0, 1, 2, 3, 4]
    assert states[0].state == "RUNNING" and states[0].node == "vm"
    assert all(states[i].pending for i in (1, 2, 3, 4))
    assert progress_line(states, 5) == "4 pending (Resources) · 1 running · 0 finished"
    stepped = parse_show_job("ArrayTaskId=1,4-8:2 JobState=PENDING ExitCode=0:0")
    assert sorted(stepped) == [1, 4, 6, 8]
    # an array of one task goes to sbatch as a plain job: its one element is task 0
    single = parse_show_job("JobId=38 JobName=harness JobState=TIMEOUT ExitCode=0:15")
    assert list(single) == [0] and single[0].state == "TIMEOUT"


def test_exit_codes_and_signals_are_read():
    states = parse_show_job(ENDED)
    assert states[1].exit_code == 3 and states[1].exit_signal == 0
    assert states[2].exit_signal == 6
    assert states[3].terminal and not states[4].terminal
    assert failure_for(states[2], 15) == (
        "crashed",
        "Slurm state FAILED on vm: the element died with signal SIGABRT",
    )
    status, message = failure_for(states[1], 15)
    assert status == "error" and "exited with code 3 (NonZeroExitCode)" in message


@pytest.mark.parametrize(
    "state, status, words",
    [
        ("TIMEOUT", "timeout", "time limit (7 min; raise it with --time-limit)"),
        ("OUT_OF_MEMORY", "oom", "ask for more with --memory"),
        ("CANCELLED", "cancelled", "cancelled"),
        ("NODE_FAIL", "node-failure", "node failed"),
        ("PREEMPTED", "preempted", "preempted"),
        ("COMPLETED", "error", "wrote no record"),
    ],
)
def test_every_ending_state_is_a_failed_record(state, status, words):
    found, message = failure_for(ElementState(task=0, state=state, node="gpu07"), 7)
    assert found == status and found in FAILURE_STATUSES
    assert message.startswith(f"Slurm state {state} on gpu07: ") and words in message


def test_options_fill_the_config_and_foreign_ones_are_refused():
    from harness.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["run", "--launcher", "slurm", "--partition", "cpu, gpu", "--gres", "gpu:1",
         "--sbatch=--exclusive", "--sbatch=--mail-type=END,FAIL", "--memory", "2g",
         "--time-limit", "20", "--array-parallelism", "4"]
    )  # fmt: skip
    config = config_from_args("slurm", args)
    assert config.partition == ("cpu", "gpu")
    assert config.sbatch == ("--exclusive", "--mail-type=END,FAIL")
    assert config.memory == 2 * 2**30 and config.time_limit == 20
    with pytest.raises(UserError, match="--partition works with --launcher slurm only"):
        config_from_args("local", parser.parse_args(["run", "--partition", "cpu"]))
    with pytest.raises(UserError, match="--sbatch cannot take 'exclusive'"):
        config_from_args("slurm", parser.parse_args(["run", "--sbatch", "exclusive"]))
    with pytest.raises(UserError, match="needs --container docker"):
        SlurmConfig(image="cpu")
    with pytest.raises(UserError, match="exclusive or shared"):
        SlurmConfig(node_sharing="sometimes")


def test_the_sbatch_script_carries_every_option(tmp_path):
    """What submitit writes for sbatch, from the launcher's parameters (no cluster needed)."""
    from submitit.slurm.slurm import _make_sbatch_string

    launcher = SlurmLauncher(
        SlurmConfig(
            partition=("gpu",), account="lab", qos="high", memory=2 * 2**30, cpus_per_task=8,
            gres="gpu:1", constraint="h100", array_parallelism=2, sbatch=("--mail-type=END",),
        )
    )  # fmt: skip
    launcher.time_limit = 15
    parameters = launcher._parameters("gpu", 5)
    array_parallelism = parameters.pop("array_parallelism")
    script = _make_sbatch_string(
        command="python -m submitit.core._submit",
        folder=tmp_path,
        map_count=5,
        array_parallelism=array_parallelism,
        **parameters,
    )
    for line in [
        "#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --qos=high",
        "#SBATCH --mem=2048M", "#SBATCH --cpus-per-task=8", "#SBATCH --gres=gpu:1",
        "#SBATCH --constraint=h100", "#SBATCH --array=0-4%2", "#SBATCH --time=15",
        "#SBATCH --exclusive", "#SBATCH --no-requeue", "#SBATCH --mail-type=END",
    ]:  # fmt: skip
        assert line in script.splitlines(), line
    shared = SlurmLauncher(SlurmConfig(node_sharing="shared"))
    shared.time_limit = 5
    assert "exclusive" not in shared._parameters(None, 3)


def test_node_facts_name_the_setup():
    facts = slurm_facts(
        {"SLURM_ARRAY_JOB_ID": "41", "SLURM_ARRAY_TASK_ID": "3", "SLURM_JOB_PARTITION": "gpu",
         "SLURMD_NODENAME": "gpu07", "PATH": "/usr/bin"}
    )  # fmt: skip
    assert facts == {
        "slurm_array_job_id": "41", "slurm_array_task_id": "3", "slurm_partition": "gpu",
        "slurm_node": "gpu07",
    }  # fmt: skip
    record = Record(workload="numpy.mlp", device="cpu", params={})
    record.environment = {"host": "gpu07", "cpu_model": "Xeon", "launcher": "slurm", **facts}
    assert setup_label(record).startswith("gpu07 · Xeon · slurm[gpu]")


def test_a_container_on_slurm_gets_the_allocated_gpus_never_all(tmp_path, monkeypatch):
    from harness.launch.docker import DockerLauncher
    from harness.launch.slurm_element import (
        ALLOCATED_GPUS,
        allocated_gpus,
        record_path,
        run_element,
    )

    with_gpus = SlurmLauncher(SlurmConfig(gres="gpu:2", container="docker", image="cuda"))
    assert with_gpus._container()["gpus"] == ALLOCATED_GPUS  # resolved on the node, not "all"
    assert SlurmLauncher(SlurmConfig(container="docker"))._container()["gpus"] is None
    # on the node: Slurm's global indices first (Docker is outside the job's device cgroup)
    node = {"SLURM_JOB_GPUS": "2,5", "CUDA_VISIBLE_DEVICES": "0,1"}
    assert allocated_gpus(node) == "device=2,5"
    assert allocated_gpus({**node, "SLURM_STEP_GPUS": "5"}) == "device=5"
    assert allocated_gpus({"CUDA_VISIBLE_DEVICES": "GPU-1a2b"}) == "device=GPU-1a2b"
    requests = DockerLauncher(gpus=allocated_gpus(node))._device_requests()
    assert [(r["DeviceIDs"], r["Count"]) for r in requests] == [(["2", "5"], 0)]
    with pytest.raises(UserError, match="Slurm allocated no GPUs"):
        allocated_gpus({"CUDA_VISIBLE_DEVICES": "NoDevFiles"})
    # an element that got none is a failed record, not a container with every GPU
    for name in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    from harness.plan import build_plan
    from harness.suites import get_suite

    task = build_plan(get_suite("smoke"), workloads=["numpy.linreg"]).tasks[0]
    container = {"image": "cuda", "gpus": ALLOCATED_GPUS, "memory": None}
    (tmp_path / "records").mkdir()
    path = run_element(task.to_dict(), str(tmp_path), "k0", container)
    [record] = read_jsonl(Path(path))
    assert Path(path) == record_path(tmp_path, "k0")
    assert record["status"] == "error" and "Slurm allocated no GPUs" in record["error"]["message"]


# --- a real cluster ------------------------------------------------------------------------


FAST = ["--suite", "smoke", "--min-blocks", "2", "--max-blocks", "2", "--launcher", "slurm"]


def _our_jobs(folder: Path) -> list[str]:
    """Array IDs submitted from ``folder`` that squeue still lists."""
    logs = list(folder.glob(".harness/slurm/*/logs/*_submitted.pkl"))
    ids = {path.name.split("_")[0] for path in logs}
    if not ids:
        return []
    listed = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(sorted(ids))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return listed.stdout.split()


@pytest.mark.slurm
@pytest.mark.slow
def test_a_fleet_run_over_two_partitions_keeps_every_record(cli, cluster, tmp_path):
    out = tmp_path / "fleet.jsonl"
    result = cli(
        "run", *FAST, "--partition", "cpu,batch", "--workload", "numpy.linreg",
        "--workload", "workloads.faults:Abort", "--results-file", str(out),
    )  # fmt: skip
    assert result.returncode == 1, result  # one task crashes, on each partition
    records = read_jsonl(out)
    by_partition: dict[str, list[dict]] = {}
    for record in records:
        by_partition.setdefault(record["environment"]["slurm_partition"], []).append(record)
    assert sorted(by_partition) == ["batch", "cpu"]
    for found in by_partition.values():
        assert [r["workload"] for r in found] == ["numpy.linreg", "workloads.faults:Abort"]
        ok, crashed = found
        assert ok["status"] == "ok" and crashed["status"] == "crashed"
        assert "SIGABRT" in crashed["error"]["message"]
        env = ok["environment"]
        assert env["launcher"] == "slurm" and env["slurm_node"] and env["host"]
        assert env["slurm_array_job_id"] and env["slurm_array_task_id"] == "0"
    report = cli("report", str(out), "--format", "csv")
    assert report.returncode == 0, report
    assert "slurm[cpu]" in report.stdout and "slurm[batch]" in report.stdout
    assert _our_jobs(tmp_path) == []


@pytest.mark.slurm
@pytest.mark.slow
def test_an_element_past_its_time_limit_is_a_timeout_record(cli, cluster, tmp_path):
    """Sleep dies of the limit's SIGTERM and its element writes a crash record; Hang ignores
    SIGTERM and is killed; Slurm's TIMEOUT decides both."""
    out = tmp_path / "timeout.jsonl"
    result = cli(
        "run", *FAST, "--time-limit", "1", "--node-sharing", "shared",
        "--workload", "workloads.faults:Sleep", "--workload", "workloads.faults:Hang",
        "--workload", "numpy.linreg", "--results-file", str(out), timeout=400,
    )  # fmt: skip
    assert result.returncode == 1, result
    sleep, hang, linreg = read_jsonl(out)
    for ended in (sleep, hang):
        assert ended["status"] == "timeout", ended["error"]
        assert ended["error"]["message"].startswith("Slurm state TIMEOUT")
        assert ended["environment"]["slurm_state"] == "TIMEOUT"
    assert linreg["status"] == "ok"


@pytest.mark.slurm
@pytest.mark.slow
def test_an_element_slurm_will_never_start_ends_the_run_at_once(cli, cluster, tmp_path):
    out = tmp_path / "never.jsonl"
    started = time.monotonic()
    result = cli(
        "run", *FAST, "--cpus-per-task", "64", "--workload", "numpy.linreg",
        "--results-file", str(out), "--no-progress", timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert "never start" in result.stderr and "PartitionConfig" in result.stderr, result
    assert time.monotonic() - started < 110
    assert _our_jobs(tmp_path) == []


@pytest.mark.slurm
@pytest.mark.slow
def test_ctrl_c_cancels_the_array_and_writes_the_interrupted_record(cluster, tmp_path):
    out = tmp_path / "cancel.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", *FAST, "--workload", "numpy.linreg",
         "--workload", "workloads.faults:Hang", "--workload", "numpy.mlp",
         "--results-file", str(out), "--no-progress"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the first record is back: Hang is running
        if out.exists() and out.read_text().count("\n") >= 1:
            break
        time.sleep(0.5)
    assert _our_jobs(tmp_path), "the array should still be queued or running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    records = read_jsonl(out)
    assert records[0]["workload"] == "numpy.linreg" and records[0]["status"] == "ok"
    assert records[-1]["record_type"] == "interrupted" and records[-1]["signal"] == "SIGINT"
    assert _our_jobs(tmp_path) == []


def test_only_an_invalid_job_id_means_slurm_forgot_the_job():
    assert answer_of_error("slurm_load_jobs error: Invalid job id specified\n").forgotten
    busy = answer_of_error("slurm_load_jobs error: Socket timed out on send/recv operation")
    assert not busy.forgotten and "Socket timed out" in busy.reason
    assert not answer_of_error(
        "slurm_load_jobs error: Unable to contact slurm controller"
    ).forgotten


def test_pending_reasons_show_and_those_that_never_clear_are_found():
    line = ("JobId=9 ArrayJobId=9 ArrayTaskId=0-1 JobState=PENDING Reason=PartitionConfig "
            "ExitCode=0:0 NodeList= StdErr=/tmp/e\n")  # fmt: skip
    states = parse_show_job(line)
    assert progress_line(states, 2).startswith("2 pending (PartitionConfig)")
    assert never_starts(states).reason == "PartitionConfig"
    assert never_starts(parse_show_job(WAITING)) is None  # Resources clears by waiting


def _array(tmp_path, monkeypatch, answers):
    """A SubmittedArray of two tasks whose scontrol answers come from ``answers``."""
    from harness.launch import slurm_states
    from harness.plan import build_plan
    from harness.suites import get_suite

    tasks = build_plan(get_suite("smoke"), workloads=["numpy.linreg", "numpy.mlp"]).tasks
    replies = iter(answers)
    monkeypatch.setattr(slurm_states, "array_states", lambda _id: next(replies))
    clock = iter(range(0, 10_000, 5))  # five seconds a poll
    monkeypatch.setattr(slurm_states.time, "monotonic", lambda: float(next(clock)))
    (tmp_path / "records").mkdir()
    return SubmittedArray("cpu", "7", tasks, ["cpu-00000", "cpu-00001"], [None, None])


def test_a_busy_controller_is_waited_for_and_never_makes_failures(tmp_path, monkeypatch):
    busy = NoAnswer(False, "slurm_load_jobs error: Socket timed out on send/recv operation")
    array = _array(tmp_path, monkeypatch, [busy] * 20)
    for _ in range(20):  # 100 s of a controller that does not answer
        array.poll(tmp_path, 1)
    assert array.records == {} and not array.given_up and not array.finished


def test_elements_of_a_forgotten_array_are_given_up_and_the_array_cancelled(tmp_path, monkeypatch):
    from harness.launch import slurm as slurm_module

    gone = NoAnswer(True, "slurm_load_jobs error: Invalid job id specified")
    array = _array(tmp_path, monkeypatch, [gone] * 10)
    for _ in range(5):
        array.poll(tmp_path, 1)
    assert sorted(array.records) == [0, 1] and array.given_up
    assert "Invalid job id" in array.records[0].error.message
    list(array.ready())
    assert array.finished  # every record handed on ...
    cancelled: list[list[str]] = []
    monkeypatch.setattr(slurm_module.subprocess, "run",
                        lambda command, **_: cancelled.append(command) or
                        subprocess.CompletedProcess(command, 0, "", ""))  # fmt: skip
    launcher = SlurmLauncher(SlurmConfig())
    launcher.arrays = [array]
    launcher.cancel()
    assert ["scancel", "7"] in cancelled  # ... and still cancelled: elements may be running


@pytest.mark.parametrize(
    ("state", "status"),
    [("TIMEOUT", "timeout"), ("CANCELLED", "cancelled"), ("OUT_OF_MEMORY", "oom"),
     ("PREEMPTED", "preempted"), ("NODE_FAIL", "node-failure"), ("FAILED", "crashed")],
)  # fmt: skip
def test_slurm_s_ending_decides_a_record_of_a_worker_killed_by_a_signal(
    tmp_path, monkeypatch, state, status
):
    from harness.launch.base import failure_record
    from harness.launch.slurm_element import record_path
    from harness.results import ResultWriter

    ended = parse_show_job(
        f"JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState={state} Reason=None ExitCode=0:15 "
        "NodeList=vm StdErr=/tmp/e\n"
    )
    running = parse_show_job(
        "JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState=RUNNING Reason=None ExitCode=0:0 "
        "NodeList=vm StdErr=/tmp/e\n"
    )
    array = _array(tmp_path, monkeypatch, [running, ended])
    crash = failure_record(array.tasks[0], "crashed", "the worker died with signal SIGTERM", -15)
    with ResultWriter(record_path(tmp_path, "cpu-00000")) as writer:
        writer.append(crash)
    array.poll(tmp_path, 1)
    assert 0 not in array.records  # still running: Slurm's word is awaited
    array.poll(tmp_path, 1)
    record = array.records[0]
    assert record.status == status, record.error
    if state != "FAILED":
        assert record.error.message.startswith(f"Slurm state {state}")
        assert "SIGTERM" in record.error.message


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("sbatch: error: Invalid --cpus-per-task argument: x\nsbatch: error: Batch job "
         "submission failed: Invalid argument", "Invalid --cpus-per-task argument: x"),
        ("Command '['sbatch', '/tmp/x.sh']' returned non-zero exit status 1.\nsbatch: error: "
         "Batch job submission failed: Invalid feature specification\n",
         "Batch job submission failed: Invalid feature specification (change --constraint)"),
        ("something else went wrong", "something else went wrong"),
        ("sbatch: error: Memory specification can not be satisfied\nsbatch: error: Batch job "
         "submission failed: Requested node configuration is not available",
         "Memory specification can not be satisfied (change --memory)"),
    ],
)  # fmt: skip
def test_sbatch_s_refusal_is_the_line_that_says_what_was_wrong(output, reason):
    from harness.launch.slurm import sbatch_reason

    assert sbatch_reason(output) == reason


@pytest.mark.slurm
@pytest.mark.slow
def test_a_refused_array_is_one_sentence_and_leaves_no_file(cli, cluster, tmp_path):
    out = tmp_path / "refused.jsonl"
    result = cli("run", *FAST, "--constraint", "nosuchfeature", "--workload", "numpy.linreg",
                 "--results-file", str(out), "--no-progress")  # fmt: skip
    assert result.returncode == 2, result
    assert "sbatch refused the array" in result.stderr and "feature" in result.stderr
    assert not out.exists()


# --- every value written into the batch script stays on its line -------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "--mail type=END",  # whitespace in the key
        "--exclusive\n#SBATCH --partition=other",
        "--comment=ok\necho injected",  # a newline in the value: a command line of the script
        "--comment=ok\r#SBATCH --qos=high",
        "--\tcomment=x",
        "--=x",
    ],
)
def test_sbatch_options_that_would_add_script_lines_are_refused_in_one_sentence(line):
    from harness.cli import build_parser

    parser = build_parser()
    with pytest.raises(UserError, match="--sbatch cannot take"):
        config_from_args("slurm", parser.parse_args(["run", f"--sbatch={line}"]))
    with pytest.raises(UserError, match="--sbatch cannot take"):
        SlurmConfig(sbatch=(line,))  # a config built in code is checked the same way


@pytest.mark.parametrize(
    "field, value",
    [
        ("partition", ("cpu\n#SBATCH --qos=high",)),
        ("partition", ("cpu gpu",)),
        ("account", "lab\necho injected"),
        ("account", "lab one"),
        ("qos", "high\r"),
        ("gres", "gpu:1\n#SBATCH --exclusive"),
        ("constraint", "h100 "),
        ("job_dir", "/shared/runs\n#SBATCH --partition=x"),
        ("image", "harness:cpu\n"),
    ],
)
def test_other_values_that_reach_the_batch_script_stay_one_word(field, value):
    with pytest.raises(UserError, match=r"\.$"):
        SlurmConfig(**{field: value, **({"container": "docker"} if field == "image" else {})})


@pytest.mark.parametrize("key", ["array=0-99", "output=/tmp/x", "mem=4G", "partition=gpu"])
def test_sbatch_cannot_set_what_the_launcher_writes_itself(key):
    with pytest.raises(UserError, match=f"cannot set --{key.partition('=')[0]}"):
        SlurmConfig(sbatch=(f"--{key}",))


def test_a_valid_value_with_spaces_stays_on_its_own_line(tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string

    launcher = SlurmLauncher(
        SlurmConfig(sbatch=("--comment=nightly run", "--mail_type=END"), job_dir="/a b")
    )
    launcher.time_limit = 5
    parameters = launcher._parameters(None, 2)
    parameters.pop("array_parallelism")
    script = _make_sbatch_string(command="true", folder=tmp_path, map_count=2, **parameters)
    assert "#SBATCH --comment='nightly run'" in script.splitlines()
    assert "#SBATCH --mail-type=END" in script.splitlines()


@pytest.mark.parametrize("network", ["none\n", "my net", "host;rm", ""])
def test_docker_values_that_are_not_one_name_are_refused(network):
    from harness.launch.docker import DockerConfig

    with pytest.raises(UserError, match="--network takes"):
        DockerConfig(network=network)
    with pytest.raises(UserError, match="not a valid image name"):
        DockerConfig(image="harness:cpu\n")
    assert DockerConfig(network="container:db").network == "container:db"


def test_a_sigterm_handler_that_raises_still_gets_slurm_s_timeout(tmp_path, monkeypatch):
    """Lightning- or Accelerate-style handlers raise on SIGTERM: the worker's record is a plain
    error, and Slurm's TIMEOUT must still decide it."""
    from harness.launch.base import failure_record
    from harness.launch.slurm_element import record_path
    from harness.results import ResultWriter

    ended = parse_show_job(
        "JobId=8 ArrayJobId=7 ArrayTaskId=0 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0 "
        "NodeList=vm StdErr=/tmp/e\n"
    )
    array = _array(tmp_path, monkeypatch, [ended])
    raised = failure_record(array.tasks[0], "error", "RuntimeError: got SIGTERM, stopping")
    with ResultWriter(record_path(tmp_path, "cpu-00000")) as writer:
        writer.append(raised)
    array.poll(tmp_path, 1)
    record = array.records[0]
    assert record.status == "timeout" and "got SIGTERM" in record.error.message


def test_the_record_grace_stays_under_min_job_age_and_a_known_ending_outlives_forgetting(
    tmp_path, monkeypatch
):
    from harness.launch.slurm_states import RECORD_GRACE_SECONDS, record_grace

    assert record_grace(None) == RECORD_GRACE_SECONDS and record_grace(300) == RECORD_GRACE_SECONDS
    assert record_grace(6) == 3.0 and record_grace(1) == 2.0  # never under one poll
    timed_out = parse_show_job(
        "JobId=8 ArrayJobId=7 ArrayTaskId=0-1 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0 "
        "NodeList=vm StdErr=/tmp/e\n"
    )
    gone = NoAnswer(True, "slurm_load_jobs error: Invalid job id specified")
    array = _array(tmp_path, monkeypatch, [timed_out] + [gone] * 10)
    for _ in range(6):
        array.poll(tmp_path, 1)
    # Slurm forgot the job (a short MinJobAge) before the records' grace ran out: the state it
    # gave last still names what happened
    assert [array.records[i].status for i in (0, 1)] == ["timeout", "timeout"]
