"""What limits each workload: a verdict, the figure that decided it, and one sentence of advice.

- ``input-bound``: the share of the step spent waiting for data (phase ``data``), with
  TensorFlow's input-pipeline analyzer's cut-offs: under 5% not input-bound, 5-20% moderately,
  above 20% highly. Whether decoding or the rest (reading, collation, copies) dominates comes
  from the machine's decode-only rate (``harness peaks``): the data wait against the time the
  batch's images take to decode on the workers that decode them.
- ``compute-bound`` / ``memory-bound``: achieved FLOP/s against the roofline of the measured
  peaks: arithmetic intensity (FLOPs ÷ bytes moved) left of the ridge point (peak FLOP/s ÷
  copy bandwidth) is memory-bound, right of it compute-bound.
- above the roof: on the memory side ``memory-bound (in cache)`` (the working set is served
  from cache, faster than the measured copy bandwidth); on the compute side the figure says the
  peak was measured at a slower moment (``harness peaks --refresh``).
- ``host-bound``: on a GPU, the host's dispatch time per step (the host clock at each phase
  mark) reaches 90% of the device's time (CUDA events): the GPU waits for Python; elsewhere,
  the step reaches under 10% of what the roofline allows: Python, dispatch and small-op
  overhead dominate the kernels.
- pipelines: images/s against the decode-only rate times the workers: ``decode-bound`` at 70%
  of that or more, else ``transform-bound`` (resize, normalize, collate cost more).
- FLOPs without a byte count (Keras): ``compute-bound`` at 50% of the fp32 peak or more, else
  ``not separable`` (memory traffic and overhead cannot be told apart without the bytes).

Computed on the report's summary (DataFrames only) and the cached peaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness import peaks as peak_cache

INPUT_MODERATE, INPUT_HIGH = 0.05, 0.20
HOST_BOUND_SHARE = 0.10
#: with FLOPs but no byte count, only this share of the peak says compute-bound for certain
COMPUTE_BOUND_SHARE = 0.50
HOST_DISPATCH_SHARE = 0.90
#: achieved above this share of the roof: cache (memory side) or a peak measured too low
ABOVE_ROOF = 1.05
DECODE_BOUND_SHARE = 0.70
NO_PEAKS = "not judged: no measured peaks for this machine (run harness peaks)"


def _figure(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def input_verdict(data_s: float, step_s: float, batch: Any, workers: Any,
                  decode_rate: float | None) -> tuple[str, str, str]:  # fmt: skip
    """``decode_rate``: images/s one core decodes at this workload's stored image size."""
    share = data_s / step_s
    figure = f"data wait {share:.0%} of the step"
    if share < INPUT_MODERATE:
        return "not input-bound", figure, "the input pipeline keeps up; look at the model phases"
    level = "highly" if share > INPUT_HIGH else "moderately"
    workers_n = _count(workers)
    cause = ""
    if decode_rate and batch:
        decode_s = float(batch) / (decode_rate * max(1, workers_n))
        cause = (
            "decode dominates"
            if data_s <= 1.5 * decode_s
            else "resize, normalize, collate or reading dominate"
        )
        figure += f"; decoding a batch takes {decode_s * 1e3:.3g} ms on {max(1, workers_n)} core(s)"
    if isinstance(workers, str) and not workers.isdigit():  # tf.data: autotune
        advice = "prefetch more batches, cache() decoded images, or store smaller images"
    elif workers_n == 0:
        advice = "add DataLoader workers (num_workers=2 or more): decoding runs in the step now"
    elif cause == "decode dominates":
        advice = "more workers, or store smaller images (decode cost grows with stored pixels)"
    else:
        advice = "raise prefetch_factor, use pin_memory on CUDA, or cache decoded tensors"
    return f"input-bound ({level}{'; ' + cause if cause else ''})", figure, advice


def roofline_verdict(flops: float, bytes_moved: float | None, seconds: float,
                     peaks: dict[str, Any], device: str) -> tuple[str, str, str]:  # fmt: skip
    prefix = "gpu_" if device == "cuda" else "cpu_"
    peak = peaks.get(f"{prefix}fp32_flops")
    bandwidth = peaks.get(f"{prefix}copy_bytes_per_s")
    achieved = flops / seconds
    if not peak:
        return "not judged", f"{_figure(achieved, 'FLOP/s')}", NO_PEAKS
    if not _has(bytes_moved) or not bandwidth:
        share = achieved / peak
        figure = f"{_figure(achieved, 'FLOP/s')} = {share:.0%} of the fp32 peak (no byte count)"
        if share >= COMPUTE_BOUND_SHARE:
            return "compute-bound", figure, "bf16 or a faster BLAS"
        # without the bytes a phase moves, memory and overhead cannot be told apart
        advice = "the workload counts FLOPs but not bytes: memory traffic or per-step overhead"
        return "not separable", figure, advice
    intensity = flops / float(bytes_moved or 1)
    ridge = peak / bandwidth
    attainable = min(peak, intensity * bandwidth)
    share = achieved / attainable
    figure = (f"{_figure(achieved, 'FLOP/s')} = {share:.0%} of the roofline "
              f"(intensity {intensity:.3g} FLOP/B, ridge {ridge:.3g})")  # fmt: skip
    if share < HOST_BOUND_SHARE:
        advice = "overhead dominates the kernels: larger batch, torch.compile, fewer small ops"
        return "host-bound", figure, advice
    if intensity < ridge:
        if share > ABOVE_ROOF:  # faster than memory allows: the working set is in cache
            advice = (
                "the working set fits in cache, faster than the measured copy bandwidth; "
                "larger sizes will fall to the memory roof"
            )
            return "memory-bound (in cache)", figure + ": above the memory roof", advice
        return "memory-bound", figure, "fewer bytes per FLOP: bf16, channels_last, fusion"
    if share > ABOVE_ROOF:
        figure += ": above the measured peak, so the peak was measured at a slower moment"
        return "compute-bound", figure, "rerun harness peaks --refresh on a quiet machine"
    return "compute-bound", figure, "bf16 (or TF32 on CUDA) raises the ceiling itself"


