#!/usr/bin/env bash
# gpu-truth.sh: run every CUDA path of harness once on a GPU host and keep the evidence, with the
# host's own Python: no virtual environment, no install, no Docker, no network. `make gpu-truth`
# calls it; where make is absent, from the project root:
#
#   OUT=/some/folder bash scripts/gpu-truth.sh
#
# Steps, in order, each under its own time limit inside a total budget: the facts (nvidia-smi,
# versions, what torch, CuPy and NVML see), harness doctor, harness gpu-check, harness peaks, the
# `gpu` suite with --device cuda, its Markdown and HTML reports, the gpu-marked tests. A step
# whose limit passes is killed (its process group: `timeout`) and reported; once the budget is
# spent the later steps are skipped and say so. A step that needs a package this Python lacks is
# skipped with the package named (put its wheel in .whl/, below); inside gpu-check, absent CuPy
# or Keras are skipped rows with the reason. On a machine with no NVIDIA GPU it exits 2 at once.
#
# Settings (environment):
#   OUT                    output folder (default ./.gpu-out): gpu-truth.log, logs/<step>.log,
#                          doctor.json, results/ (reference/<gpu>.jsonl, peaks/, gpu-suite.jsonl),
#                          report.md, report.html
#   GPU_TRUTH_BUDGET_S     total seconds (default 480)
#   GPU_TRUTH_ONLY         the steps to run, e.g. "gpu-check gpu-suite" (a second, shorter run)
#   GPU_TRUTH_LIMITS       per-step limits replacing the defaults, e.g. "gpu-check=300 peaks=60"
#   GPU_TRUTH_SUITE_ARGS   added to the suite's `harness run`, e.g. "--workload torch.mlp"
#   GPU_TRUTH_PYTHON       the Python (default python3)
#   GPU_TRUTH_SITE         where the wheels in .whl/ are unpacked (pip --target; default
#                          $TMPDIR/gpu-truth-site): packages the host lacks, e.g. keras namex optree
#   GPU_TRUTH_RESERVE_S, GPU_TRUTH_MIN_STEP_S   seconds kept for the summary (15), and the least
#                          a step is started with (20)
# Exit: 0 every step that ran passed, 1 a step failed or timed out, 2 no GPU / not the project.

set -u -o pipefail

PY=${GPU_TRUTH_PYTHON:-python3}
BUDGET=${GPU_TRUTH_BUDGET_S:-480}
ONLY=" ${GPU_TRUTH_ONLY:-} "
LIMITS=" ${GPU_TRUTH_LIMITS:-} "
RESERVE=${GPU_TRUTH_RESERVE_S:-15}
MIN_STEP=${GPU_TRUTH_MIN_STEP_S:-20}
SITE=${GPU_TRUTH_SITE:-${TMPDIR:-/tmp}/gpu-truth-site}

if [[ ! -f harness/cli.py || ! -f scripts/gpu_truth_facts.py ]]; then
  echo "gpu-truth: run it from the harness project root (there is no harness/cli.py in $PWD)." >&2
  exit 2
fi
listing=$(timeout 15 nvidia-smi -L 2>/dev/null)
if ! grep -q '^GPU ' <<<"$listing"; then
  echo "gpu-truth: this machine shows no NVIDIA GPU (nvidia-smi -L lists none or is absent): run it on a GPU host; make bench runs the CPU suite." >&2
  exit 2
fi

OUT=${OUT:-$PWD/.gpu-out}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd) || {
  echo "gpu-truth: cannot write the output folder ${OUT}." >&2
  exit 2
}
R=$OUT/results
LOGS=$OUT/logs
mkdir -p "$R" "$LOGS"
SUMMARY=()
FAILED=0
MISSING=" "

limit_of() { # limit_of NAME DEFAULT: GPU_TRUTH_LIMITS's figure for NAME, else DEFAULT
  local pair
  for pair in $LIMITS; do
    if [[ ${pair%%=*} == "$1" ]]; then
      echo "${pair#*=}"
      return
    fi
  done
  echo "$2"
}

note() { # note NAME STATUS: one summary line for a step that did not run
  SUMMARY+=("$(printf '%-12s %s' "$1" "$2")")
  echo "=== [$1] $2"
}

