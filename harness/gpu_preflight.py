"""Can this host run the CUDA image with GPUs? Answered in seconds, before anything is
downloaded or built: ``make bench-gpu`` runs ``python3 -m harness.gpu_preflight`` first, with
the system Python (standard library only, so it needs no virtual environment either).

Two questions: does the host show an NVIDIA GPU (``nvidia-smi -L``), and does the Docker engine
have the NVIDIA runtime (``docker info``: an ``nvidia`` runtime, or a CDI spec for NVIDIA
devices)? Either missing: exit 2 with one sentence.
"""

from __future__ import annotations

import json
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
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"harness: GPU preflight passed: {', '.join(names)}; the NVIDIA runtime is there.")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
