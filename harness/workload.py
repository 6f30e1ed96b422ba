"""The workload contract every framework's workloads share.

A workload is a class with declared metadata (name, framework, kind, phases, parameters,
devices) and four methods the timer calls: ``setup``, ``step(mark)``, ``synchronize`` and
``teardown``. Inside ``step`` the workload calls ``mark("forward")`` at the *end* of each phase,
in the order ``phases`` declares; ``mark(UNTIMED)`` ends a stretch of the step that belongs to
no phase (evicting a checkpoint from the page cache between ``save`` and ``load``): its time
counts in the whole step but in no phase. Framework imports happen inside ``setup``, never at
module import, so ``harness list`` can read every workload's declaration without loading any
framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from harness.errors import UserError
from harness.params import Param, ParamValue, to_json_value

TRAIN_PHASES = ("forward", "backward", "update")
CHECKPOINT_PHASES = ("save", "load")
#: the mark that ends a stretch of a step timed in no phase (its time is dropped from the phases)
UNTIMED = "(untimed)"

Mark = Callable[[str], None]


class PhaseTimer:
    """Turns ``mark`` calls into per-phase totals for one block of steps.

    The default reads the host clock, after ``synchronize`` when the device is asynchronous.
    A workload on an asynchronous device may return its own (CUDA events) from
    ``Workload.phase_timer``; it must offer the same four methods.
    """

    def __init__(self, clock: Callable[[], float], synchronize: Callable[[], None] | None):
        self.clock = clock
        self.synchronize = synchronize
        self.totals: dict[str, float] = {}
        self.previous = 0.0
        #: without a synchronize: [phase, time, phase, time, ...] as marked, summed at the end
        self.stamps: list[Any] = []

    def start_block(self) -> None:
        self.totals = {}
        if self.synchronize is not None:
            self.synchronize()
            self.previous = self.clock()
            return
        # Inside a step a mark only reads the clock and appends (two appends and one clock
        # read, about 2,700 instructions a step of three marks under Callgrind where adding to
        # the totals at each mark took 4,700): the totals are summed after the block.
        stamps: list[Any] = []
        append, clock = stamps.append, self.clock

        def mark(phase: str) -> None:
            append(phase)
            append(clock())

        self.stamps = stamps
        self.mark = mark  # type: ignore[method-assign]
        self.previous = clock()

    def mark(self, phase: str) -> None:
        if self.synchronize is not None:
            self.synchronize()
        now = self.clock()
        if phase != UNTIMED:
            self.totals[phase] = self.totals.get(phase, 0.0) + (now - self.previous)
        self.previous = now

    def end_block(self) -> dict[str, float]:
        """Per-phase totals (seconds) for the block just measured."""
        stamps, previous, totals = self.stamps, self.previous, self.totals
        for index in range(0, len(stamps), 2):
            phase, now = stamps[index], stamps[index + 1]
            if phase != UNTIMED:  # a stretch of the step that belongs to no phase
                totals[phase] = totals.get(phase, 0.0) + (now - previous)
            previous = now
        self.stamps, self.previous = [], previous
        return totals

    def host_totals(self) -> dict[str, float] | None:
        """Host-side dispatch time per phase where it differs from device time, else None."""
        return None


class Workload:
    """Base class. Subclasses set the ClassVars and implement ``setup`` and ``step``."""

    name: ClassVar[str] = ""
    framework: ClassVar[str] = ""
    kind: ClassVar[str] = "train_step"
    phases: ClassVar[tuple[str, ...]] = TRAIN_PHASES
    params: ClassVar[tuple[Param, ...]] = ()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    description: ClassVar[str] = ""
    #: Python module the framework is imported from (checked with find_spec, never imported).
    requires: ClassVar[tuple[str, ...]] = ()
    #: True when the device runs asynchronously and the host clock needs a synchronize per phase.
    #: The timer then takes the phase samples from such blocks and the ``step`` samples from
    #: blocks of the same steps with no synchronize inside.
    sync_phases: bool = False
    #: True when the phases are measured by separate functions (Keras ``tf.function`` phases)
    #: and ``fused_step`` is the real training step: the timer then takes the ``step`` samples
    #: from blocks of ``fused_step`` and the phase samples from blocks of ``step``.
    has_fused_step: bool = False
    #: the parameter that sets parallel workers (pipelines): reports plot throughput against it
    workers_param: ClassVar[str | None] = None

    def __init__(
        self,
        params: Mapping[str, ParamValue],
        device: str,
        seed: int = 0,
        threads: int | None = None,
    ):
        #: the values of ``params`` this instance runs with, every default filled in:
        #: ``self.param_values["batch_size"]``
        self.param_values: dict[str, Any] = dict(params)
        self.device = device
        self.seed = seed
        self.threads = threads

    # --- the four methods the timer drives -------------------------------------------------
    def setup(self) -> None:
        """Build data and model; import the framework here."""

    def step(self, mark: Mark) -> None:
        raise NotImplementedError

    def fused_step(self) -> None:
        """One whole training step in one call (only when ``has_fused_step``)."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait until the device has finished all queued work (no-op on a synchronous CPU)."""

    def teardown(self) -> None:
        """Release resources; called even when a step failed."""

    def required_modules(self) -> tuple[str, ...]:
        """Modules this instance needs with its parameters (``array_module=cupy``, a Keras
        backend): checked with find_spec before ``setup``. A missing one makes the task
        *skipped* with that reason, not failed."""
        return tuple(self.requires)

    # --- what the result record reports ----------------------------------------------------
    def items_per_step(self) -> int:
        """Items (samples, images) one step processes, for throughput."""
        return int(self.param_values.get("batch_size", 1))

    def metrics(self) -> dict[str, Any]:
        """Extra figures: flops_per_step, bytes, final loss, framework settings..."""
        return {}

    def loss_value(self) -> float | None:
        """The latest training loss as a host float, or None where the workload has no loss.
        The timer calls it only outside the measured blocks (it may synchronize the device)."""
        return None

    def runtime_info(self) -> dict[str, Any]:
        """Framework versions and settings seen inside the worker (threads, TF32, device name)."""
        return {}

    def phase_timer(self, clock: Callable[[], float]) -> PhaseTimer:
        return PhaseTimer(clock, self.synchronize if self.sync_phases else None)

    def phase_method(self) -> str:
        """How the phases are timed, for the record (a workload that derives them says how)."""
        if self.sync_phases:
            return "marks, with the device synchronized at each; the step timed without them"
        return "marks: the time between consecutive mark() calls inside one step"

    def on_measure_start(self) -> None:
        """Called once after warm-up and calibration, before the first measured block."""

    def check_after_measure(self) -> None:
        """Raise WorkloadError when the measurement is invalid (e.g. a recompile happened)."""


