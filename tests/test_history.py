"""The results history on a real DuckDB file, and change points found by Apache Otava in a
synthetic series of known answer."""

import numpy as np
import pytest

from harness.record import Record, Timing
from harness.results import ResultWriter, load_frame
from tests.conftest import read_jsonl


def write_runs(folder, medians, workload="numpy.mlp", seed=0, label="ci", hosts=None,
               versions=None, noisy=(), labels=None):  # fmt: skip
    """One results file per run, one record each, 10 blocks around the run's median; run i on
    host ``hosts[i]`` with numpy ``versions[i]``, labelled ``labels[i]`` (else ``label``),
    flagged noisy-machine when i is in ``noisy``."""
    rng = np.random.default_rng(seed)
    files = []
    for index, median in enumerate(medians):
        path = folder / f"run{index:02d}.jsonl"
        samples = list(median * (1 + rng.normal(0, 0.002, 10)))
        with ResultWriter(path) as writer:
            writer.append(
                Record(
                    workload=workload,
                    framework="numpy",
                    kind="train_step",
                    device="cpu",
                    params={"batch_size": 8},
                    changed_params={"batch_size": 8},
                    run_id=f"run-{index:02d}",
                    started_at=f"2026-11-{1 + index // 24:02d}T{index % 24:02d}:00:00+00:00",
                    label=labels[index] if labels else label,
                    items_per_step=8,
                    samples={"step": samples},
                    timing=Timing(block_size=10, precision_target=0.01),
                    environment={
                        "git_commit": f"commit{index:02d}",
                        "git_branch": "main",
                        "host": hosts[index] if hosts else "ci-host",
                        "cpu_model": "Xeon",
                        "launcher": "local",
                        "packages": {"numpy": versions[index] if versions else "2.3.0"},
                    },
                    machine=(
                        {"noisy": True, "noisy_reasons": ["reference kernel 40% slower"]}
                        if index in noisy
                        else {}
                    ),
                )
            )
        files.append(path)
    return files


def series_with_a_step(runs=30, at=15, step=0.10, noise=0.01, seed=1):
    rng = np.random.default_rng(seed)
    base = 1e-3 * (1 + rng.normal(0, noise, runs))
    base[at:] *= 1 + step
    return list(base)


def test_a_ten_percent_step_in_thirty_runs_is_found_between_its_commits(tmp_path):
    from harness.analysis.history import add, changes, latest_slowdowns, series

    files = write_runs(tmp_path, series_with_a_step())
    db = tmp_path / "h.duckdb"
    added = add(load_frame(files), db)
    assert len(added) == 30 and all(ok for _, ok in added)
    assert not any(ok for _, ok in add(load_frame(files[:3]), db))  # each run once
    history = series(db)
    assert len(history) == 30 and list(history["git_commit"])[:2] == ["commit00", "commit01"]
    found = changes(history)
    assert len(found) == 1
    [change] = found
    assert change.index == 15 and change.before_commit == "commit14"
    assert change.after_commit == "commit15" and change.relative == pytest.approx(0.10, abs=0.02)
    assert latest_slowdowns(found) == [change]


def test_a_flat_series_has_no_change_point(tmp_path):
    from harness.analysis.history import add, changes, series

    files = write_runs(tmp_path, series_with_a_step(step=0.0))
    db = tmp_path / "h.duckdb"
    add(load_frame(files), db)
    assert changes(series(db)) == []


def test_a_slowdown_undone_later_is_not_standing(tmp_path):
    from harness.analysis.history import add, changes, latest_slowdowns, series

    medians = series_with_a_step(runs=45, at=15, step=0.10)
    medians[30:] = [m / 1.10 for m in medians[30:]]  # fixed fifteen runs later
    db = tmp_path / "h.duckdb"
    add(load_frame(write_runs(tmp_path, medians)), db)
    found = changes(series(db))
    assert [c.slowdown for c in found] == [True, False]
    assert latest_slowdowns(found) == []


def test_history_commands(cli, tmp_path):
    write_runs(tmp_path, series_with_a_step())
    files = [f"run{i:02d}.jsonl" for i in range(30)]
    added = cli("history", "add", *files, "--db", "h.duckdb")
    assert added.returncode == 0 and "warning" not in added.stderr, added
    show = cli("history", "show", "--workload", "numpy.mlp", "--db", "h.duckdb")
    assert show.returncode == 0 and "commit29" in show.stdout and "numpy.mlp" in show.stdout
    changed = cli("history", "changes", "--db", "h.duckdb")
    assert changed.returncode == 1, changed
    assert "SLOWER +" in changed.stdout and "between commit14 and commit15" in changed.stdout
    missing = cli("history", "show", "--db", "nope.duckdb")
    assert missing.returncode == 2 and "No history at nope.duckdb" in missing.stderr


@pytest.mark.slow
def test_a_run_is_appended_with_history(cli, tmp_path):
    run = cli(
        "run",
        "--suite",
        "smoke",
        "--workload",
        "numpy.linreg",
        "--results-file",
        "r.jsonl",
        "--history",
        "--db",
        "h.duckdb",
    )
    assert run.returncode == 0, run
    assert "added to the history" in run.stderr
    [record] = read_jsonl(tmp_path / "r.jsonl")
    show = cli("history", "show", "--db", "h.duckdb")
    assert record["run_id"] and "numpy.linreg" in show.stdout


def test_a_new_host_every_run_stays_one_series_and_an_upgrade_is_named(cli, tmp_path):
    """Hosted CI: no --label, a new host name every job; the slowdown arrives with an upgrade."""
    medians = series_with_a_step(runs=12, at=8, step=0.30)
    versions = ["2.3.0"] * 8 + ["2.4.0"] * 4
    hosts = [f"runner-{i}" for i in range(12)]
    write_runs(tmp_path, medians, label=None, hosts=hosts, versions=versions)
    files = [f"run{i:02d}.jsonl" for i in range(12)]
    assert cli("history", "add", *files, "--db", "h.duckdb").returncode == 0
    changed = cli("history", "changes", "--db", "h.duckdb")
    assert changed.returncode == 1, changed
    assert "SLOWER +" in changed.stdout and "(run 9 of 12" in changed.stdout
    assert "framework 2.3.0 → 2.4.0" in changed.stdout and "Xeon · local" in changed.stdout
    show = cli("history", "show", "--db", "h.duckdb")
    assert "host" in show.stdout and "2.3.0 → 2.4.0" in show.stdout


def test_series_too_short_to_judge_are_said_so(cli, tmp_path):
    write_runs(tmp_path, [1e-3, 1.3e-3], label=None, hosts=["a", "b"])
    added = cli("history", "add", "run00.jsonl", "run01.jsonl", "--db", "h.duckdb")
    assert added.returncode == 0 and "warning" not in added.stderr, added  # two runs: early
    changed = cli("history", "changes", "--db", "h.duckdb")
    assert changed.returncode == 0
    assert "1 of 1 series have fewer than 3 runs" in changed.stderr
    assert "No change point in the 0 series" in changed.stdout


def test_a_slowdown_in_the_latest_noisy_run_alone_is_unconfirmed(cli, tmp_path):
    medians = [1e-3 * (1 + 0.002 * (i % 3)) for i in range(9)] + [1.4e-3]
    write_runs(tmp_path, medians, noisy={9})
    files = [f"run{i:02d}.jsonl" for i in range(10)]
    assert cli("history", "add", *files, "--db", "h.duckdb").returncode == 0
    changed = cli("history", "changes", "--db", "h.duckdb")
    assert changed.returncode == 0, changed
    assert "UNCONFIRMED" in changed.stdout and "reference kernel 40% slower" in changed.stdout
    strict = cli("history", "changes", "--db", "h.duckdb", "--unconfirmed", "fail")
    assert strict.returncode == 1
    # a second slow run confirms it
    write_runs(tmp_path, [*medians, 1.41e-3])
    assert cli("history", "add", "run10.jsonl", "--db", "h.duckdb").returncode == 0
    confirmed = cli("history", "changes", "--db", "h.duckdb")
    assert confirmed.returncode == 1 and "UNCONFIRMED" not in confirmed.stdout, confirmed


