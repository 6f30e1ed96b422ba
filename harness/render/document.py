"""What a renderer receives: a Document of blocks (headings, tables, text, figures) and the
machine-readable DataFrame behind it. Reports, comparisons and the self-benchmark build
Documents; renderers never compute a figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    """A paragraph or notes; lines starting with two spaces are list items."""

    text: str


@dataclass
class Table:
    """Rows of display strings, one dict per row, all with the same keys."""

    rows: list[dict[str, str]]
    title: str = ""
    #: columns aligned right (numbers)
    numeric: frozenset[str] = frozenset()
    #: a new section (a rule in a terminal) starts where these columns change
    section_by: tuple[str, ...] = ()
    #: cells shown strong (bold in Markdown): (column, value)
    strong: frozenset[tuple[str, str]] = frozenset()
    #: lines under the table (what letters or symbols stand for)
    legend: list[str] = field(default_factory=list)
    #: what to say when there are no rows
    empty: str = "No successful measurements to report."


@dataclass
class Figure:
    """A plot, made only by renderers that show images (matplotlib imported then)."""

    alt: str
    make: Callable[[], Any]


@dataclass
class Findings:
    """What a document found, to read first: one line per finding with its tone (``ok``,
    ``warn``, ``bad`` or ``info``). HTML and Markdown open with it; a terminal ends with it."""

    items: list[tuple[str, str]]
    title: str = "What this run found"


Block = Heading | Text | Table | Figure | Findings


@dataclass
class Document:
    blocks: list[Block]
    #: the figures as data: what CSV and Parquet write
    data: Any = None
    title: str = "harness report"
    #: files the figures came from (shown by HTML)
    sources: list[str] = field(default_factory=list)
