"""python -m benchmarks.selfbench: run the sections, write docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.selfbench import (
    accuracy,
    bisection,
    containers,
    efficiency,
    explain,
    instructions,
    models,
    overhead,
    power,
    suite,
)
from benchmarks.selfbench.common import Row, log
from harness.machine.environment import collect
from harness.render import Document, Heading, Table, Text, render

#: each section's rows as measured, kept so that one section can be measured again alone
#: (``--only``) and the page still shows every section, each with the time it was measured
CACHE = Path("results/selfbench")

#: section name -> the function that measures it (quick: fewer rounds)
SECTIONS: dict[str, Callable[[bool], list[Row]]] = {
    "accuracy": accuracy.measure,
    "overhead": overhead.measure,
    "suite": suite.measure,
    "efficiency": efficiency.measure,
    "models": models.measure,
    "power": power.measure,
    "instructions": instructions.measure,
    "explain": explain.measure,
    "containers": containers.measure,
    "bisection": bisection.measure,
}

#: tables a section writes besides its own: the suite's run also gives the verdicts
FOLLOWS = {"suite": ("verdicts",)}

METHOD = """
- **Accuracy.** Each function (NumPy matmuls, the NumPy MLP step, a torch MLP step) is timed
  in one process by the harness's `Timer`, by `torch.utils.benchmark.Timer.blocked_autorange`
  (with the same thread count) and by pytest-benchmark (`pytest.main` in the same process),
  interleaved over 9 rounds (each timer first in turn) so that drift in the machine's
  speed reaches all three alike. The figure is paired, as `harness ab` pairs processes: each
  round's ratio harness / other, their geometric mean with a 95% Student-t interval on the
  logs (rounds are the independent units; drift between rounds cancels in each ratio), and
  the median and range of the rounds' ratios. All three time the same Python callable;
  agreement within 3% says the harness's blocks, GC handling and clock use add no bias.
  The seed's linear-regression step (batch 1024, 256 features, float64, one thread, three
  marks) is also run as a user runs it, `harness run --workload
  workloads.numpy_train:LinearRegressionStep` (the real CLI, a fresh worker), against
  `blocked_autorange` on the same step in a fresh process of its own, alternated over 30
  rounds (a round's ratio varies ±4% between processes: memory layout, the VM); its target is
  1%.
- **Overhead.** An empty step and a step with three `mark` calls, timed by the harness itself:
  the difference over three is the cost of a phase boundary. A whole suite run is timed from
  outside; the measured regions are the blocks' own seconds (sum of samples × block size).
  The parent's share is the wall time not spent inside worker processes.
- **Suite.** The default suite exactly as `make bench` runs it (one process per task), timed
  from outside. A row *reaches* the target when its median's 95% interval is within ±1%; it
  *says why not* when measuring stopped at the task's time budget or its task was flagged
  noisy-machine. The Keras row is the phase gap (step median − sum of phase medians, over the
  step median) of `keras.step` on TensorFlow, whose phases come from prefixes of the real step.
- **Verdicts.** The bottleneck verdict of every workload of the suite's run above
  (`harness/analysis/bottleneck.py`), against this machine's peaks (`harness peaks`, cached in
  `results/peaks/`), and the measured fp32 peak against the CPU's own limit: usable cores ×
  the clock `/proc/cpuinfo` reports × FLOP per cycle from its flags (32 with AVX2 FMA, 64 with
  AVX-512).
- **Efficiency.** `torch.mlp` (fresh process, the real CLI) is compared with `torch.mm` on
  exactly the matmuls its step performs (forward, weight gradients, input gradients), with the
  worker's thread count. The DataLoader's images/s is compared with the decode-only Pillow loop
  over the same files times the number of workers. Checkpoint save/load GB/s are compared with
  an fsync'd write and a cold read (page cache evicted with `POSIX_FADV_DONTNEED`) of a file of
  the same size in the same folder, measured in this run (1 MiB reads into a preallocated
  buffer). On a virtual machine the "disk" may be served from the host's cache; a ratio above 1
  says the checkpoint reader beats that plain read loop, not the device.
