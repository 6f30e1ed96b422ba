"""On-disk caches a framework keeps between processes, isolated per task by default.

A compiled step is compiled once per process, but several frameworks also keep what they
compiled on disk, and a later process reuses it: ``torch.compile`` (TorchInductor's FX-graph and
AOTAutograd caches, default ``/tmp/torchinductor_<user>``), Triton's kernels
(``~/.triton/cache``), torch's CUDA JIT kernels (``PYTORCH_KERNEL_CACHE_PATH``), the NVIDIA
driver's PTX compute cache (``~/.nv/ComputeCache``, cuDNN and XLA kernels JIT-compiled for the
GPU land there), and, where the user turned them on, JAX's persistent compilation cache
(``JAX_COMPILATION_CACHE_DIR``) and XLA's GPU autotune cache
(``--xla_gpu_per_fusion_autotune_cache_dir`` in ``XLA_FLAGS``). The same ``torch.mlp
compile=true`` task once took 36 s for its first step, then 2.5 s on a second run, from a
leftover cache.

``fresh`` (the default): each task gets its own empty folder, every cache above is pointed
into it (the opt-in ones only where the user's environment turned them on), and the folder is
removed when the task ends. ``keep``: every task of every run shares one folder
(``HARNESS_COMPILE_CACHE_DIR``, default ``<temp>/harness-compile-cache-<uid>``), so a first
step may come from the cache. The record says which, where, and how many files the folder held
when the task started (``Record.compile_cache``). cuDNN's ``benchmark`` autotuning is kept in
memory only: a fresh process starts it anew in either mode.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UserError
from harness.record_parts import CompileCacheState

MODES = ("fresh", "keep")
SHARED_VARIABLE = "HARNESS_COMPILE_CACHE_DIR"

#: environment variable -> subfolder; always set (these caches are on by default)
ALWAYS = {
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
    "TRITON_CACHE_DIR": "triton",
    "PYTORCH_KERNEL_CACHE_PATH": "torch_kernels",
    "CUDA_CACHE_PATH": "nv_compute_cache",
}
#: set only when the user's environment turned the cache on (setting it would turn it on)
OPT_IN = {"JAX_COMPILATION_CACHE_DIR": "jax"}
XLA_AUTOTUNE = re.compile(r"(--xla_gpu_per_fusion_autotune_cache_dir=)(\S*)")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UserError(f"Unknown --compile-cache '{mode}'; valid: {', '.join(MODES)}.")
    return mode


def shared_folder() -> Path:
    """Where ``keep`` caches live: HARNESS_COMPILE_CACHE_DIR, else one folder per user."""
    given = os.environ.get(SHARED_VARIABLE)
    default = Path(tempfile.gettempdir()) / f"harness-compile-cache-{os.getuid()}"
    return Path(given) if given else default


@dataclass
class CompileCaches:
    """The folders one task's caches live in, and the environment that points them there."""

    mode: str
    folder: Path
    variables: dict[str, str] = field(default_factory=dict)
    files_at_start: int = 0

    def state(self) -> CompileCacheState:
        """What the record keeps (``Record.compile_cache``): mode, folder, the variables set,
        files found at start."""
        return CompileCacheState(
            mode=self.mode,
            folder=str(self.folder),
            variables=dict(self.variables),
            files_at_start=self.files_at_start,
        )

    def close(self) -> None:
        """Remove a fresh task's folder (a kept one stays for the next task)."""
        if self.mode == "fresh":
            shutil.rmtree(self.folder, ignore_errors=True)


def prepare(mode: str, environ: dict[str, str] | None = None) -> CompileCaches:
    """Make the task's cache folders and point every cache into them in ``environ`` (default
    ``os.environ``): call before any framework is imported."""
    env = os.environ if environ is None else environ
    check_mode(mode)
    if mode == "fresh":
        folder = Path(tempfile.mkdtemp(prefix="harness-compile-cache-"))
    else:
        folder = shared_folder()
        folder.mkdir(parents=True, exist_ok=True)
    subfolders = dict(ALWAYS)
    subfolders.update({name: sub for name, sub in OPT_IN.items() if env.get(name)})
    variables = {name: str(folder / sub) for name, sub in subfolders.items()}
    flags = env.get("XLA_FLAGS", "")
    if XLA_AUTOTUNE.search(flags):
        subfolders["XLA_FLAGS"] = "xla_autotune"
        autotune = str(folder / "xla_autotune")
        variables["XLA_FLAGS"] = XLA_AUTOTUNE.sub(lambda m: m.group(1) + autotune, flags)
    for sub in subfolders.values():
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env.update(variables)
    files = sum(len(names) for _, _, names in os.walk(folder))
    return CompileCaches(mode, folder, variables, files)
