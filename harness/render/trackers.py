"""Exports for the trackers people already run, one entry per workload/phase of a report:

* ``gab``: github-action-benchmark's ``customSmallerIsBetter`` input, a JSON array of
  ``{"name", "unit", "value", "range", "extra"}`` (``range`` a string such as ``"± 329"``);
* ``bmf``: Bencher Metric Format, ``{benchmark: {"latency": {"value", "lower_value",
  "upper_value"}}}`` with latency in nanoseconds, Bencher's built-in measure.

Values are medians in nanoseconds; the bounds are the median's own 95% confidence interval
(the report's ``ci_low_s`` / ``ci_high_s``: order statistics of one process's blocks, or the
hierarchical bootstrap over processes), left out where it is unknown. Rows whose median is zero
or negative (a phase obtained by subtraction, such as keras.step's backward at tiny sizes) are
not latencies a tracker can plot: they are left out, with a note on stderr.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.render.cells import case_label
from harness.render.document import Document


def _summary_rows(document: Document, fmt: str) -> list[dict[str, Any]]:
    data = document.data
    needed = {"median_s", "ci_low_s", "ci_high_s", "setup", "phase", "params", "changed_params"}
    if data is None or not needed <= set(getattr(data, "columns", [])):
        raise UserError(f"--format {fmt} exports a report's medians; use it with harness report.")
    rows = list(data.to_dict("records"))
    positive = [(_number(r["median_s"]) or 0.0) > 0 for r in rows]
    kept = [r for r, ok in zip(rows, positive, strict=True) if ok]
    left_out = [r for r, ok in zip(rows, positive, strict=True) if not ok]
    if left_out:
        names = "; ".join(benchmark_name(r, False) for r in left_out)
        print(
            f"harness: {len(left_out)} row(s) left out of the {fmt} export, their median is zero "
            f"or negative (a phase obtained by subtraction): {names}",
            file=sys.stderr,
        )
    return kept


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def benchmark_name(row: dict[str, Any], multi_setup: bool) -> str:
    name = case_label(row["workload"], row["device"], row["params"], row["changed_params"])
    name += f" · {row['phase']}"
    return f"{row['setup']} · {name}" if multi_setup else name


def _bounds_ns(row: dict[str, Any]) -> tuple[float, float] | None:
    """The median's 95% confidence interval in nanoseconds, or None when unknown."""
    low, high = _number(row.get("ci_low_s")), _number(row.get("ci_high_s"))
    if low is None or high is None:
        return None
    return low * 1e9, high * 1e9


def render_gab(document: Document, output: Path | None = None) -> str:
    rows = _summary_rows(document, "gab")
    multi = len({r["setup"] for r in rows}) > 1
    entries = []
    for row in rows:
        entry: dict[str, Any] = {
            "name": benchmark_name(row, multi),
            "unit": "ns",
            "value": float(row["median_s"]) * 1e9,
        }
        bounds = _bounds_ns(row)
        if bounds is not None:
            entry["range"] = f"{bounds[0]:.6g} to {bounds[1]:.6g} (95% CI)"
        entry["extra"] = (
            f"blocks: {row['count']}\nprocesses: {row['processes']}\n"
            f"stability: {row['stability']}"
            + ("\nnoisy-machine" if row.get("noisy_machine") else "")
        )
        entries.append(entry)
    return json.dumps(entries, indent=2) + "\n"


def render_bmf(document: Document, output: Path | None = None) -> str:
    rows = _summary_rows(document, "bmf")
    multi = len({r["setup"] for r in rows}) > 1
    report: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        value = float(row["median_s"]) * 1e9
        metric: dict[str, float] = {"value": value}
        bounds = _bounds_ns(row)
        if bounds is not None:
            metric.update(lower_value=bounds[0], upper_value=bounds[1])
        report[benchmark_name(row, multi)] = {"latency": metric}
    return json.dumps(report, indent=2) + "\n"
