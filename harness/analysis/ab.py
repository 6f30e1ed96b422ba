"""The verdicts of ``harness ab``: each pair's ratio of process medians (or instruction counts),
candidate over baseline, judged by the sequential rule of ``harness.sequential`` at the
look where the case stopped: *slower* / *faster*, *same*, or *undecided*. The pairs themselves come
from the interleaved launcher (``harness.launch.interleaved``), which stops each case once the
rule decides its ``step`` phase or its budget runs out; every phase is judged at that look.
"""

from __future__ import annotations

import pandas as pd

from harness.launch.interleaved import BASELINE, CANDIDATE
from harness.measures import counted_measures
from harness.measures.time import process_center
from harness.sequential import SequentialRule, judge_pairs

__all__ = ["judge_frame", "judge_pairs", "pair_ratios"]


def pair_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (workload, params, device, phase, pair): the ratio of the candidate's process
    median to the baseline's; a per-process measure's figure (phase: the measure's name,
    ``instructions``) where counted."""
    ok = frame[(frame["status"] == "ok") & frame["seconds"].notna()].copy()
    for measure in counted_measures():
        if measure.column not in frame:
            continue
        counted = frame[(frame["status"] == "ok") & frame[measure.column].notna()]
        counted = counted.drop_duplicates(["source", "record"]).copy()
        if not counted.empty:
            counted["phase"], counted["seconds"] = measure.name, counted[measure.column]
            ok = pd.concat([ok, counted], ignore_index=True)
    ok["pair"] = ok["process"] // 2
    medians = ok.groupby(
        ["workload", "params", "changed_params", "device", "phase", "pair", "label"],
        dropna=False,
        sort=False,
    )["seconds"].median()
    table = medians.unstack("label")
    if BASELINE not in table or CANDIDATE not in table:
        return pd.DataFrame()
    table = table.dropna(subset=[BASELINE, CANDIDATE])
    table["ratio"] = table[CANDIDATE] / table[BASELINE]
    return table.reset_index()


def judge_frame(frame: pd.DataFrame, rule: SequentialRule | None = None) -> pd.DataFrame:
    """The verdict of every (workload, params, device, phase) from its pairs: the rule's
    decision at the look where the case stopped (its last pair)."""
    rule = rule or SequentialRule()
    pairs = pair_ratios(frame)
    if pairs.empty:
        return pd.DataFrame()
    rows = []
    keys = ["workload", "params", "changed_params", "device", "phase"]
    noisy = _noisy_sides(frame)
    for key, group in pairs.groupby(keys, sort=False, dropna=False):
        verdict = judge_pairs(group["ratio"].tolist(), rule.min_effect, rule.alpha, rule.max_pairs)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                # the ratio's own terms: geometric means over the pairs, so that
                # candidate / baseline is the ratio (the median where a value is not positive)
                "baseline_median_s": _center(group[BASELINE]),
                "candidate_median_s": _center(group[CANDIDATE]),
                "ratio": verdict.ratio,
                "ci_low": verdict.ci_low,
                "ci_high": verdict.ci_high,
                "pairs": verdict.pairs,
                "pair_spread": verdict.spread,
                "resolution": verdict.resolution,
                "min_effect": rule.min_effect,
                "verdict": verdict.verdict,
                "noisy_machine": noisy.get((key[0], key[1], key[3]), ""),
            }
        )
    return pd.DataFrame(rows)


def _center(values: pd.Series) -> float:
    """One side's figure over its pairs: the geometric mean of its process medians (the term
    the pair ratios' geometric mean is made of), else their median where one is not positive
    (a subtracted phase: no ratio is judged there)."""
    if (values > 0).all():
        return process_center(values.to_numpy())
    return float(values.median())


def _noisy_sides(frame: pd.DataFrame) -> dict[tuple, str]:
    """(workload, params, device) -> the sides the machine watch flagged ('' when none)."""
    if "noisy_machine" not in frame:
        return {}
    flagged = frame[frame["noisy_machine"].fillna(False).astype(bool)]
    found: dict[tuple, set[str]] = {}
    for r in flagged.drop_duplicates(["source", "record"]).itertuples():
        found.setdefault((r.workload, r.params, r.device), set()).add(str(r.label))
    return {k: " and ".join(sorted(v)) for k, v in found.items()}
