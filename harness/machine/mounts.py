"""Which mount holds a path, from the text of ``/proc/mounts`` (one place for the doctor's scratch
check and the workloads' ``scratch_filesystem``)."""

from __future__ import annotations

import re
from pathlib import Path

MOUNTS = Path("/proc/mounts")
#: filesystems held in memory: a read from them is never a disk read, and what is written there
#: counts against a container's memory limit
MEMORY_FILESYSTEMS = ("tmpfs", "ramfs", "devtmpfs")


def _unescape(field: str) -> str:
    """A /proc/mounts field with its octal escapes (``\\040`` a space, ``\\011`` a tab) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_of(path: Path | str, mounts: str | None) -> str | None:
    """The filesystem type (ext4, tmpfs, overlay...) of ``path``, None when ``mounts`` (the text
    of /proc/mounts) names no mount holding it.

    A mount holds a path when its mount point is one of the path's leading components
    (``/data`` holds ``/data/x`` but not ``/datastore``); of those the longest wins, and of two
    at the same point the later (it is mounted over the earlier).
    """
    best, kind = "", None
    resolved = str(Path(path).resolve())
    for line in (mounts or "").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape(fields[1])
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def filesystem_here(path: Path | str) -> str:
    """``filesystem_of`` on this machine's /proc/mounts; ``unknown`` where it cannot be read."""
    try:
        text = MOUNTS.read_text()
    except OSError:
        return "unknown"
    return filesystem_of(path, text) or "unknown"
