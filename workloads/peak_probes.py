"""What this machine can do at best, for ``harness peaks``: raw figures only, JSON on stdout.

CPU: fp32 matmul FLOP/s (NumPy's BLAS, every usable core), bf16 matmul FLOP/s (torch, where
installed), memory copy bandwidth (bytes read plus written per second by one large copy), and
JPEG decode images/s on one core (Pillow, on the shared synthetic dataset). GPU, where torch
sees one: bf16 and fp32 matmul and device copy bandwidth (workloads/gpu_probes.py).
Each figure is the best of several repeats: a peak, not a typical value.
"""

from __future__ import annotations

import json
import time
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


def cpu_fp32_matmul(n: int = 2048) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
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


def cpu_copy_bandwidth(size: int = 256 * 2**20) -> float:
    import numpy as np

    source = np.ones(size, dtype=np.uint8)
    target = np.empty_like(source)
    np.copyto(target, source)  # pages touched before timing
    return 2 * size / _best(lambda: np.copyto(target, source))


def decode_per_core(classes: int = 4, per_class: int = 64, size: int = 128) -> float:
    from PIL import Image

    from workloads.images import ensure_dataset, list_images

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
        "gpu_copy_bytes_per_s": copy_bandwidth(torch),
    }


def main() -> int:
    # the better of NumPy's BLAS and torch's (oneDNN/MKL): a peak is what the machine can do
    numpy_fp32, torch_fp32 = cpu_fp32_matmul(), cpu_torch_matmul("float32", 2048)
    found: dict[str, Any] = {
        "cpu_fp32_flops": max(numpy_fp32, torch_fp32 or 0.0),
        "cpu_fp32_flops_numpy": numpy_fp32,
        "cpu_fp32_flops_torch": torch_fp32,
        "cpu_bf16_flops": cpu_bf16_matmul(),
        "cpu_copy_bytes_per_s": cpu_copy_bandwidth(),
        "decode_images_per_s_per_core": decode_per_core(size=DECODE_SIDE),
        "decode_side": DECODE_SIDE,
    }
    found.update(gpu_peaks())
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
