"""The roof each run is judged against (the precision that ran, the machine that ran it), the
cores the input pipelines really had, the host-bound check on a GPU, the one FLOP count, and
the threaded copy bandwidth of ``harness peaks``.

The GPU cases are CUDA records constructed as the worker writes them (no GPU here); the CPU
bf16 case runs ``torch.mlp dtype=bfloat16`` through the CLI for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.analysis.bottleneck import input_verdict, pipeline_verdict, roofline_verdict, verdicts
from harness.analysis.summary import summary_frame
from harness.machine import peaks as peak_cache
from harness.machine.peaks import for_frame
from harness.machine.roofs import precision_of, roof_for
from harness.record import Record
from harness.results import frame_from_records, load_frame

CPU = {"cpu_fp32_flops": 100e9, "cpu_bf16_flops": 400e9, "cpu_fp64_flops": 50e9,
       "cpu_copy_bytes_per_s": 20e9, "cpu_copy_threads": 2}  # fmt: skip
GPU = {"gpu_fp32_flops": 50e12, "gpu_tf32_flops": 400e12, "gpu_bf16_flops": 800e12,
       "gpu_copy_bytes_per_s": 4e12}  # fmt: skip


def env(host: str = "box", cores: int = 2, gpu: str | None = None) -> dict:
    return {"host": host, "cpu_model": "cpu", "usable_cores": cores, "gpu_name": gpu}


def write_peaks(folder: Path, environment: dict, peaks: dict) -> None:
    key = peak_cache.machine_key(environment["host"], environment["cpu_model"],
                                 environment["usable_cores"], environment["gpu_name"])  # fmt: skip
    path = peak_cache.path_for(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(peaks), encoding="utf-8")


def train_record(params: dict, device: str = "cpu", environment: dict | None = None,
                 step_s: float = 1e-3, flops: float = 1e8, **extra) -> Record:  # fmt: skip
    samples = {"step": [step_s] * 3, "forward": [step_s / 2] * 3, "backward": [step_s / 2] * 3}
    return Record(
        workload="torch.mlp", device=device, params=params, framework="torch",
        kind="train_step", phases=["forward", "backward"], samples=samples, items_per_step=8,
        metrics={"flops_per_phase": {"forward": flops / 2, "backward": flops / 2},
                 "bytes_per_phase": {"forward": flops / 200, "backward": flops / 200}},
        environment=environment or env(), **extra,
    )  # fmt: skip


def judged(records: list[Record], folder: Path) -> list[dict]:
    summary = summary_frame(frame_from_records(records))
    return verdicts(summary, for_frame(summary, [folder])).to_dict("records")


# --- 22.3: the roof of the precision that ran ----------------------------------------------
def test_the_precision_comes_from_dtype_and_tf32():
    assert precision_of({"dtype": "bfloat16"}, "cpu") == "bf16"
    assert precision_of('{"dtype": "bfloat16", "tf32": true}', "cuda") == "bf16"
    assert precision_of({"tf32": True}, "cuda") == "tf32"
    assert precision_of({"tf32": True}, "cpu") == "fp32"  # TF32 does nothing on a CPU
    assert precision_of({"dtype": "float64"}, "cpu") == "fp64"
    assert precision_of({}, "cuda") == "fp32"
    roof = roof_for(GPU, "cuda", {"tf32": True})
    assert (roof.flops, roof.bandwidth) == (400e12, 4e12)


def test_a_bf16_run_is_judged_against_the_bf16_peak_and_told_nothing_of_bf16():
    # 150 GFLOP/s at 100 FLOP/B: above the fp32 peak (100), 38% of the bf16 one (400)
    verdict, figure, advice = roofline_verdict(150e9, 1.5e9, 1.0, CPU, "cpu",
                                               {"dtype": "bfloat16"})  # fmt: skip
    assert verdict == "compute-bound" and "38% of the bf16 roofline" in figure
    assert "above" not in figure and advice.startswith("already bf16")
    assert "raises the ceiling" not in advice
    verdict, figure, advice = roofline_verdict(10e9, 10e9, 1.0, CPU, "cpu", {"dtype": "bfloat16"})
    assert verdict == "memory-bound" and "bf16" not in advice
    # the same figures as fp32: above the fp32 peak, and bf16 is advised to compute-bound fp32
    assert "above the measured fp32 peak" in roofline_verdict(150e9, 1.5e9, 1.0, CPU, "cpu")[1]
    assert "bf16" in roofline_verdict(80e9, 0.8e9, 1.0, CPU, "cpu")[2]
    # float64 against the fp64 peak: 40 of 50
    verdict, figure, advice = roofline_verdict(40e9, 0.4e9, 1.0, CPU, "cpu", {"dtype": "float64"})
    assert "80% of the fp64 roofline" in figure and "float32" in advice


def test_tensor_core_runs_on_a_gpu_are_judged_against_their_own_peak():
    # 300 TFLOP/s with TF32: 6x the fp32 peak, 75% of the TF32 one
    verdict, figure, advice = roofline_verdict(300e12, 1e12, 1.0, GPU, "cuda", {"tf32": True})
    assert verdict == "compute-bound" and "75% of the tf32 roofline" in figure
    assert "above" not in figure and "device copy bandwidth" in figure and "bf16" in advice
    verdict, figure, _ = roofline_verdict(600e12, 1e12, 1.0, GPU, "cuda", {"dtype": "bfloat16"})
    assert "75% of the bf16 roofline" in figure
    # a cache measured before the TF32 peak existed: not judged, and it says which peak lacks
    verdict, _, advice = roofline_verdict(300e12, 1e12, 1.0, {**GPU, "gpu_tf32_flops": None},
                                          "cuda", {"tf32": True})  # fmt: skip
    assert verdict == "not judged" and "tf32 peak" in advice and "--refresh" in advice


def test_the_verdicts_read_the_precision_from_each_record(tmp_path):
    write_peaks(tmp_path, env(), CPU)
    rows = judged([train_record({"dtype": "bfloat16"}, flops=150e6),
                   train_record({"dtype": "float32"}, flops=50e6)], tmp_path)  # fmt: skip
    by_dtype = {json.loads(r["params"])["dtype"]: r for r in rows}
    assert "of the bf16 roofline" in by_dtype["bfloat16"]["figure"]
    assert "of the fp32 roofline" in by_dtype["float32"]["figure"]


@pytest.mark.slow
def test_torch_mlp_in_bf16_runs_on_the_cpu_and_names_the_bf16_roof(tmp_path):
    """A real run through the CLI; the peaks are written for this machine (their values do not
    matter here, only which one the verdict names)."""
    from harness.machine import environment
    from tests.conftest import ROOT

    facts = environment.collect()
    write_peaks(tmp_path, {k: facts.get(k) for k in ("host", "cpu_model", "usable_cores",
                                                     "gpu_name")}, CPU)  # fmt: skip
    for dtype in ("bfloat16", "float32"):
        done = subprocess.run(
            [sys.executable, "-m", "harness", "run", "--workload", "torch.mlp", "--suite",
             "smoke", "--param", f"dtype={dtype}", "--param", "batch_size=8", "--param",
             "hidden=16", "--min-blocks", "2", "--max-blocks", "2", "--results-file",
             f"{dtype}.jsonl"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    frame = load_frame([tmp_path / "bfloat16.jsonl", tmp_path / "float32.jsonl"])
    assert set(frame["status"]) == {"ok"}
    summary = summary_frame(frame)
    rows = verdicts(summary, for_frame(summary, [tmp_path])).to_dict("records")
    by_dtype = {json.loads(r["params"])["dtype"]: r for r in rows}
    assert "of the bf16 roofline" in by_dtype["bfloat16"]["figure"], by_dtype
    assert "of the fp32 roofline" in by_dtype["float32"]["figure"], by_dtype


# --- 22.9: host dispatch against device time, every process -------------------------------
def cuda_record(host_ms: float, step_ms: float, event_ms: float, index: int) -> Record:
    """One process of a CUDA run: wall-clock step, per-phase CUDA-event times, host dispatch."""
    half = event_ms / 2e3
    return Record(
        workload="torch.mlp", device="cuda", params={"batch_size": 1}, framework="torch",
        kind="train_step", phases=["forward", "backward"], process_index=index, index=index,
        samples={"step": [step_ms / 1e3] * 3, "forward": [half] * 3, "backward": [half] * 3},
        host_samples={"forward": [host_ms / 2e3] * 3, "backward": [host_ms / 2e3] * 3},
        items_per_step=1, metrics={"flops_per_step": 1e6}, environment=env(gpu="GPU"),
    )  # fmt: skip


def test_dispatch_is_set_against_the_device_time_not_the_wall_clock_step(tmp_path):
    # 0.48 ms of dispatch, 0.5 ms on the device, 0.8 ms wall-clock: 96% of the device's time
    [row] = judged([cuda_record(0.48, 0.8, 0.5, 0)], tmp_path)
    assert row["verdict"] == "host-bound", row
    assert "96% of the device's 0.5 ms" in row["figure"] and "CUDA events" in row["figure"]


def test_dispatch_counts_every_process_not_the_first(tmp_path):
    # the first process dispatched fast; the two others as slowly as the device ran
    records = [cuda_record(0.2, 1.0, 1.0, 0), cuda_record(0.98, 1.0, 1.0, 1),
               cuda_record(0.97, 1.0, 1.0, 2)]  # fmt: skip
    [row] = judged(records, tmp_path)
    assert row["verdict"] == "host-bound" and "97% of the device" in row["figure"], row


# --- 24.4: ceilings and advice from the usable cores -----------------------------------------
def test_workers_beyond_the_usable_cores_do_not_raise_the_ceiling():
    # taskset -c 0, num_workers=4: 1251 images/s where one core decodes 1000: decode-bound
    verdict, figure, advice = pipeline_verdict(1251.0, 4, 1000.0, 1)
    assert verdict == "decode-bound" and "125% of decode-only × 1 core" in figure
    assert "more workers" not in advice
    # two usable cores: four workers decode on two
    verdict, figure, advice = pipeline_verdict(1000.0, 4, 1000.0, 2)
    assert "50% of decode-only × 2 cores" in figure and "more workers" not in advice
    # one worker on four cores may take more
    assert "more workers" in pipeline_verdict(900.0, 1, 1000.0, 4)[2]


def test_frameworks_that_choose_their_parallelism_decode_on_every_usable_core():
    # tf.data autotune and image_dataset_from_directory (no workers parameter)
    for workers in ("autotune", None):
        verdict, figure, advice = pipeline_verdict(2400.0, workers, 1000.0, 2)
        assert verdict == "decode-bound" and "120% of decode-only × 2 cores" in figure
        assert "more workers" not in advice
        assert "× 1 core" in pipeline_verdict(900.0, workers, 1000.0, 1)[1]


def test_no_more_workers_are_advised_than_spare_cores():
    # num_workers=0 on one usable core: nothing to add workers on
    _, _, advice = input_verdict(0.05, 0.1, 32, 0, 1000.0, 1)
    assert "no spare core" in advice and "num_workers" not in advice
    # two usable cores: one spare for one worker
    assert "num_workers=1)" in input_verdict(0.05, 0.1, 32, 0, 1000.0, 2)[2]
    assert "num_workers=1 to 3" in input_verdict(0.05, 0.1, 32, 0, 1000.0, 4)[2]
    # four workers on one core: no spare, and decoding a batch is counted on one core
    verdict, figure, advice = input_verdict(0.04, 0.1, 32, 4, 1000.0, 1)
    assert verdict.startswith("input-bound (highly; decode dominates")
    assert "32 ms on 1 core" in figure and "no spare core" in advice


def test_the_usable_cores_of_each_record_reach_the_pipeline_verdict(tmp_path):
    def dataloader(cores: int) -> Record:
        return Record(
            workload="torch.dataloader", device="cpu", params={"num_workers": 4},
            framework="torch", kind="pipeline", phases=[], samples={"step": [0.1] * 3},
            items_per_step=125, workers_param="num_workers", environment=env(f"c{cores}", cores),
        )  # fmt: skip

    for cores in (1, 2):
        write_peaks(tmp_path, env(f"c{cores}", cores),
                    {"decode_images_per_s_per_core": 1000.0, "decode_side": 128})  # fmt: skip
    rows = {r["setup"].split(" ")[0]: r for r in judged([dataloader(1), dataloader(2)], tmp_path)}
    assert "× 1 core" in rows["c1"]["figure"] and rows["c1"]["verdict"] == "decode-bound"
    assert "× 2 cores" in rows["c2"]["figure"]


# --- 24.5: the CPU memory roof on the workers' threads ---------------------------------------
def test_the_memory_roof_names_its_threads():
    figure = roofline_verdict(10e9, 10e9, 1.0, CPU, "cpu")[1]
    assert "copy bandwidth, 2 threads" in figure
    old = {k: v for k, v in CPU.items() if k != "cpu_copy_threads"}  # a cache from before
    assert "copy bandwidth, 1 thread)" in roofline_verdict(10e9, 10e9, 1.0, old, "cpu")[1]


def test_the_threaded_copy_copies_every_byte_on_the_workers_threads():
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from harness.machine.environment import worker_threads
    from workloads.peak_probes import copy_in_parts, copy_threads, cpu_copy_bandwidth

    source = np.arange(10_007, dtype=np.uint8)
    target = np.zeros_like(source)
    with ThreadPoolExecutor(3) as pool:
        copy_in_parts(target, source, pool, 3)
    assert np.array_equal(target, source)
    assert copy_threads() == worker_threads()[0]
    assert cpu_copy_bandwidth(2, size=4 * 2**20) > 0


# --- 24.8: one FLOP count; each setup under its own roof -------------------------------------
def test_achieved_gflops_and_the_verdicts_count_the_same_flops():
    from harness.record_parts import Work
    from harness.worker import derived_metrics

    metrics = {"flops_per_step": 100.0, "flops_per_phase": {"forward": 60.0, "backward": 50.0,
                                                            "update": 10.0}}  # fmt: skip
    out = derived_metrics(metrics, {"step": {"median": 1e-9}}, ("forward",))
    assert out["achieved_gflops"] == pytest.approx(Work.from_dict(metrics).per_step("flops"))
    assert out["achieved_gflops"] == pytest.approx(120.0)


def test_the_roofline_plot_draws_each_setups_own_roof(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from harness.documents.plots import roofline

    small, big = env("small"), env("big")
    write_peaks(tmp_path, small, CPU)
    write_peaks(tmp_path, big, {**CPU, "cpu_fp32_flops": 1000e9, "cpu_bf16_flops": 3000e9})
    records = [train_record({"dtype": "float32"}, environment=small),
               train_record({"dtype": "float32"}, environment=big),
               train_record({"dtype": "bfloat16"}, environment=big)]  # fmt: skip
    summary = summary_frame(frame_from_records(records))
    figure = roofline(summary, for_frame(summary, [tmp_path]))
    lines = {line.get_label(): max(line.get_ydata()) for line in figure.axes[0].get_lines()}
    tops = sorted(lines.values())
    assert tops == [100e9, 1000e9, 3000e9], lines
    labels = sorted(lines)
    assert any(label.startswith("big") and "bf16 roof" in label for label in labels), labels
    assert any(label.startswith("small") and "fp32 roof" in label for label in labels), labels


def test_the_copy_roof_names_the_threads_of_the_figure_it_takes():
    from workloads.peak_probes import copy_roof

    assert copy_roof(30e9, 20e9, 2) == {"cpu_copy_bytes_per_s": 30e9, "cpu_copy_threads": 2,
                                        "cpu_copy_threads_tried": 2}  # fmt: skip
    lost = copy_roof(26.5e9, 37.3e9, 2)  # a busy machine: the threaded copy lost
    assert lost["cpu_copy_bytes_per_s"] == 37.3e9 and lost["cpu_copy_threads"] == 1


def test_host_bound_advice_fits_the_framework_that_ran():
    from harness.analysis.bottleneck import host_advice

    assert "torch.compile" in host_advice("torch", {})
    assert "torch.compile" not in host_advice("torch", {"compile": True})  # already compiled
    assert "CUDA graphs" in host_advice("torch", {"compile": True})
    assert "torch.compile" not in host_advice("numpy", {})
    assert "jit_compile" in host_advice("keras", {})
