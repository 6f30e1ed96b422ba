"""Benchmark the harness itself: ``make bench-harness`` writes docs/BENCHMARKS.md.

Every row is a figure measured side by side in one run of this module, on this machine, with
its target and a pass/fail. Sections:

1. accuracy   the harness timer's median against torch.utils.benchmark's blocked_autorange and
              pytest-benchmark on the same function, in the same process, interleaved;
2. overhead   cost of a step and of a phase boundary on a no-op workload; the share of a
              default-suite run spent outside measured regions, and the parent's own share;
3. efficiency MLP-step GFLOP/s against bare matmuls of the same shapes; pipeline images/s
              against the decode-only baseline × workers; checkpoint GB/s against the disk's
              own fsynced write and cold read bandwidth;
4. regression gate: A/A false alarms and the detection rate of injected 5% / 10% slowdowns;
5. containers: the same workload locally and in the CPU container.

Run: python -m harness.selfbench [--output docs/BENCHMARKS.md] [--quick] [--skip SECTION...]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.environment import PROJECT_ROOT, collect
from harness.timer import Timer, TimerSettings
from harness.workload import Mark, Workload

SECTIONS = ("accuracy", "overhead", "efficiency", "gate", "containers")


@dataclass
class Row:
    section: str
    figure: str
    value: str
    target: str
    passed: bool | None  # None: informational, or could not be measured here
    detail: str = ""


def log(message: str) -> None:
    print(f"[selfbench] {message}", file=sys.stderr, flush=True)


def run_harness(*args: str, timeout: float = 1800) -> list[dict[str, Any]]:
    """Run the real CLI in a fresh process; return the records it wrote."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "r.jsonl"
        command = [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--no-progress",
            "--output",
            str(out),
            *args,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, check=False
        )
        if not out.exists():
            raise RuntimeError(f"harness run failed: {done.stderr[-2000:]}")
        return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def step_median(record: dict[str, Any], phase: str = "step") -> float:
    return float(record["summary"][phase]["median"])


# --- 1. accuracy -------------------------------------------------------------------------
class FunctionStep(Workload):
    """Wraps a plain function as a workload with no phases (the harness times the step)."""

    name = "selfbench.function"
    phases = ()

    def __init__(self, function: Callable[[], Any]):
        super().__init__({}, "cpu")
        self.function = function

    def step(self, mark: Mark) -> None:
        self.function()


@functools.lru_cache(maxsize=1)
def accuracy_cases() -> dict[str, Callable[[], Any]]:
    import numpy as np
    import torch

    from workloads.numpy_train import NumpyMLPStep
    from workloads.torch_train import TorchMLPStep

    rng = np.random.default_rng(0)
    cases: dict[str, Callable[[], Any]] = {}
    for size in (64, 256, 512):
        a = rng.standard_normal((size, size)).astype("float32")
        b = rng.standard_normal((size, size)).astype("float32")
        cases[f"numpy matmul {size}x{size}"] = functools.partial(np.matmul, a, b)

    def workload_step(cls: type[Workload], **params: Any) -> Callable[[], Any]:
        values = {p.name: p.default for p in cls.params}
        values.update(params)
        workload = cls(values, "cpu", seed=0, threads=torch.get_num_threads())
        workload.setup()
        return functools.partial(workload.step, lambda phase: None)

    cases["numpy.mlp step"] = workload_step(NumpyMLPStep, batch_size=256)
    cases["torch.mlp step"] = workload_step(TorchMLPStep, batch_size=256, hidden=(256,))
    return cases


PYTEST_FILE = """
import pytest
from harness.selfbench import accuracy_cases

@pytest.mark.parametrize("name", {names!r})
def test_case(benchmark, name):
    benchmark(accuracy_cases()[name])
"""


def pytest_benchmark_medians(names: list[str], min_time: float) -> dict[str, float]:
    import pytest

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pytest.ini").write_text("[pytest]\n")
        test_file = root / f"test_cases_{root.name.replace('-', '_')}.py"  # a fresh module name
        test_file.write_text(PYTEST_FILE.format(names=names))
        out = root / "bench.json"
        with contextlib.redirect_stdout(sys.stderr):
            code = pytest.main(
                [
                    str(test_file),
                    "-q",
                    "-c",
                    str(root / "pytest.ini"),
                    "-p",
                    "no:cacheprovider",
                    "--benchmark-json",
                    str(out),
                    f"--benchmark-min-time={min_time / 20}",
                    f"--benchmark-max-time={min_time}",
                    "--benchmark-min-rounds=10",
                    "--benchmark-disable-gc",
                ]
            )
        if code != 0:
            raise RuntimeError(f"pytest-benchmark run failed with exit code {code}")
        data = json.loads(out.read_text())
    return {b["param"]: b["stats"]["median"] for b in data["benchmarks"]}


