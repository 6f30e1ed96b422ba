"""The framework profilers of the profiling worker: torch.profiler, the TensorFlow profiler,
cProfile. Each runs the workload's steps cut into segments and returns per-step rows."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

if __package__:  # imported as part of a harness checkout
    from harness.profiling.profile_segments import (
        AFTER,
        OUTSIDE,
        Totals,
        add,
        numbered,
        per_step,
        run_segments,
        segment_of,
    )
else:  # run as a file (profile_worker.py): its folder, first on the path, holds these
    from profile_segments import (  # type: ignore[no-redef]
        AFTER,
        OUTSIDE,
        Totals,
        add,
        numbered,
        per_step,
        run_segments,
        segment_of,
    )


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
