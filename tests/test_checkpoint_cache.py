"""Cold checkpoint loads are verified, not assumed: mincore tells whether the file's pages are
still cached after eviction; a tmpfs (where eviction does nothing) gives ``warm``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.timer import Timer, TimerSettings
from workloads.checkpoint_files import evict, fsync_path, resident_pages
from workloads.image_folder import filesystem_of

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

    from harness.documents.report import write_report
    from harness.record import from_json
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


# --- a load whose eviction could not be checked is unverified, never "warm" ----------------------


def test_a_load_where_mincore_cannot_be_called_is_unverified(tmp_path, monkeypatch):
    import ctypes

    def no_libc(*args, **kwargs):
        raise OSError("no libc here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)  # as on a system without mincore
    metrics = checkpoint_metrics(tmp_path, monkeypatch)
    assert metrics["load_cache"] == "unverified"
    assert metrics["load_cache_method"] == "unverified"


def test_the_cache_state_says_unverified_unless_a_check_saw_the_pages(tmp_path, monkeypatch):
    from workloads import checkpoint_files
    from workloads.checkpoint_files import CacheCheck

    answers = iter([None, (0, 4), None])  # mincore failed on some checks, cold on the other
    monkeypatch.setattr(checkpoint_files, "resident_pages", lambda path: next(answers))
    check = CacheCheck()
    for _ in range(3):
        check.after_evict(tmp_path)
    assert check.state == "unverified"
    answers = iter([None, (4, 4)])  # one check saw the pages still cached: warm is known
    check = CacheCheck()
    for _ in range(2):
        check.after_evict(tmp_path)
    assert check.state == "warm"
    assert CacheCheck().state == "warm"  # nothing evicted (cold_read=false): the page cache


# --- save is timed alone: eviction and the mincore scan are in no phase ------------------------


class SteppedClock:
    """A clock that moves only when told: the test knows every second it contains."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def slow_eviction(monkeypatch, clock: SteppedClock) -> None:
    """Eviction takes 1 s and the mincore scan 10 s on ``clock``; nothing else moves it."""
    from workloads import checkpoint_files

    evict_, resident_ = checkpoint_files.evict, checkpoint_files.resident_pages

    def evict(path):
        evict_(path)
        clock.now += 1.0

    def resident(path):
        clock.now += 10.0
        return resident_(path)

    monkeypatch.setattr(checkpoint_files, "evict", evict)
    monkeypatch.setattr(checkpoint_files, "resident_pages", resident)


def phases_of_one_step(workload, clock: SteppedClock) -> dict[str, float]:
    from harness.workload import PhaseTimer

    workload.setup()
    try:
        timer = PhaseTimer(clock, None)
        timer.start_block()
        workload.step(timer.mark)
        return timer.end_block()
    finally:
        workload.teardown()


def test_torch_save_times_exclude_the_eviction_and_the_mincore_scan(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from workloads.torch_checkpoint import TorchCheckpoint

    monkeypatch.setenv("HARNESS_SCRATCH_DIR", str(tmp_path))
    clock = SteppedClock()
    slow_eviction(monkeypatch, clock)
    for fmt in ("state_dict", "full"):
        values = {p.name: p.default for p in TorchCheckpoint.params}
        values.update(hidden=(16,), features=8, format=fmt)
        phases = phases_of_one_step(TorchCheckpoint(values, "cpu", seed=0, threads=1), clock)
        assert phases == {"save": 0.0, "load": 0.0}, fmt
    assert clock.now == 22.0  # both steps evicted and checked, outside every phase


def test_keras_save_times_exclude_the_eviction_and_the_mincore_scan(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    from workloads.keras_checkpoint import KerasCheckpoint

    monkeypatch.setenv("HARNESS_SCRATCH_DIR", str(tmp_path))
    clock = SteppedClock()
    slow_eviction(monkeypatch, clock)
    values = {p.name: p.default for p in KerasCheckpoint.params}
    values.update(hidden=(8,), features=4, format="weights")
    phases = phases_of_one_step(KerasCheckpoint(values, "cpu", seed=0, threads=1), clock)
    assert phases == {"save": 0.0, "load": 0.0} and clock.now == 11.0


def test_an_untimed_mark_drops_its_stretch_from_every_phase():
    from harness.workload import UNTIMED, PhaseTimer

    clock = SteppedClock()
    timer = PhaseTimer(clock, None)
    timer.start_block()
    for seconds, phase in ((2.0, "a"), (5.0, UNTIMED), (3.0, "b"), (7.0, UNTIMED)):
        clock.now += seconds
        timer.mark(phase)
    assert timer.end_block() == {"a": 2.0, "b": 3.0}


# --- the filesystem of a path: whole path components, the longest mount wins ------------------

MOUNTS = """\
/dev/sda1 / ext4 rw 0 0
/dev/sdb1 /data xfs rw 0 0
tmpfs /datastore tmpfs rw 0 0
/dev/sdc1 /data/fast btrfs rw 0 0
/dev/sdd1 /mnt/my\\040disk ext3 rw 0 0
"""


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/datastore/run", "tmpfs"),  # /data is a prefix of the string, not of the path
        ("/datastore", "tmpfs"),
        ("/data/run", "xfs"),
        ("/data", "xfs"),
        ("/data/fast/x", "btrfs"),  # the longest mount point holding it
        ("/data/faster", "xfs"),
        ("/dat", "ext4"),
        ("/mnt/my disk/x", "ext3"),  # /proc/mounts writes a space as \040
        ("/mnt/my", "ext4"),
    ],
)
def test_the_filesystem_of_a_path_matches_whole_mount_components(path, kind):
    from harness.machine.mounts import filesystem_of as of_mounts

    assert of_mounts(Path(path), MOUNTS) == kind


def test_the_scratch_filesystem_a_workload_records_matches_whole_components(tmp_path, monkeypatch):
    import harness.machine.mounts

    table = tmp_path / "mounts"
    table.write_text(MOUNTS)
    monkeypatch.setattr(harness.machine.mounts, "MOUNTS", table)
    assert filesystem_of(Path("/datastore/scratch")) == "tmpfs"
    assert filesystem_of(Path("/data/scratch")) == "xfs"
    monkeypatch.setattr(harness.machine.mounts, "MOUNTS", tmp_path / "absent")
    assert filesystem_of(Path("/data")) == "unknown"
