"""The test-only injected slowdown (HARNESS_TEST_EXTRA_WORK) is real arithmetic, calibrated
once in the first steps and fixed from then on: fake-clock arithmetic, and a real worker."""

import pytest

from harness.extra_work import CALIBRATION_STEPS, add_extra_work, matmul_unit


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.now


class Scripted:
    """forward takes 1 ms, backward 2 ms, then 0.5 ms after the last mark (fake time)."""

    has_fused_step = False

    def __init__(self, clock):
        self.clock = clock
        self.marks = []

    def step(self, mark):
        start = self.clock.now
        for phase, cost in (("forward", 1e-3), ("backward", 2e-3)):
            self.clock.now += cost
            mark(phase)
            self.marks.append((phase, self.clock.now - start))
        self.clock.now += 0.5e-3


def test_extra_work_adds_a_fixed_number_of_products_to_every_phase():
    clock = FakeClock()
    workload = Scripted(clock)
    products = []

    def unit():  # one product: 10 µs of fake time
        clock.now += 1e-5
        products.append(1)

    [work] = add_extra_work(workload, 0.25, clock=clock, unit=unit)
    for _ in range(1 + CALIBRATION_STEPS):  # the first step is not calibrated
        workload.step(lambda phase: None)
    assert not work.calibrating and len(products) == 100  # the product timed, 5 × 20
    # 25% of 1 ms, 2 ms and 0.5 ms in products of 10 µs
    assert work.repeats == pytest.approx({"forward": 25, "backward": 50, "step": 12.5})
    assert work.products_per_step() == pytest.approx(87.5)
    reads, before = clock.reads, len(products)
    start = clock.now
    workload.marks.clear()
    workload.step(lambda phase: None)
    workload.step(lambda phase: None)
    assert clock.reads == reads  # calibrated: the clock is never read again
    assert len(products) - before == 175  # the half product carries to the next step
    assert workload.marks[0] == ("forward", pytest.approx(1.25e-3))
    assert workload.marks[1] == ("backward", pytest.approx(3.75e-3))
    assert clock.now - start == pytest.approx(2 * 3.5e-3 * 1.25)


def test_the_product_is_a_real_matmul():
    import numpy

    unit = matmul_unit()
    unit()  # runs, and leaves its output in place
    assert numpy.isfinite(unit.__closure__[-1].cell_contents).all()


@pytest.mark.slow
def test_a_worker_reports_the_products_it_injected(cli, tmp_path):
    from tests.conftest import read_jsonl

    result = cli(
        "run", "--suite", "smoke", "--workload", "numpy.linreg", "--results-file", "r.jsonl",
        "--min-blocks", "3", "--max-blocks", "3", env={"HARNESS_TEST_EXTRA_WORK": "0.1"},
    )  # fmt: skip
    assert result.returncode == 0, result
    [record] = read_jsonl(tmp_path / "r.jsonl")
    assert record["metrics"]["test_extra_work"] == 0.1
    assert record["metrics"]["test_extra_matmuls_per_step"] > 0
