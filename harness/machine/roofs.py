"""Which roof a record is judged against: the peak FLOP/s of the precision that ran and the copy
bandwidth of the machine that ran it, both from the cached peaks (``harness peaks``), which the
command showing them reads (``harness.machine.peaks.for_frame``) and passes in.

The precision comes from the record's parameters: ``dtype=bfloat16`` (autocast) is the bf16
peak, ``dtype=float64`` the fp64 peak, ``tf32=true`` on CUDA the TF32 peak (TF32 does nothing on
a CPU), anything else the fp32 peak. The verdicts (``harness.analysis.bottleneck``) and the
roofline plot (``harness.documents.plots``) take their roof from here, so the figure and the
drawing name the same one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PRECISIONS = ("fp32", "tf32", "bf16", "fp64")


@dataclass(frozen=True)
class Roof:
    """One roofline: ``flops`` (peak FLOP/s of ``precision``) and ``bandwidth`` (copy bytes/s,
    read plus written); either is None where the peaks do not hold it."""

    device: str  # "cpu" or "gpu"
    precision: str  # one of PRECISIONS
    flops: float | None
    bandwidth: float | None
    bandwidth_label: str  # "copy bandwidth, 2 threads" / "device copy bandwidth"

    @property
    def peak_name(self) -> str:
        return f"{self.precision} peak"

    @property
    def label(self) -> str:
        return f"{self.device.upper()} {self.precision} roof ({self.bandwidth_label})"


def params_of(params: Any) -> dict[str, Any]:
    """A record's parameters from the summary's canonical JSON (or a dict already)."""
    if isinstance(params, dict):
        return params
    try:
        found = json.loads(str(params))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


def precision_of(params: Any, device: str) -> str:
    """``bf16``, ``fp64``, ``tf32`` or ``fp32``: the arithmetic the run's matmuls used."""
    found = params_of(params)
    dtype = str(found.get("dtype", "float32")).lower()
    if dtype in ("bfloat16", "bf16"):
        return "bf16"
    if dtype in ("float64", "fp64", "double"):
        return "fp64"
    if device == "cuda" and _true(found.get("tf32")):
        return "tf32"
    return "fp32"


def roof_for(peaks: dict[str, Any], device: str, params: Any) -> Roof:
    """The roof of the run's precision on its device, from the cached peaks' keys
    ``<cpu|gpu>_<precision>_flops``, ``<cpu|gpu>_copy_bytes_per_s`` and ``cpu_copy_threads``
    (absent in caches measured before the copy ran on threads: one thread then)."""
    side = "gpu" if device == "cuda" else "cpu"
    precision = precision_of(params, device)
    flops = peaks.get(f"{side}_{precision}_flops")
    bandwidth = peaks.get(f"{side}_copy_bytes_per_s")
    if side == "gpu":
        label = "device copy bandwidth"
    else:
        threads = int(peaks.get("cpu_copy_threads") or 1)
        label = f"copy bandwidth, {threads} thread{'s' if threads != 1 else ''}"
    return Roof(
        side,
        precision,
        float(flops) if flops else None,
        float(bandwidth) if bandwidth else None,
        label,
    )


def faster_precision(roof: Roof) -> str | None:
    """The lower precision that raises this roof, or None where the run already uses bf16."""
    if roof.precision == "bf16":
        return None
    if roof.precision == "fp64":
        return "float32 or bf16"
    if roof.device == "gpu" and roof.precision == "fp32":
        return "bf16 (or TF32)"
    return "bf16 (torch.autocast)" if roof.device == "cpu" else "bf16"
