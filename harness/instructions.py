"""Instructions per step, counted under Valgrind's Callgrind: a measure that does not move with
a noisy machine (counts repeat to about one part in a million), for gating small changes on
shared CI runners where wall time cannot resolve them.

A task is counted in two fresh processes under ``valgrind --tool=callgrind``, one running N
steps and one 2N, with the same set-up, one warm-up step and ``PYTHONHASHSEED=0``; the
difference over N is the instructions of one step, with import and set-up cancelled. The
process runs in the side's source tree (``cwd``: ``python -m`` puts the current directory first
on ``sys.path``, before ``PYTHONPATH``), and says on its last stdout line which harness and which
workload source it imported. Math
libraries run one thread (a spinning OpenMP thread would count its waits). Callgrind slows code
about fifty-fold and BLAS kernels more: this mode is sized for small steps and few of them,
with its own timeout. It cannot see slowdowns that are not more instructions (memory stalls,
contention, a slower machine): wall time stays the default measure.

    python -m harness.instructions --task JSON --steps N     (what runs under Callgrind)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_STEPS = 20
TIMEOUT_S = 900.0
#: Test-only: each step also runs this share of extra real steps (a running credit adds a whole
#: step each time it reaches one), so the instructions of a real step grow by a known share.
EXTRA_STEPS_VARIABLE = "HARNESS_TEST_EXTRA_STEPS"


def valgrind() -> str | None:
    return shutil.which("valgrind")


def parse_totals(text: str) -> int:
    """The Ir total of a Callgrind output file (its ``totals:`` or ``summary:`` line)."""
    for key in ("totals:", "summary:"):
        match = re.search(rf"^{key}\s+(\d+)", text, re.MULTILINE)
        if match:
            return int(match.group(1))
    raise ValueError("no totals line in the Callgrind output")


FACTS_PREFIX = "harness-instructions-facts: "


def count(
    task: Any,
    steps: int,
    python: str,
    env: dict[str, str],
    timeout: float,
    cwd: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Instructions of one process that sets the task up and runs ``steps`` steps, run in
    ``cwd`` (None: this one); and what it imported: {"harness_root", "workload": describe()}."""
    from harness.threads import thread_environment

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            valgrind() or "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-line=no",
            python,
            "-m",
            "harness.instructions",
            "--task",
            json.dumps(task.to_dict()),
            "--steps",
            str(steps),
        ]
        full_env = {**env, **thread_environment(1), "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd,
            check=False,
        )
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or "").strip().splitlines()[-8:]
            raise RuntimeError(
                f"the Callgrind process exited with {done.returncode}: " + " | ".join(tail)
            )
        return parse_totals(out.read_text()), parse_facts(done.stdout)


def parse_facts(stdout: str) -> dict[str, Any]:
    """The facts line ``run_steps`` prints ({} when there is none)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(FACTS_PREFIX):
            facts: dict[str, Any] = json.loads(line[len(FACTS_PREFIX) :])
            return facts
    return {}


def measure(
    task: Any,
    steps: int = DEFAULT_STEPS,
    python: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT_S,
    cwd: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """({"per_step", "counts": [N steps, 2N steps], "steps", "tool"}, facts): the difference
    method, and what the counted processes imported (``count``)."""
    python = python or sys.executable
    env = dict(os.environ if env is None else env)
    single, _ = count(task, steps, python, env, timeout, cwd)
    double, facts = count(task, 2 * steps, python, env, timeout, cwd)
    counted = {
        "per_step": (double - single) / steps,
        "counts": [single, double],
        "steps": steps,
        "tool": "callgrind",
    }
    return counted, facts


def run_steps(task_json: str, steps: int) -> None:
    """Inside Callgrind: set the task up, one warm-up step, then ``steps`` steps."""
    import random

    from harness.task import Task
    from harness.workload import describe, load_workload_class

    task = Task.from_dict(json.loads(task_json))
    random.seed(task.seed)
    cls = load_workload_class(task.path)
    workload = cls(task.params, task.device, seed=task.seed, threads=1)
    workload.setup()
    extra = float(os.environ.get(EXTRA_STEPS_VARIABLE) or 0)
    step = workload.fused_step if workload.has_fused_step else lambda: workload.step(_no_mark)
    credit = 0.0
    import gc

    try:
        step()  # lazy initialisation happens here, in both processes alike
        gc.collect()
        gc.disable()  # as inside the timer's blocks: a collection's cost depends on addresses
        for _ in range(steps):
            step()
            credit += extra
            while credit >= 1.0:
                credit -= 1.0
                step()
        workload.synchronize()
    finally:
        gc.enable()
        workload.teardown()
    facts = {
        "harness_root": str(Path(__file__).resolve().parent.parent),
        "workload": describe(cls, task.params),
    }
    print(FACTS_PREFIX + json.dumps(facts), flush=True)


def _no_mark(phase: str) -> None:
    """Phases are not told apart here: the difference method counts whole steps."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or args[0] != "--task" or args[2] != "--steps":
        print("usage: python -m harness.instructions --task JSON --steps N", file=sys.stderr)
        return 2
    run_steps(args[1], int(args[3]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
