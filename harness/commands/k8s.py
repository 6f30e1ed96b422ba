"""harness k8s manifest: a run as a Kubernetes Indexed Job (written, never applied here)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.errors import EXIT_OK, UserError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    from harness.commands.run_options import add_selection_options, add_timing_options

    k8s = sub.add_parser(name, help="a run as a Kubernetes Indexed Job manifest")
    actions = k8s.add_subparsers(dest="k8s_command", metavar="ACTION")
    manifest = actions.add_parser("manifest", help="write the ConfigMap and Indexed Job")
    add_selection_options(manifest)
    add_timing_options(manifest)
    job = manifest.add_argument_group("the job")
    job.add_argument("--image", required=True, help="the harness image the pods run")
    job.add_argument("--name", default="harness-run", help="Job name (default harness-run)")
    job.add_argument("--pvc", default="harness-results", help="PersistentVolumeClaim for results")
    job.add_argument("--gpus", type=int, default=0, help="nvidia.com/gpu per pod")
    job.add_argument(
        "--node-selector", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    job.add_argument("--parallelism", type=int, default=1, help="pods at once (default 1)")
    job.add_argument(
        "--namespace", default=None, help="the Job's Kubernetes namespace (default: none set)"
    )
    job.add_argument(
        "--label", default=None, help="the setup's name in reports and history (default: by node)"
    )
    job.add_argument(
        "--output", type=Path, default=None, metavar="DOC",
        help="write the manifest (JSON) to DOC (default: print it)",
    )  # fmt: skip


def handle(args: argparse.Namespace) -> int:
    from harness.commands.run import config_from_args
    from harness.k8s import manifest
    from harness.runner import plan_for

    if args.k8s_command != "manifest":
        raise UserError("k8s needs an action: manifest.")
    selectors = {}
    for pair in args.node_selector:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--node-selector takes KEY=VALUE, got {pair!r}.")
        selectors[key] = value
    if args.gpus < 0 or args.parallelism < 1:
        raise UserError("--gpus must be 0 or more and --parallelism at least 1.")
    config = config_from_args(args, launcher="local")
    plan = plan_for(config, check_installed=False)  # the image has the frameworks, not here
    document = manifest(
        [task.to_dict() for task in plan.tasks],
        args.image,
        args.name,
        args.pvc,
        args.gpus,
        selectors,
        args.parallelism,
        args.namespace,
        run={"label": args.label, "suite": args.suite},
    )
    text = json.dumps(document, indent=2) + "\n"
    if args.output:
        from harness.writable import check_writable

        check_writable(args.output, "--output", "job.yaml")
        args.output.write_text(text, encoding="utf-8")
        print(
            f"harness: {len(plan.tasks)} task(s) as an Indexed Job in {args.output}",
            file=sys.stderr,
        )
    else:
        print(text, end="")
    return EXIT_OK
