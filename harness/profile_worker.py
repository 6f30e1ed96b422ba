"""The profiling worker of ``harness explain``: one fresh process sets a task's workload up, runs
a few warm-up steps, then runs N steps under a profiler and prints, as one JSON object on
stdout, what each operation cost per step in each phase. It never runs inside the gate's timed
runs: ``harness run``/``ab``/``compare`` measure with ``harness.worker``, unprofiled.

    python harness/profile_worker.py --task JSON --profiler torch --steps N [--warmup W]

It runs as a *file*, with only the standard library imported at the top and the workload's own
modules found on ``PYTHONPATH``: a side that is an older git worktree (``--baseline-ref``) has
its own ``harness`` and ``workloads`` first on the path and need not contain this file.

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
import re
import sys
import time
from collections.abc import Callable
from typing import Any

PROFILERS = ("torch", "callgrind", "tensorflow", "python")
#: the C function whose entry cuts a Callgrind dump: the one behind ``sys.getswitchinterval``,
#: which nothing else calls while steps run (a Python whose own symbols are stripped cannot be
#: cut: the dumps do not match the segments and the worker says so)
CALLGRIND_MARKER = "sys_getswitchinterval"
SETUP, BETWEEN, AFTER, EXIT = "(set-up)", "(between steps)", "(after the last mark)", "(exit)"
OUTSIDE = "(outside operators)"
#: {(phase, measure, op): {step: [value, calls]}}
Totals = dict[tuple[str, str, str], dict[int, list[float]]]


def load_workload(task: dict[str, Any]) -> Any:
    """The task's workload instance (its module imported from the side's ``PYTHONPATH``)."""
    import importlib

    module_name, _, class_name = task["path"].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(
        task["params"], task["device"], seed=task.get("seed", 0), threads=task.get("threads")
    )


def run_segments(
    workload: Any, steps: int, start: Callable[[], None], cut: Callable[[str], None]
) -> None:
    """``steps`` steps, each cut into segments: ``start()`` opens the first segment of a step;
    ``cut(label)`` closes the open one as ``label`` and opens the next (the device synchronized
    first where it runs asynchronously), and the step's end closes the last."""
    asynchronous = workload.device != "cpu" or bool(getattr(workload, "sync_phases", False))

    def close(label: str) -> None:
        if asynchronous:
            workload.synchronize()
        cut(label)

    for _ in range(steps):
        start()
        workload.step(close)
        close(AFTER)


def warm_up(workload: Any, steps: int) -> None:
    for _ in range(steps):
        workload.step(lambda phase: None)
    workload.synchronize()


def per_step(totals: Totals, steps: int) -> list[dict]:
    """{(phase, measure, op): {step: [value, calls]}} -> rows: the median over the steps of the
    op's value in each step (a step without the op counts 0), so that a step the machine
    preempted moves nothing; calls: the mean per step."""
    import statistics

    rows = []
    for (phase, measure, op), by_step in sorted(totals.items()):
        values = [by_step.get(step, [0.0, 0.0])[0] for step in range(steps)]
        calls = sum(entry[1] for entry in by_step.values()) / steps
        rows.append(
            {
                "phase": phase,
                "measure": measure,
                "op": op,
                "value": statistics.median(values),
                "mean": statistics.fmean(values),
                "calls": calls,
            }
        )
    return rows


def add(
    totals: Totals, key: tuple[str, str, str], step: int, value: float, calls: float = 1
) -> None:
    entry = totals.setdefault(key, {}).setdefault(step, [0.0, 0.0])
    entry[0] += value
    entry[1] += calls


def numbered(labels: list[str]) -> list[tuple[str, int]]:
    """Each segment's label with its step's index (a step ends with its AFTER segment)."""
    out, step = [], 0
    for label in labels:
        out.append((label, step))
        step += label == AFTER
    return out


def segment_of(windows: list[tuple[float, float, Any]], at: float) -> Any:
    """The segment of the window [start, end] holding ``at`` (windows sorted, disjoint)."""
    import bisect

    index = bisect.bisect_right([w[0] for w in windows], at) - 1
    if index >= 0 and at <= windows[index][1]:
        return windows[index][2]
    return None


# --- torch.profiler --------------------------------------------------------------------------
def profile_torch(workload: Any, steps: int) -> list[dict[str, Any]]:
    import torch
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if workload.device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    labels: list[str] = []
    current: list[Any] = []

    def start() -> None:
        current.append(record_function(f"harness.segment#{len(labels)}"))
        current[-1].__enter__()

    def cut(label: str) -> None:
        current.pop().__exit__(None, None, None)
        labels.append(label)
        if label != AFTER:
            start()

    with profile(activities=activities) as prof:
        run_segments(workload, steps, start, cut)
    cpu = torch.autograd.DeviceType.CPU
    return torch_rows(list(prof.events()), labels, steps, lambda e: e.device_type == cpu)


