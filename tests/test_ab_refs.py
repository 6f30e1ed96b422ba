"""harness ab --baseline-ref / --candidate-ref run from a project's root: each side runs its own
commit's code (the current directory comes first on a ``python -m`` process's path)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, project_with_two_commits, read_jsonl


@pytest.mark.slow
def test_timed_refs_from_the_repository_root_run_each_sides_code(tmp_path):
    """Each side's workers import the project's workload from that side's worktree (their code
    hash is that commit's), not from the current checkout."""
    repo = project_with_two_commits(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "harness", "ab", "--workload", "tiny_work:Tiny", "--pairs", "2",
         "--baseline-ref", "HEAD~1", "--candidate-ref", "HEAD", "--min-blocks", "3",
         "--max-blocks", "3", "--results-file", "ab.jsonl", "--no-progress"],
        cwd=repo, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode in (0, 1), (result.stdout, result.stderr)  # wall time: any verdict
    records = read_jsonl(repo / "ab.jsonl")
    assert all(r["status"] == "ok" for r in records), records
    versions = {side: {r["code_version"] for r in records if r["label"] == side}
                for side in ("baseline", "candidate")}  # fmt: skip
    assert len(versions["baseline"]) == len(versions["candidate"]) == 1
    assert versions["baseline"] != versions["candidate"]
    assert (repo / ".harness" / "worktrees").is_dir()  # the project's own worktrees
