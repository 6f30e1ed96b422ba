"""Each task compiles with its own empty on-disk caches unless --compile-cache keep, and the
record says which and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.compile_cache import SHARED_VARIABLE, prepare
from harness.errors import UserError
from tests.conftest import read_jsonl

NAMES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "PYTORCH_KERNEL_CACHE_PATH",
         "CUDA_CACHE_PATH")  # fmt: skip


def test_fresh_caches_are_new_empty_folders_removed_after(tmp_path):
    env_a: dict[str, str] = {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "left-over")}
    env_b: dict[str, str] = {}
    a, b = prepare("fresh", env_a), prepare("fresh", env_b)
    assert a.folder != b.folder and a.files_at_start == b.files_at_start == 0
    for name in NAMES:  # every default-on cache points into the task's own folder
        assert Path(env_a[name]).parent == a.folder and Path(env_a[name]).is_dir()
        assert Path(env_b[name]).parent == b.folder
    assert a.state().mode == "fresh" and a.state().variables == {
        name: env_a[name] for name in NAMES
    }
    a.close()
    assert not a.folder.exists() and b.folder.exists()
    b.close()


def test_keep_shares_one_folder_and_counts_what_it_holds(tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_VARIABLE, str(tmp_path / "shared"))
    first = prepare("keep", {})
    (first.folder / "torchinductor" / "kernel.so").write_text("compiled")
    second = prepare("keep", {})
    assert first.folder == second.folder == tmp_path / "shared"
    assert (first.files_at_start, second.files_at_start) == (0, 1)
    second.close()
    assert second.folder.exists()  # kept for the next task


def test_opt_in_caches_are_isolated_only_where_turned_on(tmp_path):
    # JAX's persistent cache and XLA's GPU autotune cache are off unless the user sets them;
    # setting them would turn them on, so they are redirected only when already set
    off: dict[str, str] = {"XLA_FLAGS": "--xla_gpu_autotune_level=2"}
    caches = prepare("fresh", off)
    assert "JAX_COMPILATION_CACHE_DIR" not in off
    assert off["XLA_FLAGS"] == "--xla_gpu_autotune_level=2"
    caches.close()
    on = {
        "JAX_COMPILATION_CACHE_DIR": "/home/me/.jax",
        "XLA_FLAGS": "--xla_gpu_autotune_level=2 --xla_gpu_per_fusion_autotune_cache_dir=/old",
    }
    caches = prepare("fresh", on)
    assert on["JAX_COMPILATION_CACHE_DIR"] == str(caches.folder / "jax")
    assert on["XLA_FLAGS"] == (
        "--xla_gpu_autotune_level=2 --xla_gpu_per_fusion_autotune_cache_dir="
        + str(caches.folder / "xla_autotune")
    )
    caches.close()


def test_an_unknown_mode_is_one_sentence():
    with pytest.raises(UserError, match="valid: fresh, keep"):
        prepare("sometimes", {})


@pytest.mark.slow
def test_two_tasks_of_a_compiled_step_get_fresh_caches_unless_kept(cli, tmp_path):
    pytest.importorskip("torch")
    shared = tmp_path / "shared"
    args = ["run", "--suite", "smoke", "--workload", "torch.mlp", "--param", "compile=true",
            "--param", "hidden=8", "--param", "batch_size=4", "--processes", "2",
            "--min-blocks", "2", "--max-blocks", "2"]  # fmt: skip
    fresh = cli(
        *args, "--results-file", str(tmp_path / "fresh.jsonl"), env={SHARED_VARIABLE: str(shared)}
    )
    assert fresh.returncode == 0, fresh
    records = read_jsonl(tmp_path / "fresh.jsonl")
    caches = [r["compile_cache"] for r in records]
    assert [c["mode"] for c in caches] == ["fresh", "fresh"]
    assert caches[0]["folder"] != caches[1]["folder"]
    assert [c["files_at_start"] for c in caches] == [0, 0]
    assert not any(Path(c["folder"]).exists() for c in caches)  # removed with their task
    assert not shared.exists()

    kept = cli(*args, "--compile-cache", "keep", "--results-file", str(tmp_path / "keep.jsonl"),
               env={SHARED_VARIABLE: str(shared)})  # fmt: skip
    assert kept.returncode == 0, kept
    caches = [r["compile_cache"] for r in read_jsonl(tmp_path / "keep.jsonl")]
    assert [c["mode"] for c in caches] == ["keep", "keep"]
    assert caches[0]["folder"] == caches[1]["folder"] == str(shared)
    assert caches[0]["files_at_start"] == 0 and caches[1]["files_at_start"] > 0
    assert any((shared / "torchinductor").iterdir())  # inductor wrote where it was told


def test_a_bad_compile_cache_option_exits_2(cli):
    done = cli("run", "--suite", "smoke", "--workload", "numpy.linreg", "--compile-cache", "x")
    assert done.returncode == 2