def accuracy(quick: bool) -> list[Row]:
    import torch
    import torch.utils.benchmark as torch_benchmark

    min_time = 0.5 if quick else 1.0
    cases = accuracy_cases()
    names = list(cases)
    settings = TimerSettings(
        warmup_time=0.2,
        warmup_max_steps=1000,
        min_time=min_time,
        min_blocks=10,
        max_blocks=10_000,
        min_block_time=0.01,
    )
    harness: dict[str, list[float]] = {n: [] for n in names}
    autorange: dict[str, list[float]] = {n: [] for n in names}
    pytest_runs: dict[str, list[float]] = {n: [] for n in names}
    rounds = 2 if quick else 4

    def time_with_harness() -> None:
        for name, function in cases.items():
            m = Timer(settings).run(FunctionStep(function))
            harness[name].append(statistics.median(m.samples["step"]))

    def time_with_autorange() -> None:
        for name, function in cases.items():
            timer = torch_benchmark.Timer(
                stmt="fn()", globals={"fn": function}, num_threads=torch.get_num_threads()
            )
            autorange[name].append(timer.blocked_autorange(min_run_time=min_time).median)

    def time_with_pytest_benchmark() -> None:
        for name, value in pytest_benchmark_medians(names, min_time).items():
            pytest_runs[name].append(value)

    order = [time_with_harness, time_with_autorange, time_with_pytest_benchmark]
    for round_index in range(rounds):
        # Interleaved, and each timer goes first in turn, so drift reaches all three alike.
        log(f"accuracy round {round_index + 1}/{rounds}")
        for timer_run in order[round_index % 3 :] + order[: round_index % 3]:
            timer_run()
    rows = []

    def spread(values: list[float]) -> str:
        return f"±{(max(values) - min(values)) / 2 / statistics.median(values):.1%}"

    for name in names:
        ours = statistics.median(harness[name])
        for other, values in (
            ("torch blocked_autorange", autorange[name]),
            ("pytest-benchmark", pytest_runs[name]),
        ):
            theirs = statistics.median(values)
            ratio = ours / theirs
            rows.append(
                Row(
                    "accuracy",
                    f"{name}: harness / {other}",
                    f"{ratio:.3f}",
                    "0.97–1.03",
                    0.97 <= ratio <= 1.03,
                    f"harness {ours * 1e6:.2f} µs, {other} {theirs * 1e6:.2f} µs; "
                    f"round-to-round spread: harness {spread(harness[name])}, "
                    f"{other.split()[0]} {spread(values)}",
                )
            )
    return rows


# --- 2. overhead -------------------------------------------------------------------------
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


