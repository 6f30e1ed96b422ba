"""One self-contained HTML file: tables, notes and matplotlib plots embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from harness.render.document import Document, Figure, Heading, Table, Text

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;}table{border-collapse:collapse;}"
    "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;}th{background:#eee;}"
    "td.num{text-align:right;}figure{margin:1.5em 0;}"
)


def figure_html(figure: Figure) -> str:
    made = figure.make()
    if made is None:
        return ""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    made.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(made)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = html.escape(figure.alt)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"/>'
        f"<figcaption>{alt}</figcaption></figure>"
    )


def table_html(table: Table) -> str:
    if not table.rows:
        return f"<p>{html.escape(table.empty)}</p>"
    title = f"<h2>{html.escape(table.title)}</h2>" if table.title else ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.rows[0])
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if c in table.numeric else ''}>"
            + (f"<b>{html.escape(v)}</b>" if (c, v) in table.strong else html.escape(v))
            + "</td>"
            for c, v in row.items()
        )
        + "</tr>"
        for row in table.rows
    )
    legend = "".join(f"<li>{html.escape(item)}</li>" for item in table.legend)
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" + (
        f"<ul>{legend}</ul>" if legend else ""
    )


def render(document: Document, output: Path | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    parts: list[str] = []
    for block in document.blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            parts.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Table):
            parts.append(table_html(block))
        elif isinstance(block, Text):
            parts.append(f"<pre>{html.escape(block.text.strip())}</pre>")
        elif isinstance(block, Figure):
            parts.append(figure_html(block))
    sources = ", ".join(document.sources)
    title = html.escape(document.title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style></head><body>
<h1>{title}</h1>{f"<p>Sources: {html.escape(sources)}</p>" if sources else ""}
{"".join(parts)}
</body></html>
"""
