"""How figures are written in a table cell: times, rates, parameters, phases."""

from __future__ import annotations

import json
import math
from typing import Any

from harness.params import format_params


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_seconds(value: float | None) -> str:
    if _missing(value):
        return "—"
    assert value is not None
    if abs(value) >= 1:
        return f"{value:.3f} s"
    if abs(value) >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    if abs(value) >= 1e-6:
        return f"{value * 1e6:.2f} µs"
    return f"{value * 1e9:.0f} ns"


def format_rate(value: float | None) -> str:
    if _missing(value):
        return ""
    assert value is not None
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.1f} /s"


def short_params(params_json: str, changed_json: str | None = None) -> str:
    """The parameters that differ from the workload's defaults, as the record says; every
    parameter when the record does not say (written before schema version 3)."""
    if not _missing(changed_json) and changed_json is not None:
        return format_params(json.loads(changed_json)) or "defaults"
    return format_params(json.loads(params_json)) or "defaults"


def case_label(
    workload: str, device: str, params_json: str | None = None, changed_json: str | None = None
) -> str:
    """How every table, note, figure and message names a case: ``workload [device] params``,
    the parameters as ``short_params`` shows them; ``workload [device]`` without them."""
    label = f"{workload} [{device}]"
    return label if params_json is None else f"{label} {short_params(params_json, changed_json)}"


def phase_label(phase: str, load_cache: str | None) -> str:
    """The phase as shown: a load that did not read the disk says so."""
    if phase == "load" and load_cache == "warm":
        return "load (warm cache)"
    if phase == "load" and load_cache == "unverified":
        return "load (cache unverified)"
    return phase
