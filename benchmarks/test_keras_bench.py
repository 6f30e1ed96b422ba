import pytest


def test_keras_step(run_workload):
    pytest.importorskip("tensorflow")
    from workloads.keras_train import KerasPhasedStep

    run_workload(KerasPhasedStep, batch_size=256, hidden=(256,))


def test_keras_fit(run_workload):
    pytest.importorskip("tensorflow")
    from workloads.keras_train import KerasFit

    run_workload(KerasFit, batch_size=256, hidden=(256,), steps_per_call=4)
