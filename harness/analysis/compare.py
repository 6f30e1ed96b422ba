"""Regression verdicts: candidate against baseline, per workload and phase.

For each (workload, params, device, phase) of the baseline:

* the ratio candidate/baseline (> 1 is slower) of the geometric means of the per-process
  medians, with a 95% Welch t interval on their logs and its two-sided p-value: processes are
  the samples, so the variation between processes widens the interval instead of hiding (blocks
  of one process are not independent samples of the machine: they are never pooled as if they
  were). Fewer than ``--min-processes`` (default 3) a side: ``unjudged``, no verdict, with the
  reason and what to do. The rule's A/A false-alarm rate is measured by
  tests/test_false_alarms.py (a seeded hierarchical noise model);
* a minimum effect (``--min-effect``, default 3%): the smallest change worth a verdict. Noise
  enters through the interval, not through a multiple of the spread.

Verdicts: ``slower`` (ratio at least 1 + effect and the interval above 1), ``faster`` (the
mirror image), ``unchanged``; ``slower (noisy)`` when a side's IQR/median is above 25% but the
slowdown is still clear; ``unstable`` when a side is that noisy and nothing is clear; ``refused``
(a median is zero or negative: a subtracted phase, no ratio means anything); ``unjudged`` (too
few processes a side; exit 0, counted in the headline); ``failed`` (the
candidate's task crashed, timed out, ran out of memory or raised) and ``missing`` (the candidate
has no record of it). ``slower``, ``slower (noisy)``, ``failed`` and ``missing`` are regressions:
exit 1 (``--allow-missing`` lets the last two pass).

The ``code`` column says whether the workload's own source (``Record.code_version``) is the
same on both sides, ``changed``, or unknown (``?``: a side written before schema version 3);
a note lists the workloads whose code changed.

A side whose records the machine watch flagged (``noisy_machine``: other load, throttling,
steal) is named in the row's ``machine`` column and in a note. It does not change the verdict:
the flag says the machine was busy while that side ran, which can fake a slowdown (busy
candidate) as well as hide one (busy baseline); the interval already widens by whatever noise
the flag caused between processes, and the note tells the reader to rerun on a quiet machine
before trusting the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.summary import counted_frame, measured, process_groups
from harness.errors import UserError
from harness.measures import counted_measures, measure_for
from harness.measures.instructions import DEFAULT_THRESHOLD as DEFAULT_INSTRUCTION_THRESHOLD
from harness.measures.time import (
    DEFAULT_MIN_EFFECT,
    MIN_PROCESSES,
    judge,
    no_ratio,
    process_center,
    refused,
    unjudged,
    verdict_for,
)
from harness.render.cells import short_params

__all__ = ["DEFAULT_MIN_EFFECT", "MIN_PROCESSES", "judge", "refused", "unjudged", "verdict_for"]

KEY = ["workload", "device", "params", "phase"]
SLOWER = ("slower", "slower (noisy)")
NOT_MEASURED = ("failed", "missing")
VERDICTS = SLOWER + NOT_MEASURED + ("faster", "unchanged", "unstable", "unjudged", "refused")


@dataclass
class Comparison:
    rows: pd.DataFrame
    only_baseline: list[str] = field(default_factory=list)
    only_candidate: list[str] = field(default_factory=list)
    allow_missing: bool = False
    #: counts per step judged beside wall time (``compare_counts``: --measure instructions
    #: records, and any measure with one figure per process), with their ``measure``
    instructions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: facts of the setups that differ between the sides (harness.setups.SETUP_FACTS), and
    #: those only named (the host)
    setup_differences: list[str] = field(default_factory=list)
    noted_differences: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> pd.DataFrame:
        """Every flagged row, time and instructions, with the measure that flagged it."""
        flagged = SLOWER if self.allow_missing else SLOWER + NOT_MEASURED
        parts = []
        for measure, rows in (("time", self.rows), (None, self.instructions)):
            if not rows.empty:
                hit = rows[rows["verdict"].isin(flagged)].copy()
                if measure is not None:
                    hit["measure"] = measure
                parts.append(hit)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def compare_frames(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    min_effect: float = DEFAULT_MIN_EFFECT,
    alpha: float = 0.05,
    phases: Sequence[str] = (),
    allow_missing: bool = False,
    instruction_threshold: float = DEFAULT_INSTRUCTION_THRESHOLD,
    min_processes: int = MIN_PROCESSES,
) -> Comparison:
    def usable(frame: pd.DataFrame) -> pd.DataFrame:
        kept = measured(frame)
        return kept[kept["phase"].isin(phases)] if phases else kept

    base, cand = usable(baseline), usable(candidate)
    if phases:
        present = set(measured(baseline)["phase"]) | set(measured(candidate)["phase"])
        unknown = [phase for phase in phases if phase not in present]
        if unknown and present:
            raise UserError(
                f"No phase {unknown[0]!r} in these results; --phase takes one of "
                f"{', '.join(sorted(present))}."
            )
    counted = compare_counts(baseline, candidate, instruction_threshold)
    if base.empty and counted.empty:
        raise UserError("The baseline holds no successful measurements to compare.")
    if base.empty:
        return Comparison(pd.DataFrame(), [], [], allow_missing, counted)
    base_groups = dict(list(base.groupby(KEY, sort=False)))
    cand_groups = dict(list(cand.groupby(KEY, sort=False)))
    shared = [k for k in base_groups if k in cand_groups]
    failures = _failures(candidate)

    def name(key: tuple) -> str:
        groups = base_groups.get(key)
        changed = (groups if groups is not None else cand_groups[key])["changed_params"].iloc[0]
        return f"{key[0]} [{key[1]}] {short_params(key[2], changed)} · {key[3]}"

    unmatched = [k for k in base_groups if k not in cand_groups]
    only_cand = [name(k) for k in cand_groups if k not in base_groups]
    if not shared and not any(k[:3] in failures for k in unmatched):
        raise UserError(
            "Baseline and candidate share no workload (same name, params, device and phase); "
            f"baseline has {len(base_groups)}, candidate {len(cand_groups)}: "
            "run the same suite on both sides."
        )
    from harness.setups import NOTED_FACTS, setup_differences

    differences = setup_differences(baseline, candidate)
    noted = setup_differences(baseline, candidate, NOTED_FACTS)
    rows = []
    for key in base_groups:
        common = {
            **dict(zip(KEY, key, strict=True)),
            "changed_params": base_groups[key]["changed_params"].iloc[0],
            "baseline_code": _one_code_version(base_groups[key]),
            "baseline_noisy_machine": _noisy_machine(base_groups[key]),
        }
        base_processes = process_groups(base_groups[key])
        if key not in cand_groups:
            rows.append({**common, **_not_measured(base_processes, failures.get(key[:3]))})
            continue
        cand_processes = process_groups(cand_groups[key])
        verdict = judge(base_processes, cand_processes, min_effect, alpha, min_processes)
        rows.append(
            {
                **common,
                **verdict,
                "candidate_noisy_machine": _noisy_machine(cand_groups[key]),
                "baseline_processes": len(base_processes),
                "candidate_processes": len(cand_processes),
                "candidate_code": _one_code_version(cand_groups[key]),
            }
        )
    return Comparison(pd.DataFrame(rows), [], only_cand, allow_missing, counted, differences,
                      noted)  # fmt: skip


def judge_instructions(
    base: Sequence[float], cand: Sequence[float], threshold: float = DEFAULT_INSTRUCTION_THRESHOLD
) -> dict[str, Any]:
    """Instructions per step, one count per process (the instructions measure's judge)."""
    return measure_for("instructions").judge(base, cand, threshold)


def compare_counts(
    baseline: pd.DataFrame, candidate: pd.DataFrame, threshold: float
) -> pd.DataFrame:
    """One row per (measure, workload, params, device) of every measure that gives one figure
    per process (``harness.measures.counted_measures``: instructions...), judged by the
    measure's own ``judge``; ``missing`` where the candidate has no count of it."""
    rows = []
    for measure in counted_measures():
        base = counted_frame(baseline, measure.column)
        cand = counted_frame(candidate, measure.column)
        keys = ["workload", "params", "device"]
        for b in base.itertuples():
            match = (
                cand[(cand[keys] == [b.workload, b.params, b.device]).all(axis=1)]
                if len(cand)
                else cand
            )
            common = {
                "measure": measure.name,
                "workload": b.workload,
                "params": b.params,
                "changed_params": b.changed_params,
                "device": b.device,
                "phase": "step",
            }
            if match.empty:
                rows.append({**common, "baseline_per_step": b.per_step, "verdict": "missing"})
                continue
            rows.append({**common, **measure.judge(b.values, match.iloc[0]["values"], threshold)})
    return pd.DataFrame(rows)


def _failures(frame: pd.DataFrame) -> dict[tuple, str]:
    """(workload, device, params) -> why the candidate's records of it measured nothing."""
    failed = frame[~frame["status"].isin(["ok", "skipped"])].drop_duplicates(["source", "record"])
    found: dict[tuple, str] = {}
    for r in failed.itertuples():
        found.setdefault((r.workload, r.device, r.params), f"{r.status}: {r.message or ''}".strip())
    return found


def _not_measured(base_processes: list[list[float]], failure: str | None) -> dict[str, Any]:
    """A baseline case the candidate did not measure: it failed there, or is absent."""
    base_all = np.concatenate([np.asarray(g, float) for g in base_processes])
    center = process_center([np.median(np.asarray(g, float)) for g in base_processes])
    return {
        **no_ratio(center, float("nan"), len(base_all), 0),
        "verdict": "failed" if failure else "missing",
        "reason": failure or "no record of it in the candidate",
        "baseline_processes": len(base_processes),
        "candidate_processes": 0,
        "candidate_code": None,
        "candidate_noisy_machine": False,
    }


def _noisy_machine(group: pd.DataFrame) -> bool:
    """Whether the machine watch flagged any of this side's processes (``Record.machine``)."""
    if "noisy_machine" not in group:
        return False
    return bool(group["noisy_machine"].fillna(False).astype(bool).any())


def _one_code_version(group: pd.DataFrame) -> str | None:
    """The workload's source hash on one side; None when unrecorded or when the side mixes
    several (then no single version can be named)."""
    versions = set(group["code_version"].dropna())
    return versions.pop() if len(versions) == 1 else None