- **Models.** `torch.gpt` at its defaults run by the harness (fresh process, the real CLI, one
  math thread: two threads on two shared cores vary ±10% between rounds) and the same class,
  parameters, seed and thread count stepped in a bare loop in a fresh
  process with the worker's thread environment (20 warm-up steps, then the median of 40 blocks
  of 10 steps timed with `time.perf_counter`, GC off inside a block as in the harness),
  alternated over 16 rounds, each side first in turn: the paired ratio of the medians with a
  95% t interval over the rounds. Its MFU, from one more harness run at the default threads
  (every usable core, as the peak is measured): the analytic model FLOPs per step
  over the harness's median, against the measured fp32 matmul peak (`harness peaks`).
- **Power of the gate.** Real workloads (`numpy.mlp`, `torch.mlp`) slowed by real work: with
  `HARNESS_TEST_EXTRA_WORK=0.05` every phase of every step also multiplies 32×32 float64
  matrices (65,536 FLOP each) as many times as take 5% of that phase's time, counted once in
  the warm-up and fixed from then on (`harness/extra_work.py`; the record carries the products
  per step) — real arithmetic, not a wait on the clock. Both sides of every comparison set the
  variable (0 for a baseline). `harness ab`: each comparison is a real `harness ab` run through
  the public API (ABBA pairs of fresh processes, the sequential rule at its defaults: 3% minimum
  effect, α 0.05 over all looks, a 120 s wall budget per case with start-up included), its step
  row called *slower*, *faster*, *same* or *undecided*; comparisons of the arms alternate
  (A/A, 5%, 10%, ...). `harness compare`: rounds of four separate runs of three processes
  (baseline, A/A, +5%, +10%), each arm's run against the round's baseline run, as two CI jobs
  would be. A false alarm is any *different* (A/A) or *slower* (compare) verdict.
- **Instructions.** `numpy.mlp` at a small size counted under Callgrind (`--measure
  instructions`, 50 and 100 steps per task); baselines and copies with 2%, 5% and 10% more real
  steps (`HARNESS_TEST_EXTRA_STEPS`: a running credit adds one whole extra step each time it
  reaches one, so 2% of 50 steps is exactly one); three processes per slowdown, each against
  each of the seven baselines. Each comparison is one process against another, judged by
  `harness compare`'s instruction rule (1% threshold, or the spread).
- **Explain.** `harness explain`'s ranking on workloads with an injected cause
  (`tests/fixtures/explain_workloads.py`): an extra matmul in backward, an extra `svd` in
  forward, a synchronize stand-in in update (a copy back to the host: on CUDA it waits for the
  device), a slower DataLoader `collate_fn`. Each candidate is profiled against the baseline
  with torch.profiler in fresh processes (2 per side, 15 steps); the figure counts the rounds
  where the injected operation ranked first in its phase. The TensorFlow fixture's extra svd
  and matmul are ranked by op time from the TensorFlow profiler's trace (1 process per side,
  10 steps). NumPy's extra matmul and svd are
  ranked by Callgrind's instructions (BLAS/LAPACK work charged to the routine entered: a GEMM,
  `dgesdd`).
- **Bisection.** `harness bisect` on a generated git repository of 32 commits after the first,
  one of which makes the step of a `module:Class` workload (64×64 matmuls) 2% (instructions) or
  10% (wall time) more real work; the figure is the probes it took and its wall time, and
  whether it named that commit (or, for wall time, a range holding it). The one number per setup
  of `harness report` is checked by simulation: A/A comparisons (8 workloads, hierarchical noise)
  whose 95% interval must cover 1.00.
- **Containers.** The same workload and parameters, three fresh processes each, locally and in
  `harness:cpu`; the ratio of the medians of all block samples.

