"""Models: the harness's median of ``torch.gpt`` against a bare timed loop of the same model and
steps, and ``torch.gpt``'s CPU MFU against the measured fp32 peak."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

from benchmarks.selfbench.accuracy import paired
from benchmarks.selfbench.common import Row, log, measured_run, run_records, step_median

#: the bare loop: warm-up steps, then blocks of steps timed with the host clock, GC off inside
#: a block as the harness has it (what is compared is the harness's overhead, not GC policy)
BARE_WARMUP, BARE_BLOCKS, BARE_BLOCK_STEPS = 20, 40, 10


def bare_step_median(params: dict, threads: int, seed: int) -> float:
    """Median seconds per step of ``torch.gpt`` in a plain loop (no harness): the same class,
    parameters, seed and thread count, in a fresh process with the thread environment the
    harness's worker gets (so that the two sides differ by the harness alone)."""
    import json
    import os
    import subprocess
    import sys

    from harness.threads import thread_environment

    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.selfbench.models", "--bare", json.dumps(params),
         str(threads), str(seed)],
        capture_output=True, text=True, check=False,
        env={**os.environ, **thread_environment(threads)},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bare loop failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _bare_loop(params: dict, threads: int, seed: int) -> float:
    import gc

    from workloads.torch_gpt import TorchGPTStep

    workload = TorchGPTStep(params, "cpu", seed=seed, threads=threads)
    workload.setup()

    def no_mark(phase: str) -> None:
        pass

    for _ in range(BARE_WARMUP):
        workload.step(no_mark)
    per_step = []
    for _ in range(BARE_BLOCKS):
        gc.disable()
        started = time.perf_counter()
        for _ in range(BARE_BLOCK_STEPS):
            workload.step(no_mark)
        per_step.append((time.perf_counter() - started) / BARE_BLOCK_STEPS)
        gc.enable()
    return statistics.median(per_step)


def measure(quick: bool) -> list[Row]:
    if importlib.util.find_spec("torch") is None:
        return [Row("models", "torch.gpt figures", "not measured", "—", None, "no torch")]
    rounds = 3 if quick else 16
    log(f"models: torch.gpt in the harness and in a bare loop, alternated, {rounds} rounds")
    harness_medians: list[float] = []
    bare_medians: list[float] = []
    # the default suite's torch.gpt (the workload's defaults) on one math thread (two threads on
    # two busy cores vary ±10% between rounds), one fresh process per side and
    # round; each side first in turn, so that the machine's drift reaches both alike
    run = {**measured_run(quick), "suite": "default", "processes": 1, "threads": 1}
    record = None
    for round_index in range(rounds):
        for side in ("harness", "bare")[:: 1 if round_index % 2 == 0 else -1]:
            if side == "harness":
                [record] = run_records(workloads=("torch.gpt",), **run)
                harness_medians.append(step_median(record))
            else:
                assert record is not None  # the first round runs the harness first
                threads = int(record.runtime["num_threads"])
                bare_medians.append(bare_step_median(record.params, threads, record.seed))
    assert record is not None
    ratio, low, high = paired(harness_medians, bare_medians)
    harness_median = statistics.median(harness_medians)
    rows = [
        Row(
            "models",
            "torch.gpt: harness median ÷ bare timed loop (same model, steps, one thread), paired",
            f"{ratio:.3f}",
            "within ±2%",
            abs(ratio - 1) <= 0.02,
            f"95% interval [{low:.3f}, {high:.3f}] over {rounds} alternated rounds, a fresh "
            f"process a side; harness {harness_median * 1e3:.2f} ms, bare loop "
            f"{statistics.median(bare_medians) * 1e3:.2f} ms (median of {BARE_BLOCKS} blocks of "
            f"{BARE_BLOCK_STEPS} steps, GC off in a block)",
        )
    ]
    from harness.analysis import mfu
    from harness.machine import peaks

    cached = peaks.cached(Path("results"))
    found = cached[0] if cached else peaks.measure(Path("results"))[0]
    # MFU at the harness's default threads (every usable core), as the peak is measured
    [record] = run_records(workloads=("torch.gpt",), **{**run, "threads": None})
    harness_median = step_median(record)
    work = record.work
    assert work is not None and work.flops_per_step and work.flops_counter, "torch.gpt counts"
    figures = mfu.mfu_metrics(work.flops_per_step, harness_median, "cpu",
                              record.params, found)  # fmt: skip
    rows.append(
        Row(
            "models",
            f"torch.gpt CPU MFU (model FLOP/s ÷ measured fp32 matmul peak), "
            f"{record.runtime.get('num_threads')} threads",
            f"{figures['mfu']:.1%}" if "mfu" in figures else "no peak",
            "informational",
            None,
            f"{work.flops_per_step / harness_median / 1e9:.1f} GFLOP/s "
            f"against {found.get('cpu_fp32_flops', 0) / 1e9:.1f} GFLOP/s; counter/analytic "
            f"{work.flops_counter / work.flops_per_step:.3f}",
        )
    )
    return rows


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:2] == ["--bare"]:
        print(_bare_loop(json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
