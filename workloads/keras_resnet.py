"""``keras.resnet``: ``keras.applications.ResNet50(weights=None)`` on seeded random images,
TensorFlow or torch backend, timed as ``keras.step`` times its steps.

Not the same network as ``torch.resnet`` (torchvision's): Keras' is ResNet "v1", the stride on
each stage's first 1×1 convolution (torchvision's "v1.5" puts it on the 3×3, which costs more
FLOPs at the same size), and every Keras convolution carries a bias (26,560 more parameters:
25,583,592 trainable at 1000 classes against torchvision's 25,557,032); Keras' BatchNorm
epsilon is 1.001e-5 (torchvision 1e-5); Keras initialises convolutions Glorot-uniform,
torchvision Kaiming-normal. The record's ``metrics.model_variant`` says so and
``parameters`` counts the trainable weights (``parameters_total`` adds the BatchNorm moving
statistics). Optimizer SGD with momentum 0.9; logits (``classifier_activation=None``) into
sparse cross-entropy, as torch's ``cross_entropy``.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from workloads import model_flops
from workloads.keras_common import BACKEND_PARAM, TF32_PARAM, keras_runtime_info
from workloads.keras_train import KerasPhasedStep
from workloads.torch_resnet import MODEL, RESNET_PARAMS


class KerasResNetStep(KerasPhasedStep):
    name = "keras.resnet"
    model_name = MODEL
    description = "keras.applications.ResNet50 (v1) on seeded random images; SGD with momentum."
    params = (
        *[p for p in RESNET_PARAMS if p.name != "channels_last"],
        Param(
            "channels_last",
            "bool",
            True,
            "Keras' image layout: NHWC (true, Keras' default) or NCHW (false; not on TF's CPU)",
        ),
        BACKEND_PARAM,
        TF32_PARAM,
        Param("jit_compile", "bool", False, "XLA-compile the step (TensorFlow backend)"),
    )

    def setup(self) -> None:
        keras = self.start_keras()
        keras.config.set_image_data_format(
            "channels_last" if self.param_values["channels_last"] else "channels_first"
        )
        self.model = keras.applications.ResNet50(
            weights=None,
            input_shape=self.image_shape(),
            classes=self.param_values["classes"],
            classifier_activation=None,
        )
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.optimizer = keras.optimizers.SGD(learning_rate=self.param_values["lr"], momentum=0.9)
        self.last: Any = None
        self.prepare()

    def image_shape(self) -> tuple[int, int, int]:
        side = self.param_values["image_size"]
        return (side, side, 3) if self.param_values["channels_last"] else (3, side, side)

    def make_data(self) -> tuple[Any, Any]:
        import numpy as np

        rng = np.random.default_rng(self.seed)
        images = rng.standard_normal((self.param_values["batch_size"], *self.image_shape()))
        labels = rng.integers(0, self.param_values["classes"], self.param_values["batch_size"])
        return images.astype("float32"), labels.astype("int32")

    def _loss(self, training: bool = True) -> Any:
        logits = self.model(self.x, training=training)
        return self.loss_fn(self.y, self.keras.ops.cast(logits, "float32"))

    def runtime_info(self) -> dict[str, Any]:
        info = keras_runtime_info(self.backend)
        info["dtype_policy"] = self.keras.config.dtype_policy().name
        info["image_data_format"] = self.keras.config.image_data_format()
        return info

    def metrics(self) -> dict[str, Any]:
        import numpy as np

        flops = model_flops.resnet50_train_flops_per_step(
            self.param_values["image_size"],
            self.param_values["classes"],
            self.param_values["batch_size"],
            stride_on="1x1",
        )
        macs = model_flops.resnet50_conv_macs(
            self.param_values["image_size"], self.param_values["classes"], "1x1"
        )
        forward = 2 * sum(macs) * self.param_values["batch_size"]
        trainable = sum(int(np.prod(v.shape)) for v in self.model.trainable_weights)
        return {
            "model": MODEL,
            "model_source": f"keras.applications.ResNet50 (Keras {self.keras.__version__})",
            "model_variant": "v1 (stride on the first 1×1), convolutions with biases",
            "parameters": trainable,
            "parameters_total": int(self.model.count_params()),
            "flops_per_step": flops,
            "flops_per_phase": {"forward": forward, "backward": flops - forward},
            "flops_method": "analytic: convolutions and classifier, FMA = 2 FLOPs",
            "final_loss": self.final_loss(),
        }
