"""scripts/gpu-truth.sh (make gpu-truth) run for real with bash on this machine, which has no
GPU: the GPU parts are stood in by a fake ``nvidia-smi`` on PATH and a stub Python that records
each call, hangs or fails when told to, and hands everything else (the facts script) to this
interpreter. What is tested is the script's own: the refusal without a GPU, the order of the
steps, the per-step limits, the total budget, the skips and the summary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "gpu-truth.sh"
STEPS = ["nvidia-smi", "nvidia-smi-q", "facts", "doctor", "gpu-check", "peaks", "gpu-suite",
         "report-md", "report-html", "pytest-gpu"]  # fmt: skip
FAKE_NVIDIA_SMI = """#!/bin/bash
if [[ $1 == -L ]]; then echo "GPU 0: NVIDIA H200 (UUID: GPU-0a1b2c3d-0000-1111-2222-333344445555)"
else echo "fake nvidia-smi $*"; fi
"""
# STUB_SLOW / STUB_FAIL: words (a harness command, pytest) whose call hangs / exits 3;
# STUB_MISSING: what the facts script's "missing" answers; STUB_FACTS=1: a stubbed facts step
STUB_PYTHON = f"""#!/bin/bash
echo "$*" >> "$STUB_CALLS"
args=" $* "
if [[ $args == *" missing "* && -n ${{STUB_MISSING+x}} ]]; then echo "$STUB_MISSING"; exit 0; fi
if [[ $args == *" facts "* && -n ${{STUB_FACTS:-}} ]]; then echo "stub facts"; exit 0; fi
if [[ $args == *" -m harness "* || $args == *" -m pytest "* ]]; then
  for word in ${{STUB_SLOW:-}}; do
    if [[ $args == *" $word "* ]]; then echo "stub: $word hangs"; exec sleep 300; fi
  done
  for word in ${{STUB_FAIL:-}}; do
    if [[ $args == *" $word "* ]]; then echo "stub: $word fails"; exit 3; fi
  done
  previous=""
  for arg in "$@"; do
    if [[ $previous == --results-file && $args == *" run "* ]]; then echo '{{}}' > "$arg"; fi
    previous=$arg
  done
  echo "stub ran: $*"; exit 0
fi
exec {sys.executable} "$@"
"""


@pytest.fixture
def truth(tmp_path):
    """Run the script from the project root with the stand-ins; returns (result, calls, out)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("nvidia-smi", FAKE_NVIDIA_SMI), ("stub-python", STUB_PYTHON)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    out = tmp_path / "out"

    def run(gpu: bool = True, **env: str):
        path = f"{bin_dir}:{os.environ['PATH']}" if gpu else _path_without_nvidia_smi(bin_dir)
        if not gpu:
            (bin_dir / "nvidia-smi").unlink(missing_ok=True)
        full_env = {
            **os.environ, "PATH": path, "OUT": str(out), "STUB_CALLS": str(calls),
            "GPU_TRUTH_PYTHON": str(bin_dir / "stub-python"), "STUB_FACTS": "1",
            "STUB_MISSING": "", "GPU_TRUTH_SITE": str(tmp_path / "site"), **env,
        }  # fmt: skip
        done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=full_env, capture_output=True,
                              text=True, timeout=300, check=False)  # fmt: skip
        lines = calls.read_text().splitlines() if calls.exists() else []
        return done, lines, out

    return run


def _path_without_nvidia_smi(bin_dir):
    folders = [bin_dir, *(p for p in os.environ["PATH"].split(":") if p)]
    return ":".join(str(f) for f in folders if not (os.path.exists(f"{f}/nvidia-smi")))


def _summary(stdout: str) -> dict[str, str]:
    lines = stdout.split("=== gpu-truth summary", 1)[1].splitlines()[1:]
    return {line.split()[0]: line.split(None, 1)[1] for line in lines if line.startswith("  ")}


def _step_of(call: str) -> str:
    if "gpu_truth_facts.py" in call:
        return call.split()[1]
    if call.startswith("-m pytest"):
        return "pytest"
    if call.startswith("-m harness report"):
        return call.split("--format ")[1].split()[0]
    return " ".join(call.split()[2:4]) if call.startswith("-m harness run") else call.split()[2]


def test_without_a_gpu_it_exits_2_in_one_sentence_before_anything(truth):
    done, calls, out = truth(gpu=False)
    assert done.returncode == 2
    assert done.stderr.startswith("gpu-truth: this machine shows no NVIDIA GPU")
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert calls == [] and not out.exists()


def test_a_driver_that_lists_no_gpu_is_no_gpu_either(truth, tmp_path):
    done, _, _ = truth()
    (tmp_path / "bin" / "nvidia-smi").write_text("#!/bin/bash\necho 'No devices were found'\n")
    done, _, _ = truth()
    assert done.returncode == 2 and "shows no NVIDIA GPU" in done.stderr


