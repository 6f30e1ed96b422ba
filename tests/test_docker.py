"""The Docker launcher against a real engine (CI provides one; no mocked client).

HARNESS_REQUIRE_DOCKER=1 (set by .ci/run) turns a missing engine into a failure, so a broken
engine cannot hide behind skips. HARNESS_BASE_IMAGE names the base to build on where no
registry can be reached (CI bootstraps one with docker/bootstrap-base.sh).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from harness.plan import build_plan
from harness.suites import get_suite
from tests.conftest import ROOT, build_image, read_jsonl

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def in_docker(cli, *args, **kwargs):
    """`harness run --launcher docker --suite smoke ARGS...` through the real CLI."""
    return cli("run", "--launcher", "docker", "--suite", "smoke", *args, **kwargs)


def linreg_in_docker(cli, tmp_path) -> dict:
    """Run numpy.linreg once in a container; return its record."""
    out = tmp_path / "linreg.jsonl"
    run = in_docker(cli, "--workload", "numpy.linreg", "--results-file", str(out))
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    return record


@pytest.fixture(scope="session")
def cpu_image(engine):
    return build_image("cpu")


def test_smoke_suite_in_a_container_has_the_shape_of_a_local_run(cli, tmp_path, cpu_image):
    in_container = tmp_path / "docker.jsonl"
    local = tmp_path / "local.jsonl"
    run = cli(
        "run",
        "--launcher",
        "docker",
        "--image",
        "cpu",
        "--suite",
        "smoke",
        "--results-file",
        str(in_container),
        timeout=900,
    )
    assert run.returncode == 0, run
    assert (
        cli(
            "run", "--suite", "smoke", "--framework", "numpy", "--results-file", str(local)
        ).returncode
        == 0
    )
    docker_records = read_jsonl(in_container)
    local_records = {r["workload"]: r for r in read_jsonl(local)}
    expected = build_plan(get_suite("smoke"), check_installed=False).tasks
    assert len(docker_records) == len(expected)
    assert [r["workload"] for r in docker_records] == [t.workload for t in expected]
    assert all(r["status"] == "ok" for r in docker_records)
    for record in docker_records:
        env = record["environment"]
        assert env["launcher"] == "docker" and env["image"] == "harness:cpu"
        assert env["image_id"].startswith("sha256:")
        assert env["container_python"] and env["container_packages"]["numpy"]
        assert env["cpu_model"]  # the host hardware beside the image
        if record["workload"] in local_records:
            local_record = local_records[record["workload"]]
            assert set(record) == set(local_record)
            assert set(record["samples"]) == set(local_record["samples"])
            assert set(local_record["environment"]) <= set(env)
    report = cli("report", str(in_container), str(local))
    assert report.returncode == 0 and "docker:harness:cpu" in report.stdout


def test_containers_are_locked_down(engine, cpu_image, cli, tmp_path):
    from harness.launch.docker import DockerLauncher
    from harness.plan import build_plan
    from harness.suites import get_suite

    launcher = DockerLauncher(image="cpu")
    task = build_plan(get_suite("smoke"), workloads=["numpy.linreg"]).tasks[0]
    options = launcher.container_options(task)
    assert options["read_only"] is True and options["privileged"] is False
    assert options["cap_drop"] == ["ALL"] and "no-new-privileges" in options["security_opt"]
    assert options["network_mode"] == "none"
    assert options["user"].split(":")[0] != "0"
    # nothing of the host's folders mounted: one anonymous volume for checkpoint scratch
    assert "volumes" not in options
    [scratch] = options["mounts"]
    assert scratch["Type"] == "volume" and scratch["Target"] == "/scratch"
    # the synthetic datasets go there too: never on the /tmp tmpfs the memory limit counts
    assert options["environment"]["HARNESS_DATA_DIR"].startswith("/scratch/")
    assert not scratch.get("Source")
    assert isinstance(options["command"], list)
    record = linreg_in_docker(cli, tmp_path)
    assert record["environment"]["container_uid"] == 10001
    assert record["environment"]["container_root_writable"] is False


def test_oom_killed_container_is_a_failed_result_and_the_suite_goes_on(cli, tmp_path, cpu_image):
    out = tmp_path / "r.jsonl"
    run = in_docker(
        cli,
        "--workload",
        "workloads.faults:Allocate",
        "--param",
        "megabytes=2000",
        "--workload",
        "numpy.linreg",
        "--memory",
        "256m",
        "--results-file",
        str(out),
    )
    assert run.returncode == 1, run
    failed, ok = read_jsonl(out)
    assert failed["status"] == "oom" and "OOM-killed" in failed["error"]["message"]
    assert ok["status"] == "ok"


def test_crash_and_timeout_in_a_container(cli, tmp_path, cpu_image):
    out = tmp_path / "r.jsonl"
    run = in_docker(
        cli,
        "--workload",
        "workloads.faults:Segfault",
        "--workload",
        "workloads.faults:Hang",
        "--timeout",
        "8",
        "--results-file",
        str(out),
    )
    assert run.returncode == 1, run
    crashed, hung = read_jsonl(out)
    assert crashed["status"] == "crashed" and crashed["error"]["signal"] == "SIGSEGV"
    assert hung["status"] == "timeout"
    assert not engine_containers_left(run.pid)


def engine_containers_left(*pids: int) -> list:
    """Containers (any state) made by this process's launchers or by the ``harness`` processes
    ``pids``: never another test's or another person's on a shared engine."""
    import socket

    from harness.launch.docker import LAUNCHER_LABEL, docker_client

    client = docker_client()
    owners = {f"{socket.gethostname()}:{pid}" for pid in (os.getpid(), *pids)}
    found = client.containers.list(all=True, filters={"label": "org.harness.workload"})
    return [c for c in found if c.labels.get(LAUNCHER_LABEL) in owners]


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--image", "harness:missing"], {}, "is missing"),
        (["--image", "cpu", "--gpus", "all"], {}, "NVIDIA Container Toolkit"),
        (["--image", "cpu", "--device", "cuda", "--workload", "numpy.mlp"], {}, "--gpus all"),
        (["--image", "Not A Name!"], {}, "not a valid image name"),
        (
            ["--image", "cpu"],
            {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
            "Cannot reach the Docker daemon",
        ),
    ],
)
def test_docker_errors_are_one_sentence(cli, engine, cpu_image, args, env, message):
    if message == "NVIDIA Container Toolkit" and "nvidia" in (engine.info().get("Runtimes") or {}):
        pytest.skip("this engine has the NVIDIA runtime: --gpus all is no error here")
    before = {c.id for c in engine.containers.list(all=True)}
    result = in_docker(cli, "--framework", "numpy", *args, env=env)
    assert result.returncode == 2, result
    assert message in result.stderr and "Traceback" not in result.stderr
    # a failed GPU probe leaves no created-but-never-started container behind
    assert {c.id for c in engine.containers.list(all=True)} <= before


def test_image_records_its_sources_and_a_rebuild_is_skipped_when_current(cli, cpu_image, tmp_path):
    from harness.images import source_hash

    record = linreg_in_docker(cli, tmp_path)
    assert record["environment"]["image_source_hash"] == source_hash("cpu")
    assert record["environment"]["image_target"] == "cpu"
    again = cli("images", "build", "--target", "cpu", "--if-stale", timeout=600)
    assert again.returncode == 0 and "up to date" in again.stderr


def test_checkpoint_loads_in_a_container_read_the_disk(cli, tmp_path, cpu_image):
    out = tmp_path / "ckpt.jsonl"
    run = in_docker(cli, "--workload", "torch.checkpoint", "--results-file", str(out), timeout=600)
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    metrics = record["metrics"]
    # the scratch volume is on the engine's disk, not the container's /tmp tmpfs
    assert metrics["scratch_dir"].startswith("/scratch/")
    assert metrics["scratch_filesystem"] != "tmpfs"
    assert metrics["load_cache"] == "cold" and metrics["load_cache_method"] == "mincore"
    assert metrics["load_gb_per_s"] > 0
    assert not engine_containers_left(run.pid)


def test_a_container_pinned_to_one_cpu_runs_one_thread(cli, tmp_path, cpu_image):
    out = tmp_path / "pinned.jsonl"
    run = in_docker(
        cli, "--workload", "numpy.linreg", "--cpuset-cpus", "0", "--results-file", str(out)
    )
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    assert record["thread_count"] == 1 and record["thread_source"] == "cpuset"
    assert set(record["threads"].values()) == {"1"}


def test_a_cpu_quota_sets_the_container_threads(cli, tmp_path, cpu_image):
    import os as os_module

    if len(os_module.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs to tell a quota of 1 from the cpuset")
    out = tmp_path / "quota.jsonl"
    run = in_docker(cli, "--workload", "numpy.linreg", "--cpus", "1", "--results-file", str(out))
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    assert record["thread_count"] == 1 and record["thread_source"] == "cpu-quota"


def test_kill_9_of_a_docker_run_leaves_no_running_container(tmp_path, cpu_image):
    import signal
    import socket

    from harness.launch.docker import LAUNCHER_LABEL, docker_client

    client = docker_client()
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--launcher",
            "docker",
            "--suite",
            "smoke",
            "--workload",
            "workloads.faults:Hang",
            "--timeout",
            "300",
            "--no-progress",
            "--results-file",
            str(tmp_path / "r.jsonl"),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours = {"label": f"{LAUNCHER_LABEL}={socket.gethostname()}:{run.pid}"}  # this run's only
    running: list = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not running:
        running = client.containers.list(filters=ours)
        time.sleep(0.2)
    assert running, "the container never started"
    run.send_signal(signal.SIGKILL)
    run.wait()
    # the worker inside sees its stdin close and ends: wait for that, however busy the machine
    deadline = time.monotonic() + 120
    still = running
    while still and time.monotonic() < deadline:
        time.sleep(0.2)
        still = client.containers.list(filters=ours)  # running ones only
    assert not still, [c.name for c in still]
    # the stopped container is removed by the next run's preflight
    from harness.launch.docker import DockerLauncher

    launcher = DockerLauncher(image="cpu")
    launcher.preflight(build_plan(get_suite("smoke"), workloads=["numpy.linreg"]))
    launcher.close()
    assert not engine_containers_left(run.pid)
    client.close()


@pytest.mark.parametrize("signal_name", ["SIGHUP", "SIGTERM"])
def test_a_hangup_or_term_of_a_docker_run_keeps_the_record_and_no_container(
    tmp_path, cpu_image, signal_name
):
    """A closed terminal (SIGHUP) ends a docker run as SIGTERM does: the container goes and
    the file ends with an ``interrupted`` record."""
    import signal

    from harness.launch.docker import docker_client

    client = docker_client()
    out = tmp_path / "r.jsonl"
    run = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--launcher", "docker", "--suite", "smoke",
         "--workload", "numpy.linreg", "--workload", "workloads.faults:Hang",
         "--timeout", "300", "--no-progress", "--results-file", str(out)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    running: list = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (running and out.exists()):
        running = client.containers.list(
            filters={"label": "org.harness.workload=workloads.faults:Hang"}
        )
        time.sleep(0.2)
    assert running, "the hanging container never started"
    run.send_signal(getattr(signal, signal_name))
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    records = read_jsonl(out)
    assert records[0]["status"] == "ok"
    assert records[-1]["record_type"] == "interrupted" and records[-1]["signal"] == signal_name
    assert not client.containers.list(all=True, filters={"label": "org.harness.workload"})
    client.close()


def test_the_dataset_is_not_charged_to_the_workload_s_memory_limit(cli, tmp_path, cpu_image):
    """The same task under the same --memory gets the same verdict locally and in a container:
    the harness's synthetic dataset is on the scratch volume, not the tmpfs under the limit."""
    task = ["--suite", "smoke", "--workload", "pillow.decode", "--param", "images_per_class=800",
            "--param", "image_size=512", "--memory", "180m", "--no-progress"]  # fmt: skip
    verdicts = {}
    for launcher in ("local", "docker"):
        out = tmp_path / f"{launcher}.jsonl"
        run = cli("run", "--launcher", launcher, *task, "--results-file", str(out), timeout=900)
        [record] = read_jsonl(out)
        verdicts[launcher] = record["status"]
        assert run.returncode == 0, (launcher, record.get("error"))
        assert record["metrics"]["data_filesystem"] not in ("tmpfs", "ramfs"), record["metrics"]
    assert verdicts == {"local": "ok", "docker": "ok"}
    assert record["metrics"]["data_dir"].startswith("/scratch/")


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--cpus", "64"], "--cpus"), (["--memory", "1m"], "--memory"),
     (["--cpus", "0.001"], "--cpus")],  # the last only the engine itself refuses, at create
)  # fmt: skip
def test_a_limit_the_engine_refuses_is_one_sentence_and_no_file(cli, tmp_path, cpu_image,
                                                                 args, option):  # fmt: skip
    out = tmp_path / "refused.jsonl"
    run = cli("run", "--launcher", "docker", "--suite", "smoke", "--workload", "numpy.linreg",
              *args, "--results-file", str(out), "--no-progress")  # fmt: skip
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr and option in run.stderr.splitlines()[-1], run.stderr
    assert not out.exists()  # refused before its first record: no empty results file
    assert not engine_containers_left()


