"""Writes that count only once they are on the disk: flushed and fsynced, and a whole file put
in place by a rename, so a reader sees the old file or all of the new one, never half of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


def write_synced(handle: IO[str], text: str) -> None:
    """Write ``text`` to an open file, then flush and fsync it."""
    handle.write(text)
    handle.flush()
    os.fsync(handle.fileno())


def append_synced(path: Path, text: str) -> None:
    """Append ``text`` to the file at ``path`` (created with its folders), fsynced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        write_synced(handle, text)


def replace_synced(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` (``.part``), fsync it, rename it into place and fsync the
    folder: a file that exists survived the machine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8") as handle:
        write_synced(handle, text)
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