def torch_rows(
    events: list[Any], labels: list[str], steps: int, on_cpu: Callable[[Any], bool]
) -> list[dict[str, Any]]:
    """Rows from torch.profiler's events (``FunctionEvent``: name, time_range, device_type,
    self_cpu_time_total, device_time_total; µs): the segments are the CPU events named
    ``harness.segment#i``; a CPU event counts its self time to the segment it starts in, a
    device event (a kernel, a copy) its device time. A segment's device-side annotation (a
    GPU range of the same name) is not a kernel and is left out."""
    segments = numbered(labels)
    windows = sorted(
        (e.time_range.start, e.time_range.end, segments[int(e.name.rpartition("#")[2])])
        for e in events
        if e.name.startswith("harness.segment#") and on_cpu(e)
    )
    totals: Totals = {}
    for event in events:
        segment = segment_of(windows, event.time_range.start)
        if segment is None:
            continue
        phase, step = segment
        ours = event.name.startswith("harness.segment#")
        if on_cpu(event):
            name = OUTSIDE if ours else event.name
            add(totals, (phase, "cpu time", name), step, event.self_cpu_time_total)
        elif not ours:
            add(totals, (phase, "cuda time", event.name), step, event.device_time_total)
    return per_step(totals, steps)


# --- cProfile --------------------------------------------------------------------------------
def profile_python(workload: Any, steps: int) -> list[dict[str, Any]]:
    import cProfile
    import pstats

    running: list[cProfile.Profile] = []
    done: list[tuple[str, cProfile.Profile]] = []

    def start() -> None:
        running.append(cProfile.Profile())
        running[-1].enable()

    def cut(label: str) -> None:
        profiler = running.pop()
        profiler.disable()
        done.append((label, profiler))
        if label != AFTER:
            start()

    run_segments(workload, steps, start, cut)
    totals: Totals = {}
    for (label, step), (_, profiler) in zip(numbered([d[0] for d in done]), done, strict=True):
        stats: Any = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (file, line, function), (_, calls, own, _, _) in stats.items():
            where = f"{os.path.basename(file)}:{line}" if line else file
            add(totals, (label, "cpu time", f"{function} ({where})"), step, own * 1e6, calls)
    return per_step(totals, steps)


# --- TensorFlow profiler ---------------------------------------------------------------------
def profile_tensorflow(workload: Any, steps: int) -> list[dict[str, Any]]:
    import tempfile

    import tensorflow as tf

    labels: list[str] = []
    current: list[Any] = []

    def start() -> None:
        current.append(tf.profiler.experimental.Trace(f"harness.segment#{len(labels)}"))
        current[-1].__enter__()

    def cut(label: str) -> None:
        current.pop().__exit__(None, None, None)
        labels.append(label)
        if label != AFTER:
            start()

    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        try:
            run_segments(workload, steps, start, cut)
        finally:
            tf.profiler.experimental.stop()
        found = [
            os.path.join(root, name)
            for root, _, names in os.walk(folder)
            for name in names
            if name.endswith(".xplane.pb")
        ]
        if not found:
            raise RuntimeError("the TensorFlow profiler wrote no .xplane.pb trace")
        with open(found[0], "rb") as handle:
            data = handle.read()
    return tensorflow_ops(data, labels, steps)


def tensorflow_ops(data: bytes, labels: list[str], steps: int) -> list[dict[str, Any]]:
    """Op time per phase from an XSpace: the host plane's events named ``name:Type`` (TF ops)
    that start inside a ``harness.segment#i`` event."""
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2  # as TensorFlow 2.21 ships it
    except ImportError:
        from tsl.profiler.protobuf import xplane_pb2  # a standalone tsl

    space = xplane_pb2.XSpace()
    space.ParseFromString(data)
    segments = numbered(labels)
    windows: list[tuple[float, float, Any]] = []
    ops: list[tuple[float, float, str]] = []
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                start = line.timestamp_ns * 1e3 + event.offset_ps  # ps
                if name.startswith("harness.segment#"):
                    index = int(name.rpartition("#")[2])
                    if index < len(segments):
                        windows.append((start, start + event.duration_ps, segments[index]))
                elif name.count(":") == 1:  # "dense/MatMul:_MklMatMul": an op, by type
                    op_type = name.rpartition(":")[2]
                    if op_type.isidentifier():
                        ops.append((start, event.duration_ps / 1e6, op_type))
    windows.sort()
    totals: Totals = {}
    for start, micros, op_type in ops:
        segment = segment_of(windows, start)
        if segment is not None:
            add(totals, (segment[0], "cpu time", op_type), segment[1], micros)
    return per_step(totals, steps)


# --- Callgrind -------------------------------------------------------------------------------
def profile_callgrind(task: dict[str, Any], steps: int, warmup: int) -> list[dict[str, Any]]:
    """Re-run this file under Callgrind (one dump per segment), then read the dumps."""
    import glob
    import shutil
    import subprocess
    import tempfile

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        labels_file = os.path.join(folder, "labels.json")
        command = [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-line=no",
            f"--dump-before={CALLGRIND_MARKER}",
            sys.executable,
            os.path.abspath(__file__),
            "--task",
            json.dumps(task),
            "--profiler",
            "callgrind-inner",
            "--steps",
            str(steps),
            "--warmup",
            str(warmup),
            "--labels",
            labels_file,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0 or not os.path.exists(labels_file):
            tail = " | ".join((done.stderr or "").strip().splitlines()[-6:])
            raise RuntimeError(f"the Callgrind process exited with {done.returncode}: {tail}")
        with open(labels_file, encoding="utf-8") as handle:
            labels = json.load(handle)
        dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rpartition(".")[2]))
        dumps.append(out)  # the last part, written at exit
        if len(dumps) < len(labels) + 1:
            raise RuntimeError(f"Callgrind wrote {len(dumps)} dumps for {len(labels)} segments")
        mine = dumps[-(len(labels) + 1) : -1]  # start-up's dumps come first, the exit's last
        totals: Totals = {}
        for (label, step), path in zip(numbered(labels), mine, strict=True):
            if label in (SETUP, BETWEEN):
                continue
            with open(path, encoding="utf-8", errors="replace") as handle:
                for name, (count, calls) in callgrind_self_costs(handle.read()).items():
                    add(totals, (label, "instructions", name), step, count, calls)
    return per_step(totals, steps)


def callgrind_inner(task: dict[str, Any], steps: int, warmup: int, labels_file: str) -> None:
    """Inside Callgrind: each cut calls the marker function, so Callgrind dumps there."""
    marker = sys.getswitchinterval
    labels: list[str] = []
    workload = load_workload(task)
    workload.setup()
    try:
        warm_up(workload, warmup)

        def start() -> None:
            labels.append(BETWEEN if labels else SETUP)
            marker()

        def cut(label: str) -> None:
            labels.append(label)
            marker()

        run_segments(workload, steps, start, cut)
    finally:
        workload.teardown()
    with open(labels_file, "w", encoding="utf-8") as handle:
        json.dump(labels, handle)


#: objects whose work is charged to the routine entered from outside them (BLAS, LAPACK)
MATH_LIBRARY = re.compile(r"blas|lapack|mkl|libgfortran|libflame|blis", re.IGNORECASE)


def callgrind_self_costs(text: str) -> dict[str, tuple[int, int]]:
    """{function: (instructions, calls into it)} from one Callgrind dump: each function's *self*
    instructions, except inside a math library (``MATH_LIBRARY``: OpenBLAS, MKL, LAPACK), whose
    work is charged whole to the routine a caller outside it entered (the call's inclusive
    cost: ``scipy_dgesdd_64_``, ``cblas_sgemm``), so that an extra ``svd`` shows as one LAPACK
    routine rather than its internal kernels. A cost line right after ``calls=`` is the call's
    inclusive cost, never the caller's self; names are compressed as ``(id) name`` once, then
    ``(id)``."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    costs: dict[str, list[int]] = {}
    function = ""
    obj = callee_obj = ""
    after_call = False
    callee = ""
    inside = entering = False  # the function is in a math library; the call enters one

    def resolve(value: str, table: dict[str, str]) -> str:
        key, _, name = value.partition(")")
        if name.strip():
            table[key] = name.strip()
        return table.get(key, value)

    for line in text.splitlines():
        if not line:
            continue
        first = line[0]
        if first.isdigit() or first in "+-*":
            parts = line.split()
            if after_call:
                after_call = False
                if entering and len(parts) >= 2:
                    costs.setdefault(callee, [0, 0])[0] += int(parts[1])
                continue
            if len(parts) >= 2 and not inside:
                costs.setdefault(function, [0, 0])[0] += int(parts[1])
            continue
        key, _, value = line.partition("=")
        if key == "fn":
            function = label_function(resolve(value, names), obj)
            inside = bool(MATH_LIBRARY.search(os.path.basename(obj)))
        elif key == "ob":
            obj = resolve(value, objects)
            callee_obj = obj
        elif key == "cob":
            callee_obj = resolve(value, objects)
        elif key == "cfn":
            callee = label_function(resolve(value, names), callee_obj)
            entering = not inside and bool(MATH_LIBRARY.search(os.path.basename(callee_obj)))
            callee_obj = obj
        elif key == "calls":
            after_call = True
            if entering or not inside:
                costs.setdefault(callee, [0, 0])[1] += int(value.split()[0])
    return {name: (cost, calls) for name, (cost, calls) in costs.items() if name}


def label_function(name: str, obj: str) -> str:
    """A function's name; an unnamed one (an address) with its object's file name."""
    if name.startswith("0x"):
        return f"{name} [{os.path.basename(obj)}]"
    return name


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
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # no shadowing
    raise SystemExit(main(sys.argv[1:]))
