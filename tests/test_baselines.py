"""Named baselines: re-saving replaces whole, equal names are kept apart, and the manifest (not
the folder's listing) is what list and compare --baseline read."""

from __future__ import annotations

import json

from harness.analysis.baselines import baseline_files, list_baselines, save_baseline
from tests.test_compare import write_results


def test_saving_again_needs_replace_and_then_keeps_no_old_file(cli, tmp_path):
    write_results(tmp_path / "old.jsonl", {"numpy.mlp": 1e-3})
    write_results(tmp_path / "new.jsonl", {"numpy.mlp": 2e-3}, seed=1)
    assert cli("baseline", "save", "main", "old.jsonl", "--baselines-dir", "b").returncode == 0
    again = cli("baseline", "save", "main", "new.jsonl", "--baselines-dir", "b")
    assert again.returncode == 2 and "--replace" in again.stderr, again
    assert (tmp_path / "b" / "main" / "old.jsonl").exists()  # a refusal changes nothing
    replaced = cli("baseline", "save", "main", "new.jsonl", "--baselines-dir", "b", "--replace")
    assert replaced.returncode == 0, replaced
    assert sorted(p.name for p in (tmp_path / "b" / "main").iterdir()) == [
        "baseline.json",
        "new.jsonl",
    ]
    assert [p.name for p in baseline_files("main", tmp_path / "b")] == ["new.jsonl"]


def test_two_files_with_one_name_are_both_kept(tmp_path):
    for side, scale in (("a", 1.0), ("b", 1.5)):
        (tmp_path / side).mkdir()
        write_results(tmp_path / side / "run.jsonl", {"numpy.mlp": 1e-3 * scale})
    target = save_baseline(
        "main", [tmp_path / "a" / "run.jsonl", tmp_path / "b" / "run.jsonl"], tmp_path / "kept"
    )
    manifest = json.loads((target / "baseline.json").read_text())
    assert manifest["files"] == ["run.jsonl", "run-2.jsonl"]
    kept = [len(p.read_text().splitlines()) for p in baseline_files("main", tmp_path / "kept")]
    assert kept == [3, 3]  # all six records, none overwritten


def test_list_and_compare_read_the_manifest_not_the_folder(cli, tmp_path):
    write_results(tmp_path / "base.jsonl", {"numpy.mlp": 1e-3})
    write_results(tmp_path / "slow.jsonl", {"numpy.mlp": 1e-3}, scale=1.5, seed=1)
    assert cli("baseline", "save", "main", "base.jsonl", "--baselines-dir", "b").returncode == 0
    # a stray results file dropped into the folder is not part of the baseline
    (tmp_path / "b" / "main" / "stray.jsonl").write_text((tmp_path / "slow.jsonl").read_text())
    assert list_baselines(tmp_path / "b") == {"main": ["base.jsonl"]}
    listed = cli("baseline", "list", "--baselines-dir", "b")
    assert listed.stdout.strip() == "main: base.jsonl", listed
    # the candidate is slower than the baseline; pooling the stray file would hide it
    verdict = cli("compare", "--baseline", "main", "--baselines-dir", "b", "slow.jsonl")
    assert verdict.returncode == 1 and "slower" in verdict.stdout, verdict
    unknown = cli("compare", "--baseline", "nope", "--baselines-dir", "b", "slow.jsonl")
    assert unknown.returncode == 2 and "main" in unknown.stderr, unknown


def test_a_file_given_twice_is_refused(cli, tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3})
    twice = cli("baseline", "save", "main", "a.jsonl", "a.jsonl", "--baselines-dir", "b")
    assert twice.returncode == 2 and "twice" in twice.stderr, twice


def test_a_folder_without_a_manifest_says_how_to_save_it_again(cli, tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3})
    (tmp_path / "b" / "legacy").mkdir(parents=True)
    (tmp_path / "b" / "legacy" / "a.jsonl").write_text((tmp_path / "a.jsonl").read_text())
    refused = cli("compare", "--baseline", "legacy", "--baselines-dir", "b", "a.jsonl")
    assert refused.returncode == 2 and "no manifest" in refused.stderr, refused
    assert "--replace" in refused.stderr
    assert cli("baseline", "save", "kept", "a.jsonl", "--baselines-dir", "b").returncode == 0
    (tmp_path / "b" / "kept" / "a.jsonl").unlink()
    listed = cli("baseline", "list", "--baselines-dir", "b")
    assert "kept: a.jsonl (missing)" in listed.stdout, listed
