"""Exports for the trackers people already run, one entry per workload/phase of a report:

* ``gab``: github-action-benchmark's ``customSmallerIsBetter`` input, a JSON array of
  ``{"name", "unit", "value", "range", "extra"}`` (``range`` a string such as ``"± 329"``);
* ``bmf``: Bencher Metric Format, ``{benchmark: {"latency": {"value", "lower_value",
  "upper_value"}}}`` with latency in nanoseconds, Bencher's built-in measure.

Values are medians in nanoseconds; the bounds are the median's 95% confidence interval
(median ± precision × median), left out where the precision is unknown.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.render.cells import short_params
from harness.render.document import Document


def _summary_rows(document: Document, fmt: str) -> list[dict[str, Any]]:
    data = document.data
    needed = {"median_s", "precision", "setup", "phase", "params", "changed_params"}
    if data is None or not needed <= set(getattr(data, "columns", [])):
        raise UserError(f"--format {fmt} exports a report's medians; use it with harness report.")
    return list(data.to_dict("records"))


def benchmark_name(row: dict[str, Any], multi_setup: bool) -> str:
    name = (
        f"{row['workload']} [{row['device']}] {short_params(row['params'], row['changed_params'])}"
    )
    name += f" · {row['phase']}"
    return f"{row['setup']} · {name}" if multi_setup else name


def _half_width_ns(row: dict[str, Any]) -> float | None:
    precision = row.get("precision")
    if precision is None or (isinstance(precision, float) and math.isnan(precision)):
        return None
    return float(precision) * abs(float(row["median_s"])) * 1e9


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
        half = _half_width_ns(row)
        if half is not None:
            entry["range"] = f"± {half:.6g}"
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
        half = _half_width_ns(row)
        if half is not None:
            metric.update(lower_value=value - half, upper_value=value + half)
        report[benchmark_name(row, multi)] = {"latency": metric}
    return json.dumps(report, indent=2) + "\n"
