"""Results files: appended durably, loaded into the tidy frame, torn lines, bad files."""

import contextlib
import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.record import SCHEMA_VERSION, Interrupted, Record, from_json
from harness.results import (
    ResultsWarning,
    ResultWriter,
    load_frame,
    load_records,
    read_records,
)


def record(workload="numpy.mlp", samples=None, status="ok", **extra):
    return from_json(record_json(workload, samples, status, **extra))


def record_json(workload="numpy.mlp", samples=None, status="ok", **extra):
    return {
        "schema_version": SCHEMA_VERSION,
        "record_type": "result",
        "run_id": "r1",
        "workload": workload,
        "framework": "numpy",
        "kind": "train_step",
        "device": "cpu",
        "params": {"batch_size": 8, "hidden": [4, 2]},
        "status": status,
        "samples": samples
        if samples is not None
        else {"step": [0.002, 0.004], "forward": [0.001, 0.002]},
        "items_per_step": 8,
        "timing": {"block_size": 5, "first_step_s": 0.1},
        "environment": {
            "host": "h",
            "cpu_model": "cpu",
            "launcher": "local",
            "packages": {"numpy": "2.0"},
        },
        **extra,
    }


def test_writer_appends_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        writer.append(record())
    with ResultWriter(path) as writer:
        writer.append(record("numpy.linreg"))
    lines = path.read_text().splitlines()
    assert [json.loads(x)["workload"] for x in lines] == ["numpy.mlp", "numpy.linreg"]


def test_tidy_frame_has_one_row_per_sample(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        writer.append(record())
    frame = load_frame([path])
    assert len(frame) == 4
    assert set(frame["phase"]) == {"step", "forward"}
    assert frame["param_hidden"].iloc[0] == "4x2"
    step = frame[frame["phase"] == "step"]
    assert list(step["items_per_second"]) == [4000.0, 2000.0]
    for column in ("workload", "params", "setup", "seconds", "block_size", "first_step_s"):
        assert column in frame.columns


def test_torn_final_line_loads_with_a_warning(tmp_path):
    path = tmp_path / "r.jsonl"
    good = json.dumps(record_json())
    path.write_text(good + "\n" + good[: len(good) // 2])
    with pytest.warns(ResultsWarning, match="torn final line"):
        records = list(read_records(path))
    assert len(records) == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json at all\n", "not a harness result record"),
        ('{"schema_version": 99}\n', "newer than this harness"),
        ("[1, 2]\n", "not a harness result record"),
        ('{"no_version": 1}\n', "unknown schema_version"),
    ],
)
def test_bad_files_are_user_errors(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_records([path])


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_records([tmp_path / "nope.jsonl"])
    with pytest.raises(UserError, match="is a folder"):
        load_records([tmp_path])


def test_interrupted_record_is_not_a_result(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        writer.append(record())
        writer.append(Interrupted("r1", "SIGINT", 1, 2, "2026-11-25T00:00:00+00:00"))
    frame = load_frame([path])
    assert frame["record"].nunique() == 1


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_loader_answers_any_bytes_with_records_or_a_user_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "r.jsonl"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)
        with contextlib.suppress(UserError):
            load_frame([path])


@pytest.mark.parametrize("version", [1, 2])
def test_records_of_every_earlier_schema_still_load(version):
    """tests/fixtures/results-v1.jsonl and -v2.jsonl were written by the releases of those
    schema versions: results, failed results (an exception, a crash) and an interrupted-run
    record."""
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / f"results-v{version}.jsonl"
    records = load_records([fixture])
    assert all(isinstance(r, Record) for r in records)
    assert all(r.schema_version == SCHEMA_VERSION and r.migrated_from == version for r in records)
    ok = [r for r in records if r.ok]
    assert ok and all(r.memory["peak_rss_bytes"] > 0 for r in ok)
    assert all("peak_rss_bytes" not in r.extra for r in ok)
    assert all(r.timing and r.timing.block_size > 0 for r in ok)
    assert all(r.phase_gap is not None for r in ok)
    # not recorded before version 3: unknown, never guessed
    assert all(r.changed_params is None and r.code_version is None for r in records)
    failed = [r for r in records if r.failed]
    assert failed and all(r.error and r.error.message for r in failed)
    interrupted = [r for r in read_records(fixture) if isinstance(r, Interrupted)]
    assert len(interrupted) == 1 and interrupted[0].signal == "SIGINT"
    frame = load_frame([fixture])
    assert {"ok", "error"} <= set(frame["status"])
    assert frame["peak_rss_bytes"].dropna().gt(0).all()
    assert frame["changed_params"].isna().all()


def test_records_of_version_3_load_with_their_summary_recomputed_and_their_count_typed():
    """tests/fixtures/results-v3.jsonl was written by schema version 3 (a timed record and an
    instruction count): the stored summary is dropped and computed again from the samples."""
    import json as json_module
    from pathlib import Path

    from harness.record import InstructionCount

    fixture = Path(__file__).parent / "fixtures" / "results-v3.jsonl"
    stored = [json_module.loads(line) for line in fixture.read_text().splitlines()]
    timed, counted = load_records([fixture])
    assert timed.migrated_from == 3 and timed.schema_version == SCHEMA_VERSION
    assert "summary" not in timed.extra
    assert timed.step_median == stored[0]["summary"]["step"]["median"]
    assert timed.summary["forward"] == stored[0]["summary"]["forward"]
    assert isinstance(counted.instructions, InstructionCount)
    assert counted.instructions.per_step == stored[1]["instructions"]["per_step"] > 0
    frame = load_frame([fixture])
    assert frame["instructions_per_step"].dropna().tolist() == [counted.instructions.per_step]
    assert timed.to_json()["instructions"] is None
    assert counted.to_json()["instructions"] == stored[1]["instructions"]


def test_version_2_crash_keeps_its_signal():
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "results-v2.jsonl"
    [crash] = [r for r in load_records([fixture]) if r.status == "crashed"]
    assert crash.error is not None and crash.error.signal == "SIGSEGV"


def test_a_record_survives_a_round_trip_through_json():
    original = record(
        changed_params={"batch_size": 8},
        code_version="abc123",
        metrics={"flops_per_step": 10},
        error=None,
        something_newer={"kept": True},
    )
    again = from_json(json.loads(json.dumps(original.to_json())))
    assert again == original
    assert again.extra == {"something_newer": {"kept": True}}
    assert again.to_json()["something_newer"] == {"kept": True}
    assert again.timing is not None and again.timing.block_size == 5


@pytest.mark.parametrize(
    "change, message",
    [
        ({"params": 5}, "'params' must be an object"),
        ({"samples": {"step": ["a"]}}, "list of numbers"),
        ({"workload": 3}, "'workload' must be a string"),
        ({"changed_params": [1]}, "'changed_params' must be an object"),
    ],
)
def test_records_of_the_wrong_shape_are_refused(tmp_path, change, message):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({**record_json(), **change}) + "\n")
    with pytest.raises(UserError, match=message):
        load_records([path])
