"""Named suites: which workloads, with which parameters and timer settings.

``smoke`` runs every workload at a tiny size in seconds (tests use it); ``default`` is what
``make bench`` runs on a laptop CPU; ``gpu`` is what ``make bench-gpu`` runs on a CUDA box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError
from harness.timer import TimerSettings


@dataclass(frozen=True)
class SuiteEntry:
    workload: str
    params: dict[str, Any] = field(default_factory=dict)
    devices: tuple[str, ...] = ("cpu",)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    timer: TimerSettings
    processes: int = 1


SMOKE_TIMER = TimerSettings(
    warmup_time=0.0,
    warmup_max_steps=1,
    min_time=0.0,
    min_blocks=3,
    max_blocks=3,
    min_block_time=0.001,
)
DEFAULT_TIMER = TimerSettings(
    warmup_time=0.3,
    warmup_max_steps=20,
    min_time=0.6,
    min_blocks=7,
    max_blocks=200,
    min_block_time=0.02,
)
COMPARE_TIMER = TimerSettings(
    warmup_time=0.5,
    warmup_max_steps=50,
    min_time=1.0,
    min_blocks=10,
    max_blocks=400,
    min_block_time=0.02,
)

_SMOKE = (
    SuiteEntry("numpy.linreg", {"batch_size": 32, "features": 16}),
    SuiteEntry("numpy.mlp", {"batch_size": 16, "features": 64, "hidden": 32}),
)

_DEFAULT = (
    SuiteEntry("numpy.linreg", {"batch_size": 1024, "features": 512}),
    SuiteEntry("numpy.mlp", {"batch_size": 256, "features": 784, "hidden": 256}),
)

_GPU = (SuiteEntry("numpy.mlp", {"batch_size": 1024, "array_module": "cupy"}, ("cuda",)),)

SUITES: dict[str, Suite] = {
    "smoke": Suite(
        "smoke", "every workload at a tiny size; the whole suite in seconds", _SMOKE, SMOKE_TIMER
    ),
    "default": Suite(
        "default",
        "meaningful sizes on a laptop CPU (what `make bench` runs)",
        _DEFAULT,
        DEFAULT_TIMER,
    ),
    "compare": Suite(
        "compare",
        "the default sizes, 3 processes each: for comparing setups",
        _DEFAULT,
        COMPARE_TIMER,
        processes=3,
    ),
    "gpu": Suite(
        "gpu",
        "CUDA workloads at GPU-sized batches (what `make bench-gpu` runs)",
        _GPU,
        DEFAULT_TIMER,
    ),
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UserError(f"Unknown suite '{name}'; valid suites: {', '.join(SUITES)}.") from None
