"""The command line: harness run | list | report | compare | baseline | env | images."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError

EXIT_CODES_HELP = """exit codes:
  0    every workload measured (compare: no regression)
  1    at least one workload failed (compare: a regression was flagged)
  2    bad input or a missing prerequisite; the message says what to do
  130  interrupted (SIGINT/SIGTERM); what was measured is on disk
"""


def parse_size(text: str) -> int:
    """'512m', '2g', '1073741824' -> bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise UserError(f"Cannot read the size {text!r}; write it like 512m or 2g.") from None
    if value <= 0:
        raise UserError(f"A memory size must be positive, got {text!r}.")
    return int(value)


def positive_float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} expects a number of seconds, got {text!r}.") from None
    if not value > 0:
        raise UserError(f"{name} must be a positive number of seconds, got {text!r}.")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Measure deep-learning training steps, checkpoints and input pipelines.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = sub.add_parser("list", help="workloads, their parameters and defaults; suites")
    listing.add_argument("--framework", action="append", default=[])
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser(
        "run",
        help="run a suite or workloads; write results/<run-id>.jsonl",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--suite", default="default", help="smoke, default, compare or gpu")
    run.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this workload (repeatable; or module:Class)",
    )
    run.add_argument(
        "--framework",
        action="append",
        default=[],
        metavar="NAME",
        help="keep only this framework's workloads (repeatable)",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=V[,V...]",
        help="override a parameter; several values make a sweep",
    )
    run.add_argument(
        "--device",
        action="append",
        default=[],
        choices=None,
        metavar="DEVICE",
        help="cpu or cuda (repeatable; default: the suite's)",
    )
    run.add_argument("--launcher", default="local", help="local (default) or docker")
    run.add_argument("--image", default=None, help="docker: cpu, cuda or an image tag")
    run.add_argument("--gpus", default=None, help="docker: 'all' or a count, like --gpus all")
    run.add_argument("--cpuset-cpus", default=None, help="docker: CPUs the container may use")
    run.add_argument(
        "--cpus", type=float, default=None, help="docker: CPU quota of the container, like 1.5"
    )
    run.add_argument(
        "--network",
        default=None,
        help="docker: network for the containers (default: none; 'host' only when asked)",
    )
    run.add_argument(
        "--memory",
        default=None,
        help="memory limit: docker --memory, or the local launcher's watchdog (512m, 2g)",
    )
    run.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default: RESULTS_DIR/<run-id>.jsonl)",
    )
    run.add_argument("--results-dir", type=Path, default=Path("results"))
    run.add_argument(
        "--label",
        default=None,
        help="name this setup in reports (default: host · hardware · launcher · versions)",
    )
    run.add_argument(
        "--processes",
        type=int,
        default=None,
        help="fresh processes per workload (default: the suite's; compare: 3)",
    )
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        help="math-library threads per worker (default: the CPUs the worker may use: "
        "its cpuset and CPU quota, inside a container too)",
    )
    run.add_argument("--timeout", default="600", help="seconds per workload process")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--warmup-time", type=float, default=None)
    run.add_argument("--min-time", type=float, default=None)
    run.add_argument("--min-blocks", type=int, default=None)
    run.add_argument("--max-blocks", type=int, default=None)
    run.add_argument("--report", action="store_true", help="print the report when done")
    run.add_argument("--no-progress", action="store_true")

    report = sub.add_parser("report", help="summarize results files (JSONL or pytest-benchmark)")
    report.add_argument("files", nargs="+", type=Path)
    report.add_argument("--format", default="table", help="table, markdown, csv, parquet or html")
    report.add_argument("--output", type=Path, default=None)
    report.add_argument(
        "--reference",
        default=None,
        help="setup to compute speed-ups against (substring of its name)",
    )

    compare = sub.add_parser(
        "compare",
        help="regression verdicts: candidate against baseline",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("baseline", type=Path, nargs="+", help="baseline results file(s)")
    compare.add_argument(
        "--candidate",
        type=Path,
        action="append",
        default=[],
        help="candidate file(s); or give exactly two positional files",
    )
    compare.add_argument("--format", default="table", help="table, markdown or csv")
    compare.add_argument("--output", type=Path, default=None)
    compare.add_argument(
        "--min-effect",
        type=float,
        default=0.05,
        help="smallest relative change that counts (default 0.05)",
    )
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level")
    compare.add_argument(
        "--phase", action="append", default=[], help="phases to judge (default: all)"
    )

    baseline = sub.add_parser("baseline", help="keep results as a named baseline")
    baseline_sub = baseline.add_subparsers(dest="baseline_command", metavar="ACTION")
    save = baseline_sub.add_parser("save", help="copy results files to results/baselines/NAME")
    save.add_argument("name")
    save.add_argument("files", nargs="+", type=Path)
    save.add_argument("--dir", type=Path, default=Path("results/baselines"))
    baseline_sub.add_parser("list", help="baselines kept under results/baselines/")

    env = sub.add_parser("env", help="what this machine is, as results record it")
    env.add_argument("--json", action="store_true")

    images = sub.add_parser("images", help="build the CPU/CUDA images (offline wheelhouse)")
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION")
    for action in ("build", "wheelhouse"):
        cmd = images_sub.add_parser(action)
        cmd.add_argument("--target", default="cpu", help="cpu or cuda")
        cmd.add_argument("--tag", default=None)
        cmd.add_argument("--base", default=None, help="base image (build argument)")
        if action == "build":
            cmd.add_argument(
                "--if-stale",
                action="store_true",
                help="build only when the image is missing or built from other sources",
            )
    images_sub.add_parser("list", help="harness images present in the engine")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        handler = {
            "list": command_list,
            "run": command_run,
            "report": command_report,
            "compare": command_compare,
            "baseline": command_baseline,
            "env": command_env,
            "images": command_images,
        }[args.command]
        return handler(args)
    except UserError as error:
        print(f"harness: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


def command_list(args: argparse.Namespace) -> int:
    from harness.plan import catalogue, workload_class
    from harness.suites import SUITES

    described: list[dict[str, Any]] = []
    for name in catalogue():
        cls = workload_class(name)
        if args.framework and cls.framework not in args.framework:
            continue
        described.append(
            {
                "name": name,
                "framework": cls.framework,
                "kind": cls.kind,
                "phases": list(cls.phases),
                "devices": list(cls.devices),
                "description": cls.description,
                "params": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default,
                        "help": p.help,
                        "choices": list(p.choices),
                    }
                    for p in cls.params
                ],
            }
        )
    if args.json:
        print(
            json.dumps(
                {"workloads": described, "suites": {n: s.description for n, s in SUITES.items()}},
                indent=2,
            )
        )
        return EXIT_OK
    for item in described:
        print(
            f"{item['name']}  ({item['framework']}, {item['kind']}; "
            f"phases: {', '.join(item['phases']) or 'step'}; "
            f"devices: {', '.join(item['devices'])})"
        )
        if item["description"]:
            print(f"    {item['description']}")
        for p in item["params"]:
            default = (
                "x".join(map(str, p["default"]))
                if isinstance(p["default"], tuple)
                else p["default"]
            )
            choices = f" [{'|'.join(map(str, p['choices']))}]" if p["choices"] else ""
            print(f"    --param {p['name']}={default}  ({p['type']}{choices}) {p['help']}")
    print("\nsuites:")
    for name, suite in SUITES.items():
        print(f"  {name:8s} {suite.description}")
    return EXIT_OK


