"""TensorFlow image input pipelines on the shared synthetic dataset.

* ``keras.image_dataset``: ``keras.utils.image_dataset_from_directory`` as a newcomer uses it;
* ``tf.data``: by hand: list files → read → ``decode_jpeg`` → resize → batch → prefetch, with
  ``parallelism=autotune`` or a fixed number of parallel calls.

One step is one full pass over the dataset; images/s is the end-to-end figure. Compare with
``pillow.decode`` on the same files.
"""

from __future__ import annotations

from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import Mark, Workload
from workloads.image_folder import ensure_dataset, list_images
from workloads.keras_common import configure_keras, keras_runtime_info
from workloads.pillow_decode import DATASET_PARAMS

PIPELINE_PARAMS = (
    *DATASET_PARAMS,
    Param("resize", "int", 96, "side the images are resized to", minimum=1),
    Param("batch_size", "int", 32, "images per batch", minimum=1),
)


class _TfPipeline(Workload):
    framework = "tensorflow"
    kind = "pipeline"
    phases = ()
    devices = ("cpu",)
    requires = ("tensorflow",)

    def setup(self) -> None:
        self.param_values["backend"] = "tensorflow"
        self.keras = configure_keras(self)
        import tensorflow as tf

        self.tf = tf
        self.root = ensure_dataset(
            self.param_values["classes"],
            self.param_values["images_per_class"],
            self.param_values["image_size"],
            self.seed,
        )
        self.dataset_dir = self.root  # the record says where the files were
        self.files, self.labels, self.class_names = list_images(self.root)
        self.dataset = self.build()
        self.last_batch: Any = None

    def build(self) -> Any:
        raise NotImplementedError

    def step(self, mark: Mark) -> None:
        for images, labels in self.dataset:
            self.last_batch = (images, labels)

    def items_per_step(self) -> int:
        return len(self.files)

    def runtime_info(self) -> dict[str, Any]:
        return keras_runtime_info("tensorflow")


class KerasImageDataset(_TfPipeline):
    name = "keras.image_dataset"
    description = "keras.utils.image_dataset_from_directory; one epoch per step."
    params = PIPELINE_PARAMS

    def build(self) -> Any:
        size = self.param_values["resize"]
        return self.keras.utils.image_dataset_from_directory(
            str(self.root),
            labels="inferred",
            label_mode="int",
            batch_size=self.param_values["batch_size"],
            image_size=(size, size),
            shuffle=False,
            verbose=False,
        )


class TfDataPipeline(_TfPipeline):
    name = "tf.data"
    workers_param = "parallelism"
    description = "list files → read → decode_jpeg → resize → batch → prefetch; one epoch."
    params = (
        *PIPELINE_PARAMS,
        Param("parallelism", "str", "autotune", "autotune or a number of parallel calls"),
    )

    def build(self) -> Any:
        tf = self.tf
        setting = self.param_values["parallelism"]
        if setting == "autotune":
            parallel = tf.data.AUTOTUNE
        elif setting.isdigit() and int(setting) > 0:
            parallel = int(setting)
        else:
            raise WorkloadError(
                f"parallelism must be autotune or a positive number, got {setting!r}"
            )
        size = self.param_values["resize"]
        paths = tf.data.Dataset.from_tensor_slices(([str(f) for f in self.files], self.labels))

        def load(path: Any, label: Any) -> Any:
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            image = tf.image.resize(image, (size, size))
            return image, label

        return (
            paths.map(load, num_parallel_calls=parallel)
            .batch(self.param_values["batch_size"])
            .prefetch(parallel)
        )
