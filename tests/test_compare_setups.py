"""compare says when the two sides ran on different setups, and refuses an exit-1 verdict
across them unless --allow-different-setups."""

from __future__ import annotations

import numpy as np

from harness.record import Record, Timing
from harness.results import ResultWriter


def write_side(path, scale, environment, threads=2, seed=0):
    rng = np.random.default_rng(seed)
    with ResultWriter(path) as writer:
        for process in range(3):
            step = list(1e-3 * scale * (1 + rng.normal(0, 0.005, 12)))
            writer.append(Record(
                run_id=f"r{seed}", workload="numpy.mlp", framework="numpy", kind="train_step",
                device="cpu", params={"batch_size": 8}, changed_params={}, code_version="c0de",
                process_index=process, items_per_step=8, samples={"step": step},
                timing=Timing(block_size=10), thread_count=threads,
                environment={"host": "h", "cpu_model": "EPYC", "usable_cores": 2,
                             **environment}))  # fmt: skip


def test_a_local_baseline_against_a_quota_limited_container_is_refused(cli, tmp_path):
    write_side(tmp_path / "base.jsonl", 1.0, {"launcher": "local"})
    write_side(tmp_path / "cand.jsonl", 4.7, {"launcher": "docker", "image": "harness:cpu",
                                              "cpus_limit": 0.5}, threads=1, seed=1)  # fmt: skip
    refused = cli("compare", "base.jsonl", "cand.jsonl")
    assert refused.returncode == 2, refused
    said = refused.stderr.splitlines()[-1]
    assert "different setups" in said and "launcher: local → docker" in said
    assert "CPU quota" in said and "threads: 2 → 1" in said
    assert "slower" in refused.stdout and "different setups" in refused.stdout
    allowed = cli("compare", "base.jsonl", "cand.jsonl", "--allow-different-setups")
    assert allowed.returncode == 1, allowed


def test_a_framework_upgrade_is_a_different_setup(cli, tmp_path):
    write_side(tmp_path / "base.jsonl", 1.0, {"launcher": "local", "packages": {"numpy": "2.3"}})
    write_side(tmp_path / "cand.jsonl", 1.3, {"launcher": "local", "packages": {"numpy": "2.4"}},
               seed=1)  # fmt: skip
    refused = cli("compare", "base.jsonl", "cand.jsonl")
    assert refused.returncode == 2 and "framework version: 2.3 → 2.4" in refused.stderr


def test_the_host_alone_is_named_but_the_verdict_stands(cli, tmp_path):
    write_side(tmp_path / "base.jsonl", 1.0, {"launcher": "local", "host": "runner-1"})
    write_side(tmp_path / "cand.jsonl", 1.3, {"launcher": "local", "host": "runner-2"}, seed=1)
    flagged = cli("compare", "base.jsonl", "cand.jsonl")
    assert flagged.returncode == 1, flagged
    assert "host: runner-1 → runner-2" in flagged.stdout
    same = cli("compare", "base.jsonl", "base.jsonl")
    assert same.returncode == 0 and "different setups" not in same.stdout


def test_usable_cores_are_part_of_the_setup_label():
    from harness.record import Record
    from harness.setups import setup_label

    record = Record(workload="numpy.mlp", device="cpu", params={})
    record.environment = {"host": "h", "cpu_model": "EPYC", "launcher": "local", "usable_cores": 1}
    one = setup_label(record)
    record.environment["usable_cores"] = 2
    assert one != setup_label(record) and "(2 cores)" in setup_label(record)
