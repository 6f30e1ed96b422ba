"""Keras training steps, two ways.

* ``keras.fit``: the real ``model.fit`` throughput: one harness step is one ``fit`` call of
  ``steps_per_call`` batches over an in-memory array (compiled; ``jit_compile`` on/off). The
  first call's trace/compile time is the first-step figure.
* ``keras.step``: a custom ``GradientTape`` step timed phase by phase. With the TensorFlow
  backend one graph cannot be cut at phase boundaries, so the phases come from *prefixes* of
  the real step, each its own ``tf.function`` run in the same block: F (model + loss), F+G
  (model, loss and ``tape.gradient``) and S, the real fused step (F+G and
  ``apply_gradients`` in one graph). ``forward`` = F, ``backward`` = (F+G) − F and ``update``
  = S − (F+G), so the phases add up to the real step by construction; each prefix carries one
  call's dispatch, which the differences cancel. The ``step`` samples time S alone. (Timing
  ``apply_gradients`` as a separate function instead overstated the phase sum by about a third:
  the gradients crossed a function boundary.) The record's ``phase_method`` says which. With
  the torch backend the phases split naturally (model + loss, ``loss.backward()``,
  ``optimizer.apply``), as Keras' own torch trainer does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import Mark, PhaseTimer, Workload
from workloads import keras_models
from workloads.keras_common import (
    BACKEND_PARAM,
    TF32_PARAM,
    configure_keras,
    keras_required_modules,
    keras_runtime_info,
    synchronize_backend,
)

TRAIN_PARAMS = (
    *keras_models.MODEL_PARAMS,
    BACKEND_PARAM,
    TF32_PARAM,
    Param("optimizer", "str", "sgd", "sgd or adam", choices=("sgd", "adam")),
    Param("lr", "float", 0.01, "learning rate", minimum=0),
    Param("jit_compile", "bool", False, "XLA-compile the step (jit_compile=True)"),
)


class _KerasTrain(Workload):
    framework = "keras"
    kind = "train_step"
    devices = ("cpu", "cuda")
    requires = ("keras",)

    def required_modules(self) -> tuple[str, ...]:
        return keras_required_modules(self)

    def start_keras(self) -> Any:
        """Keras configured for this step (``configure_keras``: backend, threads, TF32), with
        Keras' ``mixed_bfloat16`` policy where ``dtype=bfloat16``; sets ``self.keras`` and
        ``self.backend``."""
        keras = configure_keras(self, tf32=self.param_values["tf32"])
        if self.param_values.get("dtype") == "bfloat16":
            keras.config.set_dtype_policy("mixed_bfloat16")
        self.keras = keras
        self.backend = keras.backend.backend()
        return keras

    def setup(self) -> None:
        keras = self.start_keras()
        self.model = keras_models.build_model(keras, self.param_values)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if self.param_values["optimizer"] == "adam":
            self.optimizer = keras.optimizers.Adam(self.param_values["lr"])
        else:
            self.optimizer = keras.optimizers.SGD(self.param_values["lr"])
        self.last: Any = None
        self.prepare()

    def prepare(self) -> None:
        raise NotImplementedError

    def synchronize(self) -> None:
        synchronize_backend(self.backend, self.device, self.last)

    def runtime_info(self) -> dict[str, Any]:
        return {**keras_runtime_info(self.backend), "model_style": self.param_values["style"]}

    def metrics(self) -> dict[str, Any]:
        return {
            "flops_per_step": keras_models.flops_per_step(self.param_values) * self.train_steps(),
            "train_steps_per_step": self.train_steps(),
            "final_loss": self.final_loss(),
            "parameters": int(self.model.count_params()),
            "layers": [type(layer).__name__ for layer in self.model.layers],
        }

    def train_steps(self) -> int:
        return 1

    def loss_value(self) -> float:
        return self.final_loss()

    def final_loss(self) -> float:
        import numpy as np

        return float(np.asarray(self.keras.ops.convert_to_numpy(self.last_loss)))


class KerasFit(_KerasTrain):
    name = "keras.fit"
    phases = ()
    description = "model.fit over steps_per_call batches of an in-memory array (compiled)."
    params = (
        *TRAIN_PARAMS,
        Param("steps_per_call", "int", 8, "batches per fit call (one harness step)", minimum=1),
    )

    def prepare(self) -> None:
        import numpy as np

        self.model.compile(
            optimizer=self.optimizer,
            loss=self.loss_fn,
            jit_compile=self.param_values["jit_compile"],
        )
        x, y = keras_models.make_data(self.param_values, self.seed)
        reps = self.param_values["steps_per_call"]
        self.x = np.concatenate([x] * reps)
        self.y = np.concatenate([y] * reps)
        self.last_loss = 0.0

    def step(self, mark: Mark) -> None:
        history = self.model.fit(
            self.x,
            self.y,
            batch_size=self.param_values["batch_size"],
            epochs=1,
            verbose=0,
            shuffle=False,
        )
        self.last_loss = history.history["loss"][-1]  # a host float: fit has synchronized

    def synchronize(self) -> None:
        """fit returns host floats in its history, so it has already synchronized."""

    def items_per_step(self) -> int:
        return self.param_values["batch_size"] * self.param_values["steps_per_call"]

    def train_steps(self) -> int:
        return int(self.param_values["steps_per_call"])

    def final_loss(self) -> float:
        return float(self.last_loss)


PREFIX_METHOD = (
    "prefixes: forward = F (model + loss), backward = (F+G) − F, update = S − (F+G), where "
    "F+G adds tape.gradient and S is the real fused step; each a tf.function timed in the "
    "same block"
)


class _Prefixes(PhaseTimer):
    """Each mark ends a longer prefix of the real step, run from its start: the phases are the
    differences of consecutive prefixes."""

    def end_block(self) -> dict[str, float]:
        prefix = dict(super().end_block())
        return {
            "forward": prefix["forward"],
            "backward": prefix["backward"] - prefix["forward"],
            "update": prefix["update"] - prefix["backward"],
        }


class KerasPhasedStep(_KerasTrain):
    name = "keras.step"
    description = "Custom GradientTape step: forward, backward, update timed separately."
    params = TRAIN_PARAMS
    sync_phases = True

    def make_data(self) -> tuple[Any, Any]:
        """Inputs and targets as NumPy arrays (a subclass with another model replaces it)."""
        return keras_models.make_data(self.param_values, self.seed)

    def prepare(self) -> None:
        keras = self.keras
        x, y = self.make_data()
        self.x = keras.ops.convert_to_tensor(x)
        self.y = keras.ops.convert_to_tensor(y)
        self.variables = self.model.trainable_variables
        self.optimizer.build(self.variables)
        self.last_loss = keras.ops.zeros(())
        if self.backend == "tensorflow":
            self._prepare_tensorflow()
        elif self.backend == "torch":
            if self.param_values["jit_compile"]:
                raise WorkloadError(
                    "keras.step with the torch backend runs eagerly; "
                    "use keras.fit for jit_compile with torch"
                )
            self.has_fused_step = False
            import torch

            self.no_grad = torch.no_grad
        else:
            raise WorkloadError(
                "keras.step is measured for the tensorflow and torch backends; "
                "use keras.fit for jax"
            )

    def _loss(self, training: bool = True) -> Any:
        logits = self.model(self.x, training=training)
        loss = self.loss_fn(self.y, logits)
        if self.model.losses:
            loss = loss + self.keras.ops.sum(self.keras.ops.stack(self.model.losses))
        return loss

    def _prepare_tensorflow(self) -> None:
        import tensorflow as tf

        jit = self.param_values["jit_compile"]
        variables = self.variables

        def forward_backward() -> Any:
            with tf.GradientTape() as tape:
                loss = self._loss()
            return loss, tape.gradient(loss, variables)

        def fused() -> Any:
            loss, grads = forward_backward()
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return loss

        self.tf_forward = tf.function(self._loss, jit_compile=jit)
        self.tf_forward_backward = tf.function(forward_backward, jit_compile=jit)
        self.tf_fused = tf.function(fused, jit_compile=jit)
        self.has_fused_step = True

    def phase_timer(self, clock: Callable[[], float]) -> PhaseTimer:
        if self.backend == "tensorflow":
            return _Prefixes(clock, self.synchronize)
        return PhaseTimer(clock, self.synchronize)

    def phase_method(self) -> str:
        return PREFIX_METHOD if self.backend == "tensorflow" else super().phase_method()

    def step(self, mark: Mark) -> None:
        if self.backend == "tensorflow":
            self.last = self.tf_forward()
            mark("forward")
            _, grads = self.tf_forward_backward()
            self.last = grads[-1]
            mark("backward")
            self.last_loss = self.tf_fused()  # the real step: it updates the weights
            self.last = self.last_loss
            mark("update")
            return
        loss = self._loss()
        self.last = loss
        mark("forward")
        for variable in self.variables:
            variable.value.grad = None
        loss.backward()
        self.last = self.variables[-1].value.grad
        mark("backward")
        grads = [v.value.grad for v in self.variables]
        with self.no_grad():
            self.optimizer.apply(grads, self.variables)
        self.last = self.variables[-1]
        self.last_loss = loss.detach()
        mark("update")

    def fused_step(self) -> None:
        self.last_loss = self.tf_fused()
        self.last = self.last_loss
