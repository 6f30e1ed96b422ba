"""The Python side of scripts/gpu-truth.sh, with the standard library only at the top, so it
runs in whatever Python the GPU host has (no virtual environment, nothing installed):

    python3 scripts/gpu_truth_facts.py facts              versions, what torch, CuPy and NVML see
    python3 scripts/gpu_truth_facts.py missing MOD...     the modules of MOD... not installed
    python3 scripts/gpu_truth_facts.py verdicts RESULTS   gpu-check's last verdicts, one a line

Each optional package is imported in its own child process (torch and CuPy never share one, as
in workloads/gpu_probes.py), and an import or a query that fails prints one line, not a
traceback.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import platform
import subprocess
import sys
from pathlib import Path

DISTRIBUTIONS = (
    "torch", "triton", "numpy", "pandas", "rich", "psutil", "matplotlib", "pillow", "scipy",
    "pyarrow", "nvidia-ml-py", "cupy-cuda13x", "cupy-cuda12x", "keras", "namex", "optree",
    "safetensors", "pytest", "pytest-benchmark", "hypothesis", "tensorflow", "docker",
    "submitit", "duckdb", "jax",
)  # fmt: skip

TORCH = """
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", torch.cuda.get_device_name(0), "cc", torch.cuda.get_device_capability(0),
          "SMs", p.multi_processor_count, "GiB", round(p.total_memory / 2**30, 1),
          "cudnn", torch.backends.cudnn.version())
    print("tf32", torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
          torch.get_float32_matmul_precision())
"""
CUPY = """
import cupy
print("cupy", cupy.__version__, "runtime", cupy.cuda.runtime.runtimeGetVersion(),
      "driver", cupy.cuda.runtime.driverGetVersion(), "devices", cupy.cuda.runtime.getDeviceCount())
"""
NVML = """
import pynvml as n
n.nvmlInit()
print("nvml driver", n.nvmlSystemGetDriverVersion(), "devices", n.nvmlDeviceGetCount())
h = n.nvmlDeviceGetHandleByIndex(0)
for what, call in (("name", lambda: n.nvmlDeviceGetName(h)),
                   ("uuid", lambda: n.nvmlDeviceGetUUID(h)),
                   ("energy_mJ", lambda: n.nvmlDeviceGetTotalEnergyConsumption(h)),
                   ("power_mW", lambda: n.nvmlDeviceGetPowerUsage(h)),
                   ("sm_clock_MHz", lambda: n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM)),
                   ("throttle", lambda: n.nvmlDeviceGetCurrentClocksEventReasons(h)),
                   ("processes", lambda: n.nvmlDeviceGetComputeRunningProcesses(h))):
    try:
        print(f"  nvml {what}: {call()}")
    except Exception as error:
        print(f"  nvml {what}: {type(error).__name__}: {error}")
n.nvmlShutdown()
"""


def missing(modules: list[str]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _child(what: str, module: str, code: str) -> None:
    if importlib.util.find_spec(module) is None:
        print(f"{what}: not installed (skipped)")
        return
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"{what}: no answer in 60 s")
        return
    print(done.stdout.rstrip())
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        print(f"{what}: unusable (exit {done.returncode}): {last}")


def facts() -> None:
    print("python", platform.python_version(), sys.executable, platform.machine())
    for name in DISTRIBUTIONS:
        try:
            print(f"  {name:18} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"  {name:18} -")
    _child("torch", "torch", TORCH)
    _child("CuPy", "cupy", CUPY)
    _child("NVML", "pynvml", NVML)


def verdicts(results: Path) -> None:
    for path in sorted((results / "reference").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines:
            continue
        for row in json.loads(lines[-1])["verdicts"]:
            note = f" ({row['note']})" if row["result"] in ("FAIL", "skipped") else ""
            print(f"  {row['result']:7} {row['check']}: {row['measured']}{note}"[:160])


def main(argv: list[str]) -> int:
    if argv[:1] == ["facts"]:
        facts()
    elif argv[:1] == ["missing"]:
        print(" ".join(missing(argv[1:])))
    elif argv[:1] == ["verdicts"] and len(argv) == 2:
        verdicts(Path(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