Figures are ratios measured in one run on one machine, never absolute targets in tests: the
machines are shared and noisy, so a row can fail on a busy machine; rerun `make bench-harness`.
"""


def document(
    rows: list[Row],
    environment: dict[str, Any],
    elapsed: float,
    measured: dict[str, str] | None = None,
) -> Document:
    """The page: the machine, then one table per section (with when it was measured, where a
    section was kept from an earlier run), then the method."""
    measured = measured or {}
    packages = ", ".join(f"{k} {v}" for k, v in environment["packages"].items())
    blocks: list = [
        Heading("Benchmarks of the harness itself", level=1),
        Text(
            "Written by `make bench-harness` (`python -m benchmarks.selfbench`) on "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {elapsed:.0f} s.\n\n"
            f"Machine: {environment['cpu_model']}, {environment['usable_cores']} usable cores, "
            f"{(environment['memory_bytes'] or 0) / 2**30:.0f} GiB, "
            f"{environment['os_release']}, Python {environment['python']}; "
            f"GPU: {environment['gpu_name'] or 'none'}; packages: {packages}."
        ),
    ]
    order = [name for section in SECTIONS for name in (section, *FOLLOWS.get(section, ()))]
    for section in order:
        chosen = [r for r in rows if r.section == section]
        if not chosen:
            continue
        table = [
            {
                "figure": r.figure,
                "value": r.value,
                "target": r.target,
                "result": {True: "pass", False: "fail", None: "—"}[r.passed],
                "detail": r.detail,
            }
            for r in chosen
        ]
        blocks.append(Heading(section.capitalize()))
        if section in measured:
            blocks.append(Text(f"Measured {measured[section]} (kept from that run)."))
        blocks.append(Table(table, strong=frozenset({("result", "fail")})))
    blocks += [Heading("Method"), Text(METHOD)]
    return Document(blocks, title="Benchmarks of the harness itself")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.selfbench")
    parser.add_argument("--output", type=Path, default=Path("docs/BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="fewer rounds and comparisons")
    parser.add_argument("--skip", action="append", default=[], choices=list(SECTIONS))
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=list(SECTIONS),
        help="measure these sections; the others are kept from their last run (results/"
        "selfbench/, else the page being replaced), each marked with when it was measured",
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="measure nothing: write the page from every section's kept rows (after an "
        "interrupted --only run, whose finished sections are kept)",
    )
    args = parser.parse_args(argv)
    if args.rewrite:
        args.only = ["none"]
    started = time.perf_counter()
    rows: list[Row] = []
    kept: dict[str, str] = {}
    earlier = page_rows(args.output) if args.only else {}
    for section, measure in SECTIONS.items():
        if section in args.skip:
            continue
        if args.only and section not in args.only:
            cached = cached_rows(section)
            if cached is None:  # from the page: its following tables are sections of their own
                parts = [earlier.get(s, ("", [])) for s in (section, *FOLLOWS.get(section, ()))]
                cached = (parts[0][0], [row for _, part in parts for row in part])
            when, old = cached
            rows += old
            kept.update({s: when for s in (section, *FOLLOWS.get(section, ())) if old})
            continue
        log(f"section {section}")
        try:
            measured = measure(args.quick)
        except Exception as error:  # a section that cannot run is reported, not hidden
            measured = [
                Row(
                    section,
                    f"{section} section",
                    "not measured",
                    "—",
                    False,
                    f"{type(error).__name__}: {error}",
                )
            ]
        rows += measured
        save_rows(section, measured)
    elapsed = time.perf_counter() - started
    text = render(document(rows, collect(), elapsed, kept), "markdown") or ""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text)
    failed = [r for r in rows if r.passed is False]
    log(f"{len(rows)} figures, {len(failed)} failed; written to {args.output}")
    return 1 if failed else 0


def save_rows(section: str, rows: list[Row]) -> None:
    """Keep a section's rows, with when they were measured (``CACHE/<section>.json``)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    payload = {"measured": when, "rows": [dataclasses.asdict(r) for r in rows]}
    (CACHE / f"{section}.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")


def cached_rows(section: str) -> tuple[str, list[Row]] | None:
    path = CACHE / f"{section}.json"
    if not path.exists():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    return payload["measured"], [Row(**r) for r in payload["rows"]]


def page_rows(page: Path) -> dict[str, tuple[str, list[Row]]]:
    """The rows of an earlier page, by section, with the time that page was written: what a
    section not measured now keeps when no run of it is cached here."""
    if not page.exists():
        return {}
    text = page.read_text(encoding="utf-8")
    written = re.search(r"on (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)", text)
    default_when = written.group(1) if written else "earlier"
    found: dict[str, tuple[str, list[Row]]] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        section = heading.strip().lower()
        if section not in SECTIONS and section not in {s for f in FOLLOWS.values() for s in f}:
            continue
        kept = re.search(r"^Measured (.+?) \(kept from that run\)", body, flags=re.M)
        rows = []
        for line in body.splitlines():
            inner = line.strip().removeprefix("|").removesuffix("|")
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]
            if len(cells) != 5 or cells[0] in ("figure", "---") or set(cells[0]) <= {"-"}:
                continue
            figure, value, target, result, detail = cells
            passed = {"pass": True, "**fail**": False, "fail": False}.get(result)
            rows.append(Row(section, figure, value, target, passed, detail))
        found[section] = (kept.group(1) if kept else default_when, rows)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
