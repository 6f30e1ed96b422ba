"""Bottleneck verdicts, checked by construction: cases whose answer is known.

Unit tests judge constructed figures; the slow tests build the cases for real on this machine
(after ``harness peaks``): a DataLoader with no workers on large JPEGs (slow decode) is
input-bound with advice to add workers; a large-batch MLP is compute-bound; a one-sample MLP
with four features is host-bound.
"""

from __future__ import annotations

import json

import pytest

from harness.analysis.bottleneck import (
    decode_rate_at,
    input_verdict,
    pipeline_verdict,
    roofline_verdict,
)
from harness.machine.peaks import for_frame
from tests.conftest import read_jsonl

PEAKS = {"cpu_fp32_flops": 100e9, "cpu_copy_bytes_per_s": 20e9}  # ridge: 5 FLOP/B


def test_tensorflow_cut_offs_decide_how_input_bound():
    assert input_verdict(0.004, 0.1, 32, 0, None)[0] == "not input-bound"
    assert input_verdict(0.010, 0.1, 32, 2, None)[0].startswith("input-bound (moderately")
    verdict, figure, advice = input_verdict(0.050, 0.1, 32, 0, None)
    assert verdict.startswith("input-bound (highly") and figure == "data wait 50% of the step"
    assert advice.startswith("add DataLoader workers")


def test_decode_or_reading_from_the_decode_baseline():
    # 32 images at 1000 images/s per core on 2 workers: 16 ms of decoding per batch
    assert "decode dominates" in input_verdict(0.020, 0.05, 32, 2, 1000.0)[0]
    assert "resize, normalize, collate or reading" in input_verdict(0.040, 0.05, 32, 2, 1000.0)[0]
    # decode cost follows the stored pixels: 4x the side, 1/16 of the rate
    assert decode_rate_at({"decode_images_per_s_per_core": 1600.0, "decode_side": 128}, 512) == 100


