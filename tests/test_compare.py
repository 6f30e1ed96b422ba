"""Regression verdicts and cross-setup reports on synthetic samples of known answer."""

import json

import numpy as np
import pytest

from harness.analysis.compare import compare_frames, judge
from harness.analysis.summary import speedup_frame
from harness.documents.compare import render_comparison
from harness.documents.report import write_report
from harness.errors import UserError
from harness.record import Record, Timing
from harness.results import ResultWriter, load_frame
from harness.stats import stability


def processes(median, spread=0.01, n_processes=3, blocks=20, seed=0):
    rng = np.random.default_rng(seed)
    return [list(median * (1 + rng.normal(0, spread, blocks))) for _ in range(n_processes)]


def test_identical_distributions_are_unchanged():
    verdict = judge(processes(1e-3, seed=1), processes(1e-3, seed=2))
    assert verdict["verdict"] == "unchanged"
    assert verdict["ci_low"] < 1 < verdict["ci_high"]


def test_a_twenty_percent_shift_is_slower_with_a_ci_excluding_one():
    verdict = judge(processes(1e-3, seed=1), processes(1.2e-3, seed=2))
    assert verdict["verdict"] == "slower"
    assert verdict["ci_low"] > 1 and verdict["ratio"] == pytest.approx(1.2, rel=0.02)
    assert verdict["p_value"] < 0.001


def test_a_twenty_percent_speedup_is_faster():
    verdict = judge(processes(1e-3, seed=1), processes(0.8e-3, seed=2))
    assert verdict["verdict"] == "faster" and verdict["ci_high"] < 1


def test_one_wild_outlier_does_not_flip_a_verdict():
    baseline = processes(1e-3, seed=1)
    candidate = processes(1e-3, seed=2)
    candidate[0][3] = 1.0  # one block 1000x slower
    assert judge(baseline, candidate)["verdict"] == "unchanged"
    slower = processes(1.2e-3, seed=3)
    slower[1][0] = 1e-6  # one absurdly fast block
    assert judge(baseline, slower)["verdict"] == "slower"


def test_a_clear_slowdown_on_a_noisy_side_is_still_a_regression():
    noisy = processes(1e-3, spread=0.4, seed=1)
    verdict = judge(noisy, processes(2e-3, spread=0.4, seed=2))
    assert verdict["verdict"] == "slower (noisy)"
    unclear = judge(noisy, processes(1.05e-3, spread=0.4, seed=3))
    assert unclear["verdict"] == "unstable"


def test_the_minimum_effect_is_the_users_and_noise_enters_through_the_interval():
    # a 7% slowdown on 5% block noise, three processes a side: caught at the 3% default
    base = processes(1e-3, spread=0.05, seed=1)
    verdict = judge(base, processes(1.07e-3, spread=0.05, seed=2))
    assert verdict["min_effect"] == 0.03 and verdict["verdict"] == "slower"
    assert judge(base, processes(1.07e-3, spread=0.05, seed=2), min_effect=0.1)["verdict"] == (
        "unchanged"
    )


def test_processes_not_blocks_are_the_samples():
    """Two processes that disagree by 20% are not 20 independent blocks each: the interval of a
    one-process-per-side comparison is narrow, but with three disagreeing processes a side it
    spans the disagreement."""
    rng = np.random.default_rng(5)
    base = [list(1e-3 * f * (1 + rng.normal(0, 0.005, 20))) for f in (0.9, 1.0, 1.1)]
    cand = [list(1.03e-3 * f * (1 + rng.normal(0, 0.005, 20))) for f in (1.1, 0.9, 1.0)]
    verdict = judge(base, cand)
    assert verdict["ci_low"] < 1 < verdict["ci_high"] and verdict["verdict"] == "unchanged"
    assert verdict["p_value"] > 0.05


def test_stability_flags():
    assert stability(1.0, 0.05) == "stable"
    assert stability(1.0, 0.15) == "unstable"
    assert stability(1.0, 0.3) == "rejected"
    assert stability(-1.0, 0.05) == "stable"


