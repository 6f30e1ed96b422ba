"""The synthetic image dataset is generated once even when processes race for it."""

from __future__ import annotations

import multiprocessing
import os

from workloads import image_folder


def _ensure(data_dir: str, start, out) -> None:
    os.environ["HARNESS_DATA_DIR"] = data_dir
    start.wait()
    root = image_folder.ensure_dataset(2, 20, 32, 3)
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
    target = image_folder.ensure_dataset(2, 3, 16, 1)
    late = tmp_path / "late-staging"
    late.mkdir()
    image_folder._generate(late, 2, 3, 16, 1)
    with open(target / "class_001" / "img_00002.jpg", "rb") as held:  # a reader of it
        assert image_folder.publish(late, target) == target
        kept = os.stat(target / "class_001" / "img_00002.jpg").st_ino
        assert kept == os.fstat(held.fileno()).st_ino
    assert not late.exists()


def test_an_incomplete_folder_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    target = image_folder.dataset_path(2, 3, 16, 2)
    (target / "class_000").mkdir(parents=True)  # a half-made folder, no marker
    assert image_folder.ensure_dataset(2, 3, 16, 2) == target
    assert (target / image_folder.MARKER).exists() and len(list(target.glob("class_*/*.jpg"))) == 6


MOUNTS = """\
/dev/vda / ext4 rw 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vdb /data xfs rw 0 0
nfs:/export /datastore nfs4 rw 0 0
/dev/vdc /mnt/my\\040disk ext4 rw 0 0
"""


def test_the_filesystem_of_a_path_is_matched_by_whole_components():
    from pathlib import Path

    from harness.machine.mounts import filesystem_of

    assert filesystem_of(Path("/datastore/images"), MOUNTS) == "nfs4"  # not /data's xfs
    assert filesystem_of(Path("/data/images"), MOUNTS) == "xfs"
    assert filesystem_of(Path("/data"), MOUNTS) == "xfs"
    assert filesystem_of(Path("/tmpfoo/x"), MOUNTS) == "ext4"  # not /tmp's tmpfs
    assert filesystem_of(Path("/mnt/my disk/x"), MOUNTS) == "ext4"
    assert filesystem_of(Path("/x"), "") is None


def test_a_pipeline_record_says_where_its_files_were(cli, tmp_path):
    out = tmp_path / "r.jsonl"
    run = cli("run", "--suite", "smoke", "--workload", "pillow.decode", "--results-file", str(out),
              "--no-progress", env={"HARNESS_DATA_DIR": str(tmp_path / "d")})  # fmt: skip
    assert run.returncode == 0, run
    import json

    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["metrics"]["data_dir"].startswith(str(tmp_path / "d"))
    assert record["metrics"]["data_filesystem"]
