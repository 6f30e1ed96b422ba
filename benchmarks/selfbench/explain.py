"""How often ``harness explain`` ranks an injected cause first: the fixture workloads of
tests/fixtures/explain_workloads.py (an extra matmul in backward, an extra svd in forward, a
synchronize stand-in in update, a slower collate in the batch phase), each profiled against its
baseline in fresh processes, several rounds; the TensorFlow profiler's extra svd and matmul;
Callgrind's extra matmul and svd on NumPy (exact)."""

from __future__ import annotations

import pandas as pd

from benchmarks.selfbench.common import Row, log
from harness.analysis.explain import ProfileSide, explain_frame, profile_process, top_cause
from harness.plan import build_plan
from harness.suites import get_suite

FIXTURES = "tests.fixtures.explain_workloads"
#: cause -> (phase, operations that are the cause)
TORCH_CAUSES = {
    "matmul": ("backward", {"aten::mm"}),
    "svd": ("forward", {"aten::_linalg_svd", "aten::linalg_svd"}),
    "sync": ("update", {"aten::copy_", "aten::_to_copy"}),
    "collate": ("batch", {"enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__"}),
}
TF_CAUSES = {"svd": ("forward", {"Svd"}), "matmul": ("backward", {"_MklMatMul", "MatMul"})}
STEPS, PROCESSES = 15, 2


def task_of(path: str):
    return build_plan(get_suite("smoke"), workloads=[path]).tasks[0]


def profiled(task, cause: str, profiler: str, steps: int, processes: int) -> pd.DataFrame:
    side = ProfileSide("candidate", env=(f"EXPLAIN_FIXTURE_CAUSE={cause}",))
    name = "baseline" if cause == "none" else "candidate"
    return pd.concat(
        [
            profile_process(task, side, profiler, steps, 3 if steps > 2 else 1, 1).assign(
                side=name, process=p
            )
            for p in range(processes)
        ],
        ignore_index=True,
    )


def measure(quick: bool) -> list[Row]:
    rounds = 1 if quick else 3
    task = task_of(f"{FIXTURES}:TorchInjected")
    rows: list[Row] = []
    first = total = 0
    details = []
    for round_index in range(rounds):
        log(f"explain: round {round_index + 1} of {rounds} (torch.profiler, 4 injected causes)")
        baseline = profiled(task, "none", "torch", STEPS, PROCESSES)
        for cause, (phase, expected) in TORCH_CAUSES.items():
            candidate = profiled(task, cause, "torch", STEPS, PROCESSES)
            top = top_cause(explain_frame(pd.concat([baseline, candidate])), phase)
            total += 1
            first += top in expected
            if top not in expected:
                details.append(f"{cause}: {top}")
    rows.append(
        Row(
            "explain",
            "torch.profiler: injected cause ranked first (matmul, svd, sync stand-in, collate)",
            f"{first}/{total}",
            "all",
            first == total,
            f"{rounds} round(s), {PROCESSES} processes per side, {STEPS} steps; "
            + ("; ".join(details) if details else "every cause first"),
        )
    )
    log("explain: the TensorFlow profiler, an extra svd and an extra matmul")
    tf_task = task_of(f"{FIXTURES}:TensorflowInjected")
    tf_first = tf_total = 0
    tf_details = []
    for _ in range(rounds):
        baseline = profiled(tf_task, "none", "tensorflow", 10, 1)
        for cause, (phase, expected) in TF_CAUSES.items():
            frame = pd.concat([baseline, profiled(tf_task, cause, "tensorflow", 10, 1)])
            top = top_cause(explain_frame(frame), phase)
            tf_total += 1
            tf_first += top in expected
            if top not in expected:
                tf_details.append(f"{cause}: {top}")
    rows.append(
        Row(
            "explain",
            "TensorFlow profiler: injected cause ranked first (svd, matmul)",
            f"{tf_first}/{tf_total}",
            "all",
            tf_first == tf_total,
            f"{rounds} round(s), 1 process per side, 10 steps; op time by type from the trace; "
            + ("; ".join(tf_details) if tf_details else "every cause first"),
        )
    )
    log("explain: Callgrind, an extra matmul and an extra svd on NumPy")
    numpy_task = task_of(f"{FIXTURES}:NumpyInjected")
    baseline = profiled(numpy_task, "none", "callgrind", 2, 1)
    for cause, phase, expected in (("matmul", "backward", "gemm"), ("svd", "forward", "gesdd")):
        frame = pd.concat([baseline, profiled(numpy_task, cause, "callgrind", 2, 1)])
        top = top_cause(explain_frame(frame), phase, "instructions") or "nothing"
        rows.append(
            Row(
                "explain",
                f"Callgrind (NumPy): extra {cause} ranked first",
                top,
                f"a {expected} routine",
                expected in top,
                "instructions per function, BLAS/LAPACK work charged to the routine entered; "
                "one process per side (exact)",
            )
        )
    return rows
