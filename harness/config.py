"""RunConfig: everything one run needs, built once (from the command line or by a caller) and
validated when it is made. ``harness.runner.run(config)`` executes it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.params import ParamOverride
from harness.timer import TimerSettings


@dataclass(frozen=True)
class TimerOverrides:
    """Timer settings given on the command line; the suite's settings fill the rest."""

    warmup_time: float | None = None
    min_time: float | None = None
    min_blocks: int | None = None
    max_blocks: int | None = None
    precision: float | None = None
    max_time: float | None = None

    def apply(self, settings: TimerSettings) -> TimerSettings:
        changes: dict[str, Any] = {k: v for k, v in vars(self).items() if v is not None}
        if not changes:
            return settings
        if "min_blocks" in changes and "max_blocks" not in changes:
            changes["max_blocks"] = max(settings.max_blocks, changes["min_blocks"])
        if "max_time" in changes and "min_time" not in changes:
            # a budget below the suite's minimum lowers the minimum: the budget is kept
            changes["min_time"] = min(settings.min_time, changes["max_time"])
        return replace(settings, **changes)


@dataclass(frozen=True)
class RunConfig:
    """What to run (selection, overrides), how to time it, where (launcher) and where the
    records go."""

    suite: str = "default"
    workloads: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    overrides: tuple[ParamOverride, ...] = ()
    devices: tuple[str, ...] = ()
    processes: int | None = None
    timer: TimerOverrides = field(default_factory=TimerOverrides)
    #: math-library threads per worker; None: the CPUs each worker may use where it runs
    threads: int | None = None
    timeout: float = 600.0
    seed: int = 0
    launcher: str = "local"
    #: the launcher's own Config dataclass; None: its defaults
    launcher_config: Any = None
    output: Path | None = None
    results_dir: Path = Path("results")
    label: str | None = None
    #: a registered measure (harness.measures.MEASURES): "time" (wall time, the default) or
    #: "instructions" (Callgrind; the local launcher)
    measure: str = "time"
    instruction_steps: int = 20
    #: on-disk compile caches: "fresh" (each task its own) or "keep" (one shared folder)
    compile_cache: str = "fresh"

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise UserError(
                f"--timeout must be a positive number of seconds, got {self.timeout:g}."
            )
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be at least 1, got {self.threads}.")
        from harness.measures import measure_for

        measure_for(self.measure)  # an unknown name lists the registered ones
        if self.instruction_steps < 1:
            raise UserError(
                f"--instruction-steps must be at least 1, got {self.instruction_steps}."
            )
        from harness.compile_cache import check_mode

        check_mode(self.compile_cache)
        if self.processes is not None and self.processes < 1:
            raise UserError(f"--processes must be at least 1, got {self.processes}.")
        from harness.launch import launcher_class

        cls = launcher_class(self.launcher)  # an unknown name lists the registered ones
        if self.launcher_config is not None and not isinstance(self.launcher_config, cls.Config):
            raise UserError(
                f"The {self.launcher} launcher takes a {cls.Config.__name__}, "
                f"got {type(self.launcher_config).__name__}."
            )