def command_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from harness import environment
    from harness.launch import make_launcher
    from harness.params import parse_override
    from harness.plan import build_plan
    from harness.results import new_run_id
    from harness.runner import execute
    from harness.suites import get_suite

    suite = get_suite(args.suite)
    overrides = [parse_override(text) for text in args.param]
    timeout = positive_float("--timeout", args.timeout)
    threads = args.threads  # None: each worker uses the CPUs it may use where it runs
    timer = suite.timer
    changes = {
        k: v
        for k, v in {
            "warmup_time": args.warmup_time,
            "min_time": args.min_time,
            "min_blocks": args.min_blocks,
            "max_blocks": args.max_blocks,
        }.items()
        if v is not None
    }
    if changes:
        if "min_blocks" in changes and "max_blocks" not in changes:
            changes["max_blocks"] = max(timer.max_blocks, changes["min_blocks"])
        timer = replace(timer, **changes)
    if args.launcher != "docker":
        for flag, value in (
            ("--network", args.network),
            ("--image", args.image),
            ("--gpus", args.gpus),
            ("--cpuset-cpus", args.cpuset_cpus),
            ("--cpus", args.cpus),
        ):
            if value is not None:
                raise UserError(f"{flag} works with --launcher docker only.")
    memory = parse_size(args.memory) if args.memory else None
    if args.launcher == "local":
        launcher = make_launcher("local", memory_limit=memory)
    elif args.launcher == "docker":
        launcher = make_launcher(
            "docker",
            image=args.image or "cpu",
            gpus=args.gpus,
            cpuset_cpus=args.cpuset_cpus,
            cpus=args.cpus,
            memory=memory,
            network=args.network or "none",
        )
    else:
        launcher = make_launcher(args.launcher)
    plan = build_plan(
        suite,
        workloads=args.workload,
        frameworks=args.framework,
        overrides=overrides,
        devices=args.device,
        processes=args.processes,
        timer=timer,
        threads=threads,
        timeout=timeout,
        seed=args.seed,
        check_installed=args.launcher == "local",
    )
    for skipped in plan.skipped:
        print(f"harness: skipping {skipped}", file=sys.stderr)
    if not plan.tasks:
        raise UserError(
            "Every selected workload was skipped; install the frameworks they need "
            "(make venv installs them all)."
        )
    launcher.preflight(plan)
    label = args.label or ""
    device_tag = "-".join(sorted({t.device for t in plan.tasks}))
    run_id = new_run_id(f"{device_tag}-{args.launcher}{('-' + label) if label else ''}")
    path = args.output or (args.results_dir / f"{run_id}.jsonl")
    env = environment.collect(launcher=args.launcher, extra=launcher.environment())
    print(
        f"harness: {len(plan.tasks)} task(s) from suite '{suite.name}' with the "
        f"{args.launcher} launcher -> {path}",
        file=sys.stderr,
    )
    with _progress(args.no_progress) as progress:
        outcome = execute(plan, launcher, path, run_id, env, label or None, progress)
    if args.report and outcome.records:
        from harness.report import write_report
        from harness.results import load_frame

        text = write_report(load_frame([path]), "table", None)
        print(text, end="")
    failed = outcome.failed
    for record in failed:
        error = record.get("error") or {}
        print(
            f"harness: FAILED {record['workload']} [{record['device']}]: "
            f"{record['status']}: {error.get('message', '')}",
            file=sys.stderr,
        )
        for line in (error.get("stderr_tail") or error.get("traceback_tail") or [])[-5:]:
            print(f"    {line}", file=sys.stderr)
    for record in outcome.skipped:
        print(
            f"harness: skipped {record['workload']} [{record['device']}]: "
            f"{(record.get('error') or {}).get('message', '')}",
            file=sys.stderr,
        )
    print(f"harness: results in {path}", file=sys.stderr)
    if outcome.interrupted:
        print(
            f"harness: interrupted by {outcome.interrupted} after "
            f"{len(outcome.records)} of {len(plan.tasks)} task(s); "
            "everything measured so far is in the file.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if failed:
        print(f"harness: {len(failed)} of {len(outcome.records)} task(s) failed.", file=sys.stderr)
        return EXIT_FAILURES
    return EXIT_OK


class _progress:
    """A rich progress bar on a terminal; plain lines otherwise."""

    def __init__(self, disabled: bool):
        self.disabled = disabled
        self.bar: Any = None

    def __enter__(self):
        from harness.runner import describe_task, plain_progress

        if self.disabled:
            return None
        if not sys.stderr.isatty():
            return plain_progress()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # stdout stays clean for --report and pipes
            transient=False,
        )
        self.bar.start()
        handle = self.bar.add_task("starting", total=None)

        def update(done: int, total: int, task, record) -> None:
            self.bar.update(
                handle, total=total, completed=done, description=describe_task(task)[:60]
            )

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _load(files: Sequence[Path]):
    from harness.results import load_frame

    def warn(message: str) -> None:
        print(f"harness: warning: {message}", file=sys.stderr)

    frame = load_frame(files, on_warning=warn)
    if frame.empty:
        raise UserError(
            f"No result records in {', '.join(map(str, files))}: the file(s) are empty."
        )
    return frame


