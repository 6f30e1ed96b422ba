"""Scratch files for save/load workloads: on real disk, fsynced, evicted from the page cache."""

from __future__ import annotations

import ctypes
import mmap
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.workload import CHECKPOINT_PHASES, Workload
from workloads.image_folder import filesystem_of


def scratch_dir(prefix: str) -> Path:
    """A fresh folder under HARNESS_SCRATCH_DIR (default: the system's temporary folder).

    Where that folder cannot be written (an image without the launcher's scratch volume), the
    temporary folder is used; the cache check then tells whether loads were really cold.
    """
    base = os.environ.get("HARNESS_SCRATCH_DIR") or tempfile.gettempdir()
    try:
        Path(base).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=prefix))


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


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def resident_pages(path: Path) -> tuple[int, int] | None:
    """(pages in the page cache, pages in all) for a file or a folder's files, by ``mincore``.

    Mapping a file does not read it, so asking costs no I/O. None where mincore cannot be
    called (not Linux, no libc): eviction is then unverified.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mmap_ = libc.mmap
        mincore = libc.mincore
        munmap = libc.munmap
    except (OSError, AttributeError):
        return None
    mmap_.restype = ctypes.c_void_p
    mmap_.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    page = os.sysconf("SC_PAGE_SIZE")
    resident = total = 0
    for target in _files(path):
        size = target.stat().st_size
        if size == 0:
            continue
        pages = (size + page - 1) // page
        fd = os.open(target, os.O_RDONLY)
        try:
            address = mmap_(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if address is None or address == ctypes.c_void_p(-1).value:
                return None
            try:
                vector = (ctypes.c_ubyte * pages)()
                if mincore(address, size, vector) != 0:
                    return None
                resident += sum(byte & 1 for byte in vector)
            finally:
                munmap(address, size)
        finally:
            os.close(fd)
        total += pages
    return resident, total


class CacheCheck:
    """Whether every load really read from the disk: eviction verified by mincore each step.

    ``state`` is ``cold`` only when every check found none of the file's pages cached; ``warm``
    when a check found pages still cached (a tmpfs, where eviction does nothing) or nothing was
    evicted; ``unverified`` when mincore could not be called for a check and none was seen warm.
    """

    def __init__(self) -> None:
        self.checks = 0
        self.cold = 0
        self.worst_resident = 0.0
        self.unverifiable = False
        self.unverified_checks = 0

    def after_evict(self, path: Path) -> None:
        found = resident_pages(path)
        self.checks += 1
        if found is None:
            self.unverifiable = True
            self.unverified_checks += 1
            return
        resident, total = found
        share = resident / total if total else 0.0
        self.worst_resident = max(self.worst_resident, share)
        if resident == 0:
            self.cold += 1

    @property
    def state(self) -> str:
        if self.checks and self.cold == self.checks:
            return "cold"
        seen_warm = self.checks - self.cold - self.unverified_checks
        if self.unverifiable and not seen_warm:
            return "unverified"
        return "warm"

    def metrics(self) -> dict[str, Any]:
        return {
            "load_cache": self.state,
            "load_cache_checks": self.checks,
            "load_cache_worst_resident_share": self.worst_resident,
            "load_cache_method": "unverified" if self.unverifiable else "mincore",
        }


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
    cache_check: CacheCheck | None = None

    def evict_and_check(self) -> None:
        """Evict the checkpoint from the page cache (with ``cold_read``) and verify it; the
        step calls it between ``mark("save")`` and ``mark(UNTIMED)``, so no phase times it."""
        if self.cache_check is None:
            self.cache_check = CacheCheck()
        if self.param_values.get("cold_read", True):
            evict(self.path)
            self.cache_check.after_evict(self.path)

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
            # without cold_read nothing is evicted: every load reads the page cache
            **(self.cache_check or CacheCheck()).metrics(),
        }

    def teardown(self) -> None:
        remove(self.folder)
