"""harness gpu-check's judgement, on probe figures written as a GPU would report them (this
machine has none: the device probes in workloads/gpu_probes.py have not run on hardware), and
its refusal, for real, on a machine without a GPU."""

from __future__ import annotations

import shutil

import pytest

from harness.machine.gpu_check import judge, reference_name, spec_sheet, verdict_rows

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


@pytest.mark.parametrize(
    "name, fp32, tf32, bf16, memory, sheet",
    [
        ("NVIDIA H100 80GB HBM3", 67.0, 494.5, 989.5, 3350.0, "H100 SXM"),
        ("NVIDIA H100 PCIe", 51.0, 378.0, 756.5, 2000.0, "H100 PCIe"),
        ("NVIDIA H100 NVL", 60.0, 417.5, 835.5, 3900.0, "H100 NVL"),
        ("NVIDIA H200", 67.0, 494.5, 989.5, 4800.0, "H200 SXM"),
        ("NVIDIA H200 NVL", 60.0, 417.5, 835.5, 4800.0, "H200 NVL"),
        ("NVIDIA GH200 480GB", 67.0, 494.5, 989.5, 4000.0, "Grace Hopper"),
        ("NVIDIA A100-SXM4-80GB", 19.5, 156.0, 312.0, 2039.0, "A100 80GB SXM"),
        ("NVIDIA A100 80GB PCIe", 19.5, 156.0, 312.0, 1935.0, "A100 80GB PCIe"),
        ("NVIDIA A100-SXM4-40GB", 19.5, 156.0, 312.0, 1555.0, "A100 40GB SXM"),
        ("NVIDIA A100-PCIE-40GB", 19.5, 156.0, 312.0, 1555.0, "A100 40GB PCIe"),
        ("NVIDIA L40S", 91.6, 183.0, 362.05, 864.0, "L40S"),
        ("NVIDIA L4", 30.3, 60.0, 121.0, 300.0, "L4 Tensor Core"),
    ],
)
def test_each_product_gets_its_own_sheet(name, fp32, tf32, bf16, memory, sheet):
    found = spec_sheet(name)
    assert (found["fp32_tflops"], found["tf32_tflops"], found["bf16_tflops"]) == (fp32, tf32, bf16)
    assert found["memory_gbps"] == memory and sheet in found["sheet"]
    # as NVML spells it, or bytes from old bindings, or another case and spacing: the same
    assert spec_sheet(f"  {name.upper()} ".replace(" ", "  ")) is found
    assert spec_sheet(name.encode()) is found


@pytest.mark.parametrize(
    "name",
    [
        "NVIDIA GH200 144G HBM3e",  # not the 480GB superchip's sheet, nor the H200's
        "NVIDIA H100",  # no such product name: not the SXM sheet by prefix
        "NVIDIA H100 80GB HBM3 MIG 1g.10gb",  # a slice is not the whole GPU
        "NVIDIA L4 Ti",
        "NVIDIA GeForce RTX 3060",
        "Tesla V100-SXM2-16GB",
    ],
)
def test_a_near_name_borrows_no_sheet(name):
    assert spec_sheet(name) is None
    rows = verdict_rows(judge(HEALTHY_H100, name))
    copy = next(r for r in rows if r["check"].startswith("device copy"))
    assert (copy["result"], copy["expected"]) == ("info", f"no datasheet for {name}")


def test_a_healthy_gpu_passes_every_check():
    rows = verdict_rows(judge(HEALTHY_H100, "NVIDIA H100 80GB HBM3"))
    assert [row["result"] for row in rows] == ["PASS"] * 8
    bf16 = next(r for r in rows if r["check"].startswith("bf16"))
    assert bf16["measured"] == "690.0 TFLOP/s (70% of 990)"
    assert bf16["note"] == "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)"
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