def overhead(quick: bool) -> list[Row]:
    settings = TimerSettings(
        warmup_time=0.1,
        warmup_max_steps=1000,
        min_time=0.5,
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
    records = run_harness("--suite", suite)
    wall = time.perf_counter() - started
    measured = 0.0
    for r in records:
        if r.get("status") != "ok":
            continue
        block = r["timing"]["block_size"]
        measured += sum(r["samples"]["step"]) * block
        if r.get("host_samples") is None and r["phases"] and r["phase_gap"]["step_s"]:
            pass
    in_workers = sum(r.get("wall_s", 0.0) for r in records)
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


def measured_run(quick: bool) -> list[str]:
    """The smoke suite's single entry per workload, with meaningful measurement settings; the
    caller gives the sizes (the default suite has several entries for some workloads)."""
    return [
        "--suite",
        "smoke",
        "--warmup-time",
        "0.3",
        "--min-time",
        "0.5" if quick else "1.0",
        "--min-blocks",
        "10",
        "--max-blocks",
        "10000",
    ]


# --- 3. efficiency -----------------------------------------------------------------------
def bare_matmul_gflops(batch: int, widths: list[int], threads: int) -> float:
    """GFLOP/s of exactly the matmuls an MLP training step does, with torch.mm."""
    import torch

    torch.set_num_threads(threads)
    shapes = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        shapes.append(((batch, a), (a, b)))  # forward x·W
        shapes.append(((a, batch), (batch, b)))  # weight grad xᵀ·dY
        if i > 0:
            shapes.append(((batch, b), (b, a)))  # input grad dY·Wᵀ
    pairs = [(torch.randn(*s1), torch.randn(*s2)) for s1, s2 in shapes]
    flops = sum(2 * s1[0] * s1[1] * s2[1] for s1, s2 in shapes)

    def run() -> None:
        for x, y in pairs:
            torch.mm(x, y)

    settings = TimerSettings(
        warmup_time=0.2,
        warmup_max_steps=100,
        min_time=1.0,
        min_blocks=10,
        max_blocks=10_000,
        min_block_time=0.02,
    )
    median = statistics.median(Timer(settings).run(FunctionStep(run)).samples["step"])
    return flops / median / 1e9


def disk_bandwidth(size: int, folder: Path) -> tuple[float, float]:
    """fsync'd write and cold (evicted) read bandwidth in GB/s for a file of ``size`` bytes."""
    from workloads.checkpoint_files import evict

    payload = os.urandom(size)
    buffer = bytearray(size)
    path = folder / "disk-probe.bin"
    writes, reads = [], []
    for _ in range(5):
        start = time.perf_counter()
        with open(path, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        writes.append(time.perf_counter() - start)
        evict(path)
        start = time.perf_counter()
        with open(path, "rb", buffering=0) as handle:
            view = memoryview(buffer)
            while view:  # 1 MiB reads into a preallocated buffer
                count = handle.readinto(view[: 2**20])
                if not count:
                    break
                view = view[count:]
        reads.append(time.perf_counter() - start)
    path.unlink()
    return size / statistics.median(writes) / 1e9, size / statistics.median(reads) / 1e9


def efficiency(quick: bool) -> list[Row]:
    import importlib.util

    rows = []
    common = [*measured_run(quick), "--processes", "1"]
    if importlib.util.find_spec("torch") is not None:
        hidden = (512, 512)
        batch = 256
        log("efficiency: torch.mlp against bare matmuls")
        [mlp] = run_harness(
            *common,
            "--workload",
            "torch.mlp",
            "--param",
            f"batch_size={batch}",
            "--param",
            "hidden=" + "x".join(map(str, hidden)),
        )
        threads = int(mlp["runtime"]["num_threads"])
        achieved = mlp["metrics"]["achieved_gflops"]
        bare = bare_matmul_gflops(batch, [784, *hidden, 10], threads)
        rows.append(
            Row(
                "efficiency",
                "torch.mlp step GFLOP/s ÷ bare torch.mm GFLOP/s (same shapes)",
                f"{achieved / bare:.2f}",
                "≥ 0.60",
                achieved / bare >= 0.6,
                f"step {achieved:.1f} GFLOP/s, matmuls alone {bare:.1f} GFLOP/s, {threads} threads",
            )
        )
        log("efficiency: pipeline against decode-only")
        images = [
            "--param",
            "images_per_class=64",
            "--param",
            "classes=4",
            "--param",
            "image_size=128",
        ]
        decode = run_harness(*common, "--workload", "pillow.decode", *images)[0]
        decode_rate = decode["items_per_step"] / step_median(decode)
        for workers in (0, 2):
            [loader] = run_harness(
                *common,
                "--workload",
                "torch.dataloader",
                *images,
                "--param",
                f"num_workers={workers}",
            )
            rate = loader["items_per_step"] / step_median(loader)
            ideal = decode_rate * max(1, workers)
            rows.append(
                Row(
                    "efficiency",
                    f"torch.dataloader (num_workers={workers}) images/s "
                    f"÷ (decode-only × {max(1, workers)})",
                    f"{rate / ideal:.2f}",
                    "≥ 0.40",
                    rate / ideal >= 0.4,
                    f"{rate:.0f} images/s against decode-only {decode_rate:.0f} "
                    "images/s; the pipeline also resizes, normalizes and batches"
                    + (
                        f", and its {workers} workers share {os.cpu_count()} cores with the "
                        "main process"
                        if workers
                        else ""
                    ),
                )
            )
        log("efficiency: checkpoint against the disk")
        [ckpt] = run_harness(
            *common,
            "--workload",
            "torch.checkpoint",
            "--param",
            "hidden=1024x1024",
            "--param",
            "features=784",
        )
        size = int(ckpt["metrics"]["bytes"])
        scratch = Path(ckpt["metrics"]["scratch_dir"]).parent
        write_bw, read_bw = disk_bandwidth(size, scratch)
        for phase, disk, what in (
            ("save", write_bw, "fsync'd write"),
            ("load", read_bw, "cold read"),
        ):
            rate = ckpt["metrics"][f"{phase}_gb_per_s"]
            rows.append(
                Row(
                    "efficiency",
                    f"torch.checkpoint {phase} GB/s ÷ disk {what} GB/s",
                    f"{rate / disk:.2f}",
                    "≥ 0.50",
                    rate / disk >= 0.5,
                    f"{rate:.2f} GB/s against {disk:.2f} GB/s, {size / 1e6:.1f} MB on "
                    f"{ckpt['metrics']['scratch_filesystem']}",
                )
            )
    else:
        rows.append(
            Row("efficiency", "torch figures", "not measured", "—", None, "torch is not installed")
        )
    return rows


# --- 4. the regression gate ---------------------------------------------------------------
def gate(quick: bool) -> list[Row]:
    import pandas as pd

    from harness.compare import compare_frames
    from harness.results import frame_from_records

    base_us = 200.0
    comparisons = 10 if quick else 20
    per_run = 3
    values = {"A/A": base_us, "5%": round(base_us * 1.05, 6), "10%": round(base_us * 1.10, 6)}
    log(f"gate: {comparisons} comparisons each, {per_run} processes per run")
    records = run_harness(
        "--suite",
        "smoke",
        "--workload",
        "harness.noop",
        "--param",
        "extra_work_us=" + ",".join(f"{v:g}" for v in values.values()),
        "--processes",
        str(per_run * (comparisons + 1)),
        "--min-time",
        "0.2",
        "--min-blocks",
        "10",
        "--max-blocks",
        "1000",
        "--warmup-time",
        "0.05",
    )
    frame = frame_from_records(records)
    frame = frame[frame["phase"] == "step"]

    def run_frame(extra: float, run: int) -> pd.DataFrame:
        mask = (frame["param_extra_work_us"] == extra) & (frame["process"] // per_run == run)
        part = frame[mask].copy()
        part["params"] = "{}"  # the same workload on both sides of a comparison
        return part

    rows = []
    for name, extra in values.items():
        flagged = 0
        for i in range(comparisons):
            baseline = run_frame(base_us, i)
            candidate = run_frame(extra, i + 1 if name == "A/A" else i)
            result = compare_frames(baseline, candidate)
            flagged += int(not result.regressions.empty)
        rate = flagged / comparisons
        if name == "A/A":
            rows.append(
                Row(
                    "gate",
                    f"A/A false alarms ({comparisons} comparisons of harness.noop with itself)",
                    f"{flagged}/{comparisons}",
                    "0",
                    flagged == 0,
                )
            )
        else:
            target = "≥ 95%" if name == "10%" else "informational"
            rows.append(
                Row(
                    "gate",
                    f"detection of an injected {name} slowdown",
                    f"{rate:.0%}",
                    target,
                    rate >= 0.95 if name == "10%" else None,
                    f"{flagged}/{comparisons} flagged; calibrated busy-wait "
                    f"{base_us:g} → {extra:g} µs per step; the default minimum "
                    "effect is 5%",
                )
            )
    return rows


# --- 5. containers -----------------------------------------------------------------------
def containers(quick: bool) -> list[Row]:
    from harness.errors import UserError
    from harness.images import image_exists
    from harness.launch.docker import docker_client

    try:
        client = docker_client()
    except UserError as error:
        return [
            Row("containers", "local ÷ CPU container", "not measured", "≤ 1.05", None, str(error))
        ]
    if not image_exists(client, "harness:cpu"):
        return [
            Row(
                "containers",
                "local ÷ CPU container",
                "not measured",
                "≤ 1.05",
                None,
                "harness:cpu is not built (make images)",
            )
        ]
    rows = []
    sizes = {
        "numpy.mlp": [
            "--param",
            "batch_size=256",
            "--param",
            "features=784",
            "--param",
            "hidden=256",
        ],
        "torch.mlp": ["--param", "batch_size=256", "--param", "hidden=256"],
    }
    for workload, params in sizes.items():
        args = [*measured_run(quick), "--workload", workload, "--processes", "3", *params]
        log(f"containers: {workload} local and in harness:cpu")
        local = run_harness(*args)
        docker = run_harness(*args, "--launcher", "docker", "--image", "cpu")
        local_median = statistics.median(v for r in local for v in r["samples"]["step"])
        docker_median = statistics.median(v for r in docker for v in r["samples"]["step"])
        ratio = docker_median / local_median
        rows.append(
            Row(
                "containers",
                f"{workload}: CPU container median ÷ local median",
                f"{ratio:.3f}",
                "≤ 1.05",
                ratio <= 1.05,
                f"local {local_median * 1e3:.3f} ms, container "
                f"{docker_median * 1e3:.3f} ms, 3 processes each",
            )
        )
    return rows


METHOD = """
## Method

- **Accuracy.** Each function (NumPy matmuls, the NumPy MLP step, a torch MLP step) is timed
  in one process by the harness's `Timer`, by `torch.utils.benchmark.Timer.blocked_autorange`
  (with the same thread count) and by pytest-benchmark (`pytest.main` in the same process),
  interleaved over several rounds so that drift in the machine's speed reaches all three alike.
  The figure is the ratio of medians. All three time the same Python callable; agreement within
  3% says the harness's blocks, GC handling and clock use add no bias. Each row also gives
  every timer's round-to-round spread: the machine's noise floor for that kernel. A ratio
  outside the band by no more than that spread is noise, not bias; small multi-threaded BLAS
  kernels are the noisiest on a shared 2-core machine.
- **Overhead.** An empty step and a step with three `mark` calls, timed by the harness itself:
  the difference over three is the cost of a phase boundary. A whole suite run is timed from
  outside; the measured regions are the blocks' own seconds (sum of samples × block size).
  The parent's share is the wall time not spent inside worker processes.
- **Efficiency.** `torch.mlp` (fresh process, the real CLI) is compared with `torch.mm` on
  exactly the matmuls its step performs (forward, weight gradients, input gradients), with the
  worker's thread count. The DataLoader's images/s is compared with the decode-only Pillow loop
  over the same files times the number of workers. Checkpoint save/load GB/s are compared with
  an fsync'd write and a cold read (page cache evicted with `POSIX_FADV_DONTNEED`) of a file of
  the same size in the same folder, measured in this run (1 MiB reads into a preallocated
  buffer). On a virtual machine the "disk" may be served from the host's cache; a ratio above 1
  says the checkpoint reader beats that plain read loop, not the device.
- **Regression gate.** `harness.noop` with `extra_work_us` busy-waits for a calibrated time per
  step; one `harness run` produces many processes per setting, grouped three per "run". A/A
  compares run *i* with run *i+1* of the same setting; detection compares run *i* of the base
  with run *i* of the slowed setting. Verdicts come from `harness compare`'s own code.
- **Containers.** The same workload and parameters, three fresh processes each, locally and in
  `harness:cpu`; the ratio of the medians of all block samples.

Figures are ratios measured in one run on one machine, never absolute targets in tests: the
machines are shared and noisy, so a row can fail on a busy machine; rerun `make bench-harness`.
"""


def render(rows: list[Row], environment: dict[str, Any], elapsed: float) -> str:
    lines = [
        "# Benchmarks of the harness itself",
        "",
        f"Written by `make bench-harness` (`python -m harness.selfbench`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {elapsed:.0f} s.",
        "",
        f"Machine: {environment['cpu_model']}, {environment['usable_cores']} usable cores, "
        f"{(environment['memory_bytes'] or 0) / 2**30:.0f} GiB, {environment['os_release']}, "
        f"Python {environment['python']}; GPU: {environment['gpu_name'] or 'none'}; "
        f"packages: " + ", ".join(f"{k} {v}" for k, v in environment["packages"].items()) + ".",
        "",
    ]
    for section in SECTIONS:
        chosen = [r for r in rows if r.section == section]
        if not chosen:
            continue
        lines += [
            f"## {section.capitalize()}",
            "",
            "| figure | value | target | result | detail |",
            "|---|---|---|---|---|",
        ]
        for r in chosen:
            verdict = {True: "pass", False: "**fail**", None: "—"}[r.passed]
            lines.append(f"| {r.figure} | {r.value} | {r.target} | {verdict} | {r.detail} |")
        lines.append("")
    return "\n".join(lines) + METHOD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.selfbench")
    parser.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="fewer rounds and comparisons")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    for section in SECTIONS:
        if section in args.skip:
            continue
        log(f"section {section}")
        try:
            rows += globals()[section](args.quick)
        except Exception as error:  # a section that cannot run is reported, not hidden
            rows.append(
                Row(
                    section,
                    f"{section} section",
                    "not measured",
                    "—",
                    False,
                    f"{type(error).__name__}: {error}",
                )
            )
    text = render(rows, collect(), time.perf_counter() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    failed = [r for r in rows if r.passed is False]
    log(f"{len(rows)} figures, {len(failed)} failed; written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
