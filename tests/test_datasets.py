"""The synthetic image dataset is generated once even when processes race for it."""

from __future__ import annotations

import multiprocessing
import os

from workloads import images


def _ensure(data_dir: str, start, out) -> None:
    os.environ["HARNESS_DATA_DIR"] = data_dir
    start.wait()
    root = images.ensure_dataset(2, 20, 32, 3)
    first = root / "class_000" / "img_00000.jpg"
    out.put(os.stat(first).st_ino)


def test_processes_racing_keep_the_first_published_dataset(tmp_path):
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_ensure, args=(str(tmp_path), start, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert all(worker.exitcode == 0 for worker in workers)
    seen = {out.get(timeout=5) for _ in workers}
    [folder] = [p for p in tmp_path.iterdir() if p.is_dir()]  # no staging copy left behind
    final = os.stat(folder / "class_000" / "img_00000.jpg").st_ino
    assert seen == {final}  # every process got the one dataset that stayed: none replaced it


def test_a_late_publisher_discards_its_own_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    target = images.ensure_dataset(2, 3, 16, 1)
    late = tmp_path / "late-staging"
    late.mkdir()
    images._generate(late, 2, 3, 16, 1)
    with open(target / "class_001" / "img_00002.jpg", "rb") as held:  # a reader of it
        assert images.publish(late, target) == target
        kept = os.stat(target / "class_001" / "img_00002.jpg").st_ino
        assert kept == os.fstat(held.fileno()).st_ino
    assert not late.exists()


def test_an_incomplete_folder_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    target = images.dataset_path(2, 3, 16, 2)
    (target / "class_000").mkdir(parents=True)  # a half-made folder, no marker
    assert images.ensure_dataset(2, 3, 16, 2) == target
    assert (target / images.MARKER).exists() and len(list(target.glob("class_*/*.jpg"))) == 6
