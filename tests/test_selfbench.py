"""The self-benchmark (benchmarks/selfbench): its sections and the page it writes, rendered by
the shared Markdown renderer. The figures themselves come from `make bench-harness`."""

import pytest

from benchmarks.selfbench.__main__ import SECTIONS, document
from benchmarks.selfbench.common import Row
from harness.machine.environment import collect
from harness.render import render


def test_every_section_is_registered_by_name():
    assert list(SECTIONS) == [
        "accuracy",
        "overhead",
        "suite",
        "efficiency",
        "models",
        "power",
        "instructions",
        "explain",
        "containers",
        "bisection",
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


def test_the_cpu_limit_comes_from_cores_clock_and_flags():
    from benchmarks.selfbench.verdicts import cpu_limit

    cpuinfo = (
        "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\n"
        "flags\t\t: fpu sse2 avx fma avx2\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\n"
        "flags\t\t: fpu sse2 avx fma avx2\n"
    )
    limit, how = cpu_limit(cpuinfo, 2)
    assert limit == 2 * 2445.406e6 * 32 and "avx2" in how
    assert cpu_limit(cpuinfo.replace("avx2", "avx512f avx2"), 1)[0] == 2445.406e6 * 64
    assert cpu_limit("model name\t: unknown\n", 4) is None


def test_accuracy_rows_are_paired_by_round():
    """Each round's ratio cancels the machine's drift between rounds: a side twice as slow in
    one round for both timers moves nothing (old code: median of each side, then the ratio)."""
    import math

    from benchmarks.selfbench.accuracy import paired, paired_row

    ours = [1.005, 2.01, 1.005, 1.005]  # round 2: the machine ran at half speed for both sides
    theirs = [1.0, 2.0, 1.0, 1.0]
    ratio, low, high = paired(ours, theirs)
    assert ratio == pytest.approx(1.005) and low == pytest.approx(1.005)
    assert high == pytest.approx(1.005)
    ratio, low, high = paired([1.0, 1.1], [1.0, 1.0])
    half = 12.706 * (math.log(1.1) / math.sqrt(2)) / math.sqrt(2)  # t(1) on two logs
    assert ratio == pytest.approx(math.sqrt(1.1))
    assert math.log(high / ratio) == pytest.approx(half, rel=1e-3)
    row = paired_row("x", ours, theirs, tolerance=0.01)
    assert row.value == "1.005 [1.005, 1.005]" and row.passed


def test_only_measures_the_named_sections_and_keeps_the_others_with_their_date(
    tmp_path, monkeypatch
):
    """--only: the named section is measured now; every other keeps its rows from the page
    being replaced (and the suite's verdicts table with it), marked with when it was measured."""
    import benchmarks.selfbench.__main__ as selfbench

    monkeypatch.chdir(tmp_path)  # the cache lives under results/selfbench here
    page = tmp_path / "BENCHMARKS.md"
    earlier = [
        Row("overhead", "cost of one step", "171 ns", "≤ 1000 ns", True),
        Row("suite", "default suite", "203 s", "informational", None),
        Row("verdicts", "numpy.mlp verdict", "compute-bound", "—", None, "a | b"),
        Row("power", "A/A false alarms", "2/10", "≤ 1/20", False),
    ]
    page.write_text(render(document(earlier, collect(), 5.0), "markdown"), encoding="utf-8")
    monkeypatch.setitem(
        selfbench.SECTIONS, "power", lambda quick: [Row("power", "A/A", "0/20", "≤ 1/20", True)]
    )
    assert selfbench.main(["--output", str(page), "--only", "power"]) == 0
    text = page.read_text(encoding="utf-8")
    assert "| A/A | 0/20 | ≤ 1/20 | pass |  |" in text and "2/10" not in text
    assert "| cost of one step | 171 ns | ≤ 1000 ns | pass |  |" in text
    assert "## Verdicts" in text and "numpy.mlp verdict" in text
    assert text.count("(kept from that run)") == 3  # overhead, suite, verdicts; not power
    assert (tmp_path / "results/selfbench/power.json").exists()
