"""Results files: appended durably, loaded into the tidy frame, torn lines, bad files."""

import contextlib
import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.results import (
    SCHEMA_VERSION,
    ResultsWarning,
    ResultWriter,
    load_frame,
    load_records,
    read_records,
)


def record(workload="numpy.mlp", samples=None, status="ok", **extra):
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
    good = json.dumps(record())
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
        writer.append({"schema_version": SCHEMA_VERSION, "record_type": "interrupted"})
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


def test_schema_v1_records_still_load(tmp_path):
    """tests/fixtures/results-v1.jsonl was written by the first release of the record schema:
    a result, a failed result and an interrupted-run record."""
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "results-v1.jsonl"
    records = load_records([fixture])
    assert all(r["schema_version"] == SCHEMA_VERSION for r in records)
    ok = [r for r in records if r.get("status") == "ok"]
    assert ok and all(r["memory"]["peak_rss_bytes"] > 0 for r in ok)
    assert all("peak_rss_bytes" not in r for r in ok)
    assert records[-1]["record_type"] == "interrupted"
    frame = load_frame([fixture])
    assert set(frame["status"]) == {"ok", "error"}
    assert frame["peak_rss_bytes"].dropna().gt(0).all()