def command_report(args: argparse.Namespace) -> int:
    from harness.report import write_report

    frame = _load(args.files)
    text = write_report(frame, args.format, args.output, reference=args.reference)
    if text is not None:
        print(text, end="")
    else:
        print(f"harness: report written to {args.output}", file=sys.stderr)
    return EXIT_OK


def command_compare(args: argparse.Namespace) -> int:
    from harness.compare import compare_frames, render_comparison

    baseline_files, candidate_files = list(args.baseline), list(args.candidate)
    if not candidate_files:
        if len(baseline_files) != 2:
            raise UserError("compare needs BASELINE CANDIDATE, or BASELINE... --candidate FILE.")
        baseline_files, candidate_files = baseline_files[:1], baseline_files[1:]
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}.")
    if args.min_effect < 0:
        raise UserError(f"--min-effect must not be negative, got {args.min_effect}.")
    result = compare_frames(
        _load(baseline_files),
        _load(candidate_files),
        min_effect=args.min_effect,
        alpha=args.alpha,
        phases=args.phase,
    )
    text = render_comparison(result, args.format)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"harness: comparison written to {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_FAILURES if not result.regressions.empty else EXIT_OK


def command_baseline(args: argparse.Namespace) -> int:
    from harness.compare import list_baselines, save_baseline

    if args.baseline_command == "save":
        target = save_baseline(args.name, args.files, args.dir)
        print(f"harness: baseline '{args.name}' saved in {target}")
        return EXIT_OK
    if args.baseline_command == "list":
        for name, files in list_baselines(Path("results/baselines")).items():
            print(f"{name}: {', '.join(files)}")
        return EXIT_OK
    raise UserError("baseline needs an action: save NAME FILES... or list.")


def command_env(args: argparse.Namespace) -> int:
    from harness import environment

    env = environment.collect()
    if args.json:
        print(json.dumps(env, indent=2))
        return EXIT_OK
    for key, value in env.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "—"
        print(f"{key:16s} {value}")
    return EXIT_OK


def command_images(args: argparse.Namespace) -> int:
    from harness.images import build_image, list_images, prepare_wheelhouse

    if args.images_command == "build":
        tag = build_image(args.target, tag=args.tag, base=args.base, if_stale=args.if_stale)
        print(f"harness: image {tag} is ready")
        return EXIT_OK
    if args.images_command == "wheelhouse":
        folder = prepare_wheelhouse(args.target)
        print(f"harness: wheelhouse ready in {folder}")
        return EXIT_OK
    if args.images_command == "list":
        for line in list_images():
            print(line)
        return EXIT_OK
    raise UserError("images needs an action: build, wheelhouse or list.")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
