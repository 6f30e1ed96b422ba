"""Energy per step (``Record.energy``), written by ``harness.machine.energy`` alone: the
measurement, or why there is none; on disk the object it has always been."""

from __future__ import annotations

from dataclasses import dataclass

from harness.record_parts.base import Part


@dataclass(frozen=True, kw_only=True)
class EnergyReading(Part):
    """Joules per step above idle from energy counters read at the windows' edges
    (``harness.machine.energy.measure``); ``available`` false with the ``reason`` where no counter
    sees the device or a read failed. Every other field is absent then."""

    available: bool = False
    #: why there is no measurement (only when ``available`` is false)
    reason: str | None = None
    #: "nvml-total-energy", "rapl" (joined by "+" where several kinds were read)
    method: str | None = None
    #: the counters read: a GPU's uuid, RAPL package names
    counters: list[str] | None = None
    #: what the counters themselves cannot tell (their own accuracy, what else they see)
    known_error: str | None = None
    #: seconds of the measured window, and the steps run in it
    window_s: float | None = None
    steps: int | None = None
    #: seconds waited for the power to settle after the timed blocks, and whether it did
    cooldown_s: float | None = None
    cooldown_settled: bool | None = None
    #: seconds of the idle window, and the idle power (watts)
    idle_s: float | None = None
    idle_watts: float | None = None
    #: joules the counters saw over the window, idle included
    joules_total: float | None = None
    #: joules per step and per item above idle (per item: null without items per step)
    joules_per_step: float | None = None
    joules_per_item: float | None = None
    #: watts above idle over the window
    watts_above_idle: float | None = None
    #: seconds between two updates of the slowest counter
    counter_update_s: float | None = None
    #: the error the counters' update interval allows (joules per step), and its share of
    #: ``joules_per_step`` (null where that is zero)
    granularity_error_joules_per_step: float | None = None
    granularity_error_share: float | None = None

    def written_when_none(self) -> frozenset[str]:
        # a measurement writes every figure (null where undefined); a refusal only its reason
        return _MEASURED if self.available else frozenset()


_MEASURED = frozenset(
    name for name in EnergyReading.__dataclass_fields__ if name not in ("extra", "reason")
)
