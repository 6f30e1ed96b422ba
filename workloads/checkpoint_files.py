"""Scratch files for save/load workloads: on real disk, fsynced, evicted from the page cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.workload import CHECKPOINT_PHASES, Workload
from workloads.images import filesystem_of


def scratch_dir(prefix: str) -> Path:
    """A fresh folder under HARNESS_SCRATCH_DIR (default: the system's temporary folder)."""
    base = os.environ.get("HARNESS_SCRATCH_DIR") or tempfile.gettempdir()
    Path(base).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def fsync_path(path: Path) -> None:
    """fsync a file written by a library that takes a path, not a file object."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_path(Path(folder) / name)


def evict(path: Path) -> None:
    """Drop a file's (or a folder's) clean pages from the page cache: the next read is cold.

    After fsync the pages are clean, and POSIX_FADV_DONTNEED evicts them without root.
    """
    targets = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for target in targets:
        fd = os.open(target, os.O_RDONLY)
        try:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def describe_scratch(path: Path) -> dict[str, str]:
    return {"scratch_dir": str(path), "scratch_filesystem": filesystem_of(path)}


class CheckpointWorkload(Workload):
    """What the save/load workloads share: phases, scratch folder, the figures they report.

    Subclasses set ``self.folder`` and ``self.path`` in ``setup``, set ``round_trip_equal`` in
    ``check_after_measure`` and say how many parameters the model has.
    """

    kind = "save_load"
    phases = CHECKPOINT_PHASES
    devices = ("cpu", "cuda")
    folder: Path
    path: Path
    round_trip_equal = False

    def parameter_count(self) -> int:
        raise NotImplementedError

    def items_per_step(self) -> int:
        return 1

    def metrics(self) -> dict[str, Any]:
        return {
            "bytes": size_of(self.path),
            "parameters": self.parameter_count(),
            "round_trip_equal": self.round_trip_equal,
            **describe_scratch(self.folder),
        }

    def teardown(self) -> None:
        remove(self.folder)