def dispatch_verdict(host_s: float, device_s: float) -> tuple[str, str, str] | None:
    """On a GPU: host-bound when launching the step's work takes about as long as running it."""
    share = host_s / device_s
    if share < HOST_DISPATCH_SHARE:
        return None
    return (
        "host-bound",
        (
            f"host dispatch {host_s * 1e3:.3g} ms per step = {share:.0%} of the device's "
            f"{device_s * 1e3:.3g} ms"
        ),
        "the GPU waits for Python: larger batch, torch.compile (fewer launches), CUDA graphs",
    )


def pipeline_verdict(rate: float, workers: Any, decode_rate: float | None) -> tuple[str, str, str]:
    if not decode_rate:
        return "not judged", f"{rate:.4g} images/s", NO_PEAKS
    ceiling = decode_rate * max(1, _count(workers))
    share = rate / ceiling
    figure = f"{rate:.4g} images/s = {share:.0%} of decode-only × {max(1, _count(workers))}"
    if share >= DECODE_BOUND_SHARE:
        return "decode-bound", figure, "more workers, or smaller stored images"
    advice = (
        "the work besides decoding (resize, normalize, collate) dominates: keep uint8 until "
        "the device, resize on it, or give it more workers"
    )
    return "transform-bound", figure, advice


def verdicts(summary: pd.DataFrame, folders: list[Path] | None = None) -> pd.DataFrame:
    """One row per (setup, workload, params, device): verdict, figure, advice."""
    if summary.empty:
        return pd.DataFrame()
    rows = []
    keys = ["setup", "workload", "params", "device"]
    for key, group in summary.groupby(keys, sort=False, dropna=False):
        phases = {row["phase"]: row for _, row in group.iterrows()}
        step = phases.get("step")
        if step is None:
            continue
        first = group.iloc[0]
        where = list(folders or [])
        if isinstance(first.get("source"), str):
            where.insert(0, Path(first["source"]).parent)
        where.append(Path("results"))
        peaks = peak_cache.find(where, first.get("host"), first.get("cpu_model"),
                                first.get("usable_cores"), first.get("gpu_name")) or {}  # fmt: skip
        decode_rate = decode_rate_at(peaks, first.get("param_image_size"))
        batch = step["items_per_second"] * step["median_s"] if step["items_per_second"] else None
        dispatched = (
            dispatch_verdict(step["host_seconds"], step["median_s"])
            if key[3] == "cuda" and _has(step.get("host_seconds"))
            else None
        )
        if "data" in phases:
            result = input_verdict(phases["data"]["median_s"], step["median_s"], batch,
                                   step.get("workers"), decode_rate)  # fmt: skip
            if result[0] == "not input-bound" and _has(step.get("flops")):
                model_s = step["median_s"] - phases["data"]["median_s"]
                result = roofline_verdict(step["flops"], step.get("bytes_moved"), model_s,
                                          peaks, key[3])  # fmt: skip
        elif key[1] == "pillow.decode":
            result = ("decode-bound", "the decode-only baseline itself", "")
        elif first.get("kind") == "pipeline" and step["items_per_second"]:
            result = pipeline_verdict(step["items_per_second"], step.get("workers"), decode_rate)
        elif dispatched is not None:
            result = dispatched
        elif _has(step.get("flops")):
            result = roofline_verdict(step["flops"], step.get("bytes_moved"), step["median_s"],
                                      peaks, key[3])  # fmt: skip
        else:
            result = ("not judged", "", "the workload counts no FLOPs or bytes")
        rows.append(dict(zip(keys, key, strict=True), verdict=result[0], figure=result[1],
                         advice=result[2]))  # fmt: skip
    return pd.DataFrame(rows)


def decode_rate_at(peaks: dict[str, Any], side: Any) -> float | None:
    """Images/s one core decodes at ``side``×``side``: the measured rate scaled by pixels
    (JPEG decode cost grows with the pixels stored)."""
    rate, measured_side = peaks.get("decode_images_per_s_per_core"), peaks.get("decode_side")
    if not rate:
        return None
    if not _has(side) or not measured_side:
        return float(rate)
    return float(rate) * (float(measured_side) / float(side)) ** 2


def _count(workers: Any) -> int:
    """Worker processes from the workload's workers parameter (0 where it is not a number)."""
    try:
        return int(float(workers))
    except (TypeError, ValueError):
        return 0


def _has(value: Any) -> bool:
    return value is not None and not pd.isna(value) and float(value) > 0
