"""harness gpu-check's judgement, on probe figures written as a GPU would report them (this
machine has none: the device probes in workloads/gpu_probes.py have not run on hardware), and
its refusal, for real, on a machine without a GPU."""

from __future__ import annotations

import shutil

import pytest

from harness.gpu_check import judge, reference_name, spec_sheet, verdict_rows

# What an H100 SXM in good health would give (bf16 ~70% of the sheet, fp32 ~75%, copies ~80%)
HEALTHY_H100 = {
    "phase_medians": {"forward": 0.40e-3, "backward": 0.71e-3, "update": 0.19e-3},
    "step_median": 1.31e-3,
    "event_s": 0.2004,
    "host_s": 0.2011,
    "bf16_flops": 690e12,
    "fp32_flops": 50e12,
    "copy_bytes_per_s": 2.7e12,
    "recompiles": 0,
    "cupy": None,
    "keras_torch": None,
}


def test_the_sheet_is_found_by_name():
    assert spec_sheet("NVIDIA H100 80GB HBM3")["memory_gbps"] == 3350.0
    assert spec_sheet("NVIDIA H100 PCIe")["bf16_tflops"] == 756.0
    assert spec_sheet("NVIDIA A100-SXM4-80GB")["memory_gbps"] == 2039.0
    assert spec_sheet("NVIDIA L4")["fp32_tflops"] == 30.3
    assert spec_sheet("NVIDIA L40S")["fp32_tflops"] == 91.6  # not taken for an L4
    assert spec_sheet("NVIDIA GeForce RTX 3060") is None


def test_a_healthy_gpu_passes_every_check():
    rows = verdict_rows(judge(HEALTHY_H100, "NVIDIA H100 80GB HBM3"))
    assert [row["result"] for row in rows] == ["PASS"] * 8
    bf16 = next(r for r in rows if r["check"].startswith("bf16"))
    assert bf16["measured"] == "690.0 TFLOP/s (70% of 989)"
    assert "H100 Tensor Core GPU datasheet (SXM)" in bf16["note"]
    phases = rows[0]
    assert phases["measured"] == "0.992 × step"


@pytest.mark.parametrize(
    "change, check, words",
    [
        ({"step_median": 1.50e-3}, "phases add up", "0.867 × step"),
        ({"event_s": 0.190}, "CUDA events agree", "-5.52%"),
        ({"bf16_flops": 1200e12}, "bf16 matmul", "the measurement is wrong"),
        ({"copy_bytes_per_s": 0.5e12}, "device copy", "far below the sheet"),
        ({"recompiles": 3}, "torch.compile", "3"),
        ({"cupy": "CUDARuntimeError: no device"}, "CuPy", "failed"),
    ],
)
def test_each_fault_fails_its_own_check(change, check, words):
    rows = verdict_rows(judge({**HEALTHY_H100, **change}, "NVIDIA H100 80GB HBM3"))
    failed = [row for row in rows if row["result"] == "FAIL"]
    assert len(failed) == 1 and failed[0]["check"].startswith(check)
    assert words in failed[0]["measured"] + failed[0]["note"]


def test_an_unknown_gpu_is_measured_but_not_judged_against_a_sheet():
    rows = verdict_rows(judge(HEALTHY_H100, "NVIDIA GeForce RTX 3060"))
    peaks = [r for r in rows if "TFLOP/s" in r["measured"] or "GB/s" in r["measured"]]
    assert [r["result"] for r in peaks] == ["info"] * 3
    assert reference_name("NVIDIA GeForce RTX 3060") == "NVIDIA-GeForce-RTX-3060"


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this host has a GPU driver")
def test_without_a_gpu_it_exits_2_in_one_sentence(cli):
    done = cli("gpu-check")
    assert done.returncode == 2
    assert "harness gpu-check measures an NVIDIA GPU and this machine shows none" in done.stderr
    assert done.stderr.strip().count("\n") == 0
