"""Renderers: one per output format, registered by name, shared by ``report``, ``compare`` and
the self-benchmark. A renderer turns a ``Document`` into text (or writes a binary file).

Adding a format is one module with ``render(document, output) -> str | None`` plus one line in
``RENDERERS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from harness.errors import UserError
from harness.render.document import Document, Figure, Findings, Heading, Table, Text

#: format name -> "module:function"; render(document, output) returns the text, or None when it
#: wrote ``output`` itself (binary formats)
RENDERERS: dict[str, str] = {
    "table": "harness.render.terminal:render",
    "markdown": "harness.render.markdown:render",
    "csv": "harness.render.data:render_csv",
    "parquet": "harness.render.data:render_parquet",
    "html": "harness.render.html_page:render",
    "gab": "harness.render.trackers:render_gab",
    "bmf": "harness.render.trackers:render_bmf",
}

__all__ = [
    "RENDERERS",
    "Document",
    "Figure",
    "Findings",
    "Heading",
    "Table",
    "Text",
    "render",
    "write",
]


def check_format(fmt: str, allowed: tuple[str, ...] | None = None) -> None:
    valid = [name for name in RENDERERS if allowed is None or name in allowed]
    if fmt not in valid:
        raise UserError(f"Unknown format '{fmt}'; valid formats: {', '.join(valid)}.")


def render(document: Document, fmt: str, output: Path | None = None) -> str | None:
    check_format(fmt)
    module_name, _, function = RENDERERS[fmt].partition(":")
    text: str | None = getattr(importlib.import_module(module_name), function)(document, output)
    return text


def write(document: Document, fmt: str, output: Path | None) -> str | None:
    """Render ``fmt``; write it to ``output`` when given, else return the text to print."""
    text = render(document, fmt, output)
    if output is None or text is None:
        return text
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(
            f"Writing {output} failed ({error.strerror or error}); choose another --output."
        ) from None
    return None
