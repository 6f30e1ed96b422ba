"""Text for a terminal that cannot show every character: output degrades, never crashes.

A report holds ``±``, ``µ``, ``×``, ``·``, box lines and whatever labels and parameters a user
gave. Where standard output's encoding cannot hold one (``PYTHONIOENCODING=ascii``, a latin-1
or cp1252 console, ``LANG=C`` on an old Python), the ``harness-ascii`` error handler writes an
ASCII stand-in (``+/-``, ``u``, ``x``, ``-``/``|``/``+`` for box lines, ``e`` for ``é``) and
``?`` for what has none, so a command's exit code keeps its meaning whatever the encoding.
Characters the encoding holds are written as they are (latin-1 keeps ``±`` and ``µ``).
"""

from __future__ import annotations

import codecs
import sys
import unicodedata
from typing import Any

HANDLER = "harness-ascii"

FALLBACKS = {
    "±": "+/-", "µ": "u", "μ": "u", "×": "x", "·": ".", "•": "*", "−": "-", "–": "-",
    "—": "--", "…": "...", "→": "->", "←": "<-", "↑": "^", "↓": "v", "≤": "<=", "≥": ">=",
    "≈": "~", "≠": "!=", "°": " deg", "‘": "'", "’": "'", "“": '"', "”": '"', "«": "<<",
    "»": ">>", "✓": "ok", "✔": "ok", "✗": "x", "✘": "x", "⚠": "!", "Δ": "d", "√": "sqrt",
    "∞": "inf", "²": "^2", "³": "^3", "½": "1/2", "¼": "1/4", "\u00a0": " ", "\u2009": " ",
    "\u202f": " ", "÷": "/", "∩": "&", "∪": "|", "✅": "[ok]", "❌": "[x]", "🔴": "(!)",
    "🟢": "(ok)", "🟡": "(?)", "\ufe0f": "",
}  # fmt: skip


def ascii_fallback(char: str) -> str:
    """An ASCII stand-in for one character: the table above, box lines by their shape, the
    letter without its accent (NFKD), else ``?``."""
    if char in FALLBACKS:
        return FALLBACKS[char]
    code = ord(char)
    if 0x2500 <= code <= 0x257F:  # box drawing: ─ │ ┌ ┼ ╭ ...
        name = unicodedata.name(char, "")
        horizontal, vertical = "HORIZONTAL" in name, "VERTICAL" in name
        if horizontal and not vertical:
            return "-"
        if vertical and not horizontal:
            return "|"
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements (bars)
        return "#"
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return plain or "?"


def _handle(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ascii_fallback(char) for char in text), error.end


codecs.register_error(HANDLER, _handle)


def _is_utf(encoding: str | None) -> bool:
    return (encoding or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def degrade_gracefully(*streams: Any) -> None:
    """Make ``streams`` (default: standard output and error) write ASCII stand-ins for what
    their encoding cannot hold, instead of raising UnicodeEncodeError. UTF-8 streams and
    streams that cannot be reconfigured (a test's capture) are left as they are."""
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or _is_utf(getattr(stream, "encoding", None)):
            continue
        try:
            reconfigure(errors=HANDLER)
        except (ValueError, OSError):  # closed, or not a text stream after all
            continue


def stdout_encoding() -> str:
    """The encoding standard output writes (utf-8 where it does not say)."""
    return getattr(sys.stdout, "encoding", None) or "utf-8"


def fit(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot hold replaced by ASCII stand-ins, so a table can
    be laid out with the widths it will really have."""
    if _is_utf(encoding):
        return text
    try:
        return text.encode(encoding, HANDLER).decode(encoding)
    except LookupError:  # an encoding Python does not know: plain ASCII is safe
        return text.encode("ascii", HANDLER).decode("ascii")


def holds(text: str, encoding: str) -> bool:
    """Whether ``encoding`` can write every character of ``text``."""
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
