import pytest

from workloads.numpy_train import LinearRegressionStep, NumpyMLPStep


def test_numpy_linreg(run_workload):
    run_workload(LinearRegressionStep, batch_size=1024, features=512)


def test_numpy_mlp(run_workload):
    run_workload(NumpyMLPStep, batch_size=256)


def test_torch_mlp(run_workload):
    pytest.importorskip("torch")
    from workloads.torch_train import TorchMLPStep

    run_workload(TorchMLPStep, batch_size=256, hidden=(256,))


def test_torch_cnn(run_workload):
    pytest.importorskip("torch")
    from workloads.torch_train import TorchCNNStep

    run_workload(TorchCNNStep, batch_size=64)
