"""Named baselines: results files kept under results/baselines/NAME for later comparison."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UserError


def save_baseline(name: str, files: Sequence[Path], folder: Path) -> Path:
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise UserError(f"Baseline name {name!r} must be a plain name like 'main' or 'v1.2'.")
    from harness.results import load_records

    load_records(files)  # refuse to keep files that are not results
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copy2(file, target / Path(file).name)
    (target / "baseline.json").write_text(
        json.dumps({"name": name, "files": [Path(f).name for f in files]}, indent=2) + "\n"
    )
    return target


def list_baselines(folder: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            found[entry.name] = sorted(p.name for p in entry.glob("*.jsonl"))
    return found