def test_fewer_than_six_blocks_are_never_stable(tmp_path):
    assert stability(1.0, 0.0, count=1) == "unknown"
    assert stability(1.0, 0.0, count=5) == "unknown" and stability(1.0, 0.0, count=6) == "stable"
    from harness.analysis.summary import summary_frame

    write_results(tmp_path / "one.jsonl", {"numpy.mlp": 1e-3}, blocks=1)  # 3 processes, 3 blocks
    rows = summary_frame(load_frame([tmp_path / "one.jsonl"]))
    assert set(rows["stability"]) == {"unknown"}


def test_one_block_or_one_process_a_side_gives_no_verdict():
    one = judge([[0.0100]], [[0.0105]])
    assert one["verdict"] == "unjudged" and "--processes 3" in one["reason"]
    assert np.isnan(one["ci_low"]) and one["ratio"] == pytest.approx(1.05)
    single = judge(processes(1e-3, n_processes=1, seed=1), processes(1.3e-3, n_processes=1))
    assert single["verdict"] == "unjudged"
    two = judge(processes(1e-3, n_processes=2, seed=1), processes(1.3e-3, n_processes=2))
    assert two["verdict"] == "unjudged"
    allowed = judge(
        processes(1e-3, n_processes=2, seed=1), processes(1.3e-3, n_processes=2), min_processes=2
    )
    assert allowed["verdict"] == "slower"


def test_unjudged_rows_are_counted_in_the_headline_and_exit_zero(cli, tmp_path):
    write_results(tmp_path / "base.jsonl", {"numpy.mlp": 1e-3}, seed=1, n_processes=1)
    write_results(tmp_path / "slow.jsonl", {"numpy.mlp": 1.3e-3}, seed=3, n_processes=1)
    result = cli("compare", "base.jsonl", "slow.jsonl", "--format", "markdown")
    assert result.returncode == 0, result
    assert "2 row(s) could not be judged" in result.stdout and "REGRESSION" not in result.stdout
    assert "--processes 3" in result.stdout
    judged = cli("compare", "base.jsonl", "slow.jsonl", "--min-processes", "1")
    assert judged.returncode == 2 and "--min-processes must be at least 2" in judged.stderr


def test_a_noisy_machine_side_is_said_in_the_row(tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3}, seed=1)
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 1e-3}, seed=2, machine={"noisy": True})
    result = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "b.jsonl"]))
    assert set(result.rows["candidate_noisy_machine"]) == {True}
    assert set(result.rows["baseline_noisy_machine"]) == {False}
    text = render_comparison(result, "markdown")
    assert "| noisy: candidate |" in text and "rerun on a quiet machine" in text
    quiet = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "a.jsonl"]))
    assert "noisy" not in render_comparison(quiet, "markdown")


def write_results(
    path,
    workloads,
    scale=1.0,
    label=None,
    seed=0,
    code_version="c0de",
    n_processes=3,
    blocks=15,
    machine=None,
):
    rng = np.random.default_rng(seed)
    with ResultWriter(path) as writer:
        for process in range(n_processes):
            for workload, median in workloads.items():
                step = list(median * scale * (1 + rng.normal(0, 0.01, blocks)))
                writer.append(
                    Record(
                        run_id=f"r{seed}",
                        workload=workload,
                        framework="numpy",
                        kind="train_step",
                        device="cpu",
                        params={"batch_size": 8},
                        changed_params={"batch_size": 8},
                        code_version=code_version,
                        process_index=process,
                        label=label,
                        items_per_step=8,
                        samples={"step": step, "forward": [v / 2 for v in step]},
                        timing=Timing(block_size=10, first_step_s=0.01),
                        environment={"host": "h", "cpu_model": "c", "launcher": "local"},
                        started_at=f"2026-11-2{seed}T00:00:00+00:00",
                        machine=machine,
                    )
                )


