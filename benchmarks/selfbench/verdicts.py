"""The bottleneck verdicts of the default suite's run, and the measured CPU peak against the
CPU's own limit (cores × clock × FLOP per cycle from its instruction-set flags)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.selfbench.common import Row
from harness.render.cells import short_params

#: fp32 FLOP per cycle per core: two FMA units of 8 (AVX2) or 16 (AVX-512) lanes, 2 FLOP each
FLOP_PER_CYCLE = {"avx512f": 64, "avx2": 32}
#: boost clocks over the clock a VM reports (EPYC: 2.45 GHz base, up to 3.5-3.7 GHz boost)
BOOST = 1.5


def cpu_limit(cpuinfo: str, cores: int) -> tuple[float, str] | None:
    """The fp32 FLOP/s the CPU cannot exceed, from /proc/cpuinfo, and how it was found."""
    megahertz = [float(line.split(":")[1]) for line in cpuinfo.splitlines()
                 if line.startswith("cpu MHz")]  # fmt: skip
    flags = next((line.split(":")[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])  # fmt: skip
    per_cycle = next((n for flag, n in FLOP_PER_CYCLE.items() if flag in flags), None)
    if not megahertz or per_cycle is None:
        return None
    clock = max(megahertz) * 1e6
    return cores * clock * per_cycle, (
        f"{cores} cores × {clock / 1e9:.2f} GHz × {per_cycle} FLOP/cycle "
        f"({next(f for f in FLOP_PER_CYCLE if f in flags)})"
    )


def rows(summary: pd.DataFrame, results: Path) -> list[Row]:
    from harness.analysis import bottleneck
    from harness.machine import peaks

    found = peaks.cached(results)
    out: list[Row] = []
    if found is not None:
        figures = found[0]
        limit = cpu_limit(Path("/proc/cpuinfo").read_text(), len(os.sched_getaffinity(0)))
        peak = figures.get("cpu_fp32_flops") or 0.0
        if limit is not None:
            out.append(Row(
                "verdicts", "measured fp32 matmul peak ÷ the CPU's own limit",
                f"{peak / limit[0]:.2f}", f"≤ {BOOST:.1f}", peak <= BOOST * limit[0],
                f"{peak / 1e9:.0f} GFLOP/s measured; {limit[0] / 1e9:.0f} GFLOP/s = "
                f"{limit[1]} at the clock /proc/cpuinfo reports, which boost clocks exceed "
                f"by up to about {BOOST:.1f}×: a ratio above that means FLOPs counted wrong",
            ))  # fmt: skip
    verdicts = bottleneck.verdicts(summary, peaks.for_frame(summary, [results]))
    judged: dict[str, Any] = {}
    for _, row in verdicts.iterrows():
        changed = summary.loc[summary["params"] == row["params"], "changed_params"]
        params = short_params(row["params"], changed.iloc[0] if not changed.empty else None)
        judged[f"{row['workload']} {params}"] = row
    for name, row in judged.items():
        out.append(Row("verdicts", name, row["verdict"], "a verdict", None,
                       f"{row['figure']}; {row['advice']}".strip("; ")))  # fmt: skip
    return out
