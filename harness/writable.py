"""Output paths checked before any work: a folder that cannot be written is found before the first
task is measured (or the first plot drawn), not after."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UserError


def check_writable(path: Path | str, flag: str, example: str = "results.jsonl") -> None:
    """Raise ``UserError`` (one sentence naming ``flag``) unless ``path`` can be created or
    appended to. Missing parent folders are created, as the writer would; a file that did not
    exist before is removed again, so nothing is left behind. ``example`` is the file name the
    message suggests when ``path`` is a folder (``report.html`` for a document)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file path, such as {path / example}.")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(
            f"{flag} {path} cannot be written ({reason}); choose a path in a folder you can "
            "write, and run again."
        ) from None
    if not existed:
        path.unlink(missing_ok=True)


def check_folder_writable(folder: Path | str, flag: str) -> None:
    """Raise ``UserError`` unless files can be written in ``folder`` (created if missing)."""
    check_writable(Path(folder) / ".harness-write-check", flag)
