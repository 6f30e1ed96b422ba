"""``keras.train_images``: the learner's Keras training step from an image folder.

``keras.utils.image_dataset_from_directory`` (decode, resize, batch) with ``prefetch`` feeds
the small CNN of ``keras.fit`` (model=cnn). Keras fuses forward, backward and update into one
``train_step``, so the phases here are what can be told apart honestly: ``data``, the time
``next()`` on the dataset's iterator waits for a batch (decode and resize not yet done ahead by
the prefetch), and ``train``, ``model.train_on_batch`` on that batch (one step of ``fit``:
the same compiled ``train_function``). The iterator is timed against the fit step, as
TensorFlow's input-pipeline analyzer splits "waiting for input" from device time.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from harness.workload import Mark, Workload
from workloads.image_folder import ensure_dataset
from workloads.keras_common import configure_keras, keras_runtime_info, synchronize_backend
from workloads.keras_models import build_model, flops_per_step
from workloads.pillow_decode import DATASET_PARAMS


class KerasTrainImages(Workload):
    name = "keras.train_images"
    framework = "keras"
    kind = "train_step"
    phases = ("data", "train")
    devices = ("cpu",)
    requires = ("keras", "tensorflow")
    workers_param = "parallelism"
    description = "image_dataset_from_directory -> prefetch -> CNN train_on_batch; data/train."
    params = (
        *DATASET_PARAMS,
        Param("resize", "int", 32, "side the images are resized to (the model's input)",
              minimum=8),
        Param("batch_size", "int", 32, "images per step", minimum=1),
        Param("channels", "ints", (16, 32), "CNN conv widths"),
        Param("prefetch", "int", 2, "batches prepared ahead (0: none)", minimum=0),
        Param("parallelism", "str", "autotune",
              "tf.data threads for decode and resize: autotune or a number"),
    )  # fmt: skip

    def model_params(self) -> dict[str, Any]:
        values = self.param_values
        return {
            "model": "cnn", "style": "sequential", "regularization": "none",
            "batch_size": values["batch_size"], "features": 1, "hidden": (1,),
            "image_size": values["resize"], "channels": values["channels"], "classes": 10,
        }  # fmt: skip

    def setup(self) -> None:
        self.param_values["backend"] = "tensorflow"
        keras = configure_keras(self)
        import tensorflow as tf

        setting = self.param_values["parallelism"]
        if setting != "autotune" and not (setting.isdigit() and int(setting) > 0):
            raise ValueError(f"parallelism must be autotune or a positive number, got {setting!r}")
        parallel = tf.data.AUTOTUNE if setting == "autotune" else int(setting)
        options = tf.data.Options()
        options.threading.private_threadpool_size = 0 if setting == "autotune" else parallel
        root = ensure_dataset(
            self.param_values["classes"],
            self.param_values["images_per_class"],
            self.param_values["image_size"],
            self.seed,
        )
        self.dataset_dir = root  # the record says where the files were
        size = self.param_values["resize"]
        dataset = keras.utils.image_dataset_from_directory(
            str(root), labels="inferred", label_mode="int",
            batch_size=self.param_values["batch_size"], image_size=(size, size), shuffle=True,
            seed=self.seed, verbose=False,
        )  # fmt: skip
        dataset = dataset.map(lambda x, y: (x / 255.0, y), num_parallel_calls=parallel)
        if self.param_values["prefetch"]:
            dataset = dataset.prefetch(self.param_values["prefetch"])
        self.batches = iter(dataset.with_options(options).repeat())
        self.model = build_model(keras, self.model_params())
        self.model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        self.loss: Any = None

    def step(self, mark: Mark) -> None:
        images, labels = next(self.batches)
        mark("data")
        self.loss = self.model.train_on_batch(images, labels)
        mark("train")

    def synchronize(self) -> None:
        synchronize_backend("tensorflow", self.device, self.loss)

    def items_per_step(self) -> int:
        return int(self.param_values["batch_size"])

    def metrics(self) -> dict[str, Any]:
        flops = flops_per_step(self.model_params())
        return {
            "flops_per_step": flops,
            "flops_per_phase": {"train": flops},
            "final_loss": self.loss_value(),
        }

    def loss_value(self) -> float | None:
        import numpy as np

        return None if self.loss is None else float(np.asarray(self.loss).reshape(-1)[0])

    def runtime_info(self) -> dict[str, Any]:
        return keras_runtime_info("tensorflow")

    def phase_method(self) -> str:
        return "data: next() on the tf.data iterator; train: model.train_on_batch (one fit step)"

    def teardown(self) -> None:
        self.batches = None