def test_compare_frames_lists_one_sided_workloads(tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3, "numpy.linreg": 1e-4}, seed=1)
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 1.25e-3, "harness.noop": 1e-6}, seed=2)
    result = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "b.jsonl"]))
    verdicts = result.rows.set_index(["workload", "phase"])["verdict"]
    assert verdicts[("numpy.mlp", "step")] == "slower"
    assert verdicts[("numpy.linreg", "step")] == "missing"  # absent from the candidate
    assert len(result.regressions) == 4  # numpy.mlp step and forward, numpy.linreg's two
    assert any("harness.noop" in x for x in result.only_candidate)
    markdown = render_comparison(result, "markdown")
    assert "REGRESSION" in markdown and "**slower**" in markdown and "**missing**" in markdown
    assert "Only in the candidate" in markdown
    assert "code changed" not in markdown  # both sides ran the same workload code
    allowed = compare_frames(
        load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "b.jsonl"]), allow_missing=True
    )
    assert set(allowed.regressions["workload"]) == {"numpy.mlp"}


def test_a_crashed_candidate_is_a_regression(cli, tmp_path):
    from harness.record import Failure

    write_results(tmp_path / "base.jsonl", {"numpy.mlp": 1e-3}, seed=1)
    with ResultWriter(tmp_path / "crashed.jsonl") as writer:
        writer.append(
            Record(
                workload="numpy.mlp",
                device="cpu",
                params={"batch_size": 8},
                status="crashed",
                error=Failure("crashed", "the worker died with signal SIGSEGV"),
            )
        )
    result = cli("compare", "base.jsonl", "crashed.jsonl")
    assert result.returncode == 1, result
    assert (
        "failed" in result.stdout
        and "crashed: the worker died with signal SIGSEGV" in result.stdout
    )
    assert cli("compare", "base.jsonl", "crashed.jsonl", "--allow-missing").returncode == 0


def test_compare_says_when_the_workload_code_changed(tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3}, seed=1, code_version="aaaa")
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 1e-3}, seed=2, code_version="bbbb")
    write_results(tmp_path / "c.jsonl", {"numpy.mlp": 1e-3}, seed=3, code_version=None)
    changed = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "b.jsonl"]))
    text = render_comparison(changed, "table")
    assert "The workload's own code changed between the two runs for: numpy.mlp" in text
    assert set(changed.rows["baseline_code"]) == {"aaaa"}
    assert set(changed.rows["candidate_code"]) == {"bbbb"}
    unknown = compare_frames(load_frame([tmp_path / "a.jsonl"]), load_frame([tmp_path / "c.jsonl"]))
    text = render_comparison(unknown, "markdown")
    assert "code changed" not in text and "| ? |" in text  # not recorded: unknown, not "same"


def test_compare_cli_exit_codes(cli, tmp_path):
    write_results(tmp_path / "base.jsonl", {"numpy.mlp": 1e-3}, seed=1)
    write_results(tmp_path / "same.jsonl", {"numpy.mlp": 1e-3}, seed=2)
    write_results(tmp_path / "slow.jsonl", {"numpy.mlp": 1.3e-3}, seed=3)
    write_results(tmp_path / "other.jsonl", {"numpy.linreg": 1e-3}, seed=4)
    same = cli("compare", "base.jsonl", "same.jsonl")
    assert same.returncode == 0 and "no regression" in same.stdout, same
    slow = cli("compare", "base.jsonl", "slow.jsonl", "--format", "markdown")
    assert slow.returncode == 1 and "REGRESSION" in slow.stdout
    other = cli("compare", "base.jsonl", "other.jsonl")
    assert other.returncode == 2 and "share no workload" in other.stderr
    bad = cli("compare", "base.jsonl", "same.jsonl", "--alpha", "2")
    assert bad.returncode == 2


