"""The typed parts of a result record (``harness.record.Record``): one dataclass each, with
explicit fields and units, each written by one module and read back from today's JSON shape
(``Part.to_dict`` / ``Part.from_dict``), unknown keys kept in ``extra``."""

from harness.record_parts.base import Part
from harness.record_parts.energy import EnergyReading
from harness.record_parts.machine import GpuDuring, GpuFacts, MachineReading
from harness.record_parts.placement import HostFacts, Placement
from harness.record_parts.run_state import CompileCacheState, LossReading
from harness.record_parts.work import Work

__all__ = [
    "CompileCacheState",
    "EnergyReading",
    "GpuDuring",
    "GpuFacts",
    "HostFacts",
    "LossReading",
    "MachineReading",
    "Part",
    "Placement",
    "Work",
]
