"""The Docker launcher's options: its config dataclass (each value checked once), what the engine
would refuse of the resource options, asked before the first task, and its refusals turned into
one sentence naming the option to change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.errors import UserError
from harness.images import resolve_image

NETWORK_PATTERN = re.compile(r"(container:)?[A-Za-z0-9][A-Za-z0-9_.-]*")


#: words of an engine's refusal -> the option to change
REFUSED_OPTIONS = (
    ("cpuset", "--cpuset-cpus"),
    ("requested cpus are not available", "--cpuset-cpus"),
    ("cpus", "--cpus"),
    ("nanocpus", "--cpus"),
    ("cpu", "--cpus"),
    ("memory", "--memory"),
    ("network", "--network"),
    ("device", "--gpus"),
    ("gpu", "--gpus"),
)
#: the smallest memory limit the engine takes (Docker refuses less than 6 MiB)
MIN_MEMORY = 6 * 2**20


def limit_problems(info: dict[str, Any], networks: set[str], config: Any) -> list[str]:
    """What the engine would refuse of ``config``'s --cpus, --cpuset-cpus, --memory and
    --network, from ``docker info``'s NCPU and MemTotal and the engine's network names."""
    problems = []
    cores, memory = info.get("NCPU"), info.get("MemTotal")
    if config.cpus is not None and cores and config.cpus > cores:
        problems.append(
            f"--cpus {config.cpus:g} is more than the Docker engine's {cores} CPUs; give at "
            f"most {cores}"
        )
    if config.cpuset_cpus and cores:
        numbers = [int(n) for n in re.findall(r"[0-9]+", config.cpuset_cpus)]
        if numbers and max(numbers) >= cores:
            problems.append(
                f"--cpuset-cpus {config.cpuset_cpus} names CPU {max(numbers)}, but the Docker "
                f"engine has CPUs 0-{cores - 1}; choose among those"
            )
    if config.memory is not None:
        if config.memory < MIN_MEMORY:
            problems.append("--memory must be at least 6m, the least the Docker engine takes")
        elif memory and config.memory > memory:
            problems.append(
                f"--memory {config.memory / 2**30:.1f} GiB is more than the Docker engine's "
                f"{memory / 2**30:.1f} GiB; give less"
            )
    if config.network not in networks | {"none", "host", "bridge"} and networks:
        problems.append(
            f"--network {config.network} is not a network of the Docker engine "
            f"({', '.join(sorted(networks))}); create it or choose one of those"
        )
    return problems


def refusal(error: Any) -> UserError:
    """An engine's refusal to create or start a container as one sentence naming the option
    to change (exit 2), not a traceback."""
    said = str(getattr(error, "explanation", None) or error).strip().splitlines()
    text = said[0] if said else type(error).__name__
    lowered = text.lower()
    option = next((name for word, name in REFUSED_OPTIONS if word in lowered), None)
    change = f"change {option}" if option else "change the container options"
    return UserError(f"The Docker engine refused the container ({text.rstrip('.')}): {change}.")


def gpu_device_ids(value: str | None) -> list[str] | None:
    """--gpus device=0,2 (or device=GPU-<uuid>,...) -> ["0", "2"]; None for 'all', a count or
    nothing. The Slurm launcher passes the GPUs Slurm allocated this way."""
    if value is None or not value.startswith("device="):
        return None
    ids = [item.strip() for item in value[len("device=") :].split(",")]
    if not ids or not all(re.fullmatch(r"[0-9]+|(GPU|MIG)-[0-9A-Za-z/-]+", i) for i in ids):
        raise UserError(
            f"--gpus device= takes GPU indices or UUIDs like device=0,2, got {value!r}."
        )
    return ids


def parse_gpus(value: str | None) -> int | None:
    """--gpus all -> -1 (every GPU), --gpus 2 -> 2, --gpus device=0,2 -> 2, None -> None."""
    if value is None:
        return None
    if value == "all":
        return -1
    if value.isdigit() and int(value) > 0:
        return int(value)
    ids = gpu_device_ids(value)
    if ids:
        return len(ids)
    raise UserError(f"--gpus takes 'all', a positive count or device=<ids>, got {value!r}.")


@dataclass(frozen=True)
class DockerConfig:
    image: str = "cpu"
    gpus: str | None = None
    cpuset_cpus: str | None = None
    cpus: float | None = None
    memory: int | None = None
    network: str = "none"

    def __post_init__(self) -> None:
        resolve_image(self.image)
        parse_gpus(self.gpus)
        if self.cpuset_cpus is not None and not re.fullmatch(
            r"[0-9]+([,-][0-9]+)*", self.cpuset_cpus
        ):
            raise UserError(
                f"--cpuset-cpus takes CPU numbers like 0-3 or 0,2, got {self.cpuset_cpus!r}."
            )
        if self.cpus is not None and not self.cpus > 0:
            raise UserError(f"--cpus takes a positive number of CPUs like 1.5, got {self.cpus!r}.")
        if self.memory is not None and self.memory <= 0:
            raise UserError(f"--memory must be a positive size, got {self.memory}.")
        if not NETWORK_PATTERN.fullmatch(self.network):
            raise UserError(
                f"--network takes a Docker network name like none, bridge or host (letters, "
                f"digits, '.', '_', '-'), got {self.network!r}."
            )
