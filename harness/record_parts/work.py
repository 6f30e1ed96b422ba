"""The work one step does, as the workload counts it (``Record.work``): FLOPs, bytes and the
state of the page cache under a checkpoint's loads. Written by the worker alone, from the
workload's ``metrics()`` (``Work.split``); on disk its keys stay inside ``metrics``, where
they have always been, and are split out again on reading."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.record_parts.base import Part


@dataclass(frozen=True, kw_only=True)
class Work(Part):
    """Counted work of one step. FLOPs count a fused multiply-add as 2."""

    #: FLOPs of one step (analytic, from the model's shape)
    flops_per_step: float | None = None
    #: FLOPs of each phase (their sum is the step's, where given)
    flops_per_phase: dict[str, float] | None = None
    #: FLOPs of one step as a framework's counter saw them (torch FlopCounterMode)
    flops_counter: float | None = None
    #: how the FLOPs were counted
    flops_method: str | None = None
    #: bytes one step moves (a checkpoint: the size of its files)
    bytes: int | None = None
    bytes_per_step: float | None = None
    #: bytes each phase reads or writes
    bytes_per_phase: dict[str, float] | None = None
    bytes_method: str | None = None
    #: a checkpoint's loads: "cold" (every load read the disk), "warm" (some hit the page
    #: cache) or "unverified" (mincore could not say), with how it was checked
    load_cache: str | None = None
    load_cache_checks: int | None = None
    #: the largest share of the file resident in the page cache before a load (0..1)
    load_cache_worst_resident_share: float | None = None
    load_cache_method: str | None = None

    @classmethod
    def split(cls, metrics: Mapping[str, Any]) -> tuple[Work | None, dict[str, Any]]:
        """The counted work in ``metrics`` and the rest (None: it counts nothing)."""
        names = set(cls.field_names())
        counted = {k: v for k, v in metrics.items() if k in names}
        rest = {k: v for k, v in metrics.items() if k not in names}
        return (cls.from_dict(counted) if counted else None), rest

    def per_step(self, what: str) -> float | None:
        """FLOPs (``"flops"``) or bytes (``"bytes"``) of one step: the phases' sum where
        counted per phase, else the per-step figure (``harness.workload.counted_per_step``)."""
        from harness.workload import counted_per_step

        return counted_per_step(self, what)

    def per_phase(self, what: str, phase: str) -> float | None:
        """FLOPs or bytes of one phase; of the step for ``"step"``."""
        if phase == "step":
            return self.per_step(what)
        value = (self.get(f"{what}_per_phase") or {}).get(phase)
        return float(value) if value else None
