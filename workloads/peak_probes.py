"""What this machine can do at best, for ``harness peaks``: raw figures only, JSON on stdout.

CPU: fp32 and fp64 matmul FLOP/s (NumPy's BLAS, every usable core), bf16 matmul FLOP/s
(torch, where installed), memory copy bandwidth STREAM-style (bytes read plus written per second
by one large copy split across as many threads as the workers use, ``worker_threads``; the
one-thread copy is kept beside it), and JPEG decode images/s on one core (Pillow, on the shared
synthetic dataset). GPU, where torch sees one: bf16, TF32 and fp32 (TF32 off) matmul and device
copy bandwidth (workloads/gpu_probes.py). Each figure is the best of several repeats: a peak,
not a typical value.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REPEATS = 5
#: side of the JPEGs the decode rate is measured on (the default dataset's)
DECODE_SIDE = 128


def _best(run: Any, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def cpu_fp32_matmul(n: int = 2048, dtype_name: str = "float32") -> float:
    """FLOP/s of an n×n NumPy matmul (``float32`` or ``float64``), every BLAS thread."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype_name)
    b = rng.standard_normal((n, n)).astype(dtype_name)
    a @ b  # warm-up: BLAS threads start
    return 2 * n**3 / _best(lambda: a @ b)


def cpu_torch_matmul(dtype_name: str, n: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    dtype = getattr(torch, dtype_name)
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b
    return 2 * n**3 / _best(lambda: a @ b)


def cpu_bf16_matmul(n: int = 512) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    return 2 * n**3 / _best(lambda: a @ b)


def copy_in_parts(target: Any, source: Any, pool: ThreadPoolExecutor | None, parts: int) -> None:
    """``target[:] = source`` as ``parts`` contiguous slices copied at once on ``pool``'s
    threads (``np.copyto`` releases the GIL); on the calling thread when ``pool`` is None."""
    import numpy as np

    if pool is None or parts <= 1:
        np.copyto(target, source)
        return
    edges = np.linspace(0, len(source), parts + 1).astype(int)
    slices = [slice(a, b) for a, b in itertools.pairwise(edges)]
    for done in [pool.submit(np.copyto, target[s], source[s]) for s in slices]:
        done.result()


def cpu_copy_bandwidth(threads: int = 1, size: int = 256 * 2**20) -> float:
    """Bytes read plus written per second copying ``size`` bytes on ``threads`` threads (each
    its own slice: STREAM's copy kernel, split as its OpenMP loop splits it)."""
    import numpy as np

    source = np.ones(size, dtype=np.uint8)
    target = np.empty_like(source)
    with ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool:
        copy_in_parts(target, source, pool, threads)  # pages touched, threads started
        return 2 * size / _best(lambda: copy_in_parts(target, source, pool, threads))


def copy_threads() -> int:
    """The threads a worker uses here (harness.machine.environment.worker_threads: affinity,
    quota)."""
    from harness.machine.environment import worker_threads

    return int(worker_threads()[0])


def decode_per_core(classes: int = 4, per_class: int = 64, size: int = 128) -> float:
    from PIL import Image

    from workloads.image_folder import ensure_dataset, list_images

    files, _, _ = list_images(ensure_dataset(classes, per_class, size, 0))

    def decode_all() -> None:
        for path in files:
            with Image.open(path) as image:
                image.convert("RGB").load()

    decode_all()  # the files are in the page cache, as in a measured epoch
    return len(files) / _best(decode_all, 3)


def gpu_peaks() -> dict[str, float]:
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    from workloads.gpu_probes import copy_bandwidth, matmul_flops

    return {
        "gpu_bf16_flops": matmul_flops(torch, torch.bfloat16),
        "gpu_fp32_flops": matmul_flops(torch, torch.float32),
        "gpu_tf32_flops": gpu_tf32_matmul(torch),
        "gpu_copy_bytes_per_s": copy_bandwidth(torch),
    }


def gpu_tf32_matmul(torch: Any, n: int = 8192, iterations: int = 20) -> float:
    """FLOP/s of an fp32 n×n matmul with TF32 allowed (tensor cores), as ``tf32=true`` runs
    it; CUDA events around ``iterations`` calls, best of REPEATS. Restores the TF32 switch."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        a @ b  # warm-up: cuBLAS picks its kernel
        best = float("inf")
        for _ in range(REPEATS):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iterations):
                a @ b
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) / 1e3)
        return 2 * n**3 * iterations / best
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def copy_roof(threaded: float, one_thread: float, threads: int) -> dict[str, Any]:
    """The memory roof: the better of the threaded and the one-thread copy (a peak is never
    below one thread's), with the threads of the figure it takes, so its label ("copy
    bandwidth, N threads") names the measurement the number comes from."""
    return {
        "cpu_copy_bytes_per_s": max(threaded, one_thread),
        "cpu_copy_threads": threads if threaded >= one_thread else 1,
        "cpu_copy_threads_tried": threads,
    }


def main() -> int:
    # the better of NumPy's BLAS and torch's (oneDNN/MKL): a peak is what the machine can do
    numpy_fp32, torch_fp32 = cpu_fp32_matmul(), cpu_torch_matmul("float32", 2048)
    threads = copy_threads()
    one_thread = cpu_copy_bandwidth(1)
    threaded = cpu_copy_bandwidth(threads) if threads > 1 else one_thread
    found: dict[str, Any] = {
        "cpu_fp32_flops": max(numpy_fp32, torch_fp32 or 0.0),
        "cpu_fp32_flops_numpy": numpy_fp32,
        "cpu_fp32_flops_torch": torch_fp32,
        "cpu_fp64_flops": cpu_fp32_matmul(dtype_name="float64"),
        "cpu_bf16_flops": cpu_bf16_matmul(),
        **copy_roof(threaded, one_thread, threads),
        "cpu_copy_bytes_per_s_threaded": threaded,
        "cpu_copy_bytes_per_s_one_thread": one_thread,
        "decode_side": DECODE_SIDE,
    }
    try:  # Pillow may be absent (a GPU host's own Python): the other peaks still count
        found["decode_images_per_s_per_core"] = decode_per_core(size=DECODE_SIDE)
    except ImportError as error:
        found["decode_images_per_s_per_core"] = None
        found["decode_error"] = f"not measured: {error}"
    found.update(gpu_peaks())
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
