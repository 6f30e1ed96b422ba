"""One number per hardware comparison: its A/A coverage measured by simulation, its power on a
real difference, and the cells that could not enter it shown beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis.aggregate import aggregate_frame, profile_curve, profile_frame

WORKLOADS = [f"w{i}" for i in range(8)]


def simulated(rng, setups, slowdown=None, processes=3, blocks=10, between=0.05, within=0.01,
              failed=()):  # fmt: skip
    """The tidy table of a hierarchical noise model: each workload its own base time, each
    process its own offset (``between``), each block its own noise (``within``)."""
    base = {w: 10 ** rng.uniform(-4, -1) for w in WORKLOADS}
    rows = []
    for setup in setups:
        factor = (slowdown or {}).get(setup, 1.0)
        for w in WORKLOADS:
            for p in range(processes):
                status = "error" if (setup, w) in failed else "ok"
                offset = np.exp(rng.normal(0, between))
                for b in range(blocks if status == "ok" else 1):
                    seconds = base[w] * factor * offset * np.exp(rng.normal(0, within))
                    rows.append({"setup": setup, "workload": w, "params": "{}", "device": "cpu",
                                 "phase": "step", "process": p, "sample": b, "source": setup,
                                 "record": f"{w}-{p}", "status": status,
                                 "seconds": seconds if status == "ok" else None})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_to_a_intervals_cover_one_at_the_stated_rate():
    """Same machine, same code, two labels: the 95% interval must cover 1.00 in at least 95% of
    trials, less the binomial allowance for 200 trials (3 standard errors)."""
    rng = np.random.default_rng(7)
    trials, covered = 200, 0
    for trial in range(trials):
        frame = simulated(rng, ["A", "B"])
        [row] = aggregate_frame(frame, "A", resamples=500, seed=trial).itertuples()
        covered += row.ci_low <= 1.0 <= row.ci_high
    allowance = 3 * np.sqrt(0.95 * 0.05 / trials)
    assert covered / trials >= 0.95 - allowance, covered


def test_two_setups_that_differ_are_told_apart():
    rng = np.random.default_rng(3)
    frame = simulated(rng, ["A", "B"], slowdown={"B": 1.10})
    [row] = aggregate_frame(frame, "A").itertuples()
    assert row.geomean == pytest.approx(1 / 1.10, rel=0.04)
    assert row.ci_high < 1.0  # B is slower, and the interval says so
    assert row.workloads == len(WORKLOADS) and row.not_judged == 0


def test_failed_cells_are_counted_and_named_never_dropped_silently():
    rng = np.random.default_rng(5)
    frame = simulated(rng, ["A", "B", "C"], failed={("B", "w3"), ("A", "w5")})
    table = aggregate_frame(frame, "A").set_index("setup")
    assert table.loc["B", "workloads"] == 6 and table.loc["B", "not_judged"] == 2
    assert "w3 [cpu]: error on B" in table.loc["B", "not_judged_cases"]
    assert "w5 [cpu]: error on A" in table.loc["B", "not_judged_cases"]
    assert table.loc["C", "not_judged"] == 1  # the reference's own failure counts too
    ratios = profile_frame(frame)
    assert np.isinf(ratios.loc[("w3", "{}", "cpu"), "B"])
    curve = profile_curve(ratios, np.array([1.0, 1e9]))
    assert curve.loc[1e9, "B"] == pytest.approx(7 / 8)  # its failure is never within τ


def test_the_report_shows_the_aggregate(tmp_path):
    from harness.documents.report import write_report
    from harness.record import Record, Timing
    from harness.results import ResultWriter, load_frame

    rng = np.random.default_rng(0)
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        for label, scale in (("laptop", 1.0), ("server", 0.5)):
            for workload in ("numpy.mlp", "numpy.linreg"):
                for process in range(3):
                    writer.append(Record(
                        run_id="r", workload=workload, framework="numpy", kind="train_step",
                        device="cpu", params={"batch_size": 8}, process_index=process,
                        label=label, items_per_step=8,
                        samples={"step": list(1e-3 * scale * (1 + rng.normal(0, 0.01, 10)))},
                        timing=Timing(block_size=10)))  # fmt: skip
    text = write_report(load_frame([path]), "markdown", None, reference="laptop")
    assert "geometric mean" in text and "×2.0" in text
