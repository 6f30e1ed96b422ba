"""``harness explain``: which operations made a phase slower (or faster), from fresh profiled
processes of both sides, never from the gate's own timed runs.

Each side (as ``harness ab`` takes them: a git ref's worktree, a Python, an image, environment
variables) runs the task in ``processes`` fresh processes, alternating baseline and candidate
(ABBA), each under the workload's profiler (``harness/profiling/profile_worker.py``:
torch.profiler for PyTorch, the TensorFlow profiler for Keras on TensorFlow, Callgrind for
NumPy, cProfile otherwise). An operation's value on a side is the median over its processes of
the median over the profiled steps (µs, or instructions, per step), so a step or a process the
machine preempted moves little.

Per phase and measure, the *change* of an operation is candidate − baseline. The phase's change
is the sum over its operations; its *direction* is that sum's sign. Operations are ranked by
their change in that direction, largest first; an operation's *share* is its change over the
sum of the changes in that direction (so shares of the ranked operations add to 100% and noise
against the direction cannot make a share exceed it). The list stops once the shares reach
``cover`` (80%): the operations that explain the change.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.render.cells import case_label

WORKER_FILE = Path(__file__).parents[1] / "profiling" / "profile_worker.py"
CONTAINER_FOLDER = "/opt/harness-profiling"
BASELINE, CANDIDATE = "baseline", "candidate"
DEFAULT_COVER = 0.8
#: segments that are not phases (warm-up and the gaps between steps)
NOT_PHASES = ("(set-up)", "(between steps)")
UNITS = {"cpu time": "µs", "cuda time": "µs", "instructions": "instructions"}


@dataclass(frozen=True)
class ProfileSide:
    """Where one side's profiled processes come from (the options of ``harness ab``)."""

    name: str
    python: str | None = None
    env: tuple[str, ...] = ()
    #: a source tree (a git worktree of ``--*-ref``) whose harness and workloads come first
    source: str | None = None
    image: str | None = None

    def command(self, arguments: list[str]) -> list[str]:
        """The command line of one profiled process. In an image, this checkout's profiling
        files are mounted read-only (the image's own harness and workloads import the task)."""
        if self.image:
            env = [f"--env={pair}" for pair in (*threads_of(arguments), *self.env)]
            mount = f"--volume={WORKER_FILE.parent}:{CONTAINER_FOLDER}:ro"
            return ["docker", "run", "--rm", mount, *env, "--entrypoint", "python3", self.image,
                    f"{CONTAINER_FOLDER}/{WORKER_FILE.name}", *arguments]  # fmt: skip
        return [self.python or sys.executable, str(WORKER_FILE), *arguments]

    def environment(self, threads: int) -> dict[str, str]:
        from harness.threads import thread_environment

        env = {**os.environ, **thread_environment(threads), "PYTHONUNBUFFERED": "1"}
        env.update((key, value) for key, _, value in (p.partition("=") for p in self.env))
        from harness.machine.environment import PROJECT_ROOT

        first = self.source or str(PROJECT_ROOT)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (first, env.get("PYTHONPATH")) if p)
        return env


def threads_of(arguments: list[str]) -> list[str]:
    """The thread settings for a container (its environment is not this process's)."""
    from harness.threads import thread_environment

    task = json.loads(arguments[arguments.index("--task") + 1])
    return [f"{k}={v}" for k, v in thread_environment(int(task.get("threads") or 1)).items()]


def profiler_for(framework: str, params: dict[str, Any]) -> str:
    """The profiler a workload's framework gets: torch.profiler for PyTorch (and Keras on the
    torch backend), the TensorFlow profiler for Keras on TensorFlow and tf.data, Callgrind for
    NumPy, cProfile for anything else."""
    if framework == "torch":
        return "torch"
    if framework == "numpy":
        return "callgrind"
    if framework in ("keras", "tensorflow", "tf"):
        backend = params.get("backend", "tensorflow")
        return {"torch": "torch", "tensorflow": "tensorflow"}.get(backend, "python")
    return "python"


