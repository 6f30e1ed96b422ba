"""Why a record measured nothing (``Record.error``; re-exported by ``harness.record``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Failure:
    """Why a record measured nothing: a failure, or the reason a task was skipped."""

    type: str
    message: str
    exit_code: int | None = None
    signal: str | None = None
    stderr_tail: list[str] = field(default_factory=list)
    traceback_tail: list[str] = field(default_factory=list)

    def tail(self) -> list[str]:
        """The lines that best say what happened: the worker's stderr, else its traceback."""
        return self.stderr_tail or self.traceback_tail
