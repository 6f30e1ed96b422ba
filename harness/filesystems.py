"""Which filesystem holds a path, from the mount table (``/proc/mounts``)."""

from __future__ import annotations

from pathlib import Path

#: filesystems held in memory: a read from them is never a disk read, and what is written there
#: counts against a container's memory limit
MEMORY_FILESYSTEMS = ("tmpfs", "ramfs", "devtmpfs")


def read_mounts() -> str | None:
    try:
        return Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def filesystem_of(path: Path, mounts: str | None = None) -> str | None:
    """The filesystem type of ``path`` (``tmpfs``, ``ext4``, ``overlay``...): that of the
    longest mount point containing it, matched by whole path components (``/data`` does not
    contain ``/datastore``). ``mounts`` is the text of ``/proc/mounts`` (read when None);
    None when it cannot be told."""
    text = read_mounts() if mounts is None else mounts
    best, kind = "", None
    resolved = str(Path(path).resolve())
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind
