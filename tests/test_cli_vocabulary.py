"""One meaning per option name: --format for machine-readable output everywhere (--json kept as
an alias), no option accepted and then ignored, a command offers only the formats it renders,
one name each for the minimum effect and the significance level."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("command", [["list"], ["env"]])
def test_format_json_and_its_alias_agree(cli, command):
    by_format = cli(*command, "--format", "json")
    by_alias = cli(*command, "--json")
    assert by_format.returncode == by_alias.returncode == 0, by_format
    assert json.loads(by_format.stdout).keys() == json.loads(by_alias.stdout).keys()


def test_ab_refuses_processes_it_would_ignore(cli):
    done = cli("ab", "--suite", "smoke", "--workload", "numpy.linreg", "--processes", "5",
               "--candidate-env", "A=1")  # fmt: skip
    assert done.returncode == 2 and "--pairs" in done.stderr, done


def test_compare_offers_only_what_it_renders(cli):
    done = cli("compare", "a.jsonl", "b.jsonl", "--format", "gab")
    assert done.returncode == 2 and "invalid choice" in done.stderr, done
    assert "gab" not in cli("compare", "--help").stdout.split("--format")[1].split("\n")[0]


def test_wheelhouse_takes_no_tag_or_base_it_would_ignore(cli):
    done = cli("images", "wheelhouse", "--tag", "x")
    assert done.returncode == 2 and "unrecognized arguments: --tag" in done.stderr, done


def test_history_names_its_thresholds_as_compare_does(cli, tmp_path):
    from tests.test_history import series_with_a_step, write_runs

    write_runs(tmp_path, series_with_a_step())
    files = [f"run{i:02d}.jsonl" for i in range(30)]
    assert cli("history", "add", *files, "--db", "h.duckdb").returncode == 0
    new = cli("history", "changes", "--db", "h.duckdb", "--min-effect", "0.03", "--alpha", "0.001")
    old = cli("history", "changes", "--db", "h.duckdb", "--min-magnitude", "0.03",
              "--max-pvalue", "0.001")  # fmt: skip
    assert new.returncode == old.returncode == 1 and new.stdout == old.stdout
