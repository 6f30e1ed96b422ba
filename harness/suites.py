"""Named suites: which workloads, with which parameters and timer settings.

``smoke`` runs every workload at a tiny size in seconds (tests use it); ``default`` is what
``make bench`` runs on a laptop CPU; ``gpu`` is what ``make bench-gpu`` runs on a CUDA box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError
from harness.timer import TimerSettings


@dataclass(frozen=True)
class SuiteEntry:
    workload: str
    params: dict[str, Any] = field(default_factory=dict)
    devices: tuple[str, ...] = ("cpu",)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    timer: TimerSettings
    processes: int = 1


SMOKE_TIMER = TimerSettings(
    warmup_time=0.0,
    warmup_max_steps=1,
    min_time=0.0,
    min_blocks=3,
    max_blocks=3,
    min_block_time=0.001,
)
DEFAULT_TIMER = TimerSettings(
    warmup_time=0.2,
    warmup_max_steps=20,
    min_time=0.3,
    min_blocks=7,
    max_blocks=2000,
    min_block_time=0.001,
    precision=0.01,
    max_time=1.5,
)
COMPARE_TIMER = TimerSettings(
    warmup_time=0.5,
    warmup_max_steps=50,
    min_time=1.0,
    min_blocks=10,
    max_blocks=4000,
    min_block_time=0.001,
    precision=0.01,
    max_time=3.0,
)

_TINY_IMAGES = {"classes": 2, "images_per_class": 8, "image_size": 32}
_IMAGES = {"classes": 4, "images_per_class": 64, "image_size": 128}
_CUDA = ("cuda",)
_TINY_GPT = {"layers": 1, "d_model": 32, "heads": 2, "seq_len": 16, "vocab": 64, "batch_size": 2}
#: GPT-2 small (124,439,808 parameters) and ResNet-50 at the sizes GPU tables use
_GPT2_SMALL = {"layers": 12, "d_model": 768, "heads": 12, "seq_len": 1024, "vocab": 50257,
               "batch_size": 8, "dtype": "bfloat16"}  # fmt: skip
_RESNET50 = {"image_size": 224, "batch_size": 256, "classes": 1000, "dtype": "bfloat16",
             "channels_last": True}  # fmt: skip

_SMOKE = (
    SuiteEntry("numpy.linreg", {"batch_size": 32, "features": 16}),
    SuiteEntry("numpy.mlp", {"batch_size": 16, "features": 64, "hidden": 32}),
    SuiteEntry("torch.mlp", {"batch_size": 16, "hidden": (32,)}),
    SuiteEntry("torch.cnn", {"batch_size": 4, "image_size": 16, "channels": (4, 8)}),
    SuiteEntry("torch.checkpoint", {"hidden": (64,), "features": 32}),
    SuiteEntry("torch.dataloader", {**_TINY_IMAGES, "resize": 16, "batch_size": 4}),
    SuiteEntry("pillow.decode", _TINY_IMAGES),
    SuiteEntry("torch.train_images", {**_TINY_IMAGES, "resize": 16, "batch_size": 4}),
    SuiteEntry("keras.fit", {"batch_size": 16, "hidden": (32,), "steps_per_call": 2}),
    SuiteEntry("keras.step", {"batch_size": 16, "hidden": (32,)}),
    SuiteEntry("keras.checkpoint", {"hidden": (64,), "features": 32}),
    SuiteEntry("keras.image_dataset", {**_TINY_IMAGES, "resize": 16, "batch_size": 4}),
    SuiteEntry("tf.data", {**_TINY_IMAGES, "resize": 16, "batch_size": 4}),
    SuiteEntry("keras.train_images", {**_TINY_IMAGES, "resize": 16, "batch_size": 4}),
    SuiteEntry("torch.gpt", _TINY_GPT),
    SuiteEntry("keras.gpt", _TINY_GPT),
    SuiteEntry("torch.resnet", {"batch_size": 2}),
    SuiteEntry("keras.resnet", {"batch_size": 1}),
)

_DEFAULT = (
    SuiteEntry("numpy.linreg", {"batch_size": 1024, "features": 512}),
    SuiteEntry("numpy.mlp", {"batch_size": 256, "features": 784, "hidden": 256}),
    SuiteEntry("torch.mlp", {"batch_size": 256, "hidden": (256,)}),
    SuiteEntry(
        "torch.mlp",
        {"batch_size": 256, "hidden": (256,), "loss": "mse", "optimizer": "adam"},
    ),
    SuiteEntry("torch.cnn", {"batch_size": 64, "image_size": 32}),
    SuiteEntry("torch.checkpoint", {"format": "state_dict"}),
    SuiteEntry("torch.checkpoint", {"format": "full"}),
    SuiteEntry("torch.dataloader", {**_IMAGES, "num_workers": 0}),
    SuiteEntry("torch.dataloader", {**_IMAGES, "num_workers": 2}),
    SuiteEntry("pillow.decode", _IMAGES),
    # the learner's step end to end: an image folder feeding the CNN
    SuiteEntry("torch.train_images", {**_IMAGES, "num_workers": 0}),
    SuiteEntry("torch.train_images", {**_IMAGES, "num_workers": 2}),
    SuiteEntry("keras.fit", {"batch_size": 256, "hidden": (256,)}),
    SuiteEntry("keras.step", {"batch_size": 256, "hidden": (256,)}),
    SuiteEntry(
        "keras.step",
        {"batch_size": 256, "hidden": (256,), "style": "subclass", "regularization": "dropout"},
    ),
    SuiteEntry("keras.fit", {"model": "cnn", "batch_size": 64, "style": "functional"}),
    SuiteEntry("keras.checkpoint", {"format": "keras"}),
    SuiteEntry("keras.checkpoint", {"format": "weights"}),
    SuiteEntry("keras.checkpoint", {"format": "savedmodel"}),
    SuiteEntry("keras.image_dataset", _IMAGES),
    SuiteEntry("tf.data", _IMAGES),
    SuiteEntry("keras.train_images", _IMAGES),
    # the real models at their tiny CPU defaults: the frameworks side by side
    SuiteEntry("torch.gpt"),
    SuiteEntry("keras.gpt"),
    SuiteEntry("keras.gpt", {"backend": "torch"}),
    SuiteEntry("torch.resnet", {"batch_size": 2}),
    SuiteEntry("keras.resnet", {"batch_size": 2}),
)

_BIG_MLP = {"batch_size": 4096, "hidden": (4096, 4096)}
_BIG_CNN = {"batch_size": 256, "image_size": 64, "channels": (64, 128)}
_GPU = (
    SuiteEntry("numpy.mlp", {"batch_size": 4096, "hidden": 1024, "array_module": "cupy"}, _CUDA),
    SuiteEntry("torch.mlp", _BIG_MLP, _CUDA),
    SuiteEntry("torch.mlp", {**_BIG_MLP, "tf32": True}, _CUDA),
    SuiteEntry("torch.mlp", {**_BIG_MLP, "dtype": "bfloat16"}, _CUDA),
    SuiteEntry("torch.cnn", _BIG_CNN, _CUDA),
    SuiteEntry("torch.cnn", {**_BIG_CNN, "channels_last": True, "dtype": "bfloat16"}, _CUDA),
    SuiteEntry("torch.checkpoint", {"hidden": (4096, 4096)}, _CUDA),
    SuiteEntry("torch.dataloader", {**_IMAGES, "num_workers": 4}, _CUDA),
    SuiteEntry("torch.train_images", {**_IMAGES, "num_workers": 4, "pin_memory": True}, _CUDA),
    # Keras 3 on the torch backend: a GPU box with PyTorch and no TensorFlow measures Keras too.
    SuiteEntry("keras.fit", {**_BIG_MLP, "backend": "torch"}, _CUDA),
    SuiteEntry("keras.step", {**_BIG_MLP, "backend": "torch"}, _CUDA),
    SuiteEntry("torch.gpt", _GPT2_SMALL, _CUDA),
    SuiteEntry("torch.gpt", {**_GPT2_SMALL, "compile": True}, _CUDA),
    SuiteEntry("keras.gpt", {**_GPT2_SMALL, "backend": "torch"}, _CUDA),
    SuiteEntry("torch.resnet", _RESNET50, _CUDA),
    SuiteEntry("torch.resnet", {**_RESNET50, "compile": True}, _CUDA),
    SuiteEntry("keras.resnet", {**_RESNET50, "backend": "torch"}, _CUDA),
)

SUITES: dict[str, Suite] = {
    "smoke": Suite(
        "smoke", "every workload at a tiny size; the whole suite in seconds", _SMOKE, SMOKE_TIMER
    ),
    "default": Suite(
        "default",
        "meaningful sizes on a laptop CPU (what `make bench` runs)",
        _DEFAULT,
        DEFAULT_TIMER,
    ),
    "compare": Suite(
        "compare",
        "the default sizes, 3 processes each: for comparing setups",
        _DEFAULT,
        COMPARE_TIMER,
        processes=3,
    ),
    "gpu": Suite(
        "gpu",
        "CUDA workloads at GPU-sized batches (what `make bench-gpu` runs)",
        _GPU,
        DEFAULT_TIMER,
    ),
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UserError(f"Unknown suite '{name}'; valid suites: {', '.join(SUITES)}.") from None
