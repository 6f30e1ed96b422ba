"""Models: the harness's median of ``torch.gpt`` against a bare timed loop of the same model and
steps, and ``torch.gpt``'s CPU MFU against the measured fp32 peak."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

from benchmarks.selfbench.accuracy import paired
from benchmarks.selfbench.common import Row, log, measured_run, run_records, step_median

#: the bare loop: steps after a warm-up, each timed alone with the host clock
BARE_WARMUP, BARE_STEPS = 5, 40


def bare_step_median(params: dict, threads: int, seed: int) -> float:
    """Median seconds of one ``torch.gpt`` training step in a plain loop (no harness): the same
    class, parameters, seed and thread count, in this process."""
    from workloads.torch_gpt import TorchGPTStep

    workload = TorchGPTStep(params, "cpu", seed=seed, threads=threads)
    workload.setup()
    for _ in range(BARE_WARMUP):
        workload.step(lambda phase: None)
    times = []
    for _ in range(BARE_STEPS):
        started = time.perf_counter()
        workload.step(lambda phase: None)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(quick: bool) -> list[Row]:
    if importlib.util.find_spec("torch") is None:
        return [Row("models", "torch.gpt figures", "not measured", "—", None, "no torch")]
    rounds = 3 if quick else 6
    log(f"models: torch.gpt in the harness, then in a bare loop, {rounds} rounds")
    harness_medians: list[float] = []
    bare_medians: list[float] = []
    for _ in range(rounds):  # alternated, so that the machine's drift reaches both alike
        [record] = run_records(workloads=("torch.gpt",), **{**measured_run(quick), "processes": 1})
        harness_medians.append(step_median(record))
        bare_medians.append(
            bare_step_median(record.params, int(record.runtime["num_threads"]), record.seed)
        )
    ratio, low, high = paired(harness_medians, bare_medians)
    harness_median = statistics.median(harness_medians)
    rows = [
        Row(
            "models",
            "torch.gpt: harness median ÷ bare timed loop (same model, steps, threads), paired",
            f"{ratio:.3f}",
            "within ±2%",
            abs(ratio - 1) <= 0.02,
            f"95% interval [{low:.3f}, {high:.3f}] over {rounds} alternated rounds; harness "
            f"{harness_median * 1e3:.2f} ms, bare loop {statistics.median(bare_medians) * 1e3:.2f}"
            f" ms (median of {BARE_STEPS} steps)",
        )
    ]
    from harness.analysis import mfu
    from harness.machine import peaks

    cached = peaks.cached(Path("results"))
    found = cached[0] if cached else peaks.measure(Path("results"))[0]
    work = record.work
    assert work is not None and work.flops_per_step and work.flops_counter, "torch.gpt counts"
    figures = mfu.mfu_metrics(work.flops_per_step, harness_median, "cpu",
                              record.params, found)  # fmt: skip
    rows.append(
        Row(
            "models",
            "torch.gpt CPU MFU (model FLOP/s ÷ measured fp32 matmul peak)",
            f"{figures['mfu']:.1%}" if "mfu" in figures else "no peak",
            "informational",
            None,
            f"{work.flops_per_step / harness_median / 1e9:.1f} GFLOP/s "
            f"against {found.get('cpu_fp32_flops', 0) / 1e9:.1f} GFLOP/s; counter/analytic "
            f"{work.flops_counter / work.flops_per_step:.3f}",
        )
    )
    return rows
