"""The array module behind the hand-written loops: NumPy on the CPU, CuPy on a CUDA GPU."""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import WorkloadError


def load_array_module(name: str, device: str) -> Any:
    if name == "numpy":
        if device != "cpu":
            raise WorkloadError("array_module=numpy runs on the CPU only; use array_module=cupy")
        return importlib.import_module("numpy")
    if name == "cupy":
        if device != "cuda":
            raise WorkloadError("array_module=cupy needs --device cuda")
        try:
            return importlib.import_module("cupy")
        except ImportError as error:
            raise WorkloadError(f"array_module=cupy but CuPy is not installed ({error})") from None
    raise WorkloadError(f"unknown array module {name!r}")


def synchronize(xp: Any) -> None:
    """Wait for all work queued on the current CUDA device, whatever stream it went to.

    (``Stream.null.synchronize()`` waits for the legacy default stream only: work on the
    current stream, per-thread default streams or others would escape it.)
    """
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()
