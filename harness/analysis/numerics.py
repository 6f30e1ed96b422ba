"""The numerics check beside every speed verdict: does the candidate still compute the same
training?

Recording (worker): after the measurement, each training workload is built afresh with the
same seed, data and parameters, and the losses of its first ``FIRST_STEPS`` steps
(``harness.loss_check.first_losses``) are kept in ``metrics.first_losses`` (outside every timed
region; the measured instance is released first). The loss of step k is computed before
update k, so step 1 checks the model and loss, and steps 2.. the gradients and the update too.

Judging (``compare``, ``ab``): per (workload, device, params), every candidate process against
the first baseline process, step by step:

* ``same``: bitwise equal, or every step within the tolerance: ``FP32_TOLERANCE`` (relative,
  about two float32 ulps) for float32 paths (a multi-threaded reduction may sum in another
  order; a real change of precision, loss or optimizer moves the loss by far more: bf16
  matmuls move a tiny GPT's first loss by ~4e-6),
  ``LOOSE_TOLERANCE`` where the path rounds on purpose (``dtype=bfloat16``, ``tf32=true``,
  ``compile=true``: fused kernels reorder sums);
* ``changed``: the first step beyond it, with both losses and the relative difference;
* ``?``: a side recorded no losses (an older record, or a workload that is not a training step).

``--numerics fail`` makes ``changed`` a failing gate (exit 1); the default ``report`` shows it.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from harness.render.cells import case_label

#: about two float32 ulps (2⁻²³ ≈ 1.2e-7): reordered sums, nothing more
FP32_TOLERANCE = 2e-7
LOOSE_TOLERANCE = 1e-2
MODES = ("report", "fail")
KEY = ["workload", "device", "params"]


def tolerance_for(params: dict[str, Any]) -> float:
    """The relative tolerance of a path: loose where it rounds or reorders on purpose."""
    loose = params.get("dtype") == "bfloat16" or params.get("tf32") or params.get("compile")
    return LOOSE_TOLERANCE if loose else FP32_TOLERANCE


def judge(baseline: list[float], candidate: list[float], tolerance: float) -> tuple[str, str]:
    """(``same``/``changed``, what it means) for two loss sequences."""
    if len(baseline) != len(candidate):
        return "changed", f"{len(baseline)} steps against {len(candidate)}"
    if all(_equal(a, b) for a, b in zip(baseline, candidate, strict=True)):
        return "same", "bitwise"
    for step, (a, b) in enumerate(zip(baseline, candidate, strict=True), start=1):
        difference = _relative(a, b)
        if difference > tolerance:
            return "changed", f"step {step}: {a:.7g} → {b:.7g} ({difference:.2g} relative)"
    return "same", f"within {tolerance:.0e} relative"


def _equal(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _relative(a: float, b: float) -> float:
    if _equal(a, b):
        return 0.0
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return math.inf
    return abs(b - a) / max(abs(a), abs(b), 1e-30)


def losses_by_key(frame: pd.DataFrame) -> dict[tuple, list[list[float]]]:
    """Per (workload, device, params): each record's first losses (one list per process)."""
    if "first_losses" not in frame:
        return {}
    found: dict[tuple, list[list[float]]] = {}
    kept = frame.dropna(subset=["first_losses"]).drop_duplicates(["source", "record"])
    for row in kept.itertuples():
        key = (row.workload, row.device, row.params)
        found.setdefault(key, []).append(json.loads(row.first_losses))
    return found


def numerics_frame(baseline: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload, device, params) both sides ran: ``numerics`` and ``detail``."""
    base, cand = losses_by_key(baseline), losses_by_key(candidate)
    rows = []
    for key in dict.fromkeys([*base, *cand]):
        if key not in base or key not in cand:
            rows.append({**dict(zip(KEY, key, strict=True)), "numerics": "?",
                         "numerics_detail": "no losses recorded on one side"})  # fmt: skip
            continue
        reference = base[key][0]
        tolerance = tolerance_for(json.loads(key[2]))
        verdicts = [judge(reference, other, tolerance) for other in base[key][1:] + cand[key]]
        worst = next((v for v in verdicts if v[0] == "changed"), None) or verdicts[-1]
        rows.append({**dict(zip(KEY, key, strict=True)), "numerics": worst[0],
                     "numerics_detail": worst[1]})  # fmt: skip
    return pd.DataFrame(rows, columns=[*KEY, "numerics", "numerics_detail"])


def add_column(rows: pd.DataFrame, baseline: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (compare's or ab's verdicts) with the ``numerics`` column beside the verdict."""
    if rows.empty:
        return rows
    judged = numerics_frame(baseline, candidate)
    merged = rows.drop(columns=["numerics", "numerics_detail"], errors="ignore").merge(
        judged, on=KEY, how="left"
    )
    merged["numerics"] = merged["numerics"].fillna("?")
    merged["numerics_detail"] = merged["numerics_detail"].fillna("")
    return merged


def changed_text(rows: pd.DataFrame) -> str:
    """One line per workload whose numerics changed, for the notes under the table."""
    if rows.empty or "numerics" not in rows:
        return ""
    hit = rows[rows["numerics"] == "changed"].drop_duplicates(KEY)
    lines = [f"  {case_label(r.workload, r.device)}: {r.numerics_detail}" for r in hit.itertuples()]
    if not lines:
        return ""
    return "Numerics changed (the first losses differ beyond the tolerance):\n" + "\n".join(lines)


def any_changed(rows: pd.DataFrame) -> bool:
    return not rows.empty and "numerics" in rows and bool((rows["numerics"] == "changed").any())
