"""What a report found, in a few lines to read first: the setups, the headline speed-ups with
their intervals, what failed, what limits each workload, and what could not be measured to its
target. Built from the same frames the tables show; computes no figure of its own."""

from __future__ import annotations

import pandas as pd

from harness.render.cells import case_label

Finding = tuple[str, str]  # (tone: ok | warn | bad | info, text)


def _names(values: list[str], limit: int = 4) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def report_findings(frame: pd.DataFrame, summary: pd.DataFrame, aggregated: pd.DataFrame,
                    verdicts: pd.DataFrame) -> list[Finding]:  # fmt: skip
    """One line per finding, most important first."""
    found: list[Finding] = []
    setups = list(dict.fromkeys(frame["setup"].dropna()))
    cases = frame.drop_duplicates(["source", "record"])
    ok = cases[cases["status"] == "ok"]
    failed = cases[~cases["status"].isin(["ok", "skipped"])]
    skipped = cases[cases["status"] == "skipped"]
    found.append((
        "info",
        f"{len(ok)} task(s) measured on {len(setups)} setup(s): {_names(setups, 3)}",
    ))  # fmt: skip
    if not failed.empty:
        names = sorted(
            {f"{case_label(r.workload, r.device)}: {r.status}" for r in failed.itertuples()}
        )
        found.append(("bad", f"{len(failed)} task(s) failed: {_names(names)}"))
    if not skipped.empty:
        names = sorted({case_label(r.workload, r.device) for r in skipped.itertuples()})
        found.append(("warn", f"{len(skipped)} task(s) skipped: {_names(names)}"))
    for row in aggregated.itertuples() if not aggregated.empty else ():
        if row.geomean is None or pd.isna(row.geomean):
            found.append(("warn", f"{row.setup}: no workload ran on both it and {row.reference}"))
            continue
        # a slower setup is a finding of the comparison, not a failure: a note, never FAIL
        # (judging a change for a gate is harness compare's, with its minimum effect)
        tone = "ok" if row.ci_low > 1 else "warn" if row.ci_high < 1 else "info"
        word = "faster" if row.ci_low > 1 else "slower" if row.ci_high < 1 else "no clear change"
        missing = f"; {row.not_judged} cell(s) not judged" if row.not_judged else ""
        found.append((
            tone,
            f"{row.setup} against {row.reference}: ×{row.geomean:.2f} "
            f"[{row.ci_low:.2f}, {row.ci_high:.2f}] over {row.workloads} workload(s), {word}"
            f"{missing}",
        ))  # fmt: skip
    if not verdicts.empty:
        judged = verdicts[~verdicts["verdict"].isin(["not judged"])]
        for verdict, group in judged.groupby("verdict", sort=False):
            names = list(dict.fromkeys(group["workload"]))
            tone = "warn" if verdict in ("input-bound", "host-bound") else "info"
            found.append((tone, f"{verdict}: {_names(names)}"))
    if not summary.empty:
        shaky = summary[summary["stability"].isin(["unstable", "rejected", "unknown"])]
        if not shaky.empty:
            found.append((
                "warn",
                f"{len(shaky)} of {len(summary)} row(s) unstable or short of evidence: "
                f"{_names(list(dict.fromkeys(shaky['workload'])))}",
            ))  # fmt: skip
        noisy = summary[summary["noisy_machine"].fillna(False).astype(bool)]
        if not noisy.empty:
            found.append((
                "warn",
                f"{len(noisy)} row(s) measured while the machine was noisy (noisy-machine)",
            ))  # fmt: skip
    return found
