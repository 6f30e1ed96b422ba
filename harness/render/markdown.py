"""GitHub-flavoured Markdown: for pull-request comments, job summaries and docs/."""

from __future__ import annotations

from pathlib import Path

from harness.render.document import Document, Figure, Findings, Heading, Table, Text

#: a finding's tone -> the mark before it in the list (an "info" finding is a plain item)
MARKS = {"ok": "✅ ", "warn": "⚠️ ", "bad": "❌ ", "info": ""}


def table_text(table: Table) -> str:
    if not table.rows:
        return f"_{table.empty}_\n"
    header = list(table.rows[0])
    lines = []
    if table.title:
        lines += [f"**{table.title}**", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in table.rows:
        cells = [
            f"**{value}**" if (column, value) in table.strong else value
            for column, value in row.items()
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if table.legend:
        lines += ["", *[f"- {item}" for item in table.legend]]
    return "\n".join(lines) + "\n"


def render(document: Document, output: Path | None = None) -> str:
    """Blocks separated by one blank line; figures are left out."""
    parts: list[str] = []
    for block in document.blocks:
        if isinstance(block, Findings):
            lines = [f"- {MARKS.get(tone, '')}{text}" for tone, text in block.items]
            parts.insert(0, f"**{block.title}**\n\n" + "\n".join(lines))
        elif isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Table):
            parts.append(table_text(block).strip("\n"))
        elif isinstance(block, Text) and block.text.strip():
            parts.append(block.text.strip("\n"))
        elif isinstance(block, Figure):
            continue
    return "\n\n".join(parts) + "\n"
