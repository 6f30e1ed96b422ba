"""One meaning per option name across every command (the parser itself is read, so a new
command that drifts fails here)."""

from __future__ import annotations

import argparse
import json

import pytest

from harness.cli import build_parser, main


def commands(parser: argparse.ArgumentParser, name: str = "harness"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from commands(child, f"{name} {sub}")


def options(name_wanted: str):
    for name, parser in commands(build_parser()):
        for action in parser._actions:
            if name_wanted in action.option_strings:
                yield name, action


def test_output_is_a_rendered_document_in_every_command():
    found = dict(options("--output"))
    assert {"harness run", "harness ab", "harness report", "harness compare", "harness explain",
            "harness k8s manifest"} <= set(found)  # fmt: skip
    assert {name: action.metavar for name, action in found.items()} == dict.fromkeys(found, "DOC")
    results = dict(options("--results-file"))
    assert set(results) == {"harness run", "harness ab"}


def test_every_format_option_offers_only_what_it_renders():
    for name, action in options("--format"):
        assert action.choices, f"{name} --format has no choices"


def test_folders_end_in_dir_and_judging_has_one_name_each():
    names = {s for _, parser in commands(build_parser()) for a in parser._actions
             for s in a.option_strings}  # fmt: skip
    assert not names & {"--dir", "--job-folder", "--json-output", "--output-dir"}
    folders = {n for n in names if n.endswith(("-dir", "-folder", "-directory"))}
    assert all(n.endswith("-dir") for n in folders), folders
    for alias, canonical in (("--min-magnitude", "--min-effect"), ("--max-pvalue", "--alpha")):
        for name, action in options(alias):
            assert canonical in action.option_strings, f"{name}: {alias} is not {canonical}"


def test_run_refuses_a_results_file_named_as_the_document(tmp_path, capsys):
    code = main(["run", "--workload", "numpy.linreg", "--output", str(tmp_path / "r.jsonl"),
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--results-file" in err and not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("suffix", [".html", ".md"])
def test_run_writes_its_report_to_output(cli, tmp_path, suffix):
    doc = tmp_path / f"report{suffix}"
    results = tmp_path / "r.jsonl"
    done = cli("run", "--suite", "smoke", "--workload", "numpy.linreg", "--min-time", "0",
               "--min-blocks", "2", "--max-blocks", "2", "--warmup-time", "0", "--results-file",
               str(results), "--output", str(doc), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(results.read_text().splitlines()[0])["workload"] == "numpy.linreg"
    text = doc.read_text(encoding="utf-8")
    assert "numpy.linreg" in text
    assert text.lstrip().lower().startswith("<!doctype html>" if suffix == ".html" else "**what")
    assert "- •" not in text  # one list mark per finding


@pytest.mark.parametrize(
    "argv, option",
    [
        (["compare", "a.jsonl", "b.jsonl", "--min-effect", "5"], "--min-effect"),
        (["compare", "a.jsonl", "b.jsonl", "--alpha", "2"], "--alpha"),
        (["bisect", "HEAD~1", "HEAD", "--workload", "numpy.linreg", "--alpha", "2"], "--alpha"),
        (["history", "changes", "--min-effect", "5"], "--min-effect"),
        (["history", "changes", "--alpha", "0"], "--alpha"),
    ],
)
def test_judging_options_are_checked_alike_in_every_command(argv, option, tmp_path, capsys,
                                                            monkeypatch):  # fmt: skip
    if argv[0] != "bisect":  # bisect runs inside a git repository: this one
        monkeypatch.chdir(tmp_path)
    code = main([*argv, *(["--db", str(tmp_path / "h.duckdb")] if argv[0] == "history" else [])])
    err = capsys.readouterr().err
    assert code == 2 and option in err and err.count("\n") == 1


def test_a_baseline_folder_that_cannot_be_made_is_one_sentence(tmp_path, capsys):
    from pathlib import Path

    results = Path(__file__).parent / "fixtures" / "results-v3.jsonl"
    blocked = tmp_path / "file"
    blocked.write_text("")
    code = main(["baseline", "save", "main", str(results), "--baselines-dir", str(blocked / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "--baselines-dir" in err and "Traceback" not in err


def test_a_document_is_written_in_the_format_its_suffix_names(tmp_path, capsys):
    from pathlib import Path

    fixture = str(Path(__file__).parent / "fixtures" / "results-v3.jsonl")
    assert main(["report", fixture, "--output", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text(encoding="utf-8").lower().startswith("<!doctype html")
    assert main(["report", fixture, "--output", str(tmp_path / "r.md")]) == 0
    assert "─" not in (tmp_path / "r.md").read_text(encoding="utf-8")  # no terminal box
    assert main(["compare", fixture, fixture, "--output", str(tmp_path / "c.html")]) in (0, 1)
    assert (tmp_path / "c.html").read_text(encoding="utf-8").lower().startswith("<!doctype html")
    for argv, words in (
        (["report", fixture, "--format", "markdown", "--output", str(tmp_path / "x.html")],
         "names html"),
        (["report", fixture, "--output", str(tmp_path / "x.jsonl")], "--results-file"),
        (["explain", "--workload", "numpy.linreg", "--candidate-env", "A=1", "--output",
          str(tmp_path / "e.html")], "not html"),
    ):  # fmt: skip
        capsys.readouterr()
        assert main(argv) == 2
        assert words in capsys.readouterr().err


def test_every_option_and_argument_says_what_it_is():
    bare = [f"{name} {action.option_strings or action.dest}"
            for name, parser in commands(build_parser()) for action in parser._actions
            if action.help is None
            and not isinstance(action, argparse._SubParsersAction)]  # fmt: skip
    assert not bare


@pytest.mark.parametrize(
    "argv, command",
    [
        (["run", "--nosuch"], "harness run"),
        (["baseline", "save", "x", "f.jsonl", "--nosuch"], "harness baseline save"),
        (["history", "changes", "--nosuch"], "harness history changes"),
        (["compare", "--alpha"], "harness compare"),
        (["run", "--work", "numpy.linreg"], "harness run"),  # no abbreviations
    ],
)
def test_a_usage_error_is_one_sentence_naming_the_command(argv, command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2
    assert err.count("\n") == 0 and err.startswith(f"{command}: ")
    assert err.endswith(f"see '{command} --help'.")


def test_unknown_names_are_refused_where_they_select(tmp_path, capsys):
    assert main(["list", "--framework", "nosuch"]) == 2
    assert "valid frameworks" in capsys.readouterr().err
    assert main(["run", "--workload", "numpy.linreg", "--db", str(tmp_path / "h.duckdb")]) == 2
    assert "--history" in capsys.readouterr().err
    from pathlib import Path

    fixture = str(Path(__file__).parent / "fixtures" / "results-v3.jsonl")
    assert main(["compare", fixture, fixture, "--phase", "nosuch"]) == 2
    assert "No phase 'nosuch'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value", [("--min-blocks", "0"), ("--precision", "2"), ("--min-time", "-1")]
)
def test_timer_settings_are_refused_by_their_option_name(option, value, capsys):
    assert main(["run", "--workload", "numpy.linreg", option, value, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith(f"harness run: {option} ")


def test_a_run_where_every_task_failed_shows_its_failures_first(cli, tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text("")
    done = cli("run", "--workload", "numpy.linreg", "--timeout", "0.001", "--results-file",
               str(results), "--output", str(tmp_path / "f.csv"), "--no-progress")  # fmt: skip
    assert done.returncode == 1
    assert "FAILED numpy.linreg" in done.stderr and "no report" in done.stderr
    assert "--format" not in done.stderr and not (tmp_path / "f.csv").exists()
    again = cli("run", "--workload", "numpy.linreg", "--timeout", "0.001", "--results-file",
                str(results), "--output", str(tmp_path / "f.md"), "--no-progress")  # fmt: skip
    assert again.returncode == 1 and f"appending to {results}" in again.stderr
    report = (tmp_path / "f.md").read_text(encoding="utf-8")
    assert "1 task(s) failed" in report  # this run's record only, not the earlier run's too


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--min-time", "5", "--max-time", "1"], "is more than --max-time"),
        (["--max-time", "0"], "--max-time must be a positive"),
        (["--instruction-steps", "5"], "works with --measure instructions only"),
        (["--measure", "instructions", "--precision", "0.02"], "--precision sets how time"),
        (["--results-dir", "d", "--results-file", "r.jsonl"], "not both"),
    ],
)
def test_options_that_would_go_unused_are_refused(argv, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--workload", "numpy.linreg", "--no-progress", *argv]) == 2
    assert words in capsys.readouterr().err


def test_a_document_name_must_say_its_format(tmp_path, capsys):
    from pathlib import Path

    fixture = str(Path(__file__).parent / "fixtures" / "results-v3.jsonl")
    assert main(["report", fixture, "--output", str(tmp_path / "x.json")]) == 2
    assert "Cannot tell a format" in capsys.readouterr().err
    assert main(["report", fixture, "--format", "gab", "--output", str(tmp_path / "x.json")]) == 0
    assert main(["report", fixture, "--output", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["report", fixture, "--reference", "nosuch"]) == 2  # one setup: still refused
    assert "matches no setup" in capsys.readouterr().err
