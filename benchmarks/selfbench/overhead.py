"""Overhead: a step, a phase boundary, and a whole suite run's time outside measurement."""

from __future__ import annotations

import statistics
import time

from benchmarks.selfbench.common import Row, log, run_records
from harness.timer import Timer, TimerSettings
from harness.workload import Mark, Workload


class EmptyStep(Workload):
    name = "selfbench.empty"
    phases = ()

    def step(self, mark: Mark) -> None:
        pass


class ThreeMarks(Workload):
    name = "selfbench.marks"
    phases = ("forward", "backward", "update")

    def step(self, mark: Mark) -> None:
        mark("forward")
        mark("backward")
        mark("update")


def measure(quick: bool) -> list[Row]:
    settings = TimerSettings(
        warmup_time=0.1,
        warmup_max_steps=1000,
        min_time=0.5,
        max_time=0.5,
        min_blocks=20,
        max_blocks=10_000,
        min_block_time=0.01,
    )
    empty, marks = [], []
    for _ in range(5):
        empty.append(statistics.median(Timer(settings).run(EmptyStep({}, "cpu")).samples["step"]))
        marks.append(statistics.median(Timer(settings).run(ThreeMarks({}, "cpu")).samples["step"]))
    step_cost = statistics.median(empty)
    boundary = (statistics.median(marks) - step_cost) / 3
    rows = [
        Row(
            "overhead",
            "cost of one step (empty step, loop included)",
            f"{step_cost * 1e9:.0f} ns",
            "≤ 1000 ns",
            step_cost <= 1e-6,
        ),
        Row(
            "overhead",
            "cost of one phase boundary (mark)",
            f"{boundary * 1e9:.0f} ns",
            "≤ 500 ns",
            boundary <= 5e-7,
        ),
    ]
    suite = "smoke" if quick else "default"
    log(f"overhead: timing a {suite}-suite run")
    started = time.perf_counter()
    records = run_records(suite=suite)
    wall = time.perf_counter() - started
    measured = 0.0
    for r in records:
        if not r.ok or r.timing is None or not r.timing.block_size:
            continue
        measured += sum(r.samples["step"]) * r.timing.block_size
    in_workers = sum(r.wall_s or 0.0 for r in records)
    outside = 1 - measured / wall
    parent = 1 - in_workers / wall
    rows += [
        Row(
            "overhead",
            f"{suite} suite: share of wall time outside measured regions",
            f"{outside:.1%}",
            "informational",
            None,
            f"{wall:.1f} s in all, {measured:.1f} s measured; the rest is process start, "
            "framework import, set-up, first step, warm-up and calibration, per workload",
        ),
        Row(
            "overhead",
            f"{suite} suite: share spent in the parent (planning, launching, writing results)",
            f"{parent:.1%}",
            "≤ 5%",
            parent <= 0.05,
            f"{wall - in_workers:.2f} s of {wall:.1f} s",
        ),
    ]
    return rows
