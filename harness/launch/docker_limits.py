"""What the Docker engine would refuse of the resource options, asked before the first task, and
its refusals turned into one sentence naming the option to change."""

from __future__ import annotations

import re
from typing import Any

from harness.errors import UserError

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