step() { # step NAME MAX_SECONDS NEEDS COMMAND...: NEEDS is "mod,mod" or "-"
  local name=$1 max needs=$3 module lacking=""
  max=$(limit_of "$1" "$2")
  shift 3
  if [[ $ONLY != "  " && $ONLY != *" $name "* ]]; then
    SUMMARY+=("$(printf '%-12s %s' "$name" "not asked (GPU_TRUTH_ONLY)")")
    return 0
  fi
  for module in ${needs//,/ }; do
    if [[ $module != - && $MISSING == *" $module "* ]]; then lacking+=" $module"; fi
  done
  if [[ -n $lacking ]]; then
    note "$name" "skipped: needs${lacking}, which $PY lacks (put its wheel in .whl/)"
    return 0
  fi
  local left=$((BUDGET - SECONDS - RESERVE))
  if ((left < MIN_STEP)); then
    note "$name" "skipped: ${left}s of the ${BUDGET}s budget left"
    return 0
  fi
  local limit=$((max < left ? max : left)) began=$SECONDS rc log=$LOGS/$name.log
  echo
  echo "=== [$name] at ${SECONDS}s, limit ${limit}s: $*"
  # The step writes to its own file, never to a pipe: a process it leaves behind after a
  # timeout cannot hold this script up. tail shows the file as it grows and ends with the step.
  timeout -k 10 "$limit" "$@" >"$log" 2>&1 </dev/null &
  local pid=$!
  tail -n +1 -s 0.2 -f --pid="$pid" "$log" 2>/dev/null &
  local tail_pid=$!
  wait "$pid"
  rc=$?
  wait "$tail_pid" 2>/dev/null
  local status="rc=$rc"
  if ((rc == 124 || rc == 137)); then
    status="TIMED OUT at its ${limit}s limit (rc=$rc)"
  fi
  if ((rc != 0)); then FAILED=1; fi
  echo "=== [$name] $status after $((SECONDS - began))s"
  SUMMARY+=("$(printf '%-12s %-44s %5ss' "$name" "$status" "$((SECONDS - began))")")
  return 0
}

main() {
  echo "gpu-truth: $(date -u +%FT%TZ) in $PWD, budget ${BUDGET}s, python: $(command -v "$PY"), out: $OUT"
  echo "$listing"
  export PYTHONPATH=$PWD
  if compgen -G ".whl/*.whl" >/dev/null; then
    echo "=== [wheels] into $SITE: $(cd .whl && echo *.whl)"
    if timeout 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target "$SITE" .whl/*.whl; then
      export PYTHONPATH=$PWD:$SITE
      SUMMARY+=("$(printf '%-12s %s' wheels "rc=0 (.whl/ unpacked into $SITE)")")
    else
      FAILED=1
      SUMMARY+=("$(printf '%-12s %s' wheels "FAILED: pip could not unpack .whl/ (see above)")")
    fi
  fi
  export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-${TMPDIR:-/tmp}/gpu-truth-data} MPLBACKEND=Agg PYTHONUNBUFFERED=1
  if [[ -z ${HARNESS_GIT_COMMIT:-} && -s .gpu/commit ]]; then
    HARNESS_GIT_COMMIT=$(head -c 80 .gpu/commit | tr -dc '0-9a-zA-Z-')
    export HARNESS_GIT_COMMIT
  fi
  MISSING=" $(timeout 30 "$PY" scripts/gpu_truth_facts.py missing numpy pandas rich psutil \
    matplotlib PIL torch pytest) "
  local lacking=${MISSING// /}
  echo "gpu-truth: of what the steps need, this Python lacks:${lacking:+${MISSING% }}${lacking:- nothing}"

  # 1. facts
  step nvidia-smi 20 - nvidia-smi
  step nvidia-smi-q 20 - nvidia-smi -q -d CLOCK,POWER,PERFORMANCE,ECC,COMPUTE
  step facts 90 - "$PY" scripts/gpu_truth_facts.py facts
  # 2. harness as it sees this machine
  step doctor 40 numpy,pandas,rich,psutil \
    bash -c '"$1" -m harness doctor --json >"$2"; rc=$?; cat "$2"; exit $rc' _ "$PY" "$OUT/doctor.json"
  # 3. gpu-check: writes $R/reference/<gpu>.jsonl
  step gpu-check 240 numpy,pandas,rich,psutil,torch "$PY" -m harness gpu-check --results-dir "$R"
  # 4. peaks (CPU and GPU), under $R/peaks/ where the report's verdicts look; its CPU probes
  # decode JPEGs with Pillow (PIL) and stop without it
  step peaks 150 numpy,pandas,rich,psutil,PIL,torch "$PY" -m harness peaks --results-dir "$R"
  # 5. the gpu suite with CUDA, its reports, the gpu-marked tests
  # shellcheck disable=SC2086 # GPU_TRUTH_SUITE_ARGS is split into words on purpose
  step gpu-suite 270 numpy,pandas,rich,psutil,torch "$PY" -m harness run --suite gpu \
    --device cuda --timeout 150 --results-file "$R/gpu-suite.jsonl" \
    ${GPU_TRUTH_SUITE_ARGS:-}
  if [[ -s $R/gpu-suite.jsonl ]]; then
    step report-md 60 numpy,pandas,rich "$PY" -m harness report "$R/gpu-suite.jsonl" \
      --format markdown --output "$OUT/report.md"
    # the HTML report draws its figures with matplotlib
    step report-html 90 numpy,pandas,rich,matplotlib "$PY" -m harness report \
      "$R/gpu-suite.jsonl" --format html --output "$OUT/report.html"
  else
    for name in report-md report-html; do
      if [[ $ONLY == "  " || $ONLY == *" $name "* ]]; then
        note "$name" "skipped: the suite wrote no records ($R/gpu-suite.jsonl)"
      fi
    done
  fi
  # the project's pytest options name pytest-benchmark, which the host may lack: these do not
  step pytest-gpu 90 pytest "$PY" -m pytest -q -m gpu -o "filterwarnings=default" \
    -o "addopts=--strict-markers -ra -p no:cacheprovider" tests/test_torch_workloads.py \
    tests/test_numpy_workloads.py

  echo
  echo "=== gpu-truth summary (${SECONDS}s of ${BUDGET}s; logs in $LOGS)"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ -d $R/reference ]]; then
    timeout 20 "$PY" scripts/gpu_truth_facts.py verdicts "$R"
  fi
  return $FAILED
}

main 2>&1 | tee -a "$OUT/gpu-truth.log"
exit "${PIPESTATUS[0]}"
