"""Efficiency: figures against this machine's own limits (matmul, decode, disk)."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from pathlib import Path

from benchmarks.selfbench.common import (
    FunctionStep,
    Row,
    log,
    measured_run,
    run_records,
    step_median,
)
from harness.analysis.bottleneck import decode_cores
from harness.timer import Timer, TimerSettings


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
        max_time=1.0,
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


def measure(quick: bool) -> list[Row]:
    import importlib.util

    rows = []
    common = {**measured_run(quick), "processes": 1}
    if importlib.util.find_spec("torch") is not None:
        hidden = (512, 512)
        batch = 256
        log("efficiency: torch.mlp against bare matmuls")
        [mlp] = run_records(
            f"batch_size={batch}",
            "hidden=" + "x".join(map(str, hidden)),
            workloads=("torch.mlp",),
            **common,
        )
        threads = int(mlp.runtime["num_threads"])
        achieved = mlp.metrics["achieved_gflops"]
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
        images = ["images_per_class=64", "classes=4", "image_size=128"]
        decode = run_records(*images, workloads=("pillow.decode",), **common)[0]
        decode_rate = (decode.items_per_step or 0) / step_median(decode)
        for workers in (0, 2):
            [loader] = run_records(
                *images, f"num_workers={workers}", workloads=("torch.dataloader",), **common
            )
            rate = (loader.items_per_step or 0) / step_median(loader)
            # the workers decode on the usable cores only (harness.analysis.bottleneck.decode_cores)
            cores = decode_cores(workers, loader.environment.get("usable_cores"))
            ideal = decode_rate * cores
            rows.append(
                Row(
                    "efficiency",
                    f"torch.dataloader (num_workers={workers}) images/s "
                    f"÷ (decode-only × {cores} core(s))",
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
        [ckpt] = run_records(
            "hidden=1024x1024", "features=784", workloads=("torch.checkpoint",), **common
        )
        assert ckpt.work is not None and ckpt.work.bytes, "a checkpoint counts its bytes"
        size = int(ckpt.work.bytes)
        scratch = Path(ckpt.metrics["scratch_dir"]).parent
        write_bw, read_bw = disk_bandwidth(size, scratch)
        for phase, disk, what in (
            ("save", write_bw, "fsync'd write"),
            ("load", read_bw, "cold read"),
        ):
            rate = ckpt.metrics[f"{phase}_gb_per_s"]
            rows.append(
                Row(
                    "efficiency",
                    f"torch.checkpoint {phase} GB/s ÷ disk {what} GB/s",
                    f"{rate / disk:.2f}",
                    "≥ 0.50",
                    rate / disk >= 0.5,
                    f"{rate:.2f} GB/s against {disk:.2f} GB/s, {size / 1e6:.1f} MB on "
                    f"{ckpt.metrics['scratch_filesystem']}",
                )
            )
    else:
        rows.append(
            Row("efficiency", "torch figures", "not measured", "—", None, "torch is not installed")
        )
    return rows
