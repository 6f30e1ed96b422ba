"""A deterministic synthetic image dataset in the ImageFolder layout, shared by all frameworks.

    <data dir>/images-c<classes>-n<per class>-s<size>-seed<seed>/class_<k>/img_<i>.jpg

Generated once (in set-up, never timed) and cached; a ``.complete`` marker written last makes an
interrupted generation start over instead of being used half-made, and a generation racing
another (processes sharing a filesystem) discards its own copy, never the published one. Each
class has its own colour cast, so labels are learnable; every image comes from its own seeded
generator, so the same parameters give byte-identical files on any machine with the same Pillow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness.machine.mounts import filesystem_here

MARKER = ".complete"


def data_root() -> Path:
    return Path(os.environ.get("HARNESS_DATA_DIR", "data")).resolve()


def dataset_path(classes: int, per_class: int, size: int, seed: int) -> Path:
    return data_root() / f"images-c{classes}-n{per_class}-s{size}-seed{seed}"


def ensure_dataset(classes: int, per_class: int, size: int, seed: int = 0) -> Path:
    """Return the dataset folder, generating it first when it is missing or incomplete.

    Safe when several processes (Slurm elements on a shared filesystem) ask at once: each
    generates into its own staging folder and publishes it under a lock; a process that finds
    a complete dataset already published discards its own copy, never the published one."""
    target = dataset_path(classes, per_class, size, seed)
    if (target / MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        _generate(staging, classes, per_class, size, seed)
        return publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _generate(staging: Path, classes: int, per_class: int, size: int, seed: int) -> None:
    import numpy as np
    from PIL import Image

    for k in range(classes):
        folder = staging / f"class_{k:03d}"
        folder.mkdir()
        cast = np.random.default_rng([seed, k]).uniform(40, 215, size=3)
        for i in range(per_class):
            rng = np.random.default_rng([seed, k, i])
            coarse = rng.normal(0, 40, size=(max(2, size // 8), max(2, size // 8), 3))
            small = Image.fromarray(np.clip(coarse + cast, 0, 255).astype("uint8"), "RGB")
            image = small.resize((size, size), Image.Resampling.BILINEAR)
            image.save(folder / f"img_{i:05d}.jpg", quality=90)
    (staging / MARKER).write_text("ok\n")


def publish(staging: Path, target: Path) -> Path:
    """Move a complete ``staging`` folder to ``target`` unless a complete one is there already
    (then ``staging`` is discarded); returns ``target``. Holds an exclusive lock on
    ``<target>.lock`` while it looks and moves, so two publishers never both replace."""
    import fcntl

    with open(target.parent / f"{target.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (target / MARKER).exists():  # another process won: keep its copy
                shutil.rmtree(staging, ignore_errors=True)
                return target
            if target.exists():  # an incomplete attempt of an older layout or a crash
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """Files sorted by class folder then name, their integer labels, and the class names."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    files: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        for path in sorted((root / name).glob("*.jpg")):
            files.append(path)
            labels.append(index)
    return files, labels, classes


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (tmpfs, ext4, overlay...) from /proc/mounts, matched
    by whole path components (``harness.machine.mounts``); ``unknown`` where it cannot be read."""
    return filesystem_here(path)
