"""Plain-text tables for a terminal or a log (rich, no colour codes)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

from harness.render.document import Document, Figure, Findings, Heading, Table, Text
from harness.terminal_text import fit, holds, stdout_encoding

MARKS = {"ok": "ok  ", "warn": "note", "bad": "FAIL", "info": "    "}

WIDTH = 200


def table_text(table: Table, encoding: str = "utf-8") -> str:
    """The table laid out with rich; cells, titles and box lines fitted to ``encoding`` first
    (ASCII stand-ins for what it cannot hold), so columns keep their widths when printed."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    def cell(value: str) -> str:
        return fit(value, encoding)

    if not table.rows:
        return cell(table.empty) + "\n"
    boxes = box.HEAVY_HEAD if holds("━┃┏┡│└", encoding) else box.ASCII
    rich_table = RichTable(title=cell(table.title) if table.title else None, box=boxes)
    for column in table.rows[0]:
        justify: Literal["left", "right"] = "right" if column in table.numeric else "left"
        rich_table.add_column(cell(column), justify=justify, overflow="fold")
    previous = None
    for row in table.rows:
        key = tuple(row.get(c) for c in table.section_by)
        if table.section_by and previous is not None and key != previous:
            rich_table.add_section()
        previous = key
        rich_table.add_row(*(cell(v) if isinstance(v, str) else v for v in row.values()))
    buffer = io.StringIO()
    Console(file=buffer, width=WIDTH, force_terminal=False, color_system=None).print(rich_table)
    text = buffer.getvalue()
    if table.legend:
        text += cell("\n".join(table.legend)) + "\n"
    return text


def render(document: Document, output: Path | None = None) -> str:
    """The document as text: for standard output's encoding when printed (``output`` None),
    UTF-8 when written to a file."""
    encoding = stdout_encoding() if output is None else "utf-8"
    parts: list[str] = []
    last: list[str] = []  # the findings close a terminal's output: the last thing read
    for block in document.blocks:
        if isinstance(block, Findings):
            lines = [f"  {MARKS.get(tone, '    ')} {text}" for tone, text in block.items]
            last.append(f"\n{block.title}:\n" + "\n".join(lines) + "\n")
        elif isinstance(block, Heading):
            parts.append(block.text + "\n")
        elif isinstance(block, Table):
            parts.append(table_text(block, encoding))
        elif isinstance(block, Text):
            parts.append("\n" + block.text.strip("\n") + "\n")
        elif isinstance(block, Figure):
            continue  # images only in HTML
    return "".join(parts + last)
