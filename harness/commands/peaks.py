"""harness peaks: measure (once) and show this machine's peaks: matmul FLOP/s, copy bandwidth,
decode images/s per core; cached in <results-dir>/peaks/ for the reports' verdicts."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import EXIT_OK


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    peaks = sub.add_parser(name, help="measure this machine's peaks (cached for the verdicts)")
    peaks.add_argument(
        "--results-dir", type=Path, default=Path("results"), metavar="DIR",
        help="the measured peaks go to DIR/peaks/ (default results)",
    )  # fmt: skip
    peaks.add_argument("--refresh", action="store_true", help="measure again")


def handle(args: argparse.Namespace) -> int:
    from harness.machine import peaks

    found = None if args.refresh else peaks.cached(args.results_dir)
    if found is None:
        from harness.writable import check_folder_writable

        check_folder_writable(args.results_dir / "peaks", "--results-dir")  # before measuring
        print("harness: measuring this machine's peaks (a few seconds) ...", flush=True)
        found = peaks.measure(args.results_dir)
    figures, path = found
    for key, unit, scale in (
        ("cpu_fp32_flops", "GFLOP/s", 1e9),
        ("cpu_fp64_flops", "GFLOP/s", 1e9),
        ("cpu_bf16_flops", "GFLOP/s", 1e9),
        ("cpu_copy_bytes_per_s", "GB/s", 1e9),
        ("cpu_copy_bytes_per_s_one_thread", "GB/s", 1e9),
        ("decode_images_per_s_per_core", "images/s", 1),
        ("gpu_bf16_flops", "TFLOP/s", 1e12),
        ("gpu_tf32_flops", "TFLOP/s", 1e12),
        ("gpu_fp32_flops", "TFLOP/s", 1e12),
        ("gpu_copy_bytes_per_s", "GB/s", 1e9),
    ):
        value = figures.get(key)
        shown = f"{value / scale:,.1f} {unit}" if value else "not measured"
        if key == "cpu_copy_bytes_per_s" and value:
            shown += f" (copy bandwidth, {figures.get('cpu_copy_threads') or 1} thread(s))"
        print(f"  {key:32} {shown}")
    print(f"harness: peaks of {figures['machine']['host']} in {path} ({figures['measured_at']})")
    return EXIT_OK
