"""The Docker launcher: each task in a fresh ``--rm`` container, through the Docker SDK.

The container is locked down: a non-root user, never privileged, all capabilities dropped,
``no-new-privileges``, a read-only root filesystem with a tmpfs for /tmp and an anonymous volume
on the engine's disk for checkpoints and the synthetic datasets, no network unless asked, argv
lists only (the task travels as one JSON argument, never through a shell). The worker prints
its record on stdout; the launcher reads it from the container's logs. Container start-up
happens before the worker starts its clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from typing import Any

from harness.errors import UserError
from harness.images import resolve_image
from harness.launch.base import Capabilities, Launcher, Option, failure_record
from harness.launch.docker_limits import (
    DockerConfig,
    gpu_device_ids,
    limit_problems,
    parse_gpus,
    refusal,
)
from harness.machine import parent_watch
from harness.machine.docker_client import (
    _alive,
    _first_line,
    docker_client,
    signals_deferred,
    stop_after_timeout,
)
from harness.machine.environment import ContainerFacts, stamp
from harness.params import parse_size
from harness.plan import RunPlan
from harness.record import Record
from harness.record_failures import parse_worker_output, stderr_tail
from harness.task import Task
from harness.threads import thread_environment

NVIDIA_HELP = (
    "the Docker engine has no NVIDIA runtime: install the NVIDIA Container Toolkit "
    "(nvidia-container-toolkit) on this host and restart Docker, or run without --gpus"
)
TMPFS_SIZE = "4g"
#: Checkpoint scratch inside containers: an anonymous volume (the engine's disk), not the tmpfs.
SCRATCH_MOUNT = "/scratch"
LABEL = "org.harness.workload"
#: a network name, or container:<name> (share another container's network)
LAUNCHER_LABEL = "org.harness.launcher"  # host:pid of the harness that created the container


def docker_types() -> Any:
    import docker

    return docker.types


class DockerLauncher(Launcher):
    name = "docker"
    Config = DockerConfig
    #: the measures its worker runs inside the container (time); none beside it
    capabilities = Capabilities(measures=frozenset({"time"}), cuda=True)
    options = (
        Option("--image", "cpu, cuda or an image reference (default: cpu)", metavar="IMAGE"),
        Option(
            "--gpus",
            "'all', a count or device=0,2 (indices or UUIDs), like docker --gpus",
            metavar="GPUS",
        ),
        Option("--cpuset-cpus", "CPUs the container may use, like 0-3", metavar="CPUS"),
        Option("--cpus", "CPU quota of the container, like 1.5", float, "N"),
        Option("--memory", "memory limit of the container, like 2g (no swap)", parse_size, "SIZE"),
        Option(
            "--network",
            "network for the containers (default: none; 'host' only when asked)",
            metavar="NAME",
        ),
    )

    def __init__(self, config: DockerConfig | None = None, **options: Any):
        super().__init__(config if config is not None else DockerConfig(**options))
        self.tag = resolve_image(self.config.image)
        self.gpu_count = parse_gpus(self.config.gpus)
        self.gpu_ids = gpu_device_ids(self.config.gpus)
        self.cpuset_cpus = self.config.cpuset_cpus
        self.cpus = self.config.cpus
        self.memory = self.config.memory
        self.network = self.config.network
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.client: Any = None
        self.image: Any = None

    # --- preflight -------------------------------------------------------------------------
    def preflight(self, plan: RunPlan) -> None:
        import docker

        self.client = docker_client()
        try:
            self.image = self.client.images.get(self.tag)
        except docker.errors.ImageNotFound:
            target = {"harness:cpu": "cpu", "harness:cuda": "cuda"}.get(self.tag)
            how = (
                f"build it with make images{'-cuda' if target == 'cuda' else ''} "
                f"(harness images build --target {target})"
                if target
                else "pull or build it first"
            )
            raise UserError(f"Image {self.tag} is missing; {how}.") from None
        self._warn_if_stale()
        self._check_limits()
        self._remove_orphans()
        wants_cuda = any(task.device == "cuda" for task in plan.tasks)
        if wants_cuda and self.gpu_count is None:
            raise UserError("CUDA workloads in a container need GPUs: add --gpus all.")
        if self.gpu_count is not None:
            self._check_gpu_runtime()

    def _warn_if_stale(self) -> None:
        """A note (not an error) when the image was built from other sources than this
        checkout: images built elsewhere and pulled are legitimate, but worth knowing about."""
        import sys

        from harness.images import TARGETS, source_hash

        labels = self.image.labels or {}
        target, built_from = labels.get("org.harness.target"), labels.get("org.harness.source_hash")
        if target in TARGETS and built_from and built_from != source_hash(target):
            print(
                f"harness: note: {self.tag} was built from other sources ({built_from}) than "
                f"this checkout ({source_hash(target)}); rebuild with make images"
                f"{'-cuda' if target == 'cuda' else ''} to measure this code.",
                file=sys.stderr,
            )

    def _check_limits(self) -> None:
        """The resource options against what the engine has (``docker info``, its networks):
        what it would refuse at create or start is refused here, in one sentence."""
        import docker

        try:
            info = self.client.info()
            networks = {n.name for n in self.client.networks.list()}
        except docker.errors.APIError as error:
            raise UserError(f"The Docker engine did not answer: {_first_line(error)}.") from None
        problems = limit_problems(info, networks, self.config)
        if problems:
            raise UserError(f"{problems[0]}.")

    def _check_gpu_runtime(self) -> None:
        import docker

        name = f"harness-gpu-check-{uuid.uuid4().hex[:12]}"
        try:
            self.client.containers.run(
                self.tag,
                entrypoint=["true"],
                name=name,
                remove=True,
                network_mode="none",
                device_requests=self._device_requests(),
            )
        except docker.errors.APIError as error:
            self._remove_named(name)  # created, then its start failed: not removed by --rm
            text = str(error)
            if "device driver" in text or "nvidia" in text.lower() or "gpu" in text.lower():
                raise UserError(f"GPUs were asked for (--gpus) but {NVIDIA_HELP}.") from None
            raise UserError(f"A test container with GPUs failed: {_first_line(error)}.") from None

    def _device_requests(self) -> list[Any]:
        import docker

        if self.gpu_count is None:
            return []
        if self.gpu_ids:  # these GPUs exactly (the Slurm allocation), never all of the node's
            return [docker.types.DeviceRequest(device_ids=self.gpu_ids, capabilities=[["gpu"]])]
        return [docker.types.DeviceRequest(count=self.gpu_count, capabilities=[["gpu"]])]

    # --- what the record says about the container -----------------------------------------
    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {
            "launcher": self.name,
            "image": self.tag,
            "cpuset_cpus": self.cpuset_cpus,
            "cpus_limit": self.cpus,
            "memory_limit_bytes": self.memory,
            "gpus_requested": self.gpu_count,
            "gpu_device_ids": self.gpu_ids,
            "network": self.network,
        }
        if self.image is not None:
            labels = self.image.labels or {}
            env.update(
                image_id=self.image.id,
                image_digests=self.image.attrs.get("RepoDigests"),
                image_base=labels.get("org.harness.base"),
                image_target=labels.get("org.harness.target"),
                image_source_hash=labels.get("org.harness.source_hash"),
            )
        return env

    def container_options(self, task: Task) -> dict[str, Any]:
        """Everything the container is created with (a test inspects this)."""
        environment = {
            "HARNESS_IN_CONTAINER": "1",
            # checkpoints and the synthetic datasets go on a volume on the engine's disk: /tmp
            # is a tmpfs, which counts against --memory (the harness's set-up data would be
            # charged to the workload) and is never a disk read
            "HARNESS_SCRATCH_DIR": SCRATCH_MOUNT,
            "HARNESS_DATA_DIR": f"{SCRATCH_MOUNT}/data",
            # the worker ends when our attached stdin closes (we died) or past its deadline
            parent_watch.STDIN_VARIABLE: "1",
            parent_watch.DEADLINE_VARIABLE: parent_watch.deadline_for(task.timeout),
        }
        if task.threads is not None:
            environment.update(thread_environment(task.threads))
        options: dict[str, Any] = {
            "image": self.tag,
            "command": ["--task", json.dumps({**task.to_dict(), "collect_environment": True})],
            "environment": environment,
            "user": "10001:10001",
            "read_only": True,
            "privileged": False,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "tmpfs": {"/tmp": f"rw,exec,nosuid,size={TMPFS_SIZE}"},
            "shm_size": "1g",
            "network_mode": self.network,
            "labels": {LABEL: task.workload, LAUNCHER_LABEL: self.owner},
            # an anonymous volume per container, removed with it: real disk, not tmpfs, and
            # nothing of the host's own folders mounted
            "mounts": [docker_types().Mount(SCRATCH_MOUNT, None, type="volume")],
            # stdin open and closed when the one attached client (us) goes: the engine sets
            # StdinOnce for a create with stdin_open and detach=False (the SDK's only way)
            "stdin_open": True,
            "detach": False,
        }
        if self.cpuset_cpus:
            options["cpuset_cpus"] = self.cpuset_cpus
        if self.cpus:
            options["nano_cpus"] = int(self.cpus * 1e9)
        if self.memory:
            options["mem_limit"] = self.memory
            options["memswap_limit"] = self.memory  # no swap: over the limit means OOM-killed
        if self.gpu_count is not None:
            options["device_requests"] = self._device_requests()
        return options

    # --- one task --------------------------------------------------------------------------
    def run(self, task: Task) -> Record:
        import requests

        import docker

        if self.client is None:
            raise UserError("DockerLauncher.run called before preflight.")
        options = {**self.container_options(task), "name": f"harness-{uuid.uuid4().hex[:16]}"}
        container = None
        stdin = None
        try:
            try:
                with signals_deferred():
                    container = self.client.containers.create(**options)
            except docker.errors.APIError as error:
                self._remove_named(options["name"])
                raise refusal(error) from None
            except Exception:
                self._remove_named(options["name"])  # created, but the reply never came
                raise
            # Our end of the container's stdin: when this process dies, the engine closes it
            # and the worker inside ends (see harness.machine.parent_watch).
            stdin = self.client.api.attach_socket(container.id, params={"stdin": 1, "stream": 1})
            try:
                container.start()
            except docker.errors.APIError as error:
                raise refusal(error) from None
            try:
                outcome = container.wait(timeout=task.timeout)
                code = int(outcome.get("StatusCode", -1))
                timed_out = False
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                stop_after_timeout(container)
                code, timed_out = -1, True
            stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            container.reload()
            oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
        finally:
            if stdin is not None:
                with contextlib.suppress(OSError):
                    stdin.close()
            if container is not None:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True, v=True)  # v: its scratch volume too
        return self._record(task, stdout, stderr, code, timed_out, oom_killed)

    def _record(
        self, task: Task, stdout: str, stderr: str, code: int, timed_out: bool, oom_killed: bool
    ) -> Record:
        if timed_out:
            return failure_record(
                task,
                "timeout",
                f"the workload ran past its timeout of {task.timeout:g} s",
                None,
                stderr,
            )
        if oom_killed:
            limit = f" of {self.memory / 2**20:.0f} MiB" if self.memory else ""
            return failure_record(
                task, "oom", f"the container was OOM-killed (memory limit{limit})", code, stderr
            )
        record = parse_worker_output(stdout)
        if record is None:
            status = "crashed" if code > 128 else "error"
            return failure_record(
                task,
                status,
                f"the container exited with code {code} and wrote no result",
                code,
                stderr,
            )
        record.exit_code = code
        inner = ContainerFacts.of(record.worker_environment or {})
        record.worker_environment = None  # folded into the environment
        stamp(record, placement=inner.placement())
        if not record.ok and record.error is not None and not record.error.stderr_tail:
            record.error.stderr_tail = stderr_tail(stderr)
        return record

    def _remove_named(self, name: str) -> None:
        import docker

        with contextlib.suppress(docker.errors.APIError):
            self.client.containers.get(name).remove(force=True, v=True)

    def _remove_orphans(self) -> None:
        """Remove containers left by a harness on this host that was killed (SIGKILL): their
        worker ended with it, but nobody removed the stopped container and its volume."""
        import docker

        host = socket.gethostname()
        with contextlib.suppress(docker.errors.APIError):
            for container in self.client.containers.list(all=True, filters={"label": LABEL}):
                owner = (container.labels or {}).get(LAUNCHER_LABEL, "")
                owner_host, _, pid = owner.rpartition(":")
                if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                    with contextlib.suppress(docker.errors.APIError):
                        container.remove(force=True, v=True)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