def test_cross_setup_speedup_with_confidence_interval(tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3}, label="laptop", seed=1)
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 0.5e-3}, label="server", seed=2)
    frame = load_frame([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    speedups = speedup_frame(frame, reference="laptop")
    server = speedups[(speedups["setup"] == "server") & (speedups["phase"] == "step")].iloc[0]
    assert server["speedup"] == pytest.approx(2.0, rel=0.03)
    # the interval holds the point estimate, excludes 1 by far, and is narrow for 2% noise
    assert server["ci_low"] <= server["speedup"] <= server["ci_high"]
    assert server["ci_low"] > 1.8 and server["ci_high"] < 2.2
    with pytest.raises(UserError, match="matches no setup"):
        speedup_frame(frame, reference="desktop")


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "html", "parquet"])
def test_reports_are_written_and_parsed_back(tmp_path, fmt):
    import pandas as pd

    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3}, label="laptop", seed=1)
    write_results(tmp_path / "b.jsonl", {"numpy.mlp": 0.5e-3}, label="server", seed=2)
    frame = load_frame([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    out = tmp_path / f"report.{fmt}"
    assert write_report(frame, fmt, out, reference="laptop") is None
    if fmt == "csv":
        back = pd.read_csv(out)
        assert set(back["setup"]) == {"laptop", "server"} and len(back) == 4
    elif fmt == "parquet":
        back = pd.read_parquet(out)
        assert back["median_s"].notna().all() and len(back) == 4
    elif fmt == "html":
        text = out.read_text()
        assert text.count("<img") >= 3  # throughput, phases, history
        assert "data:image/png;base64," in text and "Speed-up" in text
    else:
        text = out.read_text()
        assert "numpy.mlp" in text and "laptop" in text and "×2.0" in text


def test_baseline_save_and_list(cli, tmp_path):
    write_results(tmp_path / "a.jsonl", {"numpy.mlp": 1e-3})
    saved = cli("baseline", "save", "main", "a.jsonl", "--baselines-dir", "baselines")
    assert saved.returncode == 0, saved
    assert (tmp_path / "baselines" / "main" / "a.jsonl").exists()
    meta = json.loads((tmp_path / "baselines" / "main" / "baseline.json").read_text())
    assert meta["files"] == ["a.jsonl"]
    (tmp_path / "junk.jsonl").write_text("junk\n")
    assert cli("baseline", "save", "bad", "junk.jsonl").returncode == 2
    assert cli("baseline", "save", "../x", "a.jsonl").returncode == 2


def test_pytest_benchmark_json_reads_into_the_same_table(tmp_path):
    data = {
        "machine_info": {
            "node": "n",
            "cpu": {"brand_raw": "cpu", "count": 2},
            "python_version": "3.11",
        },
        "commit_info": {"id": "abc"},
        "datetime": "2026-11-24T00:00:00",
        "benchmarks": [
            {
                "name": "test_numpy_mlp",
                "params": None,
                "extra_info": {
                    "workload": "numpy.mlp",
                    "framework": "numpy",
                    "params": {"batch_size": 8},
                    "items_per_step": 8,
                },
                "stats": {"median": 0.002, "iterations": 5, "data": [0.002, 0.0021, 0.0019]},
            }
        ],
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    frame = load_frame([path])
    assert list(frame["seconds"]) == [0.002, 0.0021, 0.0019]
    assert set(frame["workload"]) == {"numpy.mlp"}
    assert frame["items_per_second"].iloc[0] == pytest.approx(4000)


def test_negative_or_zero_medians_are_refused_with_a_reason():
    from harness.analysis.compare import judge

    base = [[-1e-5, -2e-5, -1.5e-5, -1e-5, -1.2e-5]] * 3  # a subtracted backward below zero
    cand = [[1e-5, 2e-5, 1.5e-5, 1e-5, 1.2e-5]] * 3
    for baseline, candidate in ((base, cand), (cand, base), ([[0.0] * 5] * 3, cand)):
        verdict = judge(baseline, candidate)
        assert verdict["verdict"] == "refused"
        assert "zero or negative" in verdict["reason"]
    assert judge(cand, cand)["verdict"] != "refused"  # positive medians are judged


def test_the_sides_shown_are_the_terms_of_the_ratio():
    # processes of unequal length: the pooled median (1.0 ms, from the long process) is not
    # what the ratio is made of; the table must show what the ratio divides
    baseline = [[1.0e-3] * 50, [2.0e-3] * 5, [2.0e-3] * 5]
    candidate = [[1.1e-3] * 5, [2.2e-3] * 5, [2.2e-3] * 5]
    row = judge(baseline, candidate)
    assert row["candidate_median_s"] / row["baseline_median_s"] == pytest.approx(row["ratio"])
    assert row["baseline_median_s"] == pytest.approx((1.0e-3 * 2.0e-3 * 2.0e-3) ** (1 / 3))
