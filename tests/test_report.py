"""What a report says beside each median: its precision, the machine, why a target was missed."""

from harness.analysis.summary import summary_frame
from harness.documents.report import write_report
from harness.record import Record, Timing
from harness.results import frame_from_records
from harness.stats import precision_of


def record(samples, process=0, machine=None, stop="precision", target=0.01):
    return Record(
        workload="numpy.mlp",
        framework="numpy",
        kind="train_step",
        device="cpu",
        params={"batch_size": 8},
        changed_params={"batch_size": 8},
        process_index=process,
        index=process,
        source="r.jsonl",
        items_per_step=8,
        samples={"step": samples},
        timing=Timing(block_size=10, stop_reason=stop, precision_target=target),
        machine=machine,
    )


def test_the_median_carries_its_precision_and_stability_follows_it():
    steady = [1e-3] * 10
    spread = [1e-3 * (1 + 0.005 * i) for i in range(10)]  # 0..4.5% above: a ±1.7% median
    text = write_report(frame_from_records([record(steady)]), "table", None)
    assert "0.0%" in text and "stable" in text
    summary = summary_frame(frame_from_records([record(spread, stop="max-time")]))
    row = summary.iloc[0]
    assert row["precision"] == precision_of(spread) and row["precision"] > 0.01
    assert row["stability"] == "unstable"  # IQR/median under 10%, but the median is imprecise
    text = write_report(frame_from_records([record(spread, stop="max-time")]), "table", None)
    assert "1 of 1 rows did not reach the target: 1 stopped at the time budget" in text


def test_several_processes_widen_the_interval():
    # two processes that disagree by 10%: each alone is precise, together they are not
    one = record([1.00e-3] * 10, process=0)
    two = record([1.10e-3] * 10, process=1)
    row = summary_frame(frame_from_records([one, two])).iloc[0]
    assert row["processes"] == 2 and row["precision"] > 0.03


def test_noisy_machine_tasks_are_flagged_with_the_figure():
    machine = {"noisy": True, "noisy_reasons": ["other processes used 0.80 cores during the task"]}
    frame = frame_from_records([record([1e-3] * 10, machine=machine)])
    text = write_report(frame, "table", None)
    assert "stable · noisy-machine" in text
    assert "numpy.mlp [cpu] batch_size=8: other processes used 0.80 cores" in text
    markdown = write_report(frame, "markdown", None)
    assert "noisy-machine" in markdown and "| ± |" in markdown
