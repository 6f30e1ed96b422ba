#!/usr/bin/env bash
# Re-pin requirements/constraints.txt from a fresh resolve of pyproject.toml's dependencies and
# the extras the venv and the CPU image install: pip resolves them together in a throw-away venv
# (nothing is installed) and every package it would install is written as NAME==VERSION.
#   bash requirements/lock.sh [OUTPUT]        default OUTPUT: requirements/constraints.txt
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL choose the index as for any pip command. Note: on PyPI,
# torch for Linux x86_64 is the CUDA build; the pin is a version (2.13.0), which the CPU build
# from PyTorch's CPU index (2.13.0+cpu) satisfies as well.
set -euo pipefail
cd "$(dirname "$0")/.."
output=${1:-requirements/constraints.txt}
extras=${LOCK_EXTRAS:-torch,tensorflow,docker,slurm,history,dev,parquet}
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/harness-lock.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
echo "resolving .[${extras}] with $("$work/venv/bin/python" --version) ..." >&2
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --dry-run \
    --ignore-installed --report "$work/report.json" ".[${extras}]"

"$work/venv/bin/python" - "$work/report.json" "$output.new" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
pins = {}
for item in report["install"]:
    name = item["metadata"]["name"].lower().replace("_", "-")
    if name == "harness":
        continue
    version = item["metadata"]["version"].split("+")[0]  # 2.13.0+cpu pins as 2.13.0
    pins[name] = version
if "torch" not in pins or "tensorflow-cpu" not in pins:
    sys.exit("the resolve lacks torch or tensorflow-cpu: check the extras")
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(
        "# One lock for every install of this project: the host venv (Makefile) and the images"
        " (docker/).\n# Regenerate with: make lock\n"
    )
    for name in sorted(pins):
        out.write(f"{name}=={pins[name]}\n")
print(f"{len(pins)} packages pinned", file=sys.stderr)
PY
mv "$output.new" "$output"
echo "wrote $output" >&2
