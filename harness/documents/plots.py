"""The report's figures, drawn with matplotlib from the summary and tidy tables. Each returns a
figure, or None when there is nothing to draw."""

from __future__ import annotations

import pandas as pd

from harness.machine.peaks import MachinePeaks
from harness.render.cells import case_label

#: longest axis label: longer ones squeeze the plot itself
LABEL_CHARS = 70


def axis_label(row: pd.Series) -> str:
    """The case's label (``harness.render.cells.case_label``), cut to fit beside an axis."""
    label = case_label(row["workload"], row["device"], row["params"], row["changed_params"])
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _legend_below(axis) -> None:
    axis.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False
    )


def throughput(summary: pd.DataFrame):
    """Items/s per workload and setup, with the 95% interval of the median as error bars (the
    interval of a median time maps to the rate: rate × precision either side)."""
    import matplotlib.pyplot as plt

    steps = summary[(summary["phase"] == "step") & summary["items_per_second"].notna()].copy()
    if steps.empty:
        return None
    steps["case"] = steps.apply(axis_label, axis=1)
    steps["error"] = steps["items_per_second"] * steps["precision"].astype(float).fillna(0.0)
    pivot = steps.pivot_table(index="case", columns="setup", values="items_per_second")
    errors = steps.pivot_table(index="case", columns="setup", values="error").reindex_like(pivot)
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(pivot) * max(1, len(pivot.columns) / 2)
                                         + 1.5))  # fmt: skip
    pivot.plot.barh(ax=axis, xerr=errors.fillna(0.0), capsize=2, error_kw={"elinewidth": 1})
    axis.set_xlabel("items per second (median; bars: 95% interval)")
    axis.set_xscale("log")
    axis.set_ylabel("")
    _legend_below(axis)
    return figure


def phases(summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    shown = summary[summary["phase"] != "step"].copy()
    if shown.empty:
        return None
    multi = shown["setup"].nunique() > 1
    shown["case"] = shown.apply(
        lambda r: axis_label(r)[:50] + (f" · {r['setup'][:30]}" if multi else ""), axis=1
    )
    pivot = shown.pivot_table(index="case", columns="phase", values="median_s", sort=False)
    share = pivot.div(pivot.sum(axis=1), axis=0)
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(share) + 1.5))
    share.plot.barh(stacked=True, ax=axis)
    axis.set_xlabel("share of the phase sum (phase medians)")
    axis.set_ylabel("")
    _legend_below(axis)
    return figure


def history(frame: pd.DataFrame):
    import matplotlib.pyplot as plt

    steps = frame[(frame["phase"] == "step") & (frame["status"] == "ok")]
    if steps.empty or steps["run_id"].nunique() < 2:
        return None
    medians = steps.groupby(
        ["workload", "device", "params", "run_id", "started_at"], as_index=False
    )["seconds"].median()
    figure, axis = plt.subplots(figsize=(10, 4))
    for (workload, device, _params), group in medians.groupby(["workload", "device", "params"]):
        group = group.sort_values("started_at")
        times = pd.to_datetime(group["started_at"], format="ISO8601")
        line = axis.plot(
            times, group["seconds"] * 1e3, marker="o", label=case_label(workload, device)
        )
        for index in _change_points(group["seconds"].tolist()):
            axis.axvline(times.iloc[index], color=line[0].get_color(), linestyle="--", alpha=0.7)
    axis.set_ylabel("median step (ms); dashed: change points (Apache Otava)")
    axis.legend(fontsize="small", loc="best")
    return figure


