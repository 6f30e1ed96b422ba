"""harness bisect GOOD BAD --workload W: the first commit that changed W's speed, each probe the
sequential A/B of ``harness ab`` between two commits (see harness.analysis.bisect); exit 0 when it
names the commit, 1 when the change could only be narrowed to a range (or the ends do not differ),
2 on bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import EXIT_FAILURES, EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run_options import (
        add_bookkeeping_options,
        add_selection_options,
        add_timing_options,
    )
    from harness.sequential import DEFAULT_ALPHA

    bisect = sub.add_parser(
        name,
        help="the first commit between GOOD and BAD that changed a workload's speed",
        description="Binary search over the first-parent commits from GOOD (excluded) to BAD, "
        "each probe the sequential A/B of harness ab between two commits' worktrees of the "
        "repository the current directory is in.",
    )
    bisect.add_argument("good", help="a commit where the workload ran at the old speed")
    bisect.add_argument("bad", help="a later commit where it runs at the new speed")
    add_selection_options(bisect)
    add_timing_options(bisect, pairs=True)
    probes = bisect.add_argument_group("each probe (harness ab between two commits)")
    probes.add_argument("--budget", type=float, default=120.0,
                        help="wall seconds per probe (default 120)")  # fmt: skip
    probes.add_argument("--pairs", type=int, default=24, help="most pairs per probe (default 24)")
    probes.add_argument("--min-effect", type=float, default=None,
                        help="smallest change that counts (default 0.03; 0.01 with "
                        "--measure instructions)")  # fmt: skip
    probes.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="false-alarm rate of each probe (default 0.05)")  # fmt: skip
    probes.add_argument(
        "--retries",
        type=int,
        default=1,
        help="re-measure an undecided probe this many times (default 1)",
    )
    probes.add_argument(
        "--format", default="table", choices=("table", "markdown"),
        help="how the probes and the verdict print (default table)",
    )  # fmt: skip
    add_bookkeeping_options(probes)


def probe_with_ab(args: argparse.Namespace) -> Any:
    """A probe function: candidate commit against baseline commit through harness ab's
    sequential rule, on the one workload case selected."""
    from harness.analysis.ab import judge_frame
    from harness.analysis.bisect import ProbeResult
    from harness.commands import check_judging
    from harness.commands.ab import side_launcher
    from harness.commands.run import config_from_args
    from harness.launch.interleaved import InterleavedLauncher
    from harness.measures import counted_measures, measure_for
    from harness.progress import events_for
    from harness.results import load_frame
    from harness.runner import run
    from harness.sequential import SequentialRule

    check_judging(args.alpha, args.min_effect)
    min_effect = args.min_effect or measure_for(args.measure).default_min_effect
    rule = SequentialRule(min_effect, args.alpha, args.pairs)

    def probe(baseline: str, candidate: str) -> ProbeResult:
        sides = argparse.Namespace(
            baseline_python=None, candidate_python=None, baseline_image=None,
            candidate_image=None, baseline_ref=baseline, candidate_ref=candidate,
            baseline_env=[], candidate_env=[],
        )  # fmt: skip
        launcher = InterleavedLauncher(
            side_launcher(sides, "baseline"), side_launcher(sides, "candidate"), rule, args.budget
        )
        config = config_from_args(args, processes=2 * args.pairs, launcher="local", label=None,
                                  output=None)  # fmt: skip
        print(f"harness: probe {candidate[:12]} against {baseline[:12]} ...", file=sys.stderr)
        events = events_for(not args.no_progress)
        try:
            outcome = run(config, events, launcher)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        if outcome.failed or not outcome.records:
            return ProbeResult(baseline, candidate, "failed")
        verdicts = judge_frame(load_frame([outcome.path]), rule)
        whole = verdicts[verdicts["phase"].isin(["step", *(m.name for m in counted_measures())])]
        if whole.empty:
            return ProbeResult(baseline, candidate, "failed")
        row = whole.iloc[0]
        answer = ProbeResult(
            baseline,
            candidate,
            str(row["verdict"]),
            float(row["ratio"]),
            float(row["ci_low"]),
            float(row["ci_high"]),
            int(row["pairs"]),
        )
        print(f"harness:   {answer.verdict} ×{answer.ratio:.4f} after {answer.pairs} pairs",
              file=sys.stderr)  # fmt: skip
        return answer

    return probe


def handle(args: argparse.Namespace) -> int:
    import subprocess

    from harness.analysis.bisect import bisect, commits_between
    from harness.commands.run import config_from_args
    from harness.runner import plan_for

    if getattr(args, "processes", None) is not None:
        raise UserError("harness bisect probes with ABBA pairs: give --pairs, not --processes.")
    if args.pairs < 2 or args.retries < 0 or not args.budget > 0:
        raise UserError("--pairs must be at least 2, --retries 0 or more, --budget positive.")
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    if top.returncode != 0:
        raise UserError("harness bisect runs inside a git repository: cd into it first.")
    plan = plan_for(config_from_args(args, processes=1, launcher="local"), check_installed=False)
    if len({(t.workload, str(t.params), t.device) for t in plan.tasks}) != 1:
        raise UserError("Select one workload case to bisect (--workload W, one set of params).")
    commits = commits_between(args.good, args.bad, Path(top.stdout.strip()))
    result = bisect(args.good, commits, probe_with_ab(args), retries=args.retries)
    print(render_bisect(result, args.format), end="")
    return EXIT_OK if result.found else EXIT_FAILURES


def render_bisect(result: Any, fmt: str) -> str:
    from harness.render import Document, Heading, Table, Text, check_format, render

    check_format(fmt, ("table", "markdown"))
    if result.found:
        measured = [p for p in result.probes if p.candidate == result.first
                    and p.verdict == result.direction] or result.probes[:1]  # fmt: skip
        last = measured[-1]
        effect = (
            f" ×{last.ratio:.4f} [{last.ci_low:.4f}, {last.ci_high:.4f}] against "
            f"{last.baseline[:12]}"
            if last.ratio is not None
            else ""
        )
        head = f"first {result.direction} commit: {result.first[:12]}{effect}"
    else:
        head = f"not narrowed to one commit: {result.reason}"
    rows = [
        {"probe": str(i + 1), "candidate": p.candidate[:12], "against": p.baseline[:12],
         "verdict": p.verdict, "ratio": "—" if p.ratio is None else f"{p.ratio:.4f}",
         "interval": "—" if p.ci_low is None else f"[{p.ci_low:.4f}, {p.ci_high:.4f}]",
         "pairs": str(p.pairs)}
        for i, p in enumerate(result.probes)
    ]  # fmt: skip
    blocks: list = [Heading(f"harness bisect: {head}", level=3),
                    Table(rows, numeric=frozenset({"ratio", "pairs"}))]  # fmt: skip
    blocks.append(Text(
        f"{len(result.commits)} commit(s) searched in {len(result.probes)} probe(s)"
        + ("" if result.found else "; the change lies in: "
           + ", ".join(c[:12] for c in result.suspects))))  # fmt: skip
    return render(Document(blocks), fmt) or ""
