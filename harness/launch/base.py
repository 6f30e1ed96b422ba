"""What every launcher shares: its options, its config, and the loop over tasks.

A launcher is one module with a class deriving from ``Launcher``: a ``Config`` dataclass
(validated in ``__post_init__``), the command-line ``options`` that fill it, and either
``run(task)`` (one fresh process per task; the default ``run_all`` calls it task by task) or its
own ``run_all(tasks)`` (a batch scheduler submits them all at once). Records come back through
``harness.record``; a process that produced none becomes ``record_failures.failure(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.errors import UserError
from harness.plan import RunPlan
from harness.record import Record
from harness.record_failures import task_failure
from harness.task import Task


@dataclass(frozen=True)
class Option:
    """One command-line option of a launcher: ``--flag VALUE`` -> ``Config.<dest>``."""

    flag: str
    help: str
    parse: Callable[[str], Any] = str
    metavar: str | None = None
    #: repeatable: the values given, in order, as a tuple
    many: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def value(self, text: Any) -> Any:
        if self.many:
            return tuple(self.single().value(item) for item in text)
        try:
            return self.parse(text)
        except (TypeError, ValueError):
            raise UserError(f"{self.flag} cannot take {text!r}: {self.help}.") from None

    def single(self) -> Option:
        return Option(self.flag, self.help, self.parse, self.metavar)


def memory_option() -> Option:
    """``--memory``, shared by the local and Slurm launchers (the help names all three uses)."""
    from harness.params import parse_size

    return Option(
        "--memory",
        "memory limit per task, like 512m or 2g (local: a watchdog ends the worker; "
        "docker: the container's limit, no swap; slurm: sbatch --mem)",
        parse_size,
        "SIZE",
    )


@dataclass(frozen=True)
class Capabilities:
    """What a launcher can run, declared on its class and checked once per run, before anything
    runs (``harness.launch.check_capabilities``): a task it cannot run is one sentence, exit 2,
    never a record that silently measured something else."""

    #: the measures it runs by name (``harness.measures.MEASURES``)
    measures: frozenset[str] = frozenset({"time"})
    #: True: also every measure that runs inside the worker (its worker runs them)
    worker_measures: bool = True
    #: tasks on ``--device cuda``
    cuda: bool = True

    def runs(self, measure: str) -> bool:
        """Whether a task of ``measure`` can run here."""
        if measure in self.measures:
            return True
        if not self.worker_measures:
            return False
        from harness.measures import MEASURES, measure_for

        return measure in MEASURES and measure_for(measure).in_worker

    def __and__(self, other: Capabilities) -> Capabilities:
        """What both can run (``harness ab`` runs a task on either side)."""
        return Capabilities(
            self.measures & other.measures,
            self.worker_measures and other.worker_measures,
            self.cuda and other.cuda,
        )


@dataclass(frozen=True)
class NoConfig:
    """A launcher without settings."""


class Launcher:
    """Base class: check prerequisites, run every task in a fresh process, return records."""

    name: ClassVar[str] = "base"
    Config: ClassVar[type] = NoConfig
    options: ClassVar[tuple[Option, ...]] = ()
    #: True when tasks run in this Python environment, so the plan skips workloads whose
    #: framework is not installed here; False where they run elsewhere (an image, a node)
    runs_here: ClassVar[bool] = False
    #: the measures and devices it runs (checked before a run starts)
    capabilities: Capabilities = Capabilities()

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()
        #: where a launcher reports its own progress (a batch scheduler's queue states); the
        #: runner points it at the run's events
        self.on_status: Callable[[str], None] = lambda text: None

    @property
    def records_per_task(self) -> int:
        """Records each task produces: more than one when a launcher runs the plan on several
        setups at once (a Slurm fleet run over partitions)."""
        return 1

    def preflight(self, plan: RunPlan) -> None:
        """Raise UserError when the run cannot start (no daemon, no image, no GPU); what the
        launcher cannot run at all was refused before (``capabilities``)."""

    def environment(self) -> dict[str, Any]:
        """Fields this launcher adds to every record's environment (image ID, limits...)."""
        return {"launcher": self.name}

    def run(self, task: Task) -> Record:
        raise NotImplementedError

    def run_all(self, tasks: Iterable[Task]) -> Generator[Record, None, None]:
        """Every task's record, as each finishes. One at a time by default."""
        for task in tasks:
            yield self.run(task)

    def close(self) -> None:
        """Release what the launcher holds (clients, containers)."""


#: a record for a process that produced no result of its own (any launcher)
failure_record = task_failure
