"""harness ab: baseline and candidate interleaved process by process (ABBA) on this machine,
pair after pair until the sequential rule says slower / faster / same, or the budget runs out
(undecided); exit 1 when the candidate is slower or a task failed, 0 when same or faster, and
for undecided rows what --undecided says (default pass: 0, with the headline saying what the run
could not resolve)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.commands.compare import add_numerics_option
from harness.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, UserError
from harness.sequential import DEFAULT_ALPHA, DEFAULT_MAX_PAIRS

AB_EXIT_CODES = """exit codes:
  0    every row same or faster (and undecided rows, unless --undecided fail)
  1    a row slower, a task failed, or (--undecided fail) a row undecided
  2    bad input or a missing prerequisite; the message says what to do
  130  interrupted (SIGINT/SIGTERM); what was measured is on disk
"""
DEFAULT_BUDGET_S = 120.0
#: what the verdicts render as (text formats: the table is read by people and CI logs)
VERDICT_FORMATS = ("table", "markdown")


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run_options import (
        add_bookkeeping_options,
        add_selection_options,
        add_timing_options,
    )

    ab = sub.add_parser(
        name,
        help="baseline and candidate interleaved (ABBA) on this machine, judged by pairs",
        epilog=AB_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_selection_options(ab)
    add_timing_options(ab, pairs=True)
    sides = ab.add_argument_group("the two sides (a side not given runs this checkout here)")
    for side in ("baseline", "candidate"):
        sides.add_argument(f"--{side}-python", default=None, help=f"{side}: a Python to run")
        sides.add_argument(
            f"--{side}-image", default=None, help=f"{side}: an image (docker launcher)"
        )
        sides.add_argument(
            f"--{side}-ref",
            default=None,
            help=f"{side}: a git ref, run from a worktree with this environment's packages",
        )
        sides.add_argument(
            f"--{side}-env",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"{side}: set in the workers' environment (repeatable)",
        )
    judging = ab.add_argument_group("judging and results (a sequential three-way rule)")
    judging.add_argument(
        "--pairs",
        type=int,
        default=DEFAULT_MAX_PAIRS,
        help=f"most process pairs per workload case (default {DEFAULT_MAX_PAIRS}); the rule "
        "looks after 3, 4, 6, 8, 12, 16, 24, 32, 48 pairs and at the last",
    )
    judging.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_S,
        help=f"wall seconds per workload case (default {DEFAULT_BUDGET_S:g}); when spent, what "
        "the rule has not decided is undecided",
    )
    judging.add_argument(
        "--min-effect",
        type=float,
        default=None,
        help="smallest relative change that counts: smaller is 'same' (default 0.03; 0.01 with "
        "--measure instructions)",
    )
    judging.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help="chance of a false 'slower' or 'faster' over all looks (default 0.05; a false "
        "'slower': half of it)",
    )
    judging.add_argument(
        "--undecided",
        choices=("pass", "fail"),
        default="pass",
        help="exit code for undecided rows: pass (0, the default: a gate that fails on noise "
        "is switched off) or fail (1: the change must be shown smaller than --min-effect)",
    )
    judging.add_argument(
        "--format", default=None, choices=VERDICT_FORMATS,
        help="default: the --output suffix's format, else table",
    )  # fmt: skip
    judging.add_argument(
        "--output", type=Path, default=None, metavar="DOC",
        help="write the verdicts to DOC (UTF-8) instead of printing them",
    )  # fmt: skip
    judging.add_argument(
        "--results-file", type=Path, default=None, metavar="FILE",
        help="the records of both sides, JSON lines (default: RESULTS_DIR/<run-id>.jsonl)",
    )  # fmt: skip
    add_bookkeeping_options(judging)
    add_numerics_option(judging)


def side_launcher(args: argparse.Namespace, side: str) -> Any:
    """The side's launcher, made through the launcher registry: docker with its image, else
    local with its Python, worktree (``--*-ref``) and environment."""
    from harness.launch import launcher_class, make_launcher
    from harness.launch.interleaved import worktree_for

    python, ref = getattr(args, f"{side}_python"), getattr(args, f"{side}_ref")
    env = tuple(getattr(args, f"{side}_env"))
    if args.baseline_image or args.candidate_image:
        if python or ref or env:
            raise UserError("With images, give each side an image only (--baseline-image ...).")
        image = getattr(args, f"{side}_image") or "cpu"
        return make_launcher("docker", launcher_class("docker").Config(image=image))
    if python and ref:
        raise UserError(f"Give --{side}-python or --{side}-ref, not both.")
    source = worktree_for(ref) if ref else None
    config = launcher_class("local").Config(python=python, env=env, source=source)
    return make_launcher("local", config)


def check_python(python: str | None, option: str) -> None:
    """Refuse, before anything is measured, a side's Python that cannot run (UserError)."""
    if python is None:
        return
    import shutil
    import subprocess

    found = shutil.which(python)
    if found is None:
        raise UserError(f"{option} {python} is not an executable file; give a Python interpreter.")
    try:
        subprocess.run([found, "-c", "import sys"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        raise UserError(
            f"{option} {python} does not run as Python; give a Python interpreter."
        ) from None


def handle(args: argparse.Namespace) -> int:
    from harness.render import document_format

    args.format = document_format(args.format, args.output, VERDICT_FORMATS)
    from harness.analysis.ab import judge_frame
    from harness.commands.run import check_results_file, config_from_args
    from harness.launch.interleaved import InterleavedLauncher
    from harness.progress import events_for
    from harness.results import load_frame
    from harness.runner import run
    from harness.sequential import SequentialRule

    if getattr(args, "processes", None) is not None:
        raise UserError(
            "harness ab runs its processes in ABBA pairs: give --pairs (the most pairs per "
            "case), not --processes."
        )
    if args.pairs < 2:
        raise UserError(f"--pairs must be at least 2 (a verdict needs a spread), got {args.pairs}.")
    if not args.budget > 0:
        raise UserError(f"--budget must be a positive number of seconds, got {args.budget:g}.")
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}.")
    min_effect = args.min_effect
    if min_effect is None:
        from harness.measures import measure_for

        min_effect = measure_for(args.measure).default_min_effect
    if not 0 < min_effect < 1:
        raise UserError(f"--min-effect must be between 0 and 1, got {min_effect}.")
    sides = ("baseline", "candidate")
    if not any(
        getattr(args, f"{s}_{what}") for s in sides for what in ("python", "image", "ref", "env")
    ):
        raise UserError(
            "The two sides are the same; give at least one --baseline-* or --candidate-* option."
        )
    if args.output is not None:
        from harness.writable import check_writable

        check_writable(args.output, "--output", "ab.html")  # before any pair is measured
    check_results_file(args.results_file)
    for side in sides:
        check_python(getattr(args, f"{side}_python"), f"--{side}-python")
    if args.results_file is not None:
        from harness.writable import check_writable

        check_writable(args.results_file, "--results-file")
        if args.results_file.is_file() and args.results_file.stat().st_size:
            print(
                f"harness: appending to {args.results_file}, which holds earlier records; this "
                "run's verdicts judge its own pairs only.",
                file=sys.stderr,
            )
    rule = SequentialRule(min_effect, args.alpha, args.pairs)
    launcher = InterleavedLauncher(
        side_launcher(args, "baseline"), side_launcher(args, "candidate"), rule, args.budget
    )
    config = config_from_args(args, processes=2 * args.pairs, launcher="local", label=None)
    events = events_for(not args.no_progress)
    try:
        outcome = run(config, events, launcher)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    from harness.analysis import numerics
    from harness.analysis.explain import side_arguments

    frame = load_frame([outcome.path])
    frame = frame[frame["run_id"].isin({record.run_id for record in outcome.records})]
    verdicts = numerics.add_column(
        judge_frame(frame, rule),
        frame[frame["label"] == "baseline"],
        frame[frame["label"] == "candidate"],
    )
    text = render_verdicts(verdicts, args.format, args.budget, args.undecided,
                           side_arguments(args))  # fmt: skip
    if args.output is not None:
        from harness.render import write_text

        write_text(args.output, text)
        print(f"harness: verdicts written to {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    print(f"harness: results in {outcome.path}", file=sys.stderr)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.failed:
        print(f"harness: {len(outcome.failed)} task(s) failed.", file=sys.stderr)
    code = exit_code(verdicts, bool(outcome.failed), args.undecided)
    if code == EXIT_OK and args.numerics == "fail" and numerics.any_changed(verdicts):
        return EXIT_FAILURES
    return code


def exit_code(verdicts: Any, failed: bool, undecided: str) -> int:
    """1 for a slower row or a failed task; 1 for an undecided row under --undecided fail;
    else 0."""
    found = set() if verdicts.empty else set(verdicts["verdict"])
    if failed or "slower" in found or (undecided == "fail" and "undecided" in found):
        return EXIT_FAILURES
    return EXIT_OK


def render_verdicts(
    verdicts: Any,
    fmt: str,
    budget_s: float = DEFAULT_BUDGET_S,
    undecided: str = "pass",
    sides: str = "",
) -> str:
    from harness.analysis.explain import explain_notes
    from harness.render import Document, Heading, Table, Text, check_format, render
    from harness.render.cells import short_params

    check_format(fmt, ("table", "markdown"))
    if verdicts.empty:
        return render(Document([Text("No pair measured both sides: nothing to judge.")]), fmt) or ""
    rows = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "phase": r.phase,
            "baseline": _value(r.baseline_median_s, r.phase),
            "candidate": _value(r.candidate_median_s, r.phase),
            "ratio": f"{r.ratio:.4f}" if r.phase == "instructions" else f"{r.ratio:.3f}",
            "interval": "—" if r.ci_low != r.ci_low else f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
            "pairs": str(r.pairs),
            "pair spread": "—" if r.pair_spread != r.pair_spread else f"±{r.pair_spread:.1%}",
            "verdict": r.verdict,
            "machine": f"noisy: {r.noisy_machine}" if r.noisy_machine else "",
            **({"numerics": r.numerics} if "numerics" in verdicts else {}),
        }
        for r in verdicts.itertuples()
    ]
    if not any(row["machine"] for row in rows):
        for row in rows:
            del row["machine"]
    blocks: list = [Heading(headline(verdicts, budget_s, undecided), level=3)]
    blocks.append(
        Table(
            rows,
            numeric=frozenset({"baseline", "candidate", "ratio", "pairs"}),
            strong=frozenset({("verdict", "slower"), ("verdict", "undecided")}),
        )
    )
    effect = verdicts["min_effect"].iloc[0]
    blocks.append(
        Text(
            "Baseline and candidate alternated process by process (ABBA), pair after pair until "
            "the sequential rule decided or the budget ran out. baseline, candidate: each "
            "side's geometric mean of its process medians over the pairs; ratio: geometric mean "
            "of the pairs' candidate/baseline medians (= candidate / baseline); interval: a t "
            "interval at the level each look may spend (Bonferroni over the looks); same: the "
            f"interval inside ±{effect:.0%}; "
            "pair spread: standard deviation of the pairs' log ratios."
        )
    )
    noisy = verdicts[verdicts["noisy_machine"] != ""]
    if not noisy.empty:
        blocks.append(
            Text(
                "The machine watch flagged a noisy machine (other load, throttling or steal) for "
                + "; ".join(
                    sorted({f"{r.workload} ({r.noisy_machine})" for r in noisy.itertuples()})
                )
                + ": pairs share the machine, so the ratios stay fair, but their spread grows; "
                "the verdict is computed as usual."
            )
        )
    blocks += [Text(line) for line in explain_notes(verdicts, sides)]  # flagged rows: explain
    return render(Document(blocks), fmt) or ""


