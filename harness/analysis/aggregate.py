"""One number per hardware comparison: the geometric mean of the speed-ups over the workloads
two setups both ran, with its interval, and the cells that could not enter it.

For a setup S against the reference R, over the cases c (workload, params, device) that both
measured, on the whole step:

    speed-up_c = median_R,c / median_S,c          (above 1: S is faster)
    aggregate  = exp( mean_c log speed-up_c )     (the geometric mean: Fleming & Wallace 1986,
                                                   "How not to lie with statistics", CACM 29(3))

The 95% interval comes from a hierarchical bootstrap in three levels: workloads are resampled
with replacement, then, inside each drawn workload and on each side, processes, then blocks
(``harness.stats.hierarchical_bootstrap_medians``); the percentile interval of the resampled
geometric means. Its A/A coverage is measured by simulation in tests/test_aggregate.py.

A case that failed or was skipped on either side cannot enter the mean: it is counted and named
beside it, never dropped silently. The performance profile (Dolan & Moré 2002, "Benchmarking
optimization software with performance profiles", Math. Program. 91) gives, per setup, the share
of workloads whose time is within a factor τ of the best setup's (failed cells never are).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.summary import measured, pick_reference, process_groups
from harness.stats import hierarchical_bootstrap_medians

CASE = ["workload", "params", "device"]
#: the phase the aggregate and the profile judge: the whole step
WHOLE = "step"


def _cases(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (setup, case): whether it measured a step, and its status otherwise."""
    rows = frame.drop_duplicates(["setup", *CASE, "source", "record"])
    status = rows.groupby(["setup", *CASE], sort=False)["status"].agg(
        lambda s: "ok" if (s == "ok").all() else next(v for v in s if v != "ok")
    )
    return status.reset_index()


def aggregate_frame(frame: pd.DataFrame, reference: str | None = None,
                    resamples: int = 2000, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Per setup other than the reference: ``geomean`` speed-up, ``ci_low``/``ci_high`` (95%),
    ``workloads`` (cases both ran), ``not_judged`` (cases failed, skipped or absent on either
    side) and ``not_judged_cases`` (their names and why). Empty below two setups."""
    setups = list(dict.fromkeys(frame["setup"].dropna()))
    if len(setups) < 2:
        return pd.DataFrame()
    ref = pick_reference(setups, reference)
    steps = measured(frame)
    steps = steps[steps["phase"] == WHOLE]
    statuses = _cases(frame)
    every_case = list(dict.fromkeys(map(tuple, statuses[CASE].to_numpy().tolist())))
    rng = np.random.default_rng(seed)
    rows = []
    for setup in setups:
        if setup == ref:
            continue
        logs, missing = [], []
        for case in every_case:
            sides = []
            for side in (ref, setup):
                match = statuses[(statuses["setup"] == side)
                                 & (statuses[CASE] == list(case)).all(axis=1)]  # fmt: skip
                status = match["status"].iloc[0] if not match.empty else "absent"
                group = steps[(steps["setup"] == side) & (steps[CASE] == list(case)).all(axis=1)]
                if status != "ok" or group.empty:
                    missing.append(f"{case[0]} [{case[2]}]: {status} on {side}")
                    break
                boot = hierarchical_bootstrap_medians(process_groups(group), resamples, rng)
                sides.append((float(group["seconds"].median()), boot))
            if len(sides) == 2:
                (ref_median, ref_boot), (median, boot) = sides
                logs.append((np.log(ref_median / median), np.log(ref_boot / boot)))
        row: dict[str, Any] = {"setup": setup, "reference": ref, "workloads": len(logs),
                               "not_judged": len(missing),
                               "not_judged_cases": "; ".join(missing)}  # fmt: skip
        if logs:
            point = float(np.exp(np.mean([p for p, _ in logs])))
            table = np.vstack([b for _, b in logs])  # cases × resamples
            picks = rng.integers(0, len(logs), (resamples, len(logs)))
            means = table[picks, np.arange(resamples)[:, None]].mean(axis=1)
            low, high = np.exp(np.nanquantile(means, [0.025, 0.975]))
            row.update(geomean=point, ci_low=float(low), ci_high=float(high))
        else:
            row.update(geomean=None, ci_low=None, ci_high=None)
        rows.append(row)
    return pd.DataFrame(rows)


def profile_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Performance ratios per (case, setup): the setup's step median over the best setup's for
    that case; infinite where the setup failed, was skipped or did not run it."""
    steps = measured(frame)
    steps = steps[steps["phase"] == WHOLE]
    setups = list(dict.fromkeys(frame["setup"].dropna()))
    if len(setups) < 2 or steps.empty:
        return pd.DataFrame()
    medians = steps.groupby([*CASE, "setup"], sort=False)["seconds"].median().unstack("setup")
    medians = medians.reindex(columns=setups)
    best = medians.min(axis=1)
    ratios = medians.div(best, axis=0).fillna(np.inf)
    return ratios


def profile_curve(ratios: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """ρ_s(τ): the share of cases whose ratio is at most τ, one column per setup."""
    return pd.DataFrame(
        {setup: [(ratios[setup] <= tau).mean() for tau in taus] for setup in ratios.columns},
        index=taus,
    )
