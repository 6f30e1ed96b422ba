"""Named baselines: results files kept under results/baselines/NAME for later comparison.

A baseline is a folder with a manifest, ``baseline.json``: its name, when it was saved, and
each file kept (the name under the folder and the path it was copied from). The manifest is the
baseline: ``baseline list`` and ``compare --baseline NAME`` read it, never the folder's listing,
so a file left in the folder by hand is not pooled into a comparison.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import UserError

MANIFEST = "baseline.json"


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "/\\") or name.startswith(".") or name != name.strip():
        raise UserError(f"Baseline name {name!r} must be a plain name like 'main' or 'v1.2'.")


def _kept_names(files: Sequence[Path]) -> list[str]:
    """The name each file gets in the baseline folder: its own, or ``stem-2.jsonl``, ... when
    two files of different folders share a name (none overwrites another)."""
    kept: list[str] = []
    for file in files:
        path = Path(file)
        name, n = path.name, 1
        while name in kept:
            n += 1
            name = f"{path.stem}-{n}{path.suffix}"
        kept.append(name)
    return kept


def save_baseline(name: str, files: Sequence[Path], folder: Path, replace: bool = False) -> Path:
    """Copy ``files`` to ``folder/name`` with a manifest; returns the baseline's folder.

    Raises UserError for a name that is not plain, a file given twice or that is not results,
    or a baseline of that name already kept when ``replace`` is false. With ``replace`` the old
    baseline is swapped out whole (none of its files stays beside the new ones)."""
    from harness.results import load_records, utc_now

    _check_name(name)
    resolved = [Path(f).resolve() for f in files]
    if len(set(resolved)) != len(resolved):
        raise UserError("A file is given twice; give each results file once.")
    load_records(files)  # refuse to keep files that are not results
    target = folder / name
    if target.exists() and not replace:
        raise UserError(
            f"Baseline '{name}' already exists in {folder}; add --replace to replace it, "
            "or choose another name."
        )
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder))
    kept = _kept_names(files)
    for file, kept_name in zip(files, kept, strict=True):
        shutil.copy2(file, staging / kept_name)
    manifest = {
        "name": name,
        "saved_at": utc_now(),
        "files": kept,
        "sources": {k: str(Path(f).resolve()) for k, f in zip(kept, files, strict=True)},
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    old = folder / f".{name}.replaced"
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def list_baselines(folder: Path) -> dict[str, list[str]]:
    """Each baseline's files, from its manifest; a folder without one is listed with none."""
    found: dict[str, list[str]] = {}
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            manifest = read_manifest(entry)
            files = list(manifest.get("files", [])) if manifest else []
            found[entry.name] = [f if (entry / f).is_file() else f"{f} (missing)" for f in files]
    return found


def baseline_files(name: str, folder: Path) -> list[Path]:
    """The results files of baseline ``name``, as its manifest lists them.

    Raises UserError when there is no such baseline, it has no manifest, or a listed file is
    gone."""
    _check_name(name)
    target = folder / name
    manifest = read_manifest(target)
    if manifest is None and target.is_dir():
        raise UserError(
            f"Baseline folder {target} has no manifest (saved by an older harness, or by "
            f"hand): save it again with harness baseline save {name} FILE... --replace."
        )
    if manifest is None:
        known = ", ".join(list_baselines(folder)) or "none"
        raise UserError(
            f"No baseline '{name}' in {folder} (kept: {known}); save one with "
            f"harness baseline save {name} FILE (one or more)."
        )
    files = [target / kept for kept in manifest.get("files", [])]
    missing = [f.name for f in files if not f.is_file()]
    if missing or not files:
        raise UserError(
            f"Baseline '{name}' lists files that are gone ({', '.join(missing) or 'none kept'}); "
            f"save it again with harness baseline save {name} FILE... --replace."
        )
    return files
