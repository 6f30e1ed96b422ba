"""What limits each workload: a verdict, the figure that decided it, and one sentence of advice.

- ``input-bound``: the share of the step spent waiting for data (phase ``data``), with
  TensorFlow's input-pipeline analyzer's cut-offs: under 5% not input-bound, 5-20% moderately,
  above 20% highly. Whether decoding or the rest (reading, collation, copies) dominates comes
  from the machine's decode-only rate (``harness peaks``): the data wait against the time the
  batch's images take to decode on the cores that decode them (``decode_cores``). More
  workers are advised only where spare usable cores remain (one runs the main loop).
- ``compute-bound`` / ``memory-bound``: achieved FLOP/s against the roofline of the measured
  peaks of the precision that ran (``harness.machine.roofs``: fp32, TF32, bf16 or fp64 from the
  record's ``dtype`` and ``tf32``): arithmetic intensity (FLOPs ÷ bytes moved) left of the
  ridge point (that peak ÷ copy bandwidth) is memory-bound, right of it compute-bound. The
  figure names the roof.
- above the roof: on the memory side ``memory-bound (in cache)`` (the working set is served
  from cache, faster than the measured copy bandwidth); on the compute side the figure says the
  peak was measured at a slower moment (``harness peaks --refresh``).
- ``host-bound``: on a GPU, the host's dispatch time per step (the host clock at each phase
  mark, the median over every process) reaches 90% of the device's time per step (the phases'
  CUDA-event medians): the GPU waits for Python; elsewhere, the step reaches under 10% of what
  the roofline allows: Python, dispatch and small-op overhead dominate the kernels.
- pipelines: images/s against the decode-only rate times the cores that decode (the workers
  up to the usable cores; every usable core where the framework chooses): ``decode-bound`` at
  70% of that or more, else ``transform-bound`` (resize, normalize, collate cost more).
- FLOPs without a byte count (Keras): ``compute-bound`` at 50% of the peak or more, else
  ``not separable`` (memory traffic and overhead cannot be told apart without the bytes).

Computed on the report's summary (DataFrames only) and the cached peaks.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.machine import roofs
from harness.machine.peaks import MachinePeaks

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


def decode_cores(workers: Any, usable_cores: Any) -> int:
    """Cores that decode images: a number of workers (DataLoader processes, tf.data parallel
    calls) up to the usable cores, one where the loop decodes (``num_workers=0``), every
    usable core where the framework chooses (``autotune``, ``image_dataset_from_directory``:
    no workers parameter). Usable cores unknown (older records): the workers as declared."""
    cores = _count(usable_cores)
    if _chosen(workers):
        return max(1, cores)
    declared = max(1, _count(workers))
    return min(declared, cores) if cores else declared


def spare_cores(workers: Any, usable_cores: Any) -> int | None:
    """Usable cores left for more workers (one runs the main loop), or None where unknown."""
    cores = _count(usable_cores)
    if not cores:
        return None
    return max(0, cores - 1 - _count(workers))


def _cores_text(cores: int) -> str:
    return f"{cores} core{'s' if cores != 1 else ''}"


def input_verdict(
    data_s: float,
    step_s: float,
    batch: Any,
    workers: Any,
    decode_rate: float | None,
    usable_cores: Any = None,
) -> tuple[str, str, str]:
    """``decode_rate``: images/s one core decodes at this workload's stored image size;
    ``usable_cores``: the cores the record's process could use (its environment)."""
    share = data_s / step_s
    figure = f"data wait {share:.0%} of the step"
    if share < INPUT_MODERATE:
        return "not input-bound", figure, "the input pipeline keeps up; look at the model phases"
    level = "highly" if share > INPUT_HIGH else "moderately"
    cores = decode_cores(workers, usable_cores)
    spare = spare_cores(workers, usable_cores)
    cause = ""
    if decode_rate and batch:
        decode_s = float(batch) / (decode_rate * cores)
        cause = (
            "decode dominates"
            if data_s <= 1.5 * decode_s
            else "resize, normalize, collate or reading dominate"
        )
        figure += f"; decoding a batch takes {decode_s * 1e3:.3g} ms on {_cores_text(cores)}"
    if _chosen(workers):  # the framework chooses its parallelism: every usable core
        advice = "prefetch more batches, cache() decoded images, or store smaller images"
    elif spare is not None and spare < 1:
        usable = _cores_text(_count(usable_cores))
        advice = f"no spare core for more workers ({usable} usable): store smaller images, or "
        advice += "cache decoded tensors"
    elif _count(workers) == 0:
        most = "1 or more" if spare is None else ("1" if spare == 1 else f"1 to {spare}")
        advice = f"add DataLoader workers (num_workers={most}): decoding runs in the step now"
    elif cause == "decode dominates":
        advice = "more workers, or store smaller images (decode cost grows with stored pixels)"
    else:
        advice = "raise prefetch_factor, use pin_memory on CUDA, or cache decoded tensors"
    return f"input-bound ({level}{'; ' + cause if cause else ''})", figure, advice


