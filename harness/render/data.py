"""The document's data as a table file: CSV (text) or Parquet (binary, written to a file)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UserError
from harness.render.document import Document


def render_csv(document: Document, output: Path | None = None) -> str:
    if document.data is None:
        return ""
    text: str = document.data.to_csv(index=False)
    return text


def render_parquet(document: Document, output: Path | None = None) -> None:
    if output is None:
        raise UserError("--format parquet writes a binary file; give --output FILE.parquet.")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        document.data.to_parquet(output, index=False)
    except ImportError:
        raise UserError(
            "Parquet output needs pyarrow: pip install 'trainstep-harness[parquet]'."
        ) from None
    except OSError as error:
        raise UserError(
            f"Writing {output} failed ({error.strerror or error}); choose another --output."
        ) from None
    return None
