"""Cold checkpoint loads are verified, not assumed: mincore tells whether the file's pages are
still cached after eviction; a tmpfs (where eviction does nothing) gives ``warm``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.timer import Timer, TimerSettings
from workloads.checkpoint_files import evict, fsync_path, resident_pages
from workloads.images import filesystem_of

TINY = TimerSettings(
    warmup_time=0, warmup_max_steps=1, min_time=0, min_blocks=2, max_blocks=2, min_block_time=0.0
)
SHM = Path("/dev/shm")
MEMORY_FILESYSTEMS = {"tmpfs", "ramfs"}


def written(folder: Path, size: int = 1 << 20) -> Path:
    path = folder / "blob.bin"
    path.write_bytes(os.urandom(size))
    fsync_path(path)
    return path


def test_mincore_sees_a_file_leave_and_reenter_the_page_cache(tmp_path):
    if filesystem_of(tmp_path) in MEMORY_FILESYSTEMS:
        pytest.skip(f"{tmp_path} is on a memory filesystem: nothing can be evicted there")
    path = written(tmp_path)
    resident, total = resident_pages(path)
    assert total == (1 << 20) // os.sysconf("SC_PAGE_SIZE") and resident == total
    evict(path)
    assert resident_pages(path) == (0, total)
    path.read_bytes()
    assert resident_pages(path) == (total, total)


@pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm tmpfs here")
def test_eviction_on_a_tmpfs_is_seen_to_fail(tmp_path):
    folder = Path(os.path.realpath(SHM)) / f"harness-test-{os.getpid()}"
    folder.mkdir()
    try:
        path = written(folder)
        evict(path)
        resident, total = resident_pages(path)
        assert resident == total > 0  # still in memory: the load would not read a disk
    finally:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def checkpoint_metrics(scratch: Path, monkeypatch, **params) -> dict:
    pytest.importorskip("torch")
    from workloads.torch_checkpoint import TorchCheckpoint

    monkeypatch.setenv("HARNESS_SCRATCH_DIR", str(scratch))
    values = {p.name: p.default for p in TorchCheckpoint.params}
    values.update(hidden=(64,), features=32, **params)
    workload = TorchCheckpoint(values, "cpu", seed=0, threads=1)
    workload.setup()
    try:
        Timer(TINY).run(workload)
        return workload.metrics()
    finally:
        workload.teardown()


def test_checkpoint_loads_are_cold_on_a_disk_and_warm_elsewhere(tmp_path, monkeypatch):
    metrics = checkpoint_metrics(tmp_path, monkeypatch)
    on_disk = filesystem_of(tmp_path) not in MEMORY_FILESYSTEMS
    assert metrics["load_cache"] == ("cold" if on_disk else "warm")
    assert metrics["load_cache_method"] == "mincore" and metrics["load_cache_checks"] >= 3
    # without cold_read nothing is evicted: always warm
    assert checkpoint_metrics(tmp_path, monkeypatch, cold_read=False)["load_cache"] == "warm"


@pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm tmpfs here")
def test_checkpoint_on_a_tmpfs_is_warm_and_the_report_says_so(tmp_path, monkeypatch):
    scratch = SHM / f"harness-test-{os.getpid()}"
    try:
        metrics = checkpoint_metrics(scratch, monkeypatch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert metrics["load_cache"] == "warm" and metrics["load_cache_worst_resident_share"] == 1.0

    from harness.record import from_json
    from harness.report import write_report
    from harness.results import frame_from_records

    record = {
        "schema_version": 2,
        "workload": "torch.checkpoint",
        "framework": "torch",
        "kind": "save_load",
        "device": "cpu",
        "params": {},
        "status": "ok",
        "samples": {"step": [0.02, 0.021], "save": [0.01, 0.011], "load": [0.01, 0.01]},
        "items_per_step": 1,
        "metrics": metrics,
    }
    text = write_report(frame_from_records([from_json(record)]), "table", None)
    assert "load (warm cache)" in text and "page cache, not the disk" in text
    cold = write_report(
        frame_from_records([from_json({**record, "metrics": {**metrics, "load_cache": "cold"}})]),
        "table",
        None,
    )
    assert "warm cache" not in cold
