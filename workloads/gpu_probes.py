"""The device side of ``harness gpu-check``: raw figures only, judged by harness.gpu_check.

    python -m workloads.gpu_probes            JSON on stdout: event vs host timing, matmul
                                              throughput (bf16, fp32), copy bandwidth,
                                              torch.compile recompiles, CuPy
    python -m workloads.gpu_probes --keras    Keras on the torch backend on the device

Written for CUDA and not yet run on a GPU (none where it was written).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

MATMUL_N = 8192
COPY_BYTES = 1 << 30
REPEATS = 5


def _event_seconds(torch: Any, run: Any, iterations: int) -> float:
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


def event_vs_host(torch: Any) -> dict[str, float]:
    """One long kernel sequence (~0.2 s) timed by CUDA events and by the host around a
    synchronize; medians of five."""
    a = torch.randn(MATMUL_N, MATMUL_N, device="cuda", dtype=torch.bfloat16)
    events, hosts = [], []
    for _ in range(REPEATS + 1):
        torch.cuda.synchronize()
        began = time.perf_counter()
        seconds = _event_seconds(torch, lambda: a @ a, 50)
        torch.cuda.synchronize()
        hosts.append(time.perf_counter() - began)
        events.append(seconds)
    return {"event_s": statistics.median(events[1:]), "host_s": statistics.median(hosts[1:])}


def matmul_flops(torch: Any, dtype: Any) -> float:
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, not TF32
    a = torch.randn(MATMUL_N, MATMUL_N, device="cuda", dtype=dtype)
    b = torch.randn(MATMUL_N, MATMUL_N, device="cuda", dtype=dtype)
    _event_seconds(torch, lambda: a @ b, 3)  # warm-up: cuBLAS picks its kernel
    iterations = 20
    best = min(_event_seconds(torch, lambda: a @ b, iterations) for _ in range(REPEATS))
    return 2 * MATMUL_N**3 * iterations / best


def copy_bandwidth(torch: Any) -> float:
    """Bytes read plus written per second by a device-to-device copy."""
    source = torch.empty(COPY_BYTES, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    target.copy_(source)
    iterations = 20
    best = min(_event_seconds(torch, lambda: target.copy_(source), iterations) for _ in range(5))
    return 2 * COPY_BYTES * iterations / best


def recompiles(torch: Any) -> int:
    """Graphs compiled after the first step of a compiled MLP over ten same-shaped steps."""
    from torch._dynamo.utils import counters

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    ).cuda()
    compiled = torch.compile(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(128, 784, device="cuda")
    y = torch.randint(0, 10, (128,), device="cuda")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(compiled(x), y).backward()
        optimizer.step()

    step()
    torch.cuda.synchronize()
    after_first = counters["stats"]["unique_graphs"]
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    return int(counters["stats"]["unique_graphs"] - after_first)


def cupy_runs() -> str | None:
    try:
        import cupy

        x = cupy.random.rand(1024, 1024, dtype=cupy.float32)
        float((x @ x).sum())
        cupy.cuda.Device().synchronize()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def keras_on_torch() -> str | None:
    """In its own process (the backend is chosen at import): one fit step on the device."""
    import os

    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
        import numpy

        model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(10)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(numpy.zeros((64, 32)), numpy.zeros((64, 10)), epochs=1, verbose=0)
        device = str(next(iter(model.trainable_variables)).value.device)
        if "cuda" not in device:
            return f"the variables live on {device}, not the GPU"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def main(argv: list[str]) -> int:
    if "--keras" in argv:
        print(json.dumps({"keras_torch": keras_on_torch()}))
        return 0
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"error": "torch sees no CUDA device"}))
        return 3
    found: dict[str, Any] = {"gpu_name": torch.cuda.get_device_name(0)}
    found.update(event_vs_host(torch))
    found["bf16_flops"] = matmul_flops(torch, torch.bfloat16)
    found["fp32_flops"] = matmul_flops(torch, torch.float32)
    found["copy_bytes_per_s"] = copy_bandwidth(torch)
    try:
        found["recompiles"] = recompiles(torch)
    except Exception as error:  # no compiler toolchain in this environment
        found["recompiles_error"] = f"{type(error).__name__}: {error}"
    found["cupy"] = cupy_runs()
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
