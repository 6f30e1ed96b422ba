"""harness ab: baseline and candidate interleaved process by process (ABBA) on this machine,
judged pair by pair; exit 1 when the candidate is slower or a task failed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.commands import EXIT_CODES_HELP
from harness.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run import add_selection_options, add_timing_options

    ab = sub.add_parser(
        name,
        help="baseline and candidate interleaved (ABBA) on this machine, judged by pairs",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_selection_options(ab)
    add_timing_options(ab)
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
    judging = ab.add_argument_group("judging and results")
    judging.add_argument(
        "--pairs", type=int, default=4, help="process pairs per workload (default 4)"
    )
    judging.add_argument("--min-effect", type=float, default=0.03)
    judging.add_argument("--format", default="table", help="table or markdown")
    judging.add_argument("--output", type=Path, default=None)
    judging.add_argument("--results-dir", type=Path, default=Path("results"))
    judging.add_argument("--no-progress", action="store_true")


def side_launcher(args: argparse.Namespace, side: str) -> Any:
    from harness.ab import worktree_for
    from harness.launch.docker import DockerConfig, DockerLauncher
    from harness.launch.local import LocalConfig, LocalLauncher

    python, ref = getattr(args, f"{side}_python"), getattr(args, f"{side}_ref")
    env = tuple(getattr(args, f"{side}_env"))
    if args.baseline_image or args.candidate_image:
        if python or ref or env:
            raise UserError("With images, give each side an image only (--baseline-image ...).")
        return DockerLauncher(DockerConfig(image=getattr(args, f"{side}_image") or "cpu"))
    if python and ref:
        raise UserError(f"Give --{side}-python or --{side}-ref, not both.")
    source = worktree_for(ref) if ref else None
    return LocalLauncher(LocalConfig(python=python, env=env, source=source))


def handle(args: argparse.Namespace) -> int:
    from harness.ab import InterleavedLauncher, judge_frame
    from harness.commands.run import config_from_args
    from harness.progress import events_for
    from harness.results import load_frame
    from harness.runner import run

    if args.pairs < 2:
        raise UserError(f"--pairs must be at least 2 (a verdict needs a spread), got {args.pairs}.")
    sides = ("baseline", "candidate")
    if not any(
        getattr(args, f"{s}_{what}") for s in sides for what in ("python", "image", "ref", "env")
    ):
        raise UserError(
            "The two sides are the same; give at least one --baseline-* or --candidate-* option."
        )
    launcher = InterleavedLauncher(
        side_launcher(args, "baseline"), side_launcher(args, "candidate")
    )
    config = config_from_args(args, processes=2 * args.pairs, launcher="local", label=None)
    events = events_for(not args.no_progress)
    try:
        outcome = run(config, events, launcher)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    frame = load_frame([outcome.path])
    if args.measure == "instructions":
        from harness.compare import compare_frames
        from harness.compare_document import render_comparison

        by_side = {label: frame[frame["label"] == label] for label in ("baseline", "candidate")}
        result = compare_frames(by_side["baseline"], by_side["candidate"])
        print(render_comparison(result, args.format), end="")
        print(f"harness: results in {outcome.path}", file=sys.stderr)
        return EXIT_FAILURES if not result.regressions.empty or outcome.failed else EXIT_OK
    verdicts = judge_frame(frame, args.min_effect)
    from harness.explain import side_arguments

    print(render_verdicts(verdicts, args.format, side_arguments(args)), end="")
    print(f"harness: results in {outcome.path}", file=sys.stderr)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    slower = not verdicts.empty and verdicts["verdict"].str.startswith("slower").any()
    if outcome.failed:
        print(f"harness: {len(outcome.failed)} task(s) failed.", file=sys.stderr)
    return EXIT_FAILURES if slower or outcome.failed else EXIT_OK


def render_verdicts(verdicts: Any, fmt: str, sides: str = "") -> str:
    from harness.explain import explain_notes
    from harness.render import Document, Heading, Table, Text, check_format, render
    from harness.render.cells import format_seconds, short_params

    check_format(fmt, ("table", "markdown"))
    if verdicts.empty:
        return render(Document([Text("No pair measured both sides: nothing to judge.")]), fmt) or ""
    slower = verdicts["verdict"].str.startswith("slower").any()
    rows = [
        {
            "workload": r.workload,
            "device": r.device,
            "params": short_params(r.params, r.changed_params),
            "phase": r.phase,
            "baseline": format_seconds(r.baseline_median_s),
            "candidate": format_seconds(r.candidate_median_s),
            "ratio": f"{r.ratio:.3f}",
            "95% CI": f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
            "pairs": str(r.pairs),
            "verdict": r.verdict,
        }
        for r in verdicts.itertuples()
    ]
    title = f"{'❌' if slower else '✅'} harness ab: {'REGRESSION' if slower else 'no regression'}"
    document = Document(
        [
            Heading(title, level=3),
            Table(
                rows,
                numeric=frozenset({"baseline", "candidate", "ratio", "pairs"}),
                strong=frozenset({("verdict", "slower"), ("verdict", "slower (noisy)")}),
            ),
            Text(
                "Baseline and candidate alternated process by process (ABBA); ratio: geometric "
                "mean of the pairs' candidate/baseline medians, with a 95% t interval; threshold "
                f"±{verdicts['min_effect'].iloc[0]:.0%}."
            ),
            *[Text(line) for line in explain_notes(verdicts, sides)],  # flagged rows: explain
        ]
    )
    return render(document, fmt) or ""