def test_every_step_runs_in_order_and_the_summary_lists_each_rc(truth):
    done, calls, out = truth()
    assert done.returncode == 0, done.stdout[-3000:]
    assert [_step_of(c) for c in calls] == [
        "missing", "facts", "doctor", "gpu-check", "peaks", "run --suite", "markdown", "html",
        "pytest",
    ]  # fmt: skip
    assert "--device cuda" in calls[5] and f"--results-dir {out}/results" in calls[3]
    summary = _summary(done.stdout)
    assert list(summary) == STEPS
    assert all(summary[s].startswith("rc=0") for s in STEPS)
    assert (out / "gpu-truth.log").read_text().count("=== [") >= len(STEPS)
    assert "fake nvidia-smi -q" in (out / "logs" / "nvidia-smi-q.log").read_text()
    assert "stub ran: -m harness doctor --json" in (out / "doctor.json").read_text()


def test_a_step_past_its_limit_is_killed_and_reported_and_the_next_one_runs(truth):
    done, calls, _ = truth(STUB_SLOW="gpu-check", GPU_TRUTH_LIMITS="gpu-check=2")
    summary = _summary(done.stdout)
    assert done.returncode == 1
    assert summary["gpu-check"].startswith("TIMED OUT at its 2s limit (rc=124)")
    assert summary["peaks"].startswith("rc=0") and summary["pytest-gpu"].startswith("rc=0")
    assert "peaks" in [_step_of(c) for c in calls]


def test_a_failing_step_is_its_rc_and_the_script_says_1(truth):
    done, _, _ = truth(STUB_FAIL="peaks")
    summary = _summary(done.stdout)
    assert done.returncode == 1
    assert summary["peaks"].startswith("rc=3") and summary["gpu-suite"].startswith("rc=0")


@pytest.mark.slow  # a hanging step waits out the 10 s budget
def test_the_budget_ends_a_hanging_step_and_skips_the_later_ones(truth):
    only = "gpu-check peaks gpu-suite report-md pytest-gpu"
    done, calls, _ = truth(STUB_SLOW="gpu-check", GPU_TRUTH_BUDGET_S="10",
                           GPU_TRUTH_RESERVE_S="0", GPU_TRUTH_MIN_STEP_S="2",
                           GPU_TRUTH_ONLY=only)  # fmt: skip
    summary = _summary(done.stdout)
    assert done.returncode == 1
    assert summary["gpu-check"].startswith("TIMED OUT")
    for name in ("peaks", "gpu-suite", "pytest-gpu"):
        assert summary[name].startswith("skipped:") and "of the 10s budget left" in summary[name]
    assert summary["report-md"].startswith("skipped: the suite wrote no records")
    assert [_step_of(c) for c in calls] == ["missing", "gpu-check"]


def test_a_package_the_host_lacks_skips_its_steps_with_the_name(truth):
    done, _, _ = truth(STUB_MISSING="matplotlib")
    summary = _summary(done.stdout)
    assert done.returncode == 0
    assert summary["report-html"].startswith("skipped: needs matplotlib")
    assert summary["report-md"].startswith("rc=0")
    done, _, _ = truth(STUB_MISSING="psutil pytest")
    summary = _summary(done.stdout)
    for name in ("doctor", "gpu-check", "peaks", "gpu-suite"):
        assert summary[name].startswith("skipped: needs psutil")
    assert summary["pytest-gpu"].startswith("skipped: needs pytest")


def test_only_the_steps_asked_run_on_a_second_pass(truth):
    done, calls, _ = truth(GPU_TRUTH_ONLY="gpu-check pytest-gpu")
    summary = _summary(done.stdout)
    assert done.returncode == 0
    assert [_step_of(c) for c in calls] == ["missing", "gpu-check", "pytest"]
    assert summary["peaks"] == "not asked (GPU_TRUTH_ONLY)"
    assert "report-md" not in summary or summary["report-md"].startswith("not asked")


@pytest.mark.slow  # imports torch in a child process
def test_the_facts_step_runs_the_real_facts_script(truth):
    done, _, out = truth(STUB_FACTS="", GPU_TRUTH_ONLY="facts")
    facts = (out / "logs" / "facts.log").read_text()
    assert done.returncode == 0
    assert facts.startswith("python ") and "  numpy " in facts
    assert ("torch: not installed" in facts) or ("available False" in facts)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this host has a GPU driver")
def test_make_gpu_truth_uses_the_system_python_and_no_venv():
    dry = subprocess.run(["make", "-n", "gpu-truth"], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert "bash scripts/gpu-truth.sh" in dry.stdout and 'GPU_TRUTH_PYTHON="python3"' in dry.stdout
    assert ".venv" not in dry.stdout and "pip" not in dry.stdout
    done = subprocess.run(["make", "gpu-truth"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith("gpu-truth: this machine shows no NVIDIA GPU")
