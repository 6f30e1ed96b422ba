"""harness gpu-check: prove, in a few minutes on a GPU machine, that the harness measures it
correctly, and keep the figures as this GPU's reference.

The device code lives in ``workloads/gpu_probes.py`` (run in a fresh process, as workloads
are); this module judges what it measured:

- the phases' CUDA-event medians add up to the step's (0.98-1.02 of it);
- CUDA-event timing of a long kernel agrees with synchronized host timing (within 1%);
- the measured bf16 and fp32 matmul throughput and device copy bandwidth against the GPU's
  specification sheet (named in the output): above the sheet means the measurement is wrong,
  far below it means clocks, power capping or throttling;
- ``torch.compile`` does not recompile after the first step;
- CuPy and Keras on the torch backend run on the device.

It writes ``results/reference/<gpu-name>.jsonl`` and prints a one-screen verdict. It has not yet
run on a GPU: its arithmetic is tested on recorded inputs (tests/test_gpu_check.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import UserError

#: NVIDIA's datasheet figures (dense, no sparsity): TFLOP/s and GB/s of device memory
SPEC_SHEETS: list[tuple[str, dict[str, Any]]] = [
    (r"H200", {"bf16_tflops": 989.0, "fp32_tflops": 67.0, "memory_gbps": 4800.0,
               "sheet": "NVIDIA H200 Tensor Core GPU datasheet (SXM)"}),
    (r"H100.*PCIe", {"bf16_tflops": 756.0, "fp32_tflops": 51.0, "memory_gbps": 2000.0,
                     "sheet": "NVIDIA H100 Tensor Core GPU datasheet (PCIe)"}),
    (r"H100", {"bf16_tflops": 989.0, "fp32_tflops": 67.0, "memory_gbps": 3350.0,
               "sheet": "NVIDIA H100 Tensor Core GPU datasheet (SXM)"}),
    (r"A100.*80GB", {"bf16_tflops": 312.0, "fp32_tflops": 19.5, "memory_gbps": 2039.0,
                     "sheet": "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM)"}),
    (r"A100", {"bf16_tflops": 312.0, "fp32_tflops": 19.5, "memory_gbps": 1555.0,
               "sheet": "NVIDIA A100 Tensor Core GPU datasheet (40GB)"}),
    (r"L40S", {"bf16_tflops": 362.0, "fp32_tflops": 91.6, "memory_gbps": 864.0,
               "sheet": "NVIDIA L40S datasheet"}),
    (r"\bL4\b", {"bf16_tflops": 121.0, "fp32_tflops": 30.3, "memory_gbps": 300.0,
                 "sheet": "NVIDIA L4 Tensor Core GPU datasheet"}),
]  # fmt: skip
PHASE_SUM_RANGE = (0.98, 1.02)
EVENT_HOST_TOLERANCE = 0.01
#: achieved ÷ sheet: above the upper bound the measurement is wrong (boost clocks allow a
#: little); below the lower one the GPU is not running as specified
PEAK_RANGE = (0.30, 1.05)


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool | None  # None: information, not judged
    measured: str
    expected: str
    note: str = ""


def spec_sheet(gpu_name: str) -> dict[str, Any] | None:
    for pattern, sheet in SPEC_SHEETS:
        if re.search(pattern, gpu_name, flags=re.IGNORECASE):
            return sheet
    return None


def judge_phase_sum(phase_medians: dict[str, float], step_median: float) -> Verdict:
    ratio = sum(phase_medians.values()) / step_median
    low, high = PHASE_SUM_RANGE
    return Verdict(
        "phases add up to the step (CUDA events)",
        low <= ratio <= high,
        f"{ratio:.3f} × step",
        f"{low}-{high}",
        " + ".join(phase_medians),
    )


def judge_event_timing(event_s: float, host_s: float) -> Verdict:
    error = event_s / host_s - 1
    return Verdict(
        "CUDA events agree with synchronized host time (long kernel)",
        abs(error) <= EVENT_HOST_TOLERANCE,
        f"{error:+.2%}",
        f"within ±{EVENT_HOST_TOLERANCE:.0%}",
        f"events {event_s * 1e3:.2f} ms, host {host_s * 1e3:.2f} ms",
    )


def judge_peak(what: str, achieved: float, sheet: dict[str, Any] | None, key: str,
               unit: str) -> Verdict:  # fmt: skip
    if sheet is None or key not in sheet:
        return Verdict(what, None, f"{achieved:,.1f} {unit}", "no specification sheet known")
    share = achieved / sheet[key]
    low, high = PEAK_RANGE
    note = sheet["sheet"]
    if share > high:
        note += ": above the sheet, so the measurement is wrong"
    elif share < low:
        note += ": far below the sheet (clocks, power cap, throttling, a shared GPU?)"
    return Verdict(
        what,
        low <= share <= high,
        f"{achieved:,.1f} {unit} ({share:.0%} of {sheet[key]:,.0f})",
        f"{low:.0%}-{high:.0%} of the sheet",
        note,
    )


def judge(probes: dict[str, Any], gpu_name: str) -> list[Verdict]:
    """Every verdict from the probes' raw figures (see workloads/gpu_probes.py)."""
    sheet = spec_sheet(gpu_name)
    verdicts = []
    if "phase_medians" in probes:
        verdicts.append(judge_phase_sum(probes["phase_medians"], probes["step_median"]))
    if "event_s" in probes:
        verdicts.append(judge_event_timing(probes["event_s"], probes["host_s"]))
    for key, what, unit, scale in (
        ("bf16_flops", "bf16 matmul throughput", "TFLOP/s", 1e12),
        ("fp32_flops", "fp32 matmul throughput", "TFLOP/s", 1e12),
        ("copy_bytes_per_s", "device copy bandwidth (read + write)", "GB/s", 1e9),
    ):
        if key in probes:
            sheet_key = {"bf16_flops": "bf16_tflops", "fp32_flops": "fp32_tflops"}.get(
                key, "memory_gbps"
            )
            verdicts.append(judge_peak(what, probes[key] / scale, sheet, sheet_key, unit))
    if "recompiles" in probes:
        verdicts.append(
            Verdict(
                "torch.compile: no recompiles after the first step",
                probes["recompiles"] == 0,
                str(probes["recompiles"]),
                "0",
            )
        )
    for name in ("cupy", "keras_torch"):
        if name in probes:
            error = probes[name]
            label = {"cupy": "CuPy on the device", "keras_torch": "Keras (torch backend) on it"}
            verdicts.append(
                Verdict(
                    label[name],
                    error is None,
                    "ran" if error is None else "failed",
                    "runs",
                    error or "",
                )
            )
    return verdicts


def reference_name(gpu_name: str) -> str:
    """``results/reference/<this>.jsonl``: the GPU's name, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", gpu_name).strip("-") or "gpu"


def verdict_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for verdict in verdicts:
        row = asdict(verdict)
        row["result"] = {True: "PASS", False: "FAIL", None: "info"}[verdict.passed]
        rows.append(row)
    return rows


def require_gpu(gpu_names: list[str]) -> None:
    if not gpu_names:
        raise UserError(
            "harness gpu-check measures an NVIDIA GPU and this machine shows none "
            "(nvidia-smi lists none): run it on a GPU machine, or in the CUDA image with "
            "--gpus all."
        )
