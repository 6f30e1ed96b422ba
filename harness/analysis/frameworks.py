"""Frameworks side by side: the workloads that implement the same model (their class declares
one ``model_name``: ``gpt``, ``resnet50``) paired at the same size and device, PyTorch against
Keras on TensorFlow against Keras on torch.

Per variant: throughput (items/s: tokens or images), its ratio to the PyTorch entry with a 95%
hierarchical-bootstrap interval (``harness.stats.ratio_confidence_interval``, processes then
blocks), the share of each phase in the phase sum, and MFU against the measured peak of the
precision that ran (``harness.analysis.mfu``; '—' without cached peaks). "Same size": the parameters
the variants share, less those that choose how rather than what (learning rate, layout,
compilation, backend).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from harness.analysis import mfu
from harness.analysis.summary import measured, process_groups
from harness.machine.peaks import MachinePeaks
from harness.render import Table
from harness.stats import ratio_confidence_interval

#: parameters that say how a model runs, not which model at which size
HOW = frozenset({"lr", "channels_last", "tf32", "compile", "jit_compile", "backend"})
PHASES = ("forward", "backward", "update")
SHORT = {"forward": "fwd", "backward": "bwd", "update": "upd"}


def model_of(workload: str) -> str | None:
    """The model a catalogued workload declares (``model_name``), else None."""
    from workloads import CATALOGUE

    path = CATALOGUE.get(workload)
    if path is None:
        return None
    from harness.workload import load_workload_class

    return getattr(load_workload_class(path), "model_name", None)


def variant_label(workload: str, params: dict[str, Any]) -> str:
    label = workload
    if "backend" in params:
        label += f" on {params['backend']}"
    for flag in ("compile", "jit_compile", "channels_last"):
        if params.get(flag) and not (flag == "channels_last" and "backend" in params):
            label += f" · {flag}"
    return label


def side_by_side(
    frame: pd.DataFrame, machine_peaks: MachinePeaks, min_frameworks: int = 2
) -> pd.DataFrame:
    """One row per variant of each model measured by ``min_frameworks`` frameworks or more
    (1: every model, for a run of one framework); MFU against the peaks of the machine each
    ran on (``harness.machine.peaks.for_frame``)."""
    ok = measured(frame)
    if ok.empty:
        return pd.DataFrame()
    models = {w: model_of(w) for w in ok["workload"].unique()}
    ok = ok[ok["workload"].map(models).notna()]
    if ok.empty:
        return pd.DataFrame()
    cases = []
    for (setup, workload, params_text, device), group in ok.groupby(
        ["setup", "workload", "params", "device"], sort=False
    ):
        params = json.loads(params_text)
        size = {k: v for k, v in sorted(params.items()) if k not in HOW}
        cases.append((setup, device, models[workload], json.dumps(size), workload, params, group))
    rows = []
    keys = sorted({c[:4] for c in cases}, key=lambda k: [c[:4] for c in cases].index(k))
    for key in keys:
        variants = [c for c in cases if c[:4] == key]
        if len({c[6]["framework"].iloc[0] for c in variants}) < min_frameworks:
            continue
        reference = next((c for c in variants if c[4].startswith("torch.")), variants[0])
        ref_steps = process_groups(reference[6][reference[6]["phase"] == "step"])
        for case in variants:
            rows.append(_row(case, reference, ref_steps, machine_peaks))
    return pd.DataFrame(rows)


def _row(
    case: tuple, reference: tuple, ref_steps: list, machine_peaks: MachinePeaks
) -> dict[str, Any]:
    setup, device, model, size, workload, params, group = case
    step_rows = group[group["phase"] == "step"]
    steps = process_groups(step_rows)
    median = float(step_rows["seconds"].median())
    items = float(group["items_per_step"].iloc[0] or 0)
    if case is reference:
        ratio: tuple[float, float, float] | None = None
    else:
        ratio = ratio_confidence_interval(steps, ref_steps)  # reference time / this time
    phases = {p: float(group[group["phase"] == p]["seconds"].median()) for p in PHASES
              if (group["phase"] == p).any()}  # fmt: skip
    total = sum(phases.values())
    first = step_rows.iloc[0]
    found = machine_peaks.of(first)
    flops = first.get("flops")
    figures = mfu.mfu_metrics(flops, median, device, params, found, first.get("gpu_name")) if (
        flops and median) else {}  # fmt: skip
    return {
        "setup": setup, "device": device, "model": model, "size": size,
        "variant": variant_label(workload, params), "reference": case is reference,
        "items_per_second": items / median if median else None,
        "ratio": ratio, "phase_split": {p: s / total for p, s in phases.items()} if total else {},
        "mfu": figures.get("mfu"), "mfu_precision": figures.get("mfu_precision"),
        "mfu_missing": figures.get("mfu_peak"), "parameters": first.get("parameters"),
        "flops": float(step_rows["flops"].iloc[0]) if "flops" in step_rows and pd.notna(
            step_rows["flops"].iloc[0]) else None,
    }  # fmt: skip


def side_by_side_table(rows: pd.DataFrame) -> Table:
    """The frameworks side by side; with one framework per model, the models alone (their
    size, throughput, phase split and MFU)."""
    from harness.render.cells import format_rate

    several = not rows.empty and not rows["reference"].all()

    shown = []
    for r in rows.itertuples():
        size = json.loads(r.size)
        if r.reference:
            against = "reference"
        else:
            point, low, high = r.ratio
            against = f"×{point:.2f} [{low:.2f}, {high:.2f}]"
        split = " · ".join(f"{SHORT[p]} {share:.0%}" for p, share in r.phase_split.items())
        shown.append({
            "model": r.model, "device": r.device,
            "size": " ".join(f"{k}={v}" for k, v in size.items()),
            "variant": r.variant, "items/s": format_rate(r.items_per_second),
            "throughput vs PyTorch": against, "phases (fwd · bwd · upd)": split,
            "parameters": _count(r.parameters), "FLOPs/step": _count(r.flops),
            "MFU": _mfu(r),
        })  # fmt: skip
        if not several:
            del shown[-1]["throughput vs PyTorch"]
    title = (
        "Frameworks side by side: the same model, size and device (×: throughput against the "
        "PyTorch entry, 95% CI; MFU against the measured peak)"
        if several
        else "Models: size, throughput and MFU (model FLOPs per step, analytic, over the median "
        "step; MFU against the measured peak of the precision that ran)"
    )
    return Table(
        shown,
        title=title,
        numeric=frozenset({"items/s"}),
        section_by=("model", "size", "device"),
    )


def _count(value: Any) -> str:
    """A parameter or FLOP count in short form (124.4 M, 2.1 G), '—' when unknown."""
    if value is None or pd.isna(value):
        return "—"
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f}"


def _mfu(row: Any) -> str:
    """The MFU cell: the figure and its precision, else why there is none (no peak measured)."""
    if row.mfu is not None and not pd.isna(row.mfu):
        return f"{row.mfu:.1%} of {row.mfu_precision}"
    missing = row.mfu_missing
    return f"— ({missing})" if isinstance(missing, str) and missing else "—"