def pipeline_workers(summary: pd.DataFrame):
    """Images/s against the workers parameter each pipeline declares (numeric values only)."""
    import matplotlib.pyplot as plt

    steps = summary[(summary["kind"] == "pipeline") & (summary["phase"] == "step")].copy()
    steps["workers"] = pd.to_numeric(steps["workers"], errors="coerce")
    steps = steps.dropna(subset=["workers"])
    if steps.empty:
        return None
    figure, axis = plt.subplots(figsize=(8, 4))
    for (workload, setup), group in steps.groupby(["workload", "setup"]):
        group = group.sort_values("workers")
        axis.plot(
            group["workers"],
            group["items_per_second"],
            marker="o",
            label=f"{workload} · {setup[:30]}",
        )
    axis.set_xlabel("workers / parallel calls")
    axis.set_ylabel("images per second")
    axis.legend(fontsize="small", loc="best")
    return figure


def _change_points(medians: list[float]) -> list[int]:
    """Where each series changes (harness.analysis.history); none when Otava is not installed."""
    from harness.analysis.history import change_points
    from harness.errors import UserError

    try:
        return [index for index, *_ in change_points(medians)]
    except UserError:
        return []


def roofline(summary: pd.DataFrame, machine_peaks: MachinePeaks):
    """Each phase of each training workload by arithmetic intensity (FLOPs ÷ bytes moved) and
    achieved FLOP/s, each under its own setup's roof: the measured peaks of the machine that ran
    it, at the precision it ran (``harness.machine.roofs``, the roof its verdict names), one line
    per distinct roof, named in the legend."""
    import matplotlib.pyplot as plt
    import numpy as np

    from harness.machine import roofs

    counted = summary[summary["flops"].notna() & summary["bytes_moved"].notna()]
    counted = counted[(counted["phase"] != "step") & (counted["median_s"] > 0)]
    if counted.empty:
        return None
    figure, axis = plt.subplots(figsize=(10, 6))
    intensity = counted["flops"] / counted["bytes_moved"]
    achieved = counted["flops"] / counted["median_s"]
    xs = np.logspace(np.log10(intensity.min() / 4), np.log10(intensity.max() * 4), 200)
    multi = counted["setup"].nunique() > 1
    drawn: dict[tuple, object] = {}
    styles = ("-", "--", "-.", ":")
    for _, row in counted.iterrows():
        roof = roofs.roof_for(machine_peaks.of(row), row["device"], row["params"])
        if not roof.flops or not roof.bandwidth:
            continue
        key = (row["setup"] if multi else "", roof)
        if key in drawn:
            continue
        label = f"{str(row['setup'])[:40]} · {roof.label}" if multi else roof.label
        drawn[key] = axis.plot(xs, np.minimum(roof.flops, xs * roof.bandwidth),
                               styles[len(drawn) % len(styles)], color="black",
                               alpha=0.8, label=label)  # fmt: skip
    for (_, row), x, y in zip(counted.iterrows(), intensity, achieved, strict=True):
        label = f"{axis_label(row)} · {row['phase']}"
        axis.scatter(
            [x], [y], label=label + (f" · {str(row['setup'])[:30]}" if multi else ""), s=30
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("arithmetic intensity (FLOP per byte moved, estimated)")
    axis.set_ylabel("achieved FLOP/s (phase median)")
    _legend_below(axis)
    return figure


def performance_profile(frame: pd.DataFrame):
    """Dolan-Moré performance profile: per setup, the share of workloads within a factor τ of
    the best setup (see harness.analysis.aggregate)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from harness.analysis.aggregate import profile_curve, profile_frame

    ratios = profile_frame(frame)
    if ratios.empty:
        return None
    finite = ratios.replace(np.inf, np.nan).max().max()
    top = max(2.0, float(finite) * 1.1 if pd.notna(finite) else 2.0)
    taus = np.linspace(1.0, top, 200)
    curves = profile_curve(ratios, taus)
    figure, axis = plt.subplots(figsize=(10, 4.5))
    for setup in curves.columns:
        axis.step(taus, curves[setup], where="post", label=str(setup)[:80])
    axis.set_xlabel("τ: time within this factor of the best setup")
    axis.set_ylabel("share of workloads")
    axis.set_ylim(0, 1.02)
    _legend_below(axis)
    return figure
