"""harness gpu-check: prove, in a few minutes on a GPU machine, that the harness measures it
correctly, and keep the figures as this GPU's reference.

The device code lives in ``workloads/gpu_probes.py`` (run in a fresh process, as workloads
are); this module judges what it measured:

- the phases' CUDA-event medians add up to the step's (0.98-1.02 of it), for each
  ``torch.mlp`` entry of the ``gpu`` suite (fp32, TF32, bf16), each its own row;
- CUDA-event timing of a long kernel agrees with synchronized host timing (within 1%);
- the measured bf16 and fp32 matmul throughput and device copy bandwidth against the GPU's
  specification sheet (named in the output): above the sheet means the measurement is wrong,
  far below it means clocks, power capping or throttling;
- ``torch.compile`` does not recompile after the first step;
- CuPy and Keras on the torch backend run on the device (skipped, with the reason, where the
  package is absent).

A probe that raises, or a probe process that dies, is a FAIL row with the error: no check
disappears from the table.

It writes ``results/reference/<gpu-name>.jsonl`` and prints a one-screen verdict. It has not yet
run on a GPU: its arithmetic is tested on recorded inputs (tests/test_gpu_check.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import UserError

#: NVIDIA's datasheet figures, keyed by the product name exactly as NVML and nvidia-smi give it
#: (matched by ``spec_sheet`` after ``normalise_gpu_name``): TFLOP/s dense (the sheets print
#: the tensor-core figures with 2:4 sparsity; dense is half) and GB/s of device memory. A name
#: not here (another board, a MIG slice) has no sheet: its figures are shown, not judged.
_HOPPER_SXM = {"fp32_tflops": 67.0, "tf32_tflops": 494.5, "bf16_tflops": 989.5}
_HOPPER_NVL = {"fp32_tflops": 60.0, "tf32_tflops": 417.5, "bf16_tflops": 835.5}
_AMPERE_A100 = {"fp32_tflops": 19.5, "tf32_tflops": 156.0, "bf16_tflops": 312.0}
_H100_SHEET = "NVIDIA H100 Tensor Core GPU datasheet"
_H200_SHEET = "NVIDIA H200 Tensor Core GPU datasheet"
_A100_SHEET = "NVIDIA A100 Tensor Core GPU datasheet"
SPEC_SHEETS: dict[str, dict[str, Any]] = {
    "NVIDIA H100 80GB HBM3": {**_HOPPER_SXM, "memory_gbps": 3350.0,
                              "sheet": f"{_H100_SHEET} (H100 SXM)"},
    "NVIDIA H100 PCIe": {"fp32_tflops": 51.0, "tf32_tflops": 378.0, "bf16_tflops": 756.5,
                         "memory_gbps": 2000.0, "sheet": f"{_H100_SHEET} (H100 PCIe)"},
    "NVIDIA H100 NVL": {**_HOPPER_NVL, "memory_gbps": 3900.0,
                        "sheet": f"{_H100_SHEET} (H100 NVL)"},
    "NVIDIA H200": {**_HOPPER_SXM, "memory_gbps": 4800.0, "sheet": f"{_H200_SHEET} (H200 SXM)"},
    "NVIDIA H200 NVL": {**_HOPPER_NVL, "memory_gbps": 4800.0,
                        "sheet": f"{_H200_SHEET} (H200 NVL)"},
    "NVIDIA GH200 480GB": {**_HOPPER_SXM, "memory_gbps": 4000.0,
                           "sheet": "NVIDIA GH200 Grace Hopper Superchip datasheet (96GB HBM3)"},
    "NVIDIA A100-SXM4-80GB": {**_AMPERE_A100, "memory_gbps": 2039.0,
                              "sheet": f"{_A100_SHEET} (A100 80GB SXM)"},
    "NVIDIA A100 80GB PCIe": {**_AMPERE_A100, "memory_gbps": 1935.0,
                              "sheet": f"{_A100_SHEET} (A100 80GB PCIe)"},
    "NVIDIA A100-SXM4-40GB": {**_AMPERE_A100, "memory_gbps": 1555.0,
                              "sheet": f"{_A100_SHEET} (A100 40GB SXM)"},
    "NVIDIA A100-PCIE-40GB": {**_AMPERE_A100, "memory_gbps": 1555.0,
                              "sheet": f"{_A100_SHEET} (A100 40GB PCIe)"},
    "NVIDIA L40S": {"fp32_tflops": 91.6, "tf32_tflops": 183.0, "bf16_tflops": 362.05,
                    "memory_gbps": 864.0, "sheet": "NVIDIA L40S GPU datasheet"},
    "NVIDIA L4": {"fp32_tflops": 30.3, "tf32_tflops": 60.0, "bf16_tflops": 121.0,
                  "memory_gbps": 300.0, "sheet": "NVIDIA L4 Tensor Core GPU datasheet"},
}  # fmt: skip
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
    #: the check could not run here for a reason that is no fault (an optional package absent)
    skipped: bool = False


#: The probe processes ``harness gpu-check`` starts (``python -m workloads.gpu_probes ARGS``),
#: one each so torch's and CuPy's CUDA stacks never share a process, and the figures each
#: brings back: a process that dies is a FAIL on every one of its checks.
PROBE_PROCESSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "torch": ((), ("event_s", "bf16_flops", "fp32_flops", "copy_bytes_per_s", "recompiles")),
    "cupy": (("--cupy",), ("cupy",)),
    "keras": (("--keras",), ("keras_torch",)),
}
_PEAKS = {  # probe key: check, unit, scale, datasheet key
    "bf16_flops": ("bf16 matmul throughput", "TFLOP/s", 1e12, "bf16_tflops"),
    "fp32_flops": ("fp32 matmul throughput", "TFLOP/s", 1e12, "fp32_tflops"),
    "copy_bytes_per_s": ("device copy bandwidth (read + write)", "GB/s", 1e9, "memory_gbps"),
}
_CHECK_NAMES = {
    "phases": "phases add up to the step (CUDA events)",
    "event_s": "CUDA events agree with synchronized host time (long kernel)",
    **{key: check for key, (check, *_) in _PEAKS.items()},
    "recompiles": "torch.compile: no recompiles after the first step",
    "cupy": "CuPy on the device",
    "keras_torch": "Keras (torch backend) on it",
}


def normalise_gpu_name(gpu_name: str | bytes) -> str:
    """The name as a key: decoded (old NVML bindings give bytes), case and runs of spaces,
    ``-`` and ``_`` folded, so "NVIDIA A100-SXM4-80GB" and "nvidia a100 sxm4 80gb" are one."""
    if isinstance(gpu_name, bytes):
        gpu_name = gpu_name.decode(errors="replace")
    return re.sub(r"[\s_-]+", " ", gpu_name).strip().casefold()


_SHEETS_BY_KEY = {normalise_gpu_name(name): sheet for name, sheet in SPEC_SHEETS.items()}


def spec_sheet(gpu_name: str | bytes) -> dict[str, Any] | None:
    """The datasheet of exactly this product (``SPEC_SHEETS``), or None: no near name is
    borrowed (a GH200 is not an H200, an H100 NVL is not an H100 SXM)."""
    return _SHEETS_BY_KEY.get(normalise_gpu_name(gpu_name))


def judge_phase_sum(
    phase_medians: dict[str, float], step_median: float, label: str = ""
) -> Verdict:
    ratio = sum(phase_medians.values()) / step_median
    low, high = PHASE_SUM_RANGE
    check = _CHECK_NAMES["phases"] + (f": {label}" if label else "")
    return Verdict(check, low <= ratio <= high, f"{ratio:.3f} × step", f"{low}-{high}",
                   " + ".join(phase_medians))  # fmt: skip


def judge_event_timing(event_s: float, host_s: float) -> Verdict:
    error = event_s / host_s - 1
    return Verdict(
        _CHECK_NAMES["event_s"],
        abs(error) <= EVENT_HOST_TOLERANCE,
        f"{error:+.2%}",
        f"within ±{EVENT_HOST_TOLERANCE:.0%}",
        f"events {event_s * 1e3:.2f} ms, host {host_s * 1e3:.2f} ms",
    )


def judge_peak(what: str, achieved: float, sheet: dict[str, Any] | None, key: str,
               unit: str, gpu_name: str = "this GPU") -> Verdict:  # fmt: skip
    if sheet is None or key not in sheet:
        return Verdict(what, None, f"{achieved:,.1f} {unit}", f"no datasheet for {gpu_name}")
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


def _errored(key: str, error: str) -> Verdict:
    return Verdict(_CHECK_NAMES[key], False, "error", "runs", error)


def _phase_verdicts(probes: dict[str, Any]) -> list[Verdict]:
    """One per torch.mlp run (``phase_runs``: label and figures, or label and error); the
    older single-run form (``phase_medians``, ``step_median``) is read too."""
    runs = list(probes.get("phase_runs") or [])
    if "phase_medians" in probes:
        runs.append(
            {"phase_medians": probes["phase_medians"], "step_median": probes["step_median"]}
        )
    verdicts = []
    for run in runs:
        label = run.get("label", "")
        if run.get("error") is not None:
            check = _CHECK_NAMES["phases"] + (f": {label}" if label else "")
            verdicts.append(Verdict(check, False, "error", "runs", run["error"]))
        else:
            verdicts.append(judge_phase_sum(run["phase_medians"], run["step_median"], label))
    return verdicts


def judge(probes: dict[str, Any], gpu_name: str) -> list[Verdict]:
    """Every verdict from the probes' raw figures (see workloads/gpu_probes.py). A figure
    whose probe raised (``<key>_error``) is a FAIL row with that error; an optional probe
    that could not run (``<key>_skipped``) a skipped row with the reason."""
    sheet = spec_sheet(gpu_name)
    verdicts = _phase_verdicts(probes)
    if "event_s" in probes:
        verdicts.append(judge_event_timing(probes["event_s"], probes["host_s"]))
    elif "event_s_error" in probes:
        verdicts.append(_errored("event_s", probes["event_s_error"]))
    for key, (what, unit, scale, sheet_key) in _PEAKS.items():
        if key in probes:
            achieved = probes[key] / scale
            verdicts.append(judge_peak(what, achieved, sheet, sheet_key, unit, gpu_name))
        elif f"{key}_error" in probes:
            verdicts.append(_errored(key, probes[f"{key}_error"]))
    if "recompiles" in probes:
        count = probes["recompiles"]
        verdicts.append(Verdict(_CHECK_NAMES["recompiles"], count == 0, str(count), "0"))
    elif "recompiles_error" in probes:
        verdicts.append(_errored("recompiles", probes["recompiles_error"]))
    for key in ("cupy", "keras_torch"):
        if f"{key}_skipped" in probes:
            why = probes[f"{key}_skipped"]
            verdicts.append(Verdict(_CHECK_NAMES[key], None, "skipped", "runs", why, True))
        elif f"{key}_error" in probes:
            verdicts.append(_errored(key, probes[f"{key}_error"]))
        elif key in probes:
            error = probes[key]
            measured = "ran" if error is None else "failed"
            verdicts.append(
                Verdict(_CHECK_NAMES[key], error is None, measured, "runs", error or "")
            )
    return verdicts


def reference_name(gpu_name: str) -> str:
    """``results/reference/<this>.jsonl``: the GPU's name, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", gpu_name).strip("-") or "gpu"


def verdict_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for verdict in verdicts:
        row = asdict(verdict)
        row["result"] = (
            "skipped"
            if verdict.skipped
            else {True: "PASS", False: "FAIL", None: "info"}[verdict.passed]
        )
        rows.append(row)
    return rows


def require_gpu(gpu_names: list[str]) -> None:
    if not gpu_names:
        raise UserError(
            "harness gpu-check measures an NVIDIA GPU and this machine shows none "
            "(nvidia-smi lists none): run it on a GPU machine, or in the CUDA image with "
            "--gpus all."
        )
