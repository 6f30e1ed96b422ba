"""One self-contained HTML file: the summary table and matplotlib plots embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
import json

import pandas as pd

from harness.report import display_rows


def _figure_to_img(figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def _label(row) -> str:
    from harness.report import short_params

    return f"{row['workload']} [{row['device']}] {short_params(row['params'], row['workload'])}"


def _legend_below(axis) -> None:
    axis.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=1, frameon=False
    )


def plot_throughput(summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    steps = summary[(summary["phase"] == "step") & summary["items_per_second"].notna()].copy()
    if steps.empty:
        return None
    steps["case"] = steps.apply(_label, axis=1)
    pivot = steps.pivot_table(index="case", columns="setup", values="items_per_second")
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(pivot) + 1.5))
    pivot.plot.barh(ax=axis)
    axis.set_xlabel("items per second (median)")
    axis.set_xscale("log")
    axis.set_ylabel("")
    _legend_below(axis)
    return figure


def plot_phases(summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    phases = summary[summary["phase"] != "step"].copy()
    if phases.empty:
        return None
    multi = phases["setup"].nunique() > 1
    phases["case"] = phases.apply(
        lambda r: f"{_label(r)}" + (f" · {r['setup'][:40]}" if multi else ""), axis=1
    )
    pivot = phases.pivot_table(index="case", columns="phase", values="median_s", sort=False)
    share = pivot.div(pivot.sum(axis=1), axis=0)
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(share) + 1.5))
    share.plot.barh(stacked=True, ax=axis)
    axis.set_xlabel("share of the phase sum (phase medians)")
    axis.set_ylabel("")
    _legend_below(axis)
    return figure


def plot_history(frame: pd.DataFrame):
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
        axis.plot(
            pd.to_datetime(group["started_at"]),
            group["seconds"] * 1e3,
            marker="o",
            label=f"{workload} [{device}]",
        )
    axis.set_ylabel("median step (ms)")
    axis.legend(fontsize="small", loc="best")
    return figure


def plot_pipeline_workers(summary: pd.DataFrame):
    import matplotlib.pyplot as plt

    steps = summary[(summary["kind"] == "pipeline") & (summary["phase"] == "step")].copy()
    if steps.empty:
        return None
    steps["workers"] = steps["params"].map(
        lambda p: json.loads(p).get("num_workers", json.loads(p).get("parallelism", 0))
    )
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


def render_html(
    frame: pd.DataFrame, summary: pd.DataFrame, speedups: pd.DataFrame | None = None
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    figures = []
    for plot, alt in (
        (lambda: plot_throughput(summary), "Throughput by setup"),
        (lambda: plot_phases(summary), "Phase breakdown per workload"),
        (lambda: plot_history(frame), "History of each workload across runs"),
        (lambda: plot_pipeline_workers(summary), "Pipeline images/s against workers"),
    ):
        figure = plot()
        if figure is not None:
            figures.append(_figure_to_img(figure, alt))
    rows = display_rows(summary) if not summary.empty else []
    table = "<p>No successful measurements.</p>"
    if rows:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
            for r in rows
        )
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if speedups is not None and not speedups.empty:
        from harness.report import render_speedups

        table += "<h2>Speed-up</h2><pre>" + html.escape(render_speedups(speedups)) + "</pre>"
    sources = ", ".join(sorted({str(s) for s in frame["source"].dropna().unique()}))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;}}table{{border-collapse:collapse;}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;}}th{{background:#eee;}}
figure{{margin:1.5em 0;}}</style></head><body>
<h1>harness report</h1><p>Sources: {html.escape(sources)}</p>
{table}
{"".join(figures)}
</body></html>
"""
