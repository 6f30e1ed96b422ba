"""The same MLP and small CNN as the PyTorch workloads, built three ways: Sequential, Functional
API and a subclassed ``keras.Model``; regularization none, L2, dropout or batch norm."""

from __future__ import annotations

import itertools
from typing import Any

from harness.params import Param

STYLES = ("sequential", "functional", "subclass")
REGULARIZATIONS = ("none", "l2", "dropout", "batchnorm")

MODEL_PARAMS = (
    Param("model", "str", "mlp", "mlp (flattened 28×28) or cnn (3×H×W)", choices=("mlp", "cnn")),
    Param("style", "str", "sequential", "sequential, functional or subclass", choices=STYLES),
    Param(
        "regularization", "str", "none", "none, l2, dropout or batchnorm", choices=REGULARIZATIONS
    ),
    Param("batch_size", "int", 128, "samples per step", minimum=1),
    Param("features", "int", 784, "MLP input features", minimum=1),
    Param("hidden", "ints", (256, 128), "MLP hidden widths, like 256x128"),
    Param("image_size", "int", 32, "CNN image height and width", minimum=8),
    Param("channels", "ints", (16, 32), "CNN conv widths"),
    Param("classes", "int", 10, "output classes", minimum=2),
)


def layer_stack(keras: Any, p: dict[str, Any]) -> list[Any]:
    """The hidden layers (after the input, before the output), regularized as asked."""
    layers = keras.layers
    regularizer = keras.regularizers.L2(1e-4) if p["regularization"] == "l2" else None

    def extras() -> list[Any]:
        if p["regularization"] == "dropout":
            return [layers.Dropout(0.2)]
        if p["regularization"] == "batchnorm":
            return [layers.BatchNormalization()]
        return []

    stack: list[Any] = []
    if p["model"] == "mlp":
        for width in p["hidden"]:
            stack += [
                layers.Dense(width, activation="relu", kernel_regularizer=regularizer),
                *extras(),
            ]
    else:
        for width in list(p["channels"])[:2]:
            stack += [
                layers.Conv2D(
                    width, 3, padding="same", activation="relu", kernel_regularizer=regularizer
                ),
                *extras(),
                layers.MaxPooling2D(2),
            ]
        stack.append(layers.Flatten())
    stack.append(layers.Dense(p["classes"], kernel_regularizer=regularizer))
    return stack


def input_shape(p: dict[str, Any]) -> tuple[int, ...]:
    if p["model"] == "mlp":
        return (p["features"],)
    return (p["image_size"], p["image_size"], 3)


def build_model(keras: Any, p: dict[str, Any]) -> Any:
    style = p["style"]
    shape = input_shape(p)
    if style == "sequential":
        return keras.Sequential([keras.Input(shape), *layer_stack(keras, p)])
    if style == "functional":
        inputs = keras.Input(shape)
        x = inputs
        for layer in layer_stack(keras, p):
            x = layer(x)
        return keras.Model(inputs, x)

    class SubclassedModel(keras.Model):
        def __init__(self, stack: list[Any]):
            super().__init__()
            self.stack = stack

        def call(self, inputs: Any, training: bool = False) -> Any:
            x = inputs
            for layer in self.stack:
                x = layer(x, training=training) if _takes_training(layer) else layer(x)
            return x

    model = SubclassedModel(layer_stack(keras, p))
    model(keras.ops.zeros((1, *shape)))  # build the weights
    return model


def _takes_training(layer: Any) -> bool:
    return type(layer).__name__ in {"Dropout", "BatchNormalization"}


def make_data(p: dict[str, Any], seed: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((p["batch_size"], *input_shape(p))).astype("float32")
    y = rng.integers(0, p["classes"], p["batch_size"]).astype("int32")
    return x, y


def layer_macs(p: dict[str, Any]) -> list[int]:
    n = p["batch_size"]
    if p["model"] == "mlp":
        widths = [p["features"], *p["hidden"], p["classes"]]
        return [n * a * b for a, b in itertools.pairwise(widths)]
    # the layers layer_stack builds: one 3x3 'same' conv per width (at most two), each
    # followed by a 2x2 pooling, then the classifier on what is left
    side, channels_in = p["image_size"], 3
    macs = []
    for width in list(p["channels"])[:2]:
        macs.append(n * side * side * width * channels_in * 9)
        side, channels_in = side // 2, width
    macs.append(n * side * side * channels_in * p["classes"])
    return macs


def flops_per_step(p: dict[str, Any]) -> int:
    macs = layer_macs(p)
    return 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])
