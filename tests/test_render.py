"""Every renderer on the same Document: what each format shows, escapes and writes."""

import pandas as pd
import pytest

from harness.errors import UserError
from harness.render import RENDERERS, Document, Figure, Heading, Table, Text, render, write
from harness.render.cells import format_seconds, phase_label, short_params


def document():
    rows = [
        {"workload": "a|b", "phase": "step", "median": "1.000 ms", "verdict": "slower"},
        {"workload": "a|b", "phase": "forward", "median": "0.500 ms", "verdict": "unchanged"},
        {"workload": "c", "phase": "step", "median": "2.000 ms", "verdict": "unchanged"},
    ]
    table = Table(
        rows,
        title="results",
        numeric=frozenset({"median"}),
        section_by=("workload",),
        strong=frozenset({("verdict", "slower")}),
        legend=["A = laptop (reference)"],
    )
    data = pd.DataFrame({"workload": ["a|b", "c"], "median_s": [1e-3, 2e-3]})
    return Document(
        [Heading("Verdicts", 3), table, Text("Failed:\n  x [cpu]: error"), Figure("plot", plot)],
        data=data,
        sources=["r.jsonl"],
    )


def plot():
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([1, 2], [3, 4])
    return figure


def test_terminal():
    text = render(document(), "table")
    assert text.startswith("Verdicts\n") and "results" in text
    assert "a|b" in text and "A = laptop (reference)" in text and "Failed:" in text
    lines = text.splitlines()
    assert sum("├" in line for line in lines) == 1  # one section break: a|b, then c
    assert "plot" not in text  # figures only in HTML


def test_markdown():
    text = render(document(), "markdown")
    assert text.startswith("### Verdicts\n")
    assert "| a\\|b | step | 1.000 ms | **slower** |" in text
    assert "| c | step | 2.000 ms | unchanged |" in text
    assert "- A = laptop (reference)" in text and "**results**" in text


def test_csv_and_parquet_write_the_data(tmp_path):
    assert render(document(), "csv").splitlines() == ["workload,median_s", "a|b,0.001", "c,0.002"]
    out = tmp_path / "deep" / "r.parquet"
    assert write(document(), "parquet", out) is None
    assert pd.read_parquet(out)["median_s"].tolist() == [1e-3, 2e-3]
    with pytest.raises(UserError, match=r"give --output FILE\.parquet"):
        render(document(), "parquet")


def test_html_is_one_self_contained_escaped_page(tmp_path):
    out = tmp_path / "r.html"
    assert write(document(), "html", out) is None
    text = out.read_text()
    assert text.count("<img") == 1 and "data:image/png;base64," in text
    assert "<b>slower</b>" in text and "a|b" in text and "Sources: r.jsonl" in text
    assert "<td class=num>1.000 ms</td>" in text
    empty = Document([Table([], empty="Nothing <here>.")])
    assert "Nothing &lt;here&gt;." in render(empty, "html")


def test_an_unknown_format_lists_the_registered_ones():
    with pytest.raises(
        UserError, match="valid formats: table, markdown, csv, parquet, html, gab, bmf"
    ):
        render(document(), "pdf")


def test_a_new_format_is_one_function_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(RENDERERS, "count", "tests.test_render:count_rows")
    assert render(document(), "count") == "3 rows\n"


def count_rows(document, output=None):
    return f"{sum(len(b.rows) for b in document.blocks if isinstance(b, Table))} rows\n"


def test_cells():
    assert format_seconds(0.0015) == "1.500 ms" and format_seconds(None) == "—"
    assert format_seconds(-2e-6) == "-2.00 µs"  # a subtracted phase below zero stays readable
    assert short_params('{"a": 1, "b": 2}', '{"b": 2}') == "b=2"
    assert short_params('{"a": 1}', "{}") == "defaults"
    assert short_params('{"a": 1, "b": [2, 3]}', None) == "a=1 b=2x3"  # unknown: all of them
    assert (
        phase_label("load", "warm") == "load (warm cache)" and phase_label("load", "cold") == "load"
    )


def tracker_frame(tmp_path, step=None, backward=None):
    from harness.record import Record, Timing
    from harness.results import frame_from_records

    samples = {"step": step or [1e-3] * 10, "forward": [4e-4] * 10}
    if backward:
        samples["backward"] = backward
    records = [
        Record(
            workload="numpy.mlp",
            framework="numpy",
            kind="train_step",
            device="cpu",
            params={"batch_size": 8},
            changed_params={"batch_size": 8},
            source="r.jsonl",
            index=0,
            items_per_step=8,
            samples=samples,
            timing=Timing(block_size=10, precision_target=0.01),
        )
    ]
    return frame_from_records(records)


def test_github_action_benchmark_custom_smaller_is_better(tmp_path):
    import json

    from harness.documents.report import write_report

    entries = json.loads(write_report(tracker_frame(tmp_path), "gab", None))
    assert isinstance(entries, list) and len(entries) == 2
    for entry in entries:  # the fields customSmallerIsBetter documents, and their types
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["unit"], str)
        assert isinstance(entry["value"], float) and entry["range"].endswith("(95% CI)")
    step = next(e for e in entries if e["name"].endswith("· step"))
    assert step["name"] == "numpy.mlp [cpu] batch_size=8 · step"
    assert step["unit"] == "ns" and step["value"] == pytest.approx(1e6)


def test_bencher_metric_format(tmp_path):
    import json

    from harness.documents.report import write_report

    report = json.loads(write_report(tracker_frame(tmp_path), "bmf", None))
    step = report["numpy.mlp [cpu] batch_size=8 · step"]
    assert set(step) == {"latency"}  # Bencher's built-in measure, in nanoseconds
    assert step["latency"]["value"] == pytest.approx(1e6)
    assert (
        step["latency"]["lower_value"] <= step["latency"]["value"] <= step["latency"]["upper_value"]
    )


def test_trackers_get_the_intervals_own_bounds_and_no_non_positive_medians(tmp_path, capsys):
    """A subtracted phase below zero is no latency: it is left out of both exports, with a note
    on stderr; the bounds are the median's order-statistics interval, not median ± precision."""
    import json

    from harness.documents.report import write_report
    from harness.stats import median_interval

    step = [1e-3, 1.01e-3, 0.99e-3, 1.2e-3, 1.0e-3, 1.02e-3, 0.98e-3, 1.5e-3, 1.0e-3, 1.03e-3]
    frame = tracker_frame(tmp_path, step=step, backward=[-7e-5] * 10)
    low, high = median_interval(step)
    report = json.loads(write_report(frame, "bmf", None))
    assert not any("backward" in name for name in report)
    latency = report["numpy.mlp [cpu] batch_size=8 · step"]["latency"]
    assert latency["lower_value"] == pytest.approx(low * 1e9)
    assert latency["upper_value"] == pytest.approx(high * 1e9)
    assert "1 row(s) left out of the bmf export" in capsys.readouterr().err
    entries = json.loads(write_report(frame, "gab", None))
    assert all(e["value"] > 0 for e in entries) and len(entries) == 2
    step_entry = next(e for e in entries if e["name"].endswith("· step"))
    assert step_entry["range"] == f"{low * 1e9:.6g} to {high * 1e9:.6g} (95% CI)"
    assert "left out of the gab export" in capsys.readouterr().err


def test_tracker_formats_need_a_report(tmp_path):
    with pytest.raises(UserError, match="exports a report's medians"):
        render(document(), "gab")
