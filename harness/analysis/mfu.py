"""Model FLOPs utilization: achieved model FLOP/s over the peak of the precision that ran.

MFU = ``metrics.flops_per_step`` ÷ the step's median seconds ÷ peak FLOP/s (Chowdhery et al.
2022, "PaLM", Appendix B: model FLOPs, not hardware FLOPs, so recomputation is not counted; an
FMA is 2 FLOPs). The peak is the *measured* one (``harness peaks``, cached in the results
folder) for the precision the workload ran at: bf16 for ``dtype=bfloat16``, else fp32 (TF32 on
CUDA has no measured peak: only the datasheet figure). On a GPU the datasheet's dense peak is
given beside it, named, where the GPU is in ``DATASHEET``.

Where: stamped on each record by the runner as it is written (``stamp``), because the peaks
live in the results folder of the machine that ran the tasks, not inside the worker (which may
be a container or another node); a record written without cached peaks says why in
``metrics.mfu_peak`` and ``harness peaks`` then a new run fills it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.machine import peaks as peak_cache

#: Dense (no sparsity) peak FLOP/s from the vendors' datasheets: (name, {precision: FLOP/s}).
#: NVIDIA H100/H200 SXM: 989.4 T bf16, 494.7 T TF32, 66.9 T fp32; A100 SXM: 312 T bf16,
#: 156 T TF32, 19.5 T fp32; L4: 121 T bf16, 60 T TF32, 30.3 T fp32.
_HOPPER = {"bf16": 989.4e12, "tf32": 494.7e12, "fp32": 66.9e12}
DATASHEET: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("H200", "NVIDIA H200 SXM datasheet (dense)", _HOPPER),
    ("H100", "NVIDIA H100 SXM datasheet (dense)", _HOPPER),
    ("A100", "NVIDIA A100 SXM datasheet", {"bf16": 312e12, "tf32": 156e12, "fp32": 19.5e12}),
    ("L4", "NVIDIA L4 datasheet (dense)", {"bf16": 121e12, "tf32": 60e12, "fp32": 30.3e12}),
)


def precision_of(params: dict[str, Any], device: str) -> str:
    """``bf16``, ``tf32`` (CUDA with ``tf32=true``) or ``fp32``."""
    if params.get("dtype") == "bfloat16":
        return "bf16"
    if device == "cuda" and params.get("tf32"):
        return "tf32"
    return "fp32"


def datasheet_peak(gpu_name: Any, precision: str) -> tuple[str, float] | None:
    """(source, FLOP/s) of a known GPU's datasheet peak at ``precision``, else None."""
    for key, source, figures in DATASHEET:
        if gpu_name and key in str(gpu_name) and precision in figures:
            return source, figures[precision]
    return None


def mfu_metrics(
    flops_per_step: float,
    step_seconds: float,
    device: str,
    params: dict[str, Any],
    peaks: dict[str, Any],
    gpu_name: Any = None,
) -> dict[str, Any]:
    """``mfu`` (a share, 0..1) over the measured peak named in ``mfu_peak``; on CUDA also
    ``mfu_datasheet`` over ``datasheet_peak``. No peak: ``mfu_peak`` says why, no ``mfu``."""
    precision = precision_of(params, device)
    achieved = flops_per_step / step_seconds
    prefix = "gpu" if device == "cuda" else "cpu"
    out: dict[str, Any] = {"mfu_precision": precision}
    measured = peaks.get(f"{prefix}_{precision}_flops")
    if measured:
        out.update(
            mfu=achieved / float(measured),
            mfu_peak=f"measured {prefix}_{precision}_flops (harness peaks)",
            mfu_peak_flops=float(measured),
        )
    else:
        out["mfu_peak"] = f"no measured {prefix} {precision} peak (run harness peaks)"
    if device == "cuda":
        sheet = datasheet_peak(gpu_name, precision)
        if sheet is not None:
            out.update(mfu_datasheet=achieved / sheet[1], datasheet_peak=sheet[0],
                       datasheet_peak_flops=sheet[1])  # fmt: skip
    return out


def stamp(record: Any, folders: list[Path]) -> None:
    """Add the MFU figures to a successful record that counts its model FLOPs (in place)."""
    flops = record.work.flops_per_step if record.work else None
    step = record.step_median
    if record.status != "ok" or not flops or not step:
        return
    env = record.environment or {}
    found = peak_cache.find(folders, env.get("host"), env.get("cpu_model"),
                            env.get("usable_cores"), env.get("gpu_name"))  # fmt: skip
    record.metrics.update(
        mfu_metrics(flops, step, record.device, record.params, found or {}, env.get("gpu_name"))
    )
