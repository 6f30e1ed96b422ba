"""Callgrind in the profiling worker: the worker re-runs itself under Valgrind, and each cut of
a step calls the C function behind ``sys.getswitchinterval``, where Callgrind dumps
(``--dump-before``); each dump is one segment, read here function by function."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

if __package__:  # imported as part of a harness checkout
    from harness.profiling.profile_segments import (
        BETWEEN,
        CALLGRIND_MARKER,
        SETUP,
        Totals,
        add,
        load_workload,
        numbered,
        per_step,
        run_segments,
        warm_up,
    )
else:  # run as a file (profile_worker.py): its folder, first on the path, holds these
    from profile_segments import (  # type: ignore[no-redef]
        BETWEEN,
        CALLGRIND_MARKER,
        SETUP,
        Totals,
        add,
        load_workload,
        numbered,
        per_step,
        run_segments,
        warm_up,
    )


# --- Callgrind -------------------------------------------------------------------------------
def profile_callgrind(task: dict[str, Any], steps: int, warmup: int) -> list[dict[str, Any]]:
    """Re-run this file under Callgrind (one dump per segment), then read the dumps."""
    import glob
    import shutil
    import subprocess
    import tempfile

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        labels_file = os.path.join(folder, "labels.json")
        command = [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-line=no",
            f"--dump-before={CALLGRIND_MARKER}",
            sys.executable,
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_worker.py"),
            "--task",
            json.dumps(task),
            "--profiler",
            "callgrind-inner",
            "--steps",
            str(steps),
            "--warmup",
            str(warmup),
            "--labels",
            labels_file,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0 or not os.path.exists(labels_file):
            tail = " | ".join((done.stderr or "").strip().splitlines()[-6:])
            raise RuntimeError(f"the Callgrind process exited with {done.returncode}: {tail}")
        with open(labels_file, encoding="utf-8") as handle:
            labels = json.load(handle)
        dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rpartition(".")[2]))
        dumps.append(out)  # the last part, written at exit
        if len(dumps) < len(labels) + 1:
            raise RuntimeError(f"Callgrind wrote {len(dumps)} dumps for {len(labels)} segments")
        mine = dumps[-(len(labels) + 1) : -1]  # start-up's dumps come first, the exit's last
        totals: Totals = {}
        for (label, step), path in zip(numbered(labels), mine, strict=True):
            if label in (SETUP, BETWEEN):
                continue
            with open(path, encoding="utf-8", errors="replace") as handle:
                for name, (count, calls) in callgrind_self_costs(handle.read()).items():
                    add(totals, (label, "instructions", name), step, count, calls)
    return per_step(totals, steps)


def callgrind_inner(task: dict[str, Any], steps: int, warmup: int, labels_file: str) -> None:
    """Inside Callgrind: each cut calls the marker function, so Callgrind dumps there."""
    marker = sys.getswitchinterval
    labels: list[str] = []
    workload = load_workload(task)
    workload.setup()
    try:
        warm_up(workload, warmup)

        def start() -> None:
            labels.append(BETWEEN if labels else SETUP)
            marker()

        def cut(label: str) -> None:
            labels.append(label)
            marker()

        run_segments(workload, steps, start, cut)
    finally:
        workload.teardown()
    with open(labels_file, "w", encoding="utf-8") as handle:
        json.dump(labels, handle)


#: objects whose work is charged to the routine entered from outside them (BLAS, LAPACK)
MATH_LIBRARY = re.compile(r"blas|lapack|mkl|libgfortran|libflame|blis", re.IGNORECASE)


def callgrind_self_costs(text: str) -> dict[str, tuple[int, int]]:
    """{function: (instructions, calls into it)} from one Callgrind dump: each function's *self*
    instructions, except inside a math library (``MATH_LIBRARY``: OpenBLAS, MKL, LAPACK), whose
    work is charged whole to the routine a caller outside it entered (the call's inclusive
    cost: ``scipy_dgesdd_64_``, ``cblas_sgemm``), so that an extra ``svd`` shows as one LAPACK
    routine rather than its internal kernels. A cost line right after ``calls=`` is the call's
    inclusive cost, never the caller's self; names are compressed as ``(id) name`` once, then
    ``(id)``."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    costs: dict[str, list[int]] = {}
    function = ""
    obj = callee_obj = ""
    after_call = False
    callee = ""
    inside = entering = False  # the function is in a math library; the call enters one

    def resolve(value: str, table: dict[str, str]) -> str:
        key, _, name = value.partition(")")
        if name.strip():
            table[key] = name.strip()
        return table.get(key, value)

    for line in text.splitlines():
        if not line:
            continue
        first = line[0]
        if first.isdigit() or first in "+-*":
            parts = line.split()
            if after_call:
                after_call = False
                if entering and len(parts) >= 2:
                    costs.setdefault(callee, [0, 0])[0] += int(parts[1])
                continue
            if len(parts) >= 2 and not inside:
                costs.setdefault(function, [0, 0])[0] += int(parts[1])
            continue
        key, _, value = line.partition("=")
        if key == "fn":
            function = label_function(resolve(value, names), obj)
            inside = bool(MATH_LIBRARY.search(os.path.basename(obj)))
        elif key == "ob":
            obj = resolve(value, objects)
            callee_obj = obj
        elif key == "cob":
            callee_obj = resolve(value, objects)
        elif key == "cfn":
            callee = label_function(resolve(value, names), callee_obj)
            entering = not inside and bool(MATH_LIBRARY.search(os.path.basename(callee_obj)))
            callee_obj = obj
        elif key == "calls":
            after_call = True
            if entering or not inside:
                costs.setdefault(callee, [0, 0])[1] += int(value.split()[0])
    return {name: (cost, calls) for name, (cost, calls) in costs.items() if name}


def label_function(name: str, obj: str) -> str:
    """A function's name; an unnamed one (an address) with its object's file name."""
    if name.startswith("0x"):
        return f"{name} [{os.path.basename(obj)}]"
    return name
