"""The self-benchmark (benchmarks/selfbench): its sections and the page it writes, rendered by
the shared Markdown renderer. The figures themselves come from `make bench-harness`."""

from benchmarks.selfbench.__main__ import SECTIONS, document
from benchmarks.selfbench.common import Row
from harness.environment import collect
from harness.render import render


def test_every_section_is_registered_by_name():
    assert list(SECTIONS) == [
        "accuracy",
        "overhead",
        "suite",
        "efficiency",
        "power",
        "instructions",
        "containers",
    ]
    assert all(callable(measure) for measure in SECTIONS.values())


def test_the_page_has_one_table_per_section_with_its_verdicts():
    rows = [
        Row("overhead", "cost of one step", "171 ns", "≤ 1000 ns", True),
        Row("power", "A/A false alarms", "2/10", "0", False, "two alarms"),
        Row("power", "5% detection", "50%", "informational", None),
    ]
    text = render(document(rows, collect(), 12.0), "markdown")
    assert text.startswith("# Benchmarks of the harness itself\n")
    assert "## Overhead" in text and "## Power" in text and "## Accuracy" not in text
    assert "| cost of one step | 171 ns | ≤ 1000 ns | pass |  |" in text
    assert "| A/A false alarms | 2/10 | 0 | **fail** | two alarms |" in text
    assert "| 5% detection | 50% | informational | — |  |" in text
    assert "## Method" in text and "in 12 s." in text