def counted_per_step(metrics: Mapping[str, Any], what: str) -> float | None:
    """FLOPs (``what="flops"``) or bytes (``"bytes"``) one step does: the sum of the phases'
    ``<what>_per_phase`` where the workload counts per phase, else its ``<what>_per_step``.
    The one count behind ``achieved_gflops`` (the worker), the tidy table and the verdicts."""
    per_phase = metrics.get(f"{what}_per_phase") or {}
    total = sum(float(v) for v in per_phase.values() if v) or metrics.get(f"{what}_per_step")
    return float(total) if total else None


def load_workload_class(path: str) -> type[Workload]:
    """Import ``package.module:ClassName`` lazily and return the class."""
    module_name, sep, class_name = path.partition(":")
    if not sep:
        raise UserError(f"Workload path {path!r} must look like 'package.module:ClassName'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"Cannot import workload module {module_name!r}: {error}.") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise UserError(f"{path!r} does not name a Workload class.")
    return cls


def changed_params(cls: type[Workload], params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters whose values differ from the class's declared defaults (JSON values)."""
    defaults = {p.name: to_json_value(p.default) for p in cls.params}
    return {
        key: to_json_value(value)
        for key, value in params.items()
        if key not in defaults or defaults[key] != to_json_value(value)
    }


def code_version(cls: type[Workload]) -> str | None:
    """A hash of the workload's code: the source files of the modules that define the class and
    its bases (the harness's own ``Workload`` excluded). Any edit in those files changes it, so a
    comparison can say the workload itself changed (asv keeps one such hash per benchmark)."""
    import hashlib
    import inspect

    digest = hashlib.sha256()
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass in (Workload, object) or klass.__module__ in seen:
            continue
        seen.add(klass.__module__)
        try:
            digest.update(inspect.getsource(inspect.getmodule(klass)).encode())  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None  # no source to hash (built-in or frozen): unknown, never a guess
    return digest.hexdigest()[:16]


def describe(cls: type[Workload], params: Mapping[str, Any]) -> dict[str, Any]:
    """What every record says about its workload, whoever builds it (worker or launcher)."""
    return {
        "framework": cls.framework,
        "kind": cls.kind,
        "phases": list(cls.phases),
        "changed_params": changed_params(cls, params),
        "code_version": code_version(cls),
        "workers_param": cls.workers_param,
    }
