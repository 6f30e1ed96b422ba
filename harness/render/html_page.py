"""One self-contained HTML file: what the run found first, then the figures (matplotlib, embedded
as PNG), then the tables and notes. Laid out for a 1280 px window: nothing is wider than the
page (figures scale down, long cells and notes wrap, a wide table scrolls inside its own box);
tests/test_html_browser.py checks it in a real browser."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from harness.render.document import Document, Figure, Findings, Heading, Table, Text

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;
  background:#f6f8fa;line-height:1.45}
main{max-width:1200px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:8px 0 4px}
h2{font-size:18px;margin:28px 0 8px}
.sources{color:#57606a;font-size:12px;overflow-wrap:anywhere;margin:0 0 16px}
.findings{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 20px;
  margin:12px 0 24px}
.findings h2{margin:4px 0 8px}
.findings ul{list-style:none;padding:0;margin:0}
.findings li{padding:5px 0 5px 28px;position:relative;overflow-wrap:anywhere}
.findings li::before{position:absolute;left:4px;font-weight:700}
.findings li.ok::before{content:"\\2713";color:#1a7f37}
.findings li.warn::before{content:"!";color:#9a6700}
.findings li.bad::before{content:"\\2717";color:#cf222e}
.findings li.info::before{content:"\\2022";color:#57606a}
figure{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:16px 0;padding:12px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-weight:600;margin-bottom:8px}
.table{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:16px 0;padding:8px;
  overflow-x:auto}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eaeef2;padding:4px 8px;font-size:13px;text-align:left;
  vertical-align:top;overflow-wrap:break-word}
th{background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.legend{font-size:12px;color:#57606a;margin:6px 0 0;padding-left:20px}
.note{background:#fff;border-left:4px solid #d0d7de;padding:8px 14px;margin:12px 0;
  white-space:pre-wrap;overflow-wrap:anywhere;font-size:13px}
"""


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
        f"<figure><figcaption>{alt}</figcaption>"
        f'<img alt="{alt}" src="data:image/png;base64,{data}"/></figure>'
    )


def table_html(table: Table) -> str:
    if not table.rows:
        return f'<p class="note">{html.escape(table.empty)}</p>'
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
    return (
        f'{title}<div class="table"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
        + (f'<ul class="legend">{legend}</ul>' if legend else "")
        + "</div>"
    )


def findings_html(findings: Findings) -> str:
    items = "".join(
        f'<li class="{html.escape(tone)}">{html.escape(text)}</li>' for tone, text in findings.items
    )
    return f'<section class="findings"><h2>{html.escape(findings.title)}</h2><ul>{items}</ul>' + (
        "</section>"
    )


def render(document: Document, output: Path | None = None) -> str:
    """Findings first, then figures, then tables and notes, each group in document order."""
    import matplotlib

    matplotlib.use("Agg")
    first: list[str] = []
    figures: list[str] = []
    rest: list[str] = []
    for block in document.blocks:
        if isinstance(block, Findings):
            first.append(findings_html(block))
        elif isinstance(block, Heading):
            level = min(max(block.level, 2), 6)
            rest.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Table):
            rest.append(table_html(block))
        elif isinstance(block, Text) and block.text.strip():
            rest.append(f'<div class="note">{html.escape(block.text.strip())}</div>')
        elif isinstance(block, Figure):
            figures.append(figure_html(block))
    sources = ", ".join(document.sources)
    title = html.escape(document.title)
    shown = f'<p class="sources">Sources: {html.escape(sources)}</p>' if sources else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style></head><body><main>
<h1>{title}</h1>{shown}
{"".join(first + figures + rest)}
</main></body></html>
"""
