"""What the Docker engine would refuse of the resource options, found before the first task;
the engine's own refusals as one sentence naming the option (recorded engine answers here; the
real engine in tests/test_docker.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from harness.launch.docker_limits import limit_problems, refusal

INFO = {"NCPU": 2, "MemTotal": 24 * 2**30}
NETWORKS = {"bridge", "host", "none"}


@dataclass
class Options:
    cpus: float | None = None
    cpuset_cpus: str | None = None
    memory: int | None = None
    network: str = "none"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (Options(cpus=4), "--cpus 4 is more than the Docker engine's 2 CPUs"),
        (Options(cpuset_cpus="0-3"), "--cpuset-cpus 0-3 names CPU 3"),
        (Options(memory=2**20), "--memory must be at least 6m"),
        (Options(memory=64 * 2**30), "--memory 64.0 GiB is more than"),
        (Options(network="corp"), "--network corp is not a network"),
    ],
)
def test_what_the_engine_would_refuse_is_found_first(options, words):
    [problem] = limit_problems(INFO, NETWORKS, options)
    assert problem.startswith(words)


def test_options_within_the_engine_pass():
    fits = Options(cpus=2, cpuset_cpus="0,1", memory=2**30, network="bridge")
    assert limit_problems(INFO, NETWORKS, fits) == []


class APIError(Exception):
    def __init__(self, explanation):
        super().__init__(f"500 Server Error: {explanation}")
        self.explanation = explanation


@pytest.mark.parametrize(
    ("explanation", "option"),
    [
        ("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available", "--cpus"),
        ("Requested CPUs are not available - requested 0-7, available: 0-1", "--cpuset-cpus"),
        ("Minimum memory limit allowed is 6MB", "--memory"),
        ("network corp not found", "--network"),
        ('could not select device driver "" with capabilities: [[gpu]]', "--gpus"),
    ],
)
def test_an_engine_refusal_names_the_option(explanation, option):
    message = str(refusal(APIError(explanation)))
    assert explanation.split(",")[0] in message and f"change {option}." in message
