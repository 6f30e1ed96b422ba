"""Can this host run the CUDA image with GPUs? Answered in seconds, before anything is
downloaded or built: ``make bench-gpu`` runs ``python3 -m harness.machine.gpu_preflight`` first,
with the system Python (standard library only, so it needs no virtual environment either).

Three questions: does the host show an NVIDIA GPU (``nvidia-smi -L``), is its driver new enough
for the CUDA the image's torch is built for (``nvidia-smi``'s "CUDA Version: X.Y" against the
highest ``nvidia-cuda-runtime`` in ``requirements/constraints-cuda.txt``, the version the image
also sets in ``NVIDIA_REQUIRE_CUDA``), and does the Docker engine have the NVIDIA runtime
(``docker info``: an ``nvidia`` runtime, or a CDI spec for NVIDIA devices)? Any missing: exit 2
with one sentence.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness.errors import EXIT_OK, EXIT_USAGE, UserError

NO_GPU = (
    "make bench-gpu needs an NVIDIA GPU on this host and {why}; run make bench for the CPU "
    "suite, or make images-cuda to build the CUDA image without running it."
)
NO_RUNTIME = (
    "make bench-gpu needs the NVIDIA runtime in the Docker engine and {why}: install the "
    "NVIDIA Container Toolkit (nvidia-container-toolkit), run nvidia-ctk runtime configure "
    "--runtime=docker and restart Docker."
)
CDI_FOLDERS = (Path("/etc/cdi"), Path("/var/run/cdi"))
CUDA_LOCK = Path(__file__).resolve().parents[2] / "requirements" / "constraints-cuda.txt"
# The oldest Linux driver of each CUDA major version (NVIDIA's CUDA Toolkit release notes, table
# "CUDA Toolkit and Corresponding Driver Versions"; minor versions run on it by minor-version
# compatibility).
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
RUNTIME_PIN = re.compile(r"^nvidia-cuda-runtime(?:-cu\d+)?==(\d+)\.(\d+)", re.MULTILINE)


def image_cuda(lock: str) -> tuple[int, int] | None:
    """The CUDA (major, minor) the image needs: the highest ``nvidia-cuda-runtime[-cuNN]==X.Y.*``
    pinned in the lock (torch's CUDA 13 stack above TensorFlow's CUDA 12 one), None if none."""
    found = [(int(major), int(minor)) for major, minor in RUNTIME_PIN.findall(lock)]
    return max(found) if found else None


def driver_cuda(smi: str) -> tuple[int, int] | None:
    """The highest CUDA version the driver supports, from ``nvidia-smi``'s header
    ("| NVIDIA-SMI 550.54.15  Driver Version: 550.54.15  CUDA Version: 12.4 |")."""
    found = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", smi)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_driver(smi: str | None, lock: str) -> None:
    """UserError with one sentence when the driver's CUDA is older than the image's; nothing
    when it suffices, or when either version cannot be read (the toolkit still checks)."""
    needed, has = image_cuda(lock), driver_cuda(smi or "")
    if needed is None or has is None or has >= needed:
        return
    driver = re.search(r"Driver Version:\s*([0-9.]+)", smi or "")
    minimum = MIN_DRIVER.get(needed[0])
    raise UserError(
        f"The CUDA image's torch is built for CUDA {needed[0]}.{needed[1]} "
        f"(requirements/constraints-cuda.txt) and this host's driver"
        + (f" {driver.group(1)}" if driver else "")
        + f" supports CUDA {has[0]}.{has[1]} at most: update the NVIDIA driver"
        + (f" to {minimum} or newer" if minimum else "")
        + " (the NVIDIA Container Toolkit refuses to start the image on this one)."
    )


def gpu_names(listing: str) -> list[str]:
    """GPU names from ``nvidia-smi -L`` ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)")."""
    names = []
    for line in listing.splitlines():
        if line.startswith("GPU ") and ":" in line:
            names.append(line.split(":", 1)[1].split("(UUID")[0].strip())
    return names


def has_nvidia_runtime(runtimes: dict, cdi_specs: list[str]) -> bool:
    """An ``nvidia`` runtime in ``docker info``'s Runtimes, or an NVIDIA CDI spec file."""
    return any("nvidia" in name for name in runtimes) or any("nvidia" in spec for spec in cdi_specs)


def check(listing: str | None, runtimes: dict | None, cdi_specs: list[str]) -> list[str]:
    """The GPUs this host shows, or UserError with the one sentence that says what is missing.
    ``listing``: nvidia-smi -L output (None: nvidia-smi absent or failing); ``runtimes``: docker
    info's Runtimes (None: the engine did not answer)."""
    if listing is None:
        raise UserError(NO_GPU.format(why="nvidia-smi is not installed or failed (no driver)"))
    names = gpu_names(listing)
    if not names:
        raise UserError(NO_GPU.format(why="nvidia-smi lists none"))
    if runtimes is None:
        raise UserError(
            "make bench-gpu runs in Docker and the Docker engine does not answer: start it "
            "(sudo systemctl start docker) or check that this user may use it."
        )
    if not has_nvidia_runtime(runtimes, cdi_specs):
        raise UserError(NO_RUNTIME.format(why="docker info shows none"))
    return names


def _run(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def main() -> int:
    listing = _run(["nvidia-smi", "-L"])
    info = _run(["docker", "info", "--format", "{{json .Runtimes}}"]) if listing else None
    try:
        runtimes = json.loads(info) if info else None
    except ValueError:
        runtimes = None
    specs = [str(p) for folder in CDI_FOLDERS if folder.is_dir() for p in folder.iterdir()]
    try:
        names = check(listing, runtimes, specs)
        check_driver(_run(["nvidia-smi"]), CUDA_LOCK.read_text(encoding="utf-8"))
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"harness: GPU preflight passed: {', '.join(names)}; its driver runs the image's CUDA; "
        "the NVIDIA runtime is there."
    )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
