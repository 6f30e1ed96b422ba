"""harness explain: per phase, the operations whose time (or instructions) changed most between
a baseline and a candidate, from fresh profiled processes of both sides; exit 0."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.commands import EXIT_CODES_HELP
from harness.errors import EXIT_OK, UserError

PROFILER_CHOICES = ("auto", "torch", "callgrind", "tensorflow", "python")


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run_options import add_selection_options

    explain = sub.add_parser(
        name,
        help="the operations that made each phase slower: both sides profiled afresh",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_selection_options(explain)
    explain.set_defaults(suite="smoke")  # one small entry per workload: each is profiled afresh
    add_side_options(explain)
    how = explain.add_argument_group("profiling")
    how.add_argument(
        "--profiler",
        default="auto",
        choices=PROFILER_CHOICES,
        help="auto: torch.profiler (PyTorch), the TensorFlow profiler (Keras on TensorFlow), "
        "Callgrind (NumPy), cProfile (others)",
    )
    how.add_argument("--steps", type=int, default=None, help="profiled steps (20; Callgrind 3)")
    how.add_argument("--warmup", type=int, default=3, help="unprofiled steps first (default 3)")
    how.add_argument(
        "--processes",
        type=int,
        default=None,
        help="profiled processes per side, ABBA (default 3; Callgrind 1: it is exact)",
    )
    how.add_argument("--threads", type=int, default=1, help="math-library threads (default 1)")
    how.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    how.add_argument(
        "--seed", type=int, default=0, help="seed of the workload's data and weights (default 0)"
    )
    how.add_argument(
        "--cover", type=float, default=0.8, help="list operations until this share (0.8)"
    )
    how.add_argument(
        "--phase", action="append", default=[], help="explain only this phase (repeatable)"
    )
    how.add_argument(
        "--format", default=None, choices=("table", "markdown"),
        help="default: the --output suffix's format, else table",
    )  # fmt: skip
    how.add_argument(
        "--output", type=Path, default=None, metavar="DOC",
        help="write the explanation to DOC in --format (default: print it)",
    )  # fmt: skip


def add_side_options(parser: argparse.ArgumentParser) -> None:
    """The two sides, named as ``harness ab`` names them."""
    sides = parser.add_argument_group("the two sides (a side not given runs this checkout here)")
    for side in ("baseline", "candidate"):
        sides.add_argument(f"--{side}-python", default=None, help=f"{side}: a Python to run")
        sides.add_argument(f"--{side}-image", default=None, help=f"{side}: an image (docker)")
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
            help=f"{side}: set in the profiled processes' environment (repeatable)",
        )


def side_from_args(args: argparse.Namespace, side: str) -> Any:
    from harness.analysis.explain import ProfileSide
    from harness.launch.interleaved import worktree_for

    python, ref = getattr(args, f"{side}_python"), getattr(args, f"{side}_ref")
    image, env = getattr(args, f"{side}_image"), tuple(getattr(args, f"{side}_env"))
    for pair in env:
        if "=" not in pair or not pair.split("=", 1)[0]:
            raise UserError(f"An environment setting must look like KEY=VALUE, got {pair!r}.")
    if sum(bool(x) for x in (python, ref, image)) > 1:
        raise UserError(f"Give one of --{side}-python, --{side}-ref or --{side}-image, not more.")
    from harness.commands.ab import check_python

    check_python(python, f"--{side}-python")
    source = worktree_for(ref) if ref else None
    return ProfileSide(side, python=python, env=env, source=source, image=image)


def handle(args: argparse.Namespace) -> int:
    from harness.render import document_format

    args.format = document_format(args.format, args.output, ("table", "markdown"))
    if args.output is not None:
        from harness.writable import check_writable

        check_writable(args.output, "--output", "explain.html")  # before anything is profiled
    from harness.analysis.explain import explain_frame, profile_sides, profiler_for
    from harness.params import parse_override
    from harness.plan import build_plan, workload_class
    from harness.render import check_format, write
    from harness.suites import get_suite

    check_format(args.format, ("table", "markdown"))
    sides = ("baseline", "candidate")
    if not any(
        getattr(args, f"{s}_{what}") for s in sides for what in ("python", "image", "ref", "env")
    ):
        raise UserError(
            "The two sides are the same; give at least one --baseline-* or --candidate-* option."
        )
    for name in ("steps", "processes", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name} must be at least 1, got {value}.")
    if not args.workload and not args.framework:
        raise UserError("Name what to explain with --workload NAME (see harness list).")
    plan = build_plan(
        get_suite(args.suite),
        workloads=args.workload,
        frameworks=args.framework,
        overrides=tuple(parse_override(text) for text in args.param),
        devices=args.device,
        processes=1,
        timeout=args.timeout,
        seed=args.seed,
    )
    if not plan.tasks:
        raise UserError(f"Nothing to explain here: {'; '.join(plan.skipped)}.")
    baseline, candidate = side_from_args(args, "baseline"), side_from_args(args, "candidate")
    results = []
    for task in plan.tasks:
        cls = workload_class(task.path)
        profiler = args.profiler
        if profiler == "auto":
            profiler = profiler_for(cls.framework, task.params)
        exact = profiler == "callgrind"
        steps = args.steps or (3 if exact else 20)
        processes = args.processes or (1 if exact else 3)
        print(f"harness: profiling {task.describe()} with {profiler} ...", file=sys.stderr)
        frame = profile_sides(
            task, (baseline, candidate), profiler, steps, args.warmup, processes, args.threads
        )
        explained = explain_frame(frame, args.cover)
        if args.phase:
            explained = explained[explained["phase"].isin(args.phase)]
        results.append((task, profiler, steps, processes, explained))
    text = write(explanation_document(results, args.cover), args.format, args.output)
    if text is None:
        print(f"harness: explanation written to {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def explanation_document(results: list[tuple[Any, str, int, int, Any]], cover: float) -> Any:
    """One heading and one table per task: phase, measure, operation, both sides, the change
    and its share, until ``cover`` of each phase's change is explained."""
    from harness.analysis.explain import UNITS
    from harness.params import format_params
    from harness.render import Document, Heading, Table, Text
    from harness.render.cells import case_label

    blocks: list = [Heading("harness explain", level=3)]
    for task, profiler, steps, processes, explained in results:
        params = format_params(task.params)
        blocks.append(Heading(f"{case_label(task.workload, task.device)} {params}", level=4))
        if explained.empty:
            blocks.append(Text("No phase changed between the two sides."))
            continue
        rows = []
        for r in explained.itertuples():
            unit = UNITS.get(r.measure, "")
            rows.append(
                {
                    "phase": r.phase if r.rank == 1 else "",
                    "measure": r.measure if r.rank == 1 else "",
                    "phase change": phase_change(r, unit) if r.rank == 1 else "",
                    "operation": r.op,
                    "baseline": f"{r.baseline:,.1f}",
                    "candidate": f"{r.candidate:,.1f}",
                    "change": f"{r.change:+,.1f}",
                    "share": f"{r.share:.0%}",
                    "calls": f"{r.baseline_calls:g} → {r.candidate_calls:g}",
                }
            )
        blocks.append(Table(rows, numeric=frozenset({"baseline", "candidate", "change", "share"})))
        blocks.append(
            Text(
                f"{profiler}: {processes} fresh process(es) per side (ABBA), {steps} profiled "
                "steps each after warm-up; values per step (µs of self time, or instructions), "
                "medians over steps, then over processes; operations listed until "
                f"{cover:.0%} of each phase's change (share: of the change in its direction)."
            )
        )
    return Document(blocks, title="harness explain")


def phase_change(row: Any, unit: str) -> str:
    """The phase's change, absolute and relative to the baseline's phase total."""
    relative = f" ({row.phase_change / row.phase_baseline:+.1%})" if row.phase_baseline else ""
    return f"{row.phase_change:+,.1f} {unit}{relative}"