def test_a_container_that_exits_as_its_wait_times_out_is_no_error(engine, cpu_image):
    from harness.launch.docker import stop_after_timeout

    container = engine.containers.create("harness:cpu", entrypoint=["true"], labels={})
    try:
        container.start()
        container.wait(timeout=60)
        stop_after_timeout(container)  # the engine answers 409: not running; no exception
    finally:
        container.remove(force=True)


@pytest.mark.parametrize("to", ["this thread", "another thread"])
def test_an_interrupt_during_create_leaks_no_container(to, engine, cpu_image, monkeypatch):
    """Ctrl-C goes to the whole process, and the kernel gives it to any thread that does not
    block it: sent here to this thread, then to another one, each on purpose."""
    import signal
    import threading
    import time

    from docker.models.containers import ContainerCollection

    from harness.launch.docker import DockerLauncher

    launcher = DockerLauncher(image="cpu")
    plan = build_plan(get_suite("smoke"), workloads=["numpy.linreg"])
    launcher.preflight(plan)
    real_create = ContainerCollection.create
    idle = threading.Event()
    other = threading.Thread(target=idle.wait, daemon=True)  # as the progress bar's thread
    other.start()

    def create_then_interrupted(self, *args, **options):
        container = real_create(self, *args, **options)  # the engine has created it ...
        if to == "this thread":  # ... and Ctrl-C arrives before the reply is used
            signal.raise_signal(signal.SIGINT)
        else:
            deferred = signal.getsignal(signal.SIGINT).__self__  # the deferral's note-taker
            signal.pthread_kill(other.ident, signal.SIGINT)
            deadline = time.monotonic() + 60
            while not deferred.received and time.monotonic() < deadline:
                time.sleep(0.001)  # the handler runs in this thread, here, when it runs
        return container

    monkeypatch.setattr(ContainerCollection, "create", create_then_interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            launcher.run(plan.tasks[0])
    finally:
        idle.set()
        launcher.close()
    assert not engine_containers_left()


def test_ab_interleaves_two_images(cli, tmp_path, cpu_image):
    """Two images on the two sides (here the same one: an A/A run), alternated ABBA."""
    result = cli(
        "ab", "--suite", "smoke", "--workload", "numpy.linreg", "--pairs", "2",
        "--baseline-image", "cpu", "--candidate-image", "harness:cpu", "--results-file", "ab.jsonl",
        timeout=600,
    )  # fmt: skip
    assert result.returncode in (0, 1), result  # any verdict: the point is that both ran
    records = read_jsonl(tmp_path / "ab.jsonl")
    assert [r["label"] for r in records] == ["baseline", "candidate", "candidate", "baseline"]
    assert {r["environment"]["image"] for r in records} == {"harness:cpu"}
    assert all(r["status"] == "ok" and r["environment"]["launcher"] == "docker" for r in records)


@pytest.mark.slurm
def test_a_slurm_element_runs_its_task_in_the_image(cli, tmp_path, cpu_image, cluster):
    """--launcher slurm --container docker: the node starts the container, the record says so."""
    out = tmp_path / "slurm-docker.jsonl"
    run = cli(
        "run", "--launcher", "slurm", "--container", "docker", "--image", "cpu",
        "--suite", "smoke", "--workload", "numpy.linreg", "--results-file", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    env = record["environment"]
    assert record["status"] == "ok"
    assert env["launcher"] == "slurm" and env["slurm_container"] == "docker"
    assert env["image"] == "harness:cpu" and env["image_id"].startswith("sha256:")
    assert env["container_packages"]["numpy"] and env["slurm_job_id"]


def compiled_mlp_in(cli, tmp_path, image: str) -> dict:
    """``torch.mlp compile=true`` at a tiny size in a container of ``image``, on the CPU:
    inductor compiles C++ with the image's g++ and Python.h; its one record."""
    out = tmp_path / f"compiled-{image}.jsonl"
    run = cli(
        "run", "--launcher", "docker", "--image", image, "--suite", "smoke", "--workload",
        "torch.mlp", "--device", "cpu", "--param", "compile=true", "--param", "batch_size=8",
        "--param", "features=8", "--param", "hidden=8", "--min-blocks", "3", "--max-blocks", "3",
        "--results-file", str(out), timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run
    [record] = read_jsonl(out)
    assert record["status"] == "ok", (record.get("error"), record.get("warnings"))
    assert record["params"]["compile"] is True
    return record


def test_compile_true_runs_in_the_cpu_image(cli, tmp_path, cpu_image):
    # before the image carried a compiler: inductor's InvalidCxxCompiler, status error
    compiled_mlp_in(cli, tmp_path, "cpu")


def test_peaks_measured_in_the_image_are_the_ones_its_records_find(cli, tmp_path, cpu_image):
    """make bench-gpu's peaks step, run as written with the CPU image (no GPU here): the file it
    writes is the one the report looks up for a docker run's records on this host."""
    from harness.machine import peaks

    results = tmp_path / "results"
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "bench-gpu", f"VENV={tmp_path / 'venv'}",
         f"RESULTS={results}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.replace("\\\n", " ")  # fmt: skip
    [command] = [line for line in plan.splitlines() if " harness peaks " in line]
    command = command.replace("harness:cuda", "harness:cpu").replace("--gpus all", "")
    (results / "peaks").mkdir(parents=True)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    record = linreg_in_docker(cli, tmp_path)
    env = record["environment"]
    found = peaks.find([results], env["host"], env["cpu_model"], env["usable_cores"],
                       env["gpu_name"])  # fmt: skip
    assert found is not None, sorted(p.name for p in (results / "peaks").iterdir())
    assert found["cpu_fp32_flops"] > 0


@pytest.fixture
def base_without_a_compiler(engine):
    """The tests' base with gcc, g++ and Python.h taken away: a stand-in for a base like
    python:3.11-slim (no gcc), which cannot be pulled here."""
    base = os.environ.get("HARNESS_BASE_IMAGE", "python:3.11-slim")
    name, tag = "harness-test-nocc-maker", "harness-test-nocc:latest"
    script = (
        'rm -f /usr/bin/gcc /usr/bin/g++ && python3 -c "import os, sysconfig; '
        "os.remove(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))\""
    )
    subprocess.run(["docker", "run", "--name", name, "--network", "none", "--user", "0",
                    "--entrypoint", "sh", base, "-c", script], check=True, timeout=120)  # fmt: skip
    try:
        subprocess.run(["docker", "commit", name, tag], check=True, capture_output=True)
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    yield base, tag
    subprocess.run(["docker", "rmi", "-f", tag], check=True, capture_output=True)


def test_a_base_without_a_compiler_gets_its_packages_in_the_context(
    base_without_a_compiler, tmp_path, monkeypatch
):
    from harness import images
    from harness.machine.docker_client import docker_client

    base, bare = base_without_a_compiler
    client = docker_client()
    assert images.missing_toolchain(client, bare) == ["gcc", "libc6-dev", "g++", "python3-dev"]
    if base.startswith("harness-base"):  # docker/bootstrap-base.sh's: nothing to add
        assert images.missing_toolchain(client, base) == []
        assert images.toolchain_debs(client, base) is None
    # .debs downloaded before (by the base's apt, with the network) are reused, none fetched
    monkeypatch.setattr(images, "WHEELHOUSE", tmp_path)
    debs = tmp_path / "debs" / "harness-test-nocc-latest"
    debs.mkdir(parents=True)
    (debs / "gcc_12_amd64.deb").write_bytes(b"stand-in")
    for folder in ("cpu", "project"):
        (tmp_path / folder).mkdir()
    assert images.toolchain_debs(client, bare) == debs
    context = images.build_context("cpu", debs)
    assert [p.name for p in (context / "debs").iterdir()] == ["gcc_12_amd64.deb"]
    assert not client.containers.list(all=True, filters={"ancestor": bare})  # probes removed