def host_advice(framework: str | None, params: Any) -> str:
    """What lowers per-step overhead, for the framework that ran (no torch.compile advice to a
    NumPy loop or to a run already compiled)."""
    compiled = str((params or {}).get("compile", "")).lower() in ("true", "1")
    if framework in ("numpy", "python", "pillow"):
        return "overhead dominates the kernels: larger batch, fewer Python-level operations"
    if framework == "torch":
        tool = "CUDA graphs" if compiled else "torch.compile"
        return f"overhead dominates the kernels: larger batch, {tool}, fewer small ops"
    if framework in ("keras", "tensorflow"):
        return "overhead dominates the kernels: larger batch, jit_compile, steps_per_execution"
    return "overhead dominates the kernels: larger batch, fewer small ops"


def roofline_verdict(flops: float, bytes_moved: float | None, seconds: float,
                     peaks: dict[str, Any], device: str, params: Any = None,
                     framework: str | None = None) -> tuple[str, str, str]:  # fmt: skip
    """Achieved FLOP/s against the roof of the precision that ran (``harness.machine.roofs``: the
    record's ``dtype`` and ``tf32`` parameters); the figure names that roof."""
    roof = roofs.roof_for(peaks, device, params or {})
    achieved = flops / seconds
    faster = roofs.faster_precision(roof)
    if not roof.flops:
        if not peaks:
            return "not judged", f"{_figure(achieved, 'FLOP/s')}", NO_PEAKS
        advice = (
            f"not judged: no measured {roof.peak_name} for this machine (harness peaks --refresh)"
        )
        return "not judged", f"{_figure(achieved, 'FLOP/s')}", advice
    if not _has(bytes_moved) or not roof.bandwidth:
        share = achieved / roof.flops
        figure = (
            f"{_figure(achieved, 'FLOP/s')} = {share:.0%} of the {roof.peak_name} (no byte count)"
        )
        if share >= COMPUTE_BOUND_SHARE:
            advice = f"{faster} or a faster BLAS" if faster else "a faster BLAS, larger matmuls"
            return "compute-bound", figure, advice
        # without the bytes a phase moves, memory and overhead cannot be told apart
        advice = "the workload counts FLOPs but not bytes: memory traffic or per-step overhead"
        return "not separable", figure, advice
    intensity = flops / float(bytes_moved or 1)
    ridge = roof.flops / roof.bandwidth
    attainable = min(roof.flops, intensity * roof.bandwidth)
    share = achieved / attainable
    figure = (f"{_figure(achieved, 'FLOP/s')} = {share:.0%} of the {roof.precision} roofline "
              f"(intensity {intensity:.3g} FLOP/B, ridge {ridge:.3g}: {roof.peak_name} ÷ "
              f"{roof.bandwidth_label})")  # fmt: skip
    if share < HOST_BOUND_SHARE:
        return "host-bound", figure, host_advice(framework, _params_of(params))
    if intensity < ridge:
        if share > ABOVE_ROOF:  # faster than memory allows: the working set is in cache
            advice = (
                "the working set fits in cache, faster than the measured copy bandwidth; "
                "larger sizes will fall to the memory roof"
            )
            return "memory-bound (in cache)", figure + ": above the memory roof", advice
        fewer = (
            f"{faster}, channels_last, fusion" if faster else "channels_last, fusion, larger batch"
        )
        return "memory-bound", figure, f"fewer bytes per FLOP: {fewer}"
    if share > ABOVE_ROOF:
        figure += (
            f": above the measured {roof.peak_name}, so the peak was measured at a slower moment"
        )
        return "compute-bound", figure, "rerun harness peaks --refresh on a quiet machine"
    if faster:
        return "compute-bound", figure, f"{faster} raises the ceiling itself"
    return "compute-bound", figure, "already bf16: larger matmuls (batch, widths) or fusion"


