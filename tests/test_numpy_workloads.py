"""The hand-written loops: analytic gradients against finite differences; the loss falls."""

import numpy as np
import pytest

from workloads.numpy_train import LinearRegressionStep, NumpyMLPStep


def make(cls, **params):
    defaults = {p.name: p.default for p in cls.params}
    defaults.update(dtype="float64", **params)
    workload = cls(defaults, "cpu", seed=3)
    workload.setup()
    return workload


def numeric_gradient(loss_fn, array, eps=1e-6, samples=12, seed=0):
    rng = np.random.default_rng(seed)
    flat = array.reshape(-1)
    picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
    grads = {}
    for i in picks:
        old = flat[i]
        flat[i] = old + eps
        up = loss_fn()
        flat[i] = old - eps
        down = loss_fn()
        flat[i] = old
        grads[int(i)] = (up - down) / (2 * eps)
    return grads


def test_linreg_gradients_match_finite_differences():
    w = make(LinearRegressionStep, batch_size=16, features=5, outputs=2)
    w.w[...] = np.random.default_rng(1).standard_normal(w.w.shape)
    w.b[...] = 0.3
    y_pred, _ = w.forward_loss()
    grad_w, grad_b = w.gradients(y_pred)

    def loss():
        return float(w.forward_loss()[1])

    for i, g in numeric_gradient(loss, w.w).items():
        assert grad_w.reshape(-1)[i] == pytest.approx(g, rel=1e-5, abs=1e-8)
    for i, g in numeric_gradient(loss, w.b).items():
        assert grad_b.reshape(-1)[i] == pytest.approx(g, rel=1e-5, abs=1e-8)


def test_mlp_gradients_match_finite_differences():
    w = make(NumpyMLPStep, batch_size=8, features=6, hidden=5, classes=3)
    z1, a1, probs = w.forward(w.x)
    grads = w.backward(z1, a1, probs)

    def loss():
        return float(w.loss_of(w.forward(w.x)[2]))

    for param, grad in zip((w.w1, w.b1, w.w2, w.b2), grads, strict=True):
        for i, g in numeric_gradient(loss, param).items():
            assert grad.reshape(-1)[i] == pytest.approx(g, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize(
    "cls, params",
    [
        (LinearRegressionStep, {"batch_size": 64, "features": 8, "lr": 0.1}),
        (NumpyMLPStep, {"batch_size": 64, "features": 20, "hidden": 16, "lr": 0.5}),
    ],
)
def test_loss_falls_and_phases_are_marked(cls, params):
    w = make(cls, **params)
    marks = []
    losses = []
    for _ in range(30):
        w.step(marks.append)
        losses.append(w.loss_value())
    assert marks[:3] == ["forward", "backward", "update"]
    assert losses[-1] < 0.7 * losses[0]


def test_same_seed_same_data_and_weights():
    a = make(NumpyMLPStep, batch_size=4, features=6, hidden=5)
    b = make(NumpyMLPStep, batch_size=4, features=6, hidden=5)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.w1, b.w1)


def test_flop_count():
    w = make(LinearRegressionStep, batch_size=10, features=4, outputs=1)
    metrics = w.metrics()
    # x·w and xᵀ·error, the bias, the residual and its square, the update of w and b
    assert metrics["flops_per_step"] == 2 * 10 * 4 * 2 + 3 * 10 + 2 * (4 + 1)
    # one count of the step: the phases' sum, as the verdicts and achieved_gflops take it
    assert metrics["flops_per_step"] == sum(metrics["flops_per_phase"].values())


@pytest.mark.gpu
def test_cupy_loop_runs_on_cuda():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip("no CUDA device")
    defaults = {p.name: p.default for p in NumpyMLPStep.params}
    defaults.update(array_module="cupy", batch_size=64)
    w = NumpyMLPStep(defaults, "cuda")
    w.setup()
    w.step(lambda phase: None)
    assert np.isfinite(w.loss_value())
