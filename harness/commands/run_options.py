"""The options of the commands that measure (run, ab, bisect, k8s manifest): what to run, how
to measure it, and where the records go."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_bookkeeping_options(group: Any) -> None:
    """``--results-dir`` and ``--no-progress``: shared by the commands that measure (run, ab,
    bisect)."""
    group.add_argument(
        "--results-dir", type=Path, default=None, metavar="DIR",
        help="folder for results files named by run id (default results)",
    )  # fmt: skip
    group.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress display (the start and end lines only)",
    )


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """What to run: shared by run and ab."""
    selection = parser.add_argument_group("what to run")
    selection.add_argument("--suite", default="default", help="smoke, default, compare or gpu")
    selection.add_argument(
        "--workload",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this workload (repeatable; or module:Class)",
    )
    selection.add_argument(
        "--framework",
        action="append",
        default=[],
        metavar="NAME",
        help="keep only this framework's workloads (repeatable)",
    )
    selection.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=V[,V...]",
        help="override a parameter; several values make a sweep",
    )
    selection.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="DEVICE",
        help="cpu or cuda (repeatable; default: the suite's)",
    )


def add_timing_options(parser: argparse.ArgumentParser, pairs: bool = False) -> None:
    """How to measure: shared by run, ab, bisect and k8s. ``pairs``: the command runs ABBA
    pairs (--pairs), so --processes is kept only to be refused with that hint, not listed."""
    timing = parser.add_argument_group("how to measure")
    timing.add_argument(
        "--processes",
        type=int,
        default=None,
        help=argparse.SUPPRESS
        if pairs
        else "fresh processes per workload (default: the suite's; compare: 3)",
    )
    timing.add_argument(
        "--threads",
        type=int,
        default=None,
        help="math-library threads per worker (default: the CPUs the worker may use: "
        "its cpuset and CPU quota, inside a container too)",
    )
    timing.add_argument("--timeout", default="600", help="seconds per workload process")
    from harness.measures import MEASURES, all_measures

    timing.add_argument(
        "--measure",
        default="time",
        choices=tuple(MEASURES),
        help="; ".join(measure.help for measure in all_measures()),
    )
    timing.add_argument(
        "--instruction-steps",
        type=int,
        default=None,
        help="instructions: steps of the shorter of the two counted processes (default 20)",
    )
    timing.add_argument(
        "--compile-cache",
        default="fresh",
        choices=("fresh", "keep"),
        help="fresh (default): each task compiles with its own empty inductor/Triton/XLA/CUDA "
        "caches; keep: tasks share one cache folder, so a first step may come from it",
    )
    timing.add_argument(
        "--seed", type=int, default=0, help="seed of the workloads' data and weights (default 0)"
    )
    timing.add_argument(
        "--warmup-time", type=float, default=None, metavar="S",
        help="seconds of warm-up before the measured blocks (default: the suite's)",
    )  # fmt: skip
    timing.add_argument(
        "--min-time", type=float, default=None, metavar="S",
        help="measured seconds per task at least (default: the suite's)",
    )  # fmt: skip
    timing.add_argument(
        "--min-blocks", type=int, default=None, metavar="N",
        help="measured blocks per task at least (default: the suite's); a block is the "
        "steps timed together, one sample",
    )  # fmt: skip
    timing.add_argument(
        "--max-blocks", type=int, default=None, metavar="N",
        help="measured blocks per task at most (default: the suite's)",
    )  # fmt: skip
    timing.add_argument(
        "--precision",
        type=float,
        default=None,
        help="measure until the median's 95%% interval is within ± this share of it "
        "(default 0.01: ±1%%), or --max-time runs out",
    )
    timing.add_argument(
        "--max-time",
        type=float,
        default=None,
        help="measured seconds per task at most (its time budget; default: the suite's)",
    )
