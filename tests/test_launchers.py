"""Each launcher's own part: its options and config, and how a process's end becomes a
status. The worker is replaced by a small script, so every exit is exactly the one asked for."""

import argparse
import json

import pytest

from harness.errors import UserError
from harness.launch import LAUNCHERS, add_options, config_from_args, make_launcher
from harness.launch.docker import DockerConfig, DockerLauncher
from harness.launch.local import LocalConfig, LocalLauncher
from harness.plan import build_plan
from harness.record import Record, dumps
from harness.suites import get_suite


@pytest.fixture
def task():
    return build_plan(get_suite("smoke"), workloads=["numpy.linreg"], timeout=20).tasks[0]


def parse(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--launcher", default="local")
    add_options(parser)
    return parser.parse_args(argv)


def test_every_registered_launcher_has_a_config_and_options():
    for name in LAUNCHERS:
        launcher = make_launcher(name)
        assert launcher.name == name
        assert isinstance(launcher.config, type(launcher).Config)


def test_options_fill_the_chosen_launchers_config():
    local = config_from_args("local", parse("--memory", "512m"))
    assert local == LocalConfig(memory=512 * 2**20)
    docker = config_from_args(
        "docker", parse("--launcher", "docker", "--cpus", "1.5", "--memory", "1g", "--gpus", "all")
    )
    assert docker == DockerConfig(cpus=1.5, memory=2**30, gpus="all")
    assert config_from_args("docker", parse()) == DockerConfig()


@pytest.mark.parametrize(
    "launcher, argv, message",
    [
        ("local", ["--image", "cpu"], "--image works with --launcher docker or slurm only"),
        ("local", ["--cpus", "2"], "--cpus works with --launcher docker only"),
        ("docker", ["--cpus", "x"], "--cpus cannot take 'x'"),
        ("docker", ["--cpus", "0"], "--cpus takes a positive number"),
        ("docker", ["--gpus", "some"], "--gpus takes 'all', a positive count"),
        ("docker", ["--image", "Bad Name"], "is not a valid image name"),
        ("docker", ["--cpuset-cpus", "a-b"], "--cpuset-cpus takes CPU numbers"),
        ("local", ["--memory", "lots"], "Cannot read the size 'lots'"),
    ],
)
def test_bad_launcher_options_are_one_sentence(launcher, argv, message):
    with pytest.raises(UserError, match=message):
        config_from_args(launcher, parse(*argv))


def test_gpus_can_name_devices_like_docker_does():
    from harness.launch.docker import gpu_device_ids, parse_gpus

    assert gpu_device_ids("device=0,2") == ["0", "2"] and parse_gpus("device=0,2") == 2
    assert gpu_device_ids("device=GPU-8932f937-d72c") == ["GPU-8932f937-d72c"]
    assert gpu_device_ids("all") is None and gpu_device_ids("2") is None
    with pytest.raises(UserError, match="device= takes GPU indices or UUIDs"):
        gpu_device_ids("device=0,;rm")
    named = DockerLauncher(gpus="device=1")._device_requests()
    assert [(r["DeviceIDs"], r["Count"]) for r in named] == [(["1"], 0)]
    counted = DockerLauncher(gpus="all")._device_requests()
    assert [(r["DeviceIDs"], r["Count"]) for r in counted] == [([], -1)]


def fake_python(tmp_path, body):
    """A stand-in for the worker's Python: a shell script that does ``body``."""
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def test_local_a_record_on_stdout_is_the_result(tmp_path, task):
    line = dumps(Record(workload=task.workload, device="cpu", params={}, samples={"step": [1.0]}))
    python = fake_python(tmp_path, f"echo 'noise'\necho '{line}'\nexit 0")
    record = LocalLauncher(LocalConfig(python=python)).run(task)
    assert record.ok and record.samples == {"step": [1.0]} and record.exit_code == 0


@pytest.mark.parametrize(
    "body, status, signal_name, message",
    [
        ("echo oops >&2; exit 7", "error", None, "exited with code 7 and wrote no result"),
        ("kill -SEGV $$", "crashed", "SIGSEGV", "died with signal SIGSEGV"),
        ("kill -KILL $$", "crashed", "SIGKILL", "died with signal SIGKILL"),
        ("echo '{not json'; exit 0", "error", None, "exited with code 0 and wrote no result"),
    ],
)
def test_local_exit_to_status(tmp_path, task, body, status, signal_name, message):
    record = LocalLauncher(LocalConfig(python=fake_python(tmp_path, body))).run(task)
    assert record.status == status and record.error is not None
    assert record.error.signal == signal_name and message in record.error.message
    assert record.framework == "numpy" and record.code_version  # described all the same
    if "oops" in body:
        assert record.error.stderr_tail == ["oops"]


def test_local_timeout(tmp_path, task):
    from dataclasses import replace

    short = replace(task, timeout=0.5)
    record = LocalLauncher(LocalConfig(python=fake_python(tmp_path, "sleep 30"))).run(short)
    assert record.status == "timeout" and "timeout of 0.5 s" in record.error.message


def docker_record(task, stdout="", stderr="", code=0, timed_out=False, oom=False, memory=None):
    launcher = DockerLauncher(DockerConfig(memory=memory))  # no engine needed for the mapping
    return launcher._record(task, stdout, stderr, code, timed_out, oom)


def test_docker_exit_to_status(task):
    timeout = docker_record(task, code=-1, timed_out=True, stderr="x")
    assert timeout.status == "timeout" and "timeout of 20 s" in timeout.error.message
    oom = docker_record(task, code=137, oom=True, memory=2**28)
    assert oom.status == "oom" and "memory limit of 256 MiB" in oom.error.message
    crashed = docker_record(task, code=139, stderr="Segmentation fault")
    assert crashed.status == "crashed" and crashed.error.signal == "SIGSEGV"
    assert crashed.error.stderr_tail == ["Segmentation fault"]
    error = docker_record(task, code=1)
    assert error.status == "error" and "exited with code 1" in error.error.message


def test_docker_folds_what_the_worker_saw_into_the_environment(task):
    inner = Record(
        workload=task.workload,
        device="cpu",
        params={},
        status="error",
        error=None,
        worker_environment={"python": "3.11.2", "os_release": "Debian 12", "uid": 10001},
    )
    from harness.record import Failure

    inner.error = Failure("RuntimeError", "boom")
    record = docker_record(task, stdout=json.dumps(inner.to_json()), stderr="trace", code=3)
    assert record.worker_environment is None and record.exit_code == 3
    assert record.environment["container_python"] == "3.11.2"
    assert record.environment["container_uid"] == 10001
    assert record.error.message == "boom" and record.error.stderr_tail == ["trace"]
