#!/usr/bin/env bash
# Pin requirements/constraints-cuda.txt: the CUDA image's packages, resolved together by pip
# from PyPI (nothing is installed): the project, torch (on PyPI, the Linux x86_64 wheel is the
# CUDA build), TensorFlow with its and-cuda extra, CuPy for CUDA 12, nvidia-ml-py, and every
# nvidia-* wheel they pull.
#   bash requirements/lock-cuda.sh [OUTPUT]     default OUTPUT: requirements/constraints-cuda.txt
# Local wheel folders (pip's find-links) are ignored: a CPU build of torch found there would
# satisfy the pin. PIP_INDEX_URL still chooses the index (default: PyPI).
# The lock fails when pip cannot resolve torch's and TensorFlow's requirements together (a
# conflict), when torch resolves to a CPU build, or when a CUDA library is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-requirements/constraints-cuda.txt}
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/harness-lock-cuda.XXXXXX)
trap 'rm -rf "$work"' EXIT
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
export PIP_CONFIG_FILE=/dev/null
index=${PIP_INDEX_URL:-https://pypi.org/simple}

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --index-url "$index" --upgrade pip
echo "resolving .[torch,vision,tensorflow-cuda,cupy,gpu] from $index ..." >&2
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --dry-run \
    --ignore-installed --index-url "$index" --report "$work/report.json" \
    ".[torch,vision,tensorflow-cuda,cupy,gpu]"

"$work/venv/bin/python" - "$work/report.json" "$output.new" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
pins = {}
for item in report["install"]:
    name = item["metadata"]["name"].lower().replace("_", "-")
    if name != "harness":
        pins[name] = item["metadata"]["version"]
if "+cpu" in pins.get("torch", "+cpu"):
    sys.exit(f"torch resolved to {pins.get('torch')}, not a CUDA build: check the index")
for needed in ("tensorflow", "cupy-cuda12x", "nvidia-ml-py", "nvidia-cudnn-cu12"):
    if needed not in pins:
        sys.exit(f"the resolve lacks {needed}: check the extras")
stacks = {
    "CUDA 12 (TensorFlow's and-cuda extra, CuPy)": sorted(n for n in pins if n.endswith("-cu12")),
    "CUDA 13 (torch)": sorted(
        n for n in pins
        if (n.startswith("nvidia-") and not n.endswith("-cu12") and n != "nvidia-ml-py")
        or n.endswith("-cu13") or n.startswith("cuda-")
    ),
}
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(
        "# The CUDA image's lock (docker/cuda.Dockerfile), resolved together from PyPI by\n"
        "# requirements/lock-cuda.sh. It holds two CUDA stacks, one per framework, which never\n"
        "# share a process (see docker/README.md):\n"
    )
    for stack, names in stacks.items():
        out.write(f"#   {stack}: {len(names)} packages\n")
    for name in sorted(pins):
        out.write(f"{name}=={pins[name]}\n")
print(f"{len(pins)} packages pinned", file=sys.stderr)
PY
mv "$output.new" "$output"
echo "wrote $output" >&2
