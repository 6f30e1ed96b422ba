"""Keras save/load: the ``.keras`` archive (``model.save`` / ``keras.models.load_model``), weights
only (``.weights.h5``), and a TensorFlow SavedModel (``model.export``, reloaded with
``tf.saved_model.load``).

Phases ``save`` (write + fsync) and ``load`` (read back; with ``cold_read`` the files are
evicted from the page cache between the two, a stretch timed in neither phase). After the
measurement the reloaded model's outputs are compared with the original's on a fixed batch: they
must be equal.
"""

from __future__ import annotations

from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import UNTIMED, Mark
from workloads import checkpoint_files as files
from workloads import keras_models
from workloads.keras_common import (
    BACKEND_PARAM,
    configure_keras,
    keras_required_modules,
    keras_runtime_info,
    synchronize_backend,
)


class KerasCheckpoint(files.CheckpointWorkload):
    name = "keras.checkpoint"
    framework = "keras"
    requires = ("keras",)

    def required_modules(self) -> tuple[str, ...]:
        return keras_required_modules(self)

    description = "Save and reload a Keras model: .keras archive, .weights.h5 or SavedModel."
    params = (
        Param(
            "format",
            "str",
            "keras",
            "keras (archive), weights (.weights.h5) or savedmodel",
            choices=("keras", "weights", "savedmodel"),
        ),
        Param(
            "style",
            "str",
            "sequential",
            "sequential or functional (archives rebuild the model from its config)",
            choices=("sequential", "functional"),
        ),
        Param("hidden", "ints", (1024, 1024), "hidden widths of the MLP saved"),
        Param("features", "int", 784, "input features", minimum=1),
        Param("cold_read", "bool", True, "evict the files from the page cache before load"),
        BACKEND_PARAM,
    )

    def setup(self) -> None:
        keras = configure_keras(self)
        self.keras = keras
        # On a GPU, loading queues work on the device: read the clock after a sync.
        self.sync_phases = self.device == "cuda"
        if self.param_values["format"] == "savedmodel" and keras.backend.backend() != "tensorflow":
            raise WorkloadError("format=savedmodel needs backend=tensorflow")
        if self.param_values["format"] == "savedmodel":
            import tensorflow

            self.tf = tensorflow
        spec = {
            "model": "mlp",
            "style": self.param_values["style"],
            "regularization": "none",
            "features": self.param_values["features"],
            "hidden": self.param_values["hidden"],
            "classes": 10,
            "batch_size": 4,
        }
        self.spec = spec
        self.model = keras_models.build_model(keras, spec)
        self.probe, _ = keras_models.make_data(spec, self.seed + 1)
        self.folder = files.scratch_dir("harness-keras-ckpt-")
        self.path = (
            self.folder
            / {"keras": "model.keras", "weights": "model.weights.h5", "savedmodel": "savedmodel"}[
                self.param_values["format"]
            ]
        )
        if self.param_values["format"] == "weights":
            self.target = keras_models.build_model(keras, spec)  # loaded into, never trained
        self.loaded: Any = None

    def step(self, mark: Mark) -> None:
        fmt = self.param_values["format"]
        if fmt == "keras":
            self.model.save(self.path)
        elif fmt == "weights":
            self.model.save_weights(self.path)
        else:
            files.remove(self.path)
            self.model.export(str(self.path), verbose=False)
        if self.path.is_dir():
            files.fsync_tree(self.path)
        else:
            files.fsync_path(self.path)
        mark("save")
        self.evict_and_check()
        mark(UNTIMED)  # eviction and its check belong to neither phase
        if fmt == "keras":
            self.loaded = self.keras.models.load_model(self.path)
        elif fmt == "weights":
            self.target.load_weights(self.path)
            self.loaded = self.target
        else:
            self.loaded = self.tf.saved_model.load(str(self.path))
        mark("load")

    def synchronize(self) -> None:
        synchronize_backend(self.keras.backend.backend(), self.device, None)

    def check_after_measure(self) -> None:
        import numpy as np

        to_numpy = self.keras.ops.convert_to_numpy
        expected = to_numpy(self.model(self.probe, training=False))
        if self.param_values["format"] == "savedmodel":
            got = np.asarray(self.loaded.serve(self.probe))
        else:
            got = to_numpy(self.loaded(self.probe, training=False))
        if not np.array_equal(expected, got):
            diff = float(np.max(np.abs(expected - got)))
            raise WorkloadError(f"the reloaded model's outputs differ (max |diff| {diff:g})")
        self.round_trip_equal = True

    def parameter_count(self) -> int:
        return int(self.model.count_params())

    def runtime_info(self) -> dict[str, Any]:
        return keras_runtime_info(self.keras.backend.backend())
