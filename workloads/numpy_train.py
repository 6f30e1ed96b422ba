"""The hand-written training loop: forward, loss, manual gradient, parameter update.

Two models, written exactly as a learner writes them:

* linear regression, ``y_pred = x·w + b``, mean-squared error, ``grad_w = xᵀ(y_pred − y)·2/n``;
* a two-layer MLP with ReLU, softmax cross-entropy and hand-written backprop, trained with SGD.

``array_module=cupy`` runs the same code on a CUDA GPU; the device is synchronized at each phase
boundary so that host timestamps measure the work, not the kernel launches.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from harness.workload import Mark, Workload
from workloads.array_modules import load_array_module, synchronize

COMMON = (
    Param("batch_size", "int", 256, "samples per step", minimum=1),
    Param("lr", "float", 0.01, "learning rate", minimum=0),
    Param("array_module", "str", "numpy", "numpy (CPU) or cupy (CUDA)", choices=("numpy", "cupy")),
    Param("dtype", "str", "float32", "array dtype", choices=("float32", "float64")),
)


class _HandWrittenStep(Workload):
    framework = "numpy"
    kind = "train_step"
    devices = ("cpu", "cuda")
    loss: Any

    def setup(self) -> None:
        self.xp = load_array_module(self.param_values["array_module"], self.device)
        import numpy

        # Data and initial weights come from NumPy's generator on the host, then move to the
        # device: the same seed gives the same values for numpy and cupy.
        self.rng = numpy.random.default_rng(self.seed)
        self.sync_phases = self.param_values["array_module"] == "cupy"
        self.losses: list[float] = []
        self.build()

    def build(self) -> None:
        raise NotImplementedError

    def required_modules(self) -> tuple[str, ...]:
        return (self.param_values["array_module"],)

    def synchronize(self) -> None:
        synchronize(self.xp)

    def runtime_info(self) -> dict[str, Any]:
        return {"array_module": self.xp.__name__, "framework_version": self.xp.__version__}

    def metrics(self) -> dict[str, Any]:
        return {
            "flops_per_step": self.flops_per_step(),
            "final_loss": self.loss_value(),
            **self.counted_per_phase(),
        }

    def flops_per_step(self) -> int:
        """The step's FLOPs: the phases' sum (``counted_per_phase``), one count for all."""
        return int(sum((self.counted_per_phase().get("flops_per_phase") or {}).values()))

    def counted_per_phase(self) -> dict[str, Any]:
        """FLOPs and bytes moved per phase (analytic; bytes: each array read or written once)."""
        return {}

    def loss_value(self) -> float:
        return float(self.loss)


class LinearRegressionStep(_HandWrittenStep):
    name = "numpy.linreg"
    description = "Linear regression y = x·w + b, MSE, manual gradient, SGD (the seed's loop)."
    params = (
        *COMMON,
        Param("features", "int", 512, "input features", minimum=1),
        Param("outputs", "int", 1, "regression targets", minimum=1),
    )

    def build(self) -> None:
        xp, p = self.xp, self.param_values
        rng = self.rng
        n, d, k = p["batch_size"], p["features"], p["outputs"]
        x = rng.standard_normal((n, d)).astype(p["dtype"])
        true_w = rng.standard_normal((d, k)).astype(p["dtype"])
        self.x = xp.asarray(x)
        self.y = xp.asarray((x @ true_w + 0.5).astype(p["dtype"]))
        self.w = xp.zeros((d, k), dtype=p["dtype"])
        self.b = xp.zeros((k,), dtype=p["dtype"])
        # Scale the step so the loop converges for any width: lr / d keeps it stable.
        self.step_size = xp.asarray(p["lr"] / max(1.0, d / 32), dtype=p["dtype"])
        self.loss = xp.asarray(0.0)

    def forward_loss(self):
        y_pred = self.x @ self.w + self.b
        loss = ((y_pred - self.y) ** 2).mean()
        return y_pred, loss

    def gradients(self, y_pred):
        n = self.x.shape[0] * self.y.shape[1]
        error = (y_pred - self.y) * (2.0 / n)
        return self.x.T @ error, error.sum(axis=0)

    def step(self, mark: Mark) -> None:
        y_pred, self.loss = self.forward_loss()
        mark("forward")
        grad_w, grad_b = self.gradients(y_pred)
        mark("backward")
        self.w -= self.step_size * grad_w
        self.b -= self.step_size * grad_b
        mark("update")

    def counted_per_phase(self) -> dict[str, Any]:
        n, d, k = (
            self.param_values["batch_size"],
            self.param_values["features"],
            self.param_values["outputs"],
        )
        width = 8 if self.param_values["dtype"] == "float64" else 4
        return {
            "flops_per_phase": {"forward": 2 * n * d * k + 3 * n * k, "backward": 2 * n * d * k,
                                "update": 2 * (d * k + k)},
            # forward reads x, w, y and writes the prediction; backward reads x and the error,
            # writes the gradient; the update reads w and its gradient, writes w
            "bytes_per_phase": {"forward": width * (n * d + d * k + 2 * n * k),
                                "backward": width * (n * d + n * k + d * k),
                                "update": width * 3 * (d * k + k)},
            "bytes_method": "analytic estimate: each array read or written once per phase",
        }  # fmt: skip


class NumpyMLPStep(_HandWrittenStep):
    name = "numpy.mlp"
    description = "Two-layer MLP, ReLU, softmax cross-entropy, hand-written backprop, SGD."
    params = (
        *COMMON,
        Param("features", "int", 784, "input features (28×28)", minimum=1),
        Param("hidden", "int", 256, "hidden units", minimum=1),
        Param("classes", "int", 10, "output classes", minimum=2),
    )

    def build(self) -> None:
        xp, p, rng = self.xp, self.param_values, self.rng
        n, d, h, c = p["batch_size"], p["features"], p["hidden"], p["classes"]
        dtype = p["dtype"]
        self.x = xp.asarray(rng.standard_normal((n, d)).astype(dtype))
        self.labels = xp.asarray(rng.integers(0, c, n))
        self.onehot = xp.eye(c, dtype=dtype)[self.labels]
        self.w1 = xp.asarray((rng.standard_normal((d, h)) * (2.0 / d) ** 0.5).astype(dtype))
        self.b1 = xp.zeros((h,), dtype=dtype)
        self.w2 = xp.asarray((rng.standard_normal((h, c)) * (1.0 / h) ** 0.5).astype(dtype))
        self.b2 = xp.zeros((c,), dtype=dtype)
        self.loss = xp.asarray(0.0)

    def forward(self, x):
        z1 = x @ self.w1 + self.b1
        a1 = self.xp.maximum(z1, 0)
        logits = a1 @ self.w2 + self.b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = self.xp.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        return z1, a1, probs

    def loss_of(self, probs):
        n = probs.shape[0]
        return -self.xp.log(probs[self.xp.arange(n), self.labels] + 1e-12).mean()

    def backward(self, z1, a1, probs):
        n = self.x.shape[0]
        d_logits = (probs - self.onehot) / n
        grad_w2 = a1.T @ d_logits
        grad_b2 = d_logits.sum(axis=0)
        d_a1 = d_logits @ self.w2.T
        d_z1 = d_a1 * (z1 > 0)
        grad_w1 = self.x.T @ d_z1
        grad_b1 = d_z1.sum(axis=0)
        return grad_w1, grad_b1, grad_w2, grad_b2

    def step(self, mark: Mark) -> None:
        z1, a1, probs = self.forward(self.x)
        self.loss = self.loss_of(probs)
        mark("forward")
        grads = self.backward(z1, a1, probs)
        mark("backward")
        lr = self.param_values["lr"]
        for param, grad in zip((self.w1, self.b1, self.w2, self.b2), grads, strict=True):
            param -= lr * grad
        mark("update")

    def counted_per_phase(self) -> dict[str, Any]:
        n, d, h, c = (self.param_values[k] for k in ("batch_size", "features", "hidden", "classes"))
        width = 8 if self.param_values["dtype"] == "float64" else 4
        params = d * h + h + h * c + c
        return {
            "flops_per_phase": {"forward": 2 * n * (d * h + h * c),
                                "backward": 2 * n * (h * c) * 2 + 2 * n * d * h,
                                "update": 2 * params},
            # forward: x, w1, z1/a1, w2, logits/probs; backward about twice the activations
            "bytes_per_phase": {"forward": width * (n * d + d * h + 2 * n * h + h * c + 2 * n * c),
                                "backward": width * 2 * (n * d + 2 * n * h + 2 * n * c + params),
                                "update": width * 3 * params},
            "bytes_method": "analytic estimate: each array read or written once per phase",
        }  # fmt: skip