def profile_process(
    task: Any, side: ProfileSide, profiler: str, steps: int, warmup: int, threads: int
) -> pd.DataFrame:
    """One fresh profiled process of ``side``: its rows (phase, measure, op, value, calls)."""
    task_json = {
        "path": task.path,
        "params": task.to_dict()["params"],
        "device": task.device,
        "seed": task.seed,
        "threads": threads,
    }
    arguments = ["--task", json.dumps(task_json), "--profiler", profiler]
    arguments += ["--steps", str(steps), "--warmup", str(warmup)]
    try:
        done = subprocess.run(
            side.command(arguments),
            capture_output=True,
            text=True,
            timeout=task.timeout,
            env=side.environment(threads),
            cwd=side.source,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UserError(
            f"The {side.name}'s profiled process of {task.workload} ran past {task.timeout:g} s; "
            "give fewer --steps or a larger --timeout."
        ) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    if "rows" not in result:
        why = result.get("error") or " | ".join(done.stderr.strip().splitlines()[-3:])
        raise UserError(
            f"The {side.name}'s profiled process of {task.workload} failed ({why}); check that "
            "the workload runs on that side with harness run."
        )
    return pd.DataFrame(result["rows"], columns=["phase", "measure", "op", "value", "calls"])


def profile_sides(
    task: Any,
    sides: tuple[ProfileSide, ProfileSide],
    profiler: str,
    steps: int,
    warmup: int = 3,
    processes: int = 2,
    threads: int = 1,
) -> pd.DataFrame:
    """``processes`` profiled processes per side in ABBA order: rows with ``side``, ``process``."""
    frames = []
    for index in range(2 * processes):
        pair, second = divmod(index, 2)
        side = sides[(pair + second) % 2]
        frame = profile_process(task, side, profiler, steps, warmup, threads)
        frames.append(frame.assign(side=side.name, process=pair))
    return pd.concat(frames, ignore_index=True)


def side_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (phase, measure, op): each side's median over its processes (absent: 0), and the
    mean calls per step; columns baseline, candidate, baseline_calls, candidate_calls."""
    frame = frame[~frame["phase"].isin(NOT_PHASES)]
    keys = ["phase", "measure", "op"]
    values = frame.pivot_table(
        index=keys, columns=["side", "process"], values="value", aggfunc="sum", fill_value=0.0
    )
    calls = frame.groupby([*keys, "side"])["calls"].mean().unstack("side").fillna(0.0)
    out = pd.DataFrame(index=values.index)
    for side in (BASELINE, CANDIDATE):
        out[side] = values[side].median(axis=1) if side in values.columns.levels[0] else 0.0
        out[f"{side}_calls"] = calls.get(side, 0.0)
    return out.reset_index()


def explain_frame(frame: pd.DataFrame, cover: float = DEFAULT_COVER) -> pd.DataFrame:
    """The operations that explain each phase's change (see the module's docstring): one row
    per ranked operation with phase, measure, op, baseline, candidate, change, share,
    cumulative, rank, the calls per step of each side, and the phase's totals."""
    if not 0 < cover <= 1:
        raise UserError(f"--cover must be in (0, 1], got {cover}.")
    values = side_values(frame)
    values["change"] = values[CANDIDATE] - values[BASELINE]
    rows = []
    for _, group in values.groupby(["phase", "measure"], sort=False):
        net = float(group["change"].sum())
        direction = 1.0 if net >= 0 else -1.0
        moved = group[group["change"] * direction > 0].copy()
        gross = float((moved["change"] * direction).sum())
        if gross == 0:
            continue
        moved["share"] = moved["change"] * direction / gross
        moved = moved.sort_values("share", ascending=False)
        moved["cumulative"] = moved["share"].cumsum()
        needed = int((moved["cumulative"] < cover - 1e-12).sum()) + 1
        ranked = moved.head(needed).assign(
            rank=range(1, needed + 1),
            phase_baseline=float(group[BASELINE].sum()),
            phase_candidate=float(group[CANDIDATE].sum()),
            phase_change=net,
        )
        rows.append(ranked)
    if not rows:
        return pd.DataFrame(columns=[*values.columns, "share", "cumulative", "rank"])
    order = {p: i for i, p in enumerate(dict.fromkeys(frame["phase"]))}
    out = pd.concat(rows, ignore_index=True)
    out["order"] = out["phase"].map(order)
    return (
        out.sort_values(["order", "measure", "rank"]).drop(columns="order").reset_index(drop=True)
    )


def top_cause(explained: pd.DataFrame, phase: str, measure: str = "cpu time") -> str | None:
    """The operation ranked first in ``phase`` (None when the phase did not change)."""
    chosen = explained[(explained["phase"] == phase) & (explained["measure"] == measure)]
    return None if chosen.empty else str(chosen.sort_values("rank")["op"].iloc[0])


def explain_hint(row: Any, sides: str = "--baseline-ref BASE --candidate-ref HEAD") -> str:
    """The command line that explains one flagged row of ``compare`` or ``ab`` (a row with
    workload, device, params (a JSON string or dict) and phase); ``sides`` as ``ab`` takes
    them (``compare`` knows only the results files: refs to fill in)."""
    params = getattr(row, "changed_params", None)
    if not isinstance(params, dict | str) or not params:
        params = getattr(row, "params", None)
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            params = {}
    parts = ["harness", "explain", "--workload", str(row.workload)]
    parts += ["--device", str(row.device)]
    for key, value in (params or {}).items():
        shown = "x".join(map(str, value)) if isinstance(value, list) else value
        parts += ["--param", f"{key}={shown}"]
    phase = getattr(row, "phase", None)
    if phase and phase != "step":
        parts += ["--phase", str(phase)]
    return shlex.join(parts) + (f" {sides}" if sides else "")


def explain_notes(
    rows: pd.DataFrame, sides: str = "--baseline-ref BASE --candidate-ref HEAD"
) -> list[str]:
    """One line per flagged (slower) row of ``compare``/``ab``: the command that explains it
    (rows of one workload, device and parameters share a line when several phases are flagged:
    the first phase's)."""
    if rows.empty or "verdict" not in rows:
        return []
    flagged = rows[rows["verdict"].astype(str).str.startswith("slower")]
    flagged = flagged.drop_duplicates(["workload", "device", "params"])
    return [
        f"To explain {case_label(r.workload, r.device)}: {explain_hint(r, sides)}"
        for r in flagged.itertuples()
    ]


def side_arguments(args: Any) -> str:
    """The side options of ``ab`` as given (for its hints), e.g. ``--candidate-ref HEAD``."""
    parts: list[str] = []
    for side in (BASELINE, CANDIDATE):
        for what in ("python", "image", "ref"):
            value = getattr(args, f"{side}_{what}", None)
            if value:
                parts += [f"--{side}-{what}", str(value)]
        for pair in getattr(args, f"{side}_env", None) or ():
            parts += [f"--{side}-env", pair]
    return shlex.join(parts)