@pytest.mark.slow
def test_a_locked_history_does_not_hide_the_run_outcome(cli, tmp_path):
    import subprocess
    import sys

    from harness.analysis.history import connect

    connect(tmp_path / "h.duckdb").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(120)", str(tmp_path / "h.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        run = cli("run", "--suite", "smoke", "--workload", "numpy.linreg",
                  "--workload", "workloads.faults:Raise", "--results-file", "r.jsonl",
                  "--history", "--db", "h.duckdb", "--no-progress")  # fmt: skip
    finally:
        holder.kill()
        holder.communicate()
    assert run.returncode == 1, run  # the run's own verdict: a workload failed
    assert "FAILED workloads.faults:Raise" in run.stderr and "results in" in run.stderr
    assert "not added to the history" in run.stderr
    assert "harness history add" in run.stderr and "r.jsonl" in run.stderr


def test_history_add_warns_when_no_series_has_two_runs(cli, tmp_path):
    """Hosted CI runners get a new host per job, and the default setup label names the host:
    every run then starts its own series of one point, where no change point can ever show."""
    write_runs(tmp_path, [1e-3, 1e-3, 1.2e-3], labels=["host-a", "host-b", "host-c"])
    first = cli("history", "add", "run00.jsonl", "--db", "h.duckdb")
    assert first.returncode == 0 and "warning" not in first.stderr, first  # one run: too early
    rest = cli("history", "add", "run01.jsonl", "run02.jsonl", "--db", "h.duckdb")
    assert rest.returncode == 0, rest
    assert "every series in h.duckdb has a single run (3 runs, 3 series)" in rest.stderr
    assert "--label" in rest.stderr


def test_the_example_workflow_keeps_its_history_series_together():
    """The example CI workflow's history runs carry a stable --label (see the warning above)."""
    import yaml

    from tests.conftest import ROOT

    workflow = yaml.safe_load((ROOT / "docs/examples/regression-gate.yml").read_text())
    commands = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    with_history = [c for c in commands if "--history" in c]
    assert with_history and all(" --label " in c for c in with_history), with_history


def test_runs_that_line_up_in_series_too_short_to_judge_are_warned_about(cli, tmp_path):
    write_runs(tmp_path, [1e-3, 1e-3, 1.1e-3, 1.1e-3], labels=["a", "b", "a", "b"])
    files = [f"run{i:02d}.jsonl" for i in range(4)]
    added = cli("history", "add", *files, "--db", "h.duckdb")
    assert added.returncode == 0 and "all 2 series" in added.stderr, added
    assert "fewer than 3 runs" in added.stderr


def test_a_change_of_quota_and_threads_is_marked_at_the_change_point(cli, tmp_path):
    rng = np.random.default_rng(4)
    files = []
    for index in range(10):
        limited = index >= 6
        path = tmp_path / f"q{index:02d}.jsonl"
        with ResultWriter(path) as writer:
            writer.append(
                Record(
                    workload="numpy.mlp",
                    framework="numpy",
                    kind="train_step",
                    device="cpu",
                    params={"batch_size": 8},
                    changed_params={},
                    run_id=f"q-{index:02d}",
                    started_at=f"2026-11-01T{index:02d}:00:00+00:00",
                    label="ci",
                    items_per_step=8,
                    samples={
                        "step": list(
                            1e-3 * (1.8 if limited else 1.0) * (1 + rng.normal(0, 0.002, 10))
                        )
                    },
                    timing=Timing(block_size=10),
                    thread_count=1 if limited else 2,
                    environment={
                        "cpu_model": "Xeon",
                        "launcher": "docker",
                        "usable_cores": 2,
                        "cpus_limit": 0.5 if limited else None,
                        "python": "3.11.7",
                    },
                )
            )
        files.append(path.name)
    assert cli("history", "add", *files, "--db", "h.duckdb").returncode == 0
    changed = cli("history", "changes", "--db", "h.duckdb")
    assert changed.returncode == 1 and "(run 7 of 10" in changed.stdout, changed
    assert "CPU quota none → 0.5" in changed.stdout and "threads 2 → 1" in changed.stdout
