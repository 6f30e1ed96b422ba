"""A stand-in for workloads/gpu_probes.py where there is no GPU: run as ``python -m
tests.gpu_probe_standin [--cupy|--keras]`` by harness gpu-check's tests, it prints what the
environment variable GPU_PROBE_STANDIN (JSON: mode -> figures) says for its mode, as the real
probes would print them, or, for the value "crash", dies with a traceback as a broken CUDA
stack would."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    mode = "keras" if "--keras" in argv else "cupy" if "--cupy" in argv else "torch"
    answer = json.loads(os.environ["GPU_PROBE_STANDIN"])[mode]
    if answer == "crash":
        raise RuntimeError(f"CUDA error: an illegal memory access was encountered ({mode})")
    print("some chatter on stdout first")
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