def dispatch_verdict(host_s: float, device_s: float) -> tuple[str, str, str] | None:
    """On a GPU: host-bound when launching the step's work takes about as long as running it.
    ``host_s``: the host's dispatch time per step (host clock at the phase marks);
    ``device_s``: the device's time per step (CUDA events, the phases' sum)."""
    share = host_s / device_s
    if share < HOST_DISPATCH_SHARE:
        return None
    return (
        "host-bound",
        (
            f"host dispatch {host_s * 1e3:.3g} ms per step = {share:.0%} of the device's "
            f"{device_s * 1e3:.3g} ms (CUDA events)"
        ),
        "the GPU waits for Python: larger batch, torch.compile (fewer launches), CUDA graphs",
    )


def pipeline_verdict(rate: float, workers: Any, decode_rate: float | None,
                     usable_cores: Any = None) -> tuple[str, str, str]:  # fmt: skip
    """Images/s against decode-only × the cores that decode (``decode_cores``)."""
    if not decode_rate:
        return "not judged", f"{rate:.4g} images/s", NO_PEAKS
    cores = decode_cores(workers, usable_cores)
    share = rate / (decode_rate * cores)
    figure = f"{rate:.4g} images/s = {share:.0%} of decode-only × {_cores_text(cores)}"
    spare = spare_cores(workers, usable_cores)
    more = not _chosen(workers) and (spare is None or spare >= 1)
    if share >= DECODE_BOUND_SHARE:
        advice = "more workers, or smaller stored images" if more else "smaller stored images"
        return "decode-bound", figure, advice
    advice = (
        "the work besides decoding (resize, normalize, collate) dominates: keep uint8 until "
        "the device, resize on it" + (", or give it more workers" if more else "")
    )
    return "transform-bound", figure, advice


def verdicts(summary: pd.DataFrame, machine_peaks: MachinePeaks) -> pd.DataFrame:
    """One row per (setup, workload, params, device): verdict, figure, advice, against the
    peaks of the machine each ran on (``harness.machine.peaks.for_frame``)."""
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
        peaks = machine_peaks.of(first)
        decode_rate = decode_rate_at(peaks, first.get("param_image_size"))
        cores = first.get("usable_cores")
        batch = step["items_per_second"] * step["median_s"] if step["items_per_second"] else None
        # device time per step: the phases' CUDA-event medians over every process
        device_s = sum(float(r["median_s"]) for p, r in phases.items() if p != "step")
        dispatched = (
            dispatch_verdict(step["host_seconds"], device_s)
            if key[3] == "cuda" and _has(step.get("host_seconds")) and device_s > 0
            else None
        )
        if "data" in phases:
            result = input_verdict(phases["data"]["median_s"], step["median_s"], batch,
                                   step.get("workers"), decode_rate, cores)  # fmt: skip
            if result[0] == "not input-bound" and _has(step.get("flops")):
                model_s = step["median_s"] - phases["data"]["median_s"]
                result = roofline_verdict(step["flops"], step.get("bytes_moved"), model_s,
                                          peaks, key[3], key[2],
                                          first.get("framework"))  # fmt: skip
        elif key[1] == "pillow.decode":
            result = ("decode-bound", "the decode-only baseline itself", "")
        elif first.get("kind") == "pipeline" and step["items_per_second"]:
            result = pipeline_verdict(step["items_per_second"], step.get("workers"), decode_rate,
                                      cores)  # fmt: skip
        elif dispatched is not None:
            result = dispatched
        elif _has(step.get("flops")):
            result = roofline_verdict(step["flops"], step.get("bytes_moved"), step["median_s"],
                                      peaks, key[3], key[2], first.get("framework"))  # fmt: skip
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


def _chosen(workers: Any) -> bool:
    """The framework chooses the parallelism (``autotune``, or no workers parameter)."""
    if workers is None or (isinstance(workers, float) and pd.isna(workers)):
        return True
    return isinstance(workers, str) and not workers.strip().isdigit()


def _has(value: Any) -> bool:
    return value is not None and not pd.isna(value) and float(value) > 0


def _params_of(params: Any) -> dict[str, Any]:
    """Parameters as a dict, from the canonical JSON the summary keeps (or a dict already)."""
    if isinstance(params, dict):
        return params
    try:
        import json

        found = json.loads(params) if isinstance(params, str) else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
