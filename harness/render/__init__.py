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
    "document_format",
    "format_for",
    "render",
    "write",
    "write_text",
]


def check_format(fmt: str, allowed: tuple[str, ...] | None = None) -> None:
    valid = [name for name in RENDERERS if allowed is None or name in allowed]
    if fmt not in valid:
        raise UserError(f"Unknown format '{fmt}'; valid formats: {', '.join(valid)}.")


#: a rendered document's file suffix -> its format (``harness run --output report.html``)
SUFFIXES = {".html": "html", ".md": "markdown", ".csv": "csv", ".parquet": "parquet",
            ".txt": "table"}  # fmt: skip


def format_for(output: Path) -> str:
    """The format a document named ``output`` is written in, from its suffix (``SUFFIXES``).

    Raises UserError for a results-file suffix (``.jsonl``: that is ``--results-file``) or one
    no renderer writes."""
    suffix = output.suffix.lower()
    if output.is_dir():
        raise UserError(
            f"--output {output} is a folder; give a file path, such as {output / 'report.html'}."
        )
    if suffix == ".jsonl":
        raise UserError(
            f"--output names a rendered document (.html, .md, .csv, .parquet, .txt), not the "
            f"results file; give --results-file {output} for the records."
        )
    if suffix not in SUFFIXES:
        raise UserError(
            f"Cannot tell a format from '{output.name}'; name the document with one of "
            f"{', '.join(SUFFIXES)}."
        )
    return SUFFIXES[suffix]


def document_format(
    fmt: str | None, output: Path | None, allowed: tuple[str, ...] | list[str]
) -> str:
    """The format a command renders in: ``--format`` when given, else the one the ``--output``
    suffix names (``SUFFIXES``), else ``table``. Raises UserError for a results-file suffix, a
    suffix that names another format than ``--format``, or a format the command cannot write."""
    named = None
    # an unknown suffix needs --format (x.json --format gab)
    if output is not None and (output.suffix.lower() in (*SUFFIXES, ".jsonl") or fmt is None):
        named = format_for(output)
    if fmt is not None and named is not None and named != fmt and named != "table":
        raise UserError(
            f"--output {output.name if output else ''} names {named}, but --format is {fmt}; "
            "give the document the suffix of its format, or leave --format out."
        )
    chosen = fmt or named or "table"
    if chosen not in allowed:
        raise UserError(
            f"This command writes {', '.join(allowed)}, not {chosen}; choose one of those "
            "(--format, or the --output suffix)."
        )
    return chosen


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
    write_text(output, text)
    return None


def write_text(output: Path, text: str) -> None:
    """Write a rendered document's text to ``output`` (UTF-8, folders made). Raises UserError
    naming ``--output`` when it cannot be written."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(
            f"Writing {output} failed ({error.strerror or error}); choose another --output."
        ) from None
