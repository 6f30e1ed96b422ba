"""The profiling worker of ``harness explain``: one fresh process sets a task's workload up, runs
a few warm-up steps, then runs N steps under a profiler and prints, as one JSON object on
stdout, what each operation cost per step in each phase. It never runs inside the gate's timed
runs: ``harness run``/``ab``/``compare`` measure with ``harness.worker``, unprofiled.

    python harness/profiling/profile_worker.py --task JSON --profiler torch --steps N [--warmup W]

It runs as a *file*, importing only the standard library and its sibling files in this folder
(which Python puts first on the path; they hold nothing else), and the workload's own modules
from ``PYTHONPATH``: a side that is an older git worktree (``--baseline-ref``) has its own
``harness`` and ``workloads`` first on the path and need not contain these files.

Phases: every step is cut into segments at the workload's ``mark(phase)`` calls (the segment
that a mark ends is that phase's); on an asynchronous device (CUDA) the device is synchronized
at each cut, so each kernel falls inside its phase. Profilers:

* ``torch``: ``torch.profiler`` (CPU, and CUDA kernels on a GPU); one ``record_function`` range
  per segment; every event starting inside a range is the range's phase. Measures: ``cpu time``
  (each operator's *self* CPU time; the range's own self time is ``(outside operators)``: Python
  and anything no operator covers) and ``cuda time`` (each kernel's device time), µs per step.
* ``callgrind``: Valgrind's Callgrind, one dump per segment (``--dump-before`` on the C function
  behind ``sys.getswitchinterval``, called at each cut); measure ``instructions``: each
  function's *self* instruction count per step (exact; math libraries on one thread), except
  that a BLAS/LAPACK library's work is charged to the routine entered from outside it (an
  extra ``svd``: ``dgesdd``; an extra matrix product: ``sgemm``), not to its inner kernels.
* ``tensorflow``: ``tf.profiler.experimental`` traces the steps (one ``Trace`` range per
  segment); the XSpace it writes is read with the protobuf classes TensorFlow ships
  (``tensorflow.tsl.profiler.protobuf.xplane_pb2``); each TensorFlow op event on the host's CPU
  lines (``name:Type``, on the executor's threads) that starts inside a range is that phase's,
  by op type (``_MklMatMul``, ``Svd``), in ``cpu time`` (µs per step; op events do not nest, so
  their durations are their own time; the executor's own events, ``A::B``, are left out).
* ``python``: ``cProfile``; each Python function's own time (tottime), µs per step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

if __package__:  # imported as part of a harness checkout
    from harness.profiling.profile_callgrind import (
        callgrind_inner,
        profile_callgrind,
    )
    from harness.profiling.profile_frameworks import (
        profile_python,
        profile_tensorflow,
        profile_torch,
    )
    from harness.profiling.profile_segments import (
        PROFILERS,
        load_workload,
        warm_up,
    )
else:  # run as a file (profile_worker.py): its folder, first on the path, holds these
    from profile_callgrind import (  # type: ignore[no-redef]
        callgrind_inner,
        profile_callgrind,
    )
    from profile_frameworks import (  # type: ignore[no-redef]
        profile_python,
        profile_tensorflow,
        profile_torch,
    )
    from profile_segments import (  # type: ignore[no-redef]
        PROFILERS,
        load_workload,
        warm_up,
    )


# --- entry point -----------------------------------------------------------------------------
def profile(task: dict[str, Any], profiler: str, steps: int, warmup: int) -> dict[str, Any]:
    """{"profiler", "steps", "rows": [{"phase", "measure", "op", "value", "calls"}]} (values and
    calls per step; µs for time, instructions for Callgrind)."""
    started = time.time()
    if profiler == "callgrind":
        rows = profile_callgrind(task, steps, warmup)
    else:
        workload = load_workload(task)
        workload.setup()
        try:
            warm_up(workload, warmup)
            chosen = {
                "torch": profile_torch,
                "python": profile_python,
                "tensorflow": profile_tensorflow,
            }[profiler]
            rows = chosen(workload, steps)
        finally:
            workload.teardown()
    return {
        "profiler": profiler,
        "steps": steps,
        "rows": rows,
        "seconds": time.time() - started,
        "pid": os.getpid(),
    }


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="profile_worker.py")
    parser.add_argument("--task", required=True)
    parser.add_argument("--profiler", required=True, choices=(*PROFILERS, "callgrind-inner"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--labels", default=None)
    args = parser.parse_args(argv)
    task = json.loads(args.task)
    if args.profiler == "callgrind-inner":
        callgrind_inner(task, args.steps, args.warmup, args.labels)
        return 0
    result_fd = os.dup(1)  # stdout carries only the result; what the workload prints: stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        result = profile(task, args.profiler, args.steps, args.warmup)
    except Exception as error:  # the parent reports it in one sentence
        result = {"error": f"{type(error).__name__}: {error}"}
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    return 0 if "error" not in result else 3


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