def test_the_roofline_separates_compute_memory_and_host():
    # intensity 100 FLOP/B (right of the ridge), 80 GFLOP/s achieved: compute-bound at 80%
    verdict, figure, _ = roofline_verdict(80e9, 0.8e9, 1.0, PEAKS, "cpu")
    assert verdict == "compute-bound" and "80% of the fp32 roofline" in figure
    # intensity 1 FLOP/B: the roof is 20 GFLOP/s; 10 achieved is memory-bound at 50%
    verdict, figure, advice = roofline_verdict(10e9, 10e9, 1.0, PEAKS, "cpu")
    assert verdict == "memory-bound" and "50% of the fp32 roofline" in figure and "bf16" in advice
    # 1 GFLOP/s where 100 were possible: overhead, not kernels
    verdict, _, advice = roofline_verdict(1e9, 0.01e9, 1.0, PEAKS, "cpu", framework="torch")
    assert verdict == "host-bound" and "torch.compile" in advice
    assert roofline_verdict(1e9, 1e9, 1.0, {}, "cpu")[0] == "not judged"
    # 50 GFLOP/s at 1 FLOP/B where memory allows 20: the data is in cache, not in memory
    verdict, figure, _ = roofline_verdict(50e9, 50e9, 1.0, PEAKS, "cpu")
    assert verdict == "memory-bound (in cache)" and "250% of the fp32 roofline" in figure
    # above the measured peak: the peak was measured at a slower moment, and the figure says so
    verdict, figure, advice = roofline_verdict(120e9, 1e9, 1.0, PEAKS, "cpu")
    assert verdict == "compute-bound" and "above the measured fp32 peak" in figure
    assert "harness peaks --refresh" in advice
    assert pipeline_verdict(900.0, 1, 1000.0)[0] == "decode-bound"
    assert pipeline_verdict(300.0, 2, 1000.0)[0] == "transform-bound"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """This machine's peaks and the three constructed cases, run for real."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    folder = tmp_path_factory.mktemp("bottleneck")

    def harness(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "harness", *args], cwd=folder, capture_output=True,
            text=True, timeout=600, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]

    harness("peaks", "--results-dir", str(folder))
    # the smoke suite holds one entry per workload: one task per run
    fast = ["--suite", "smoke", "--min-blocks", "3", "--max-blocks", "3"]
    harness("run", "--workload", "torch.train_images", "--param", "image_size=512",
            "--param", "images_per_class=24", "--param", "classes=2", "--param", "resize=32",
            "--param", "batch_size=16", "--param", "num_workers=0",
            "--results-file", "slow.jsonl", *fast)  # fmt: skip
    harness("run", "--workload", "torch.mlp", "--param", "batch_size=1024", "--param",
            "hidden=1024x1024", "--results-file", "big.jsonl", *fast)  # fmt: skip
    harness("run", "--workload", "torch.mlp", "--param", "batch_size=1", "--param",
            "features=4", "--param", "hidden=4", "--results-file", "tiny.jsonl", *fast)  # fmt: skip
    harness("report", "slow.jsonl", "big.jsonl", "tiny.jsonl", "--format", "html", "--output",
            "report.html")  # fmt: skip
    return folder


def verdicts_of(folder, *names: str) -> list[dict]:
    import pandas as pd

    from harness.analysis.bottleneck import verdicts
    from harness.analysis.summary import summary_frame
    from harness.results import load_frame

    frame = load_frame([folder / name for name in names])
    summary = summary_frame(frame)
    found: pd.DataFrame = verdicts(summary, for_frame(summary, [folder]))
    return found.to_dict("records")


@pytest.mark.slow
def test_a_dataloader_without_workers_on_slow_decoding_is_input_bound(measured):
    [row] = verdicts_of(measured, "slow.jsonl")
    assert row["verdict"].startswith("input-bound (highly"), row
    assert row["advice"].startswith("add DataLoader workers"), row
    [record] = read_jsonl(measured / "slow.jsonl")
    assert record["phases"] == ["data", "forward", "backward", "update"]


@pytest.mark.slow
def test_a_large_batch_mlp_is_compute_bound_and_a_tiny_one_host_bound(measured):
    rows = {
        json.loads(r["params"])["batch_size"]: r
        for r in verdicts_of(measured, "big.jsonl", "tiny.jsonl")
    }
    big, tiny = rows[1024], rows[1]
    assert big["verdict"] == "compute-bound", big
    assert tiny["verdict"] == "host-bound", tiny
    peaks_file = next((measured / "peaks").glob("*.json"))
    assert json.loads(peaks_file.read_text())["cpu_fp32_flops"] > 0


@pytest.mark.slow
def test_the_html_report_holds_the_verdicts_and_a_roofline(measured):
    html = (measured / "report.html").read_text()
    assert "What limits each workload" in html and "input-bound" in html
    assert "Roofline per machine: each phase against that machine" in html
    assert html.count("data:image/png;base64") >= 1


def test_on_a_gpu_dispatch_time_against_device_time_decides_host_bound():
    from harness.analysis.bottleneck import dispatch_verdict

    verdict, figure, advice = dispatch_verdict(0.95e-3, 1.0e-3)
    assert verdict == "host-bound" and "95% of the device's 1 ms" in figure
    assert "CUDA graphs" in advice
    assert dispatch_verdict(0.2e-3, 1.0e-3) is None  # the device is busy: not host-bound


def test_the_host_time_of_a_cuda_record_reaches_the_verdict(tmp_path):
    """A CUDA record (written as the worker writes one, with host_samples) is judged by its
    dispatch time; the same record without them falls back to the roofline."""
    import pandas as pd

    from harness.analysis.bottleneck import verdicts
    from harness.analysis.summary import summary_frame
    from harness.record import Record
    from harness.results import frame_from_records

    def record(host: bool) -> Record:
        samples = {"step": [1.0e-3] * 5, "forward": [0.3e-3] * 5, "backward": [0.5e-3] * 5,
                   "update": [0.2e-3] * 5}  # fmt: skip
        return Record(
            workload="torch.mlp", device="cuda", params={"batch_size": 1}, framework="torch",
            kind="train_step", phases=["forward", "backward", "update"], samples=samples,
            host_samples={p: [v[0] * 0.97] * 5 for p, v in samples.items() if p != "step"}
            if host else {},
            items_per_step=1, metrics={"flops_per_step": 1e6},
        )  # fmt: skip

    summary = summary_frame(frame_from_records([record(True)]))
    [row] = verdicts(summary, for_frame(summary, [tmp_path])).to_dict("records")
    assert row["verdict"] == "host-bound" and "97% of the device" in row["figure"]
    summary = summary_frame(frame_from_records([record(False)]))
    [row] = verdicts(summary, for_frame(summary, [tmp_path])).to_dict("records")
    assert row["verdict"] == "not judged"  # no peaks for this machine here
    assert isinstance(summary, pd.DataFrame)
