"""The device side of ``harness gpu-check``: raw figures only, judged by harness.machine.gpu_check.

    python -m workloads.gpu_probes            JSON on stdout: event vs host timing, matmul
                                              throughput (bf16, fp32), copy bandwidth,
                                              torch.compile recompiles
    python -m workloads.gpu_probes --cupy     CuPy on the device
    python -m workloads.gpu_probes --keras    Keras on the torch backend on the device

Each mode runs in its own process (harness gpu-check starts three), so torch's and CuPy's CUDA
stacks never share one, and Keras chooses its backend at import. A probe that raises leaves
``<key>_error`` (the exception, one line) in place of its figure and the others still run; an
optional package that is absent leaves ``<key>_skipped`` (why), judged as skipped, not failed.

Written for CUDA and not yet run on a GPU (none where it was written).
"""

from __future__ import annotations

import importlib.util
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


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".strip().splitlines()[0][:500]


def cupy_runs() -> str | None:
    """One matmul and a read-back with CuPy, in a process where torch was never imported."""
    try:
        import cupy

        x = cupy.random.rand(1024, 1024, dtype=cupy.float32)
        float((x @ x).sum())
        cupy.cuda.Device().synchronize()
    except Exception as error:
        return _error(error)
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
        return _error(error)
    return None


def _absent(*modules: str) -> str | None:
    """Why an optional probe cannot run here: the first of ``modules`` not installed."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in this Python ({sys.executable})"
    return None


def torch_probes() -> dict[str, Any]:
    """Every torch probe, each on its own: one that raises leaves ``<key>_error``."""
    import torch

    if not torch.cuda.is_available():
        return {"error": f"torch {torch.__version__} sees no CUDA device"}
    found: dict[str, Any] = {"gpu_name": torch.cuda.get_device_name(0)}
    probes: list[tuple[str, Any]] = [
        ("event_s", lambda: event_vs_host(torch)),
        ("bf16_flops", lambda: matmul_flops(torch, torch.bfloat16)),
        ("fp32_flops", lambda: matmul_flops(torch, torch.float32)),
        ("copy_bytes_per_s", lambda: copy_bandwidth(torch)),
        ("recompiles", lambda: recompiles(torch)),  # needs a C compiler (Triton)
    ]
    for key, probe in probes:
        try:
            value = probe()
        except Exception as error:
            found[f"{key}_error"] = _error(error)
            torch.cuda.empty_cache()
            continue
        found.update(value if isinstance(value, dict) else {key: value})
    return found


def main(argv: list[str]) -> int:
    if "--keras" in argv:
        why = _absent("keras", "torch")
        found = {"keras_torch_skipped": why} if why else {"keras_torch": keras_on_torch()}
    elif "--cupy" in argv:
        why = _absent("cupy")
        found = {"cupy_skipped": why} if why else {"cupy": cupy_runs()}
    else:
        found = torch_probes()
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
