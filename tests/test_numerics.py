"""The numerics check (harness/analysis/numerics.py): real first losses of real training steps; the
injected changes (reduced-precision matmuls, the loss reduction, the learning rate) are each
caught and A/A never flags."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import loss_check
from harness.analysis import numerics

ROOT = Path(__file__).resolve().parent.parent
HAS_TORCH = importlib.util.find_spec("torch") is not None
TINY = {"layers": 1, "d_model": 32, "heads": 2, "seq_len": 16, "vocab": 64, "batch_size": 2}


def params(cls, **changes):
    values = {p.name: p.default for p in cls.params}
    values.update(TINY, **changes)
    return values


def losses_of(cls, **changes):
    return loss_check.first_losses(cls, params(cls, **changes), "cpu", seed=0, threads=1)


def test_judge_says_bitwise_within_or_where_it_changed():
    assert numerics.judge([1.0, 2.0], [1.0, 2.0], 1e-5) == ("same", "bitwise")
    assert numerics.judge([1.0, 2.0], [1.0, 2.0 + 1e-6], 1e-5)[0] == "same"
    verdict, detail = numerics.judge([1.0, 2.0, 3.0], [1.0, 2.1, 3.0], 1e-5)
    assert verdict == "changed" and detail.startswith("step 2:")
    assert numerics.judge([float("nan")], [float("nan")], 1e-5)[0] == "same"
    assert numerics.judge([1.0], [float("nan")], 1e-2)[0] == "changed"


def test_the_tolerance_is_loose_only_where_the_path_rounds_on_purpose():
    assert numerics.tolerance_for({"dtype": "float32"}) == numerics.FP32_TOLERANCE
    for loose in ({"dtype": "bfloat16"}, {"tf32": True}, {"compile": True}):
        assert numerics.tolerance_for(loose) == numerics.LOOSE_TOLERANCE


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_injected_changes_are_caught_and_a_rerun_is_not():
    from workloads.torch_gpt import TorchGPTStep

    class SummedLoss(TorchGPTStep):
        """The loss reduction changed: mean → sum."""

        def loss_of(self, model):
            return super().loss_of(model) * self.targets.numel()

    reference = losses_of(TorchGPTStep)
    assert len(reference) == loss_check.FIRST_STEPS
    tolerance = numerics.FP32_TOLERANCE
    assert numerics.judge(reference, losses_of(TorchGPTStep), tolerance) == ("same", "bitwise")
    # the learning rate: step 1 (before any update) agrees, step 2 does not
    verdict, detail = numerics.judge(reference, losses_of(TorchGPTStep, lr=6e-4), tolerance)
    assert verdict == "changed" and detail.startswith("step 2:")
    verdict, detail = numerics.judge(reference, losses_of(SummedLoss), tolerance)
    assert verdict == "changed" and detail.startswith("step 1:")
    # TF32 switched on has no CPU counterpart; its CPU stand-in is the same step with its
    # matmuls in reduced precision (bf16 autocast): caught from step 1
    verdict, detail = numerics.judge(
        reference, losses_of(TorchGPTStep, dtype="bfloat16"), tolerance
    )
    assert verdict == "changed" and detail.startswith("step 1:")


def frame(workload, losses, source="a.jsonl", record=0, param_text='{"lr": 1}'):
    return pd.DataFrame(
        [{"workload": workload, "device": "cpu", "params": param_text, "source": source,
          "record": record, "first_losses": json.dumps(losses) if losses else None}]
    )  # fmt: skip


def test_add_column_puts_numerics_beside_each_verdict():
    rows = pd.DataFrame(
        [
            {"workload": "w", "device": "cpu", "params": '{"lr": 1}', "phase": p, "verdict": "x"}
            for p in ("step", "forward")
        ]
    )
    same = numerics.add_column(rows, frame("w", [1.0, 2.0]), frame("w", [1.0, 2.0]))
    assert same["numerics"].tolist() == ["same", "same"]
    changed = numerics.add_column(rows, frame("w", [1.0, 2.0]), frame("w", [1.0, 2.5]))
    assert changed["numerics"].tolist() == ["changed", "changed"]
    assert numerics.any_changed(changed) and "step 2" in numerics.changed_text(changed)
    unknown = numerics.add_column(rows, frame("w", [1.0]), frame("w", None))
    assert unknown["numerics"].tolist() == ["?", "?"] and not numerics.any_changed(unknown)


def harness(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True, text=True, timeout=600, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_compare_shows_numerics_and_numerics_fail_gates(tmp_path):
    """Two real runs (A/A) compare as ``same``; a candidate whose recorded losses are those of
    a real run at another learning rate is ``changed``, and ``--numerics fail`` exits 1."""
    from workloads.torch_gpt import TorchGPTStep

    paths = []
    for side in ("a", "b"):
        done = harness("run", "--suite", "smoke", "--workload", "torch.gpt", "--no-progress",
                       "--results-file", str(tmp_path / f"{side}.jsonl"), cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        paths.append(tmp_path / f"{side}.jsonl")
    records = [json.loads(line) for line in paths[1].read_text().splitlines() if line.strip()]
    measured = [r for r in records if r.get("workload") == "torch.gpt"]
    assert len(measured[0]["metrics"]["first_losses"]) == loss_check.FIRST_STEPS
    same = harness("compare", *map(str, paths), "--numerics", "fail", cwd=tmp_path)
    assert "numerics" in same.stdout and "changed" not in same.stdout.split("numerics", 1)[1]
    assert same.returncode in (0, 1)  # time verdicts on a noisy machine are not under test
    first = measured[0]
    other = {**first["params"], "lr": first["params"]["lr"] * 2}
    other_lr = loss_check.first_losses(
        TorchGPTStep, other, "cpu", seed=first["seed"], threads=first["thread_count"]
    )
    for record in measured:
        record["metrics"]["first_losses"] = other_lr
    candidate = tmp_path / "c.jsonl"
    candidate.write_text("".join(json.dumps(r) + "\n" for r in records))
    reported = harness("compare", str(paths[0]), str(candidate), cwd=tmp_path)
    gated = harness("compare", str(paths[0]), str(candidate), "--numerics", "fail", cwd=tmp_path)
    assert "changed" in reported.stdout and "step 2" in reported.stdout
    assert gated.returncode == 1, gated.stderr[-2000:]