def headline(verdicts: Any, budget_s: float, undecided: str) -> str:
    """REGRESSION over any slower row; over undecided rows, what the run could not resolve;
    'no regression' only when every row is same or faster."""
    counts = verdicts["verdict"].value_counts().to_dict()
    tally = ", ".join(
        f"{counts[v]} {v}" for v in ("slower", "undecided", "same", "faster") if v in counts
    )
    if counts.get("slower"):
        return f"❌ harness ab: REGRESSION ({tally})"
    open_rows = verdicts[verdicts["verdict"] == "undecided"]
    if not open_rows.empty:
        effect = float(open_rows["min_effect"].iloc[0])
        widest = open_rows.sort_values("resolution", na_position="first").iloc[-1]
        spread = widest["pair_spread"]
        icon = "❌" if undecided == "fail" else "⚠️"
        return (
            f"{icon} harness ab: undecided ({tally}): could not tell a {effect:.0%} change in "
            f"{budget_s:g} s here ({widest['pairs']} pairs; pair spread "
            f"±{spread:.1%}, interval ±{widest['resolution']:.1%})"
            + (" — not a pass (--undecided fail)" if undecided == "fail" else "")
        )
    return f"✅ harness ab: no regression ({tally})"


def _value(value: float, phase: str) -> str:
    from harness.render.cells import format_seconds

    return f"{value:,.0f}" if phase == "instructions" else format_seconds(value)
