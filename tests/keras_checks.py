"""Keras checks that run in a fresh process (TensorFlow never shares one with torch).

python -m tests.keras_checks CHECK '{"json": "args"}'   -> prints one JSON line
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _tiny_timer() -> Any:
    from harness.timer import TimerSettings

    return TimerSettings(
        warmup_time=0,
        warmup_max_steps=1,
        min_time=0,
        min_blocks=2,
        max_blocks=2,
        min_block_time=0,
    )


def _make(cls: Any, **params: Any) -> Any:
    values = {p.name: p.default for p in cls.params}
    values.update(params)
    workload = cls(values, "cpu", seed=0, threads=1)
    workload.setup()
    return workload


def styles_train(backend: str = "tensorflow") -> dict[str, Any]:
    """Every style × model builds, runs the phased step and its loss falls."""
    from workloads.keras_train import KerasPhasedStep

    out = {}
    for model in ("mlp", "cnn"):
        for style in ("sequential", "functional", "subclass"):
            w = _make(
                KerasPhasedStep,
                model=model,
                style=style,
                batch_size=32,
                hidden=(32,),
                image_size=16,
                channels=(4, 8),
                lr=0.1,
                backend=backend,
            )
            marks: list[str] = []
            losses = []
            for _ in range(25):
                w.step(marks.append)
                losses.append(w.final_loss())
            if w.has_fused_step:
                w.fused_step()
            out[f"{model}/{style}"] = {
                "first": losses[0],
                "last": losses[-1],
                "marks": marks[:3],
                "class": type(w.model).__name__,
                "keras_backend": w.runtime_info()["keras_backend"],
            }
    return out


def regularization() -> dict[str, Any]:
    from workloads.keras_train import KerasPhasedStep

    out = {}
    for style in ("sequential", "functional", "subclass"):
        for reg in ("none", "l2", "dropout", "batchnorm"):
            w = _make(
                KerasPhasedStep, style=style, regularization=reg, batch_size=8, hidden=(16, 8)
            )
            layers = w.model.layers if style != "subclass" else w.model.stack
            out[f"{style}/{reg}"] = {
                "layers": [type(layer).__name__ for layer in layers],
                "l2": [
                    type(getattr(layer, "kernel_regularizer", None)).__name__
                    for layer in layers
                    if hasattr(layer, "kernel_regularizer")
                ],
                "losses": len(w.model.losses),
            }
    return out


def fit_runs() -> dict[str, Any]:
    from harness.timer import Timer
    from workloads.keras_train import KerasFit

    w = _make(KerasFit, batch_size=16, hidden=(16,), steps_per_call=4, jit_compile=False)
    m = Timer(_tiny_timer()).run(w)
    return {
        "first": m.timing.first_step_s,
        "step": m.samples["step"],
        "items": w.items_per_step(),
        "metrics": {k: v for k, v in w.metrics().items() if k != "layers"},
        "runtime": w.runtime_info(),
    }


def checkpoints(backend: str = "tensorflow") -> dict[str, Any]:
    from harness.timer import Timer
    from workloads.keras_checkpoint import KerasCheckpoint

    formats = (
        ("keras", "weights", "savedmodel") if backend == "tensorflow" else ("keras", "weights")
    )
    out = {}
    for fmt in formats:
        w = _make(KerasCheckpoint, format=fmt, hidden=(16,), features=8, backend=backend)
        m = Timer(_tiny_timer()).run(w)
        out[fmt] = {"phases": sorted(m.samples), **w.metrics()}
        # corrupt the reloaded weights: the check must notice
        try:
            if fmt == "savedmodel":
                import tensorflow as tf

                var = w.loaded.variables[0]
                var.assign(var + tf.ones_like(var))
            else:
                var = w.loaded.trainable_variables[0]
                var.assign(var + 1.0)
            w.check_after_measure()
            out[fmt]["corruption_detected"] = False
        except Exception as error:
            out[fmt]["corruption_detected"] = "differ" in str(error)
        folder = w.folder
        w.teardown()
        out[fmt]["removed"] = not os.path.exists(folder)
    return out


def pipelines() -> dict[str, Any]:
    from workloads.image_folder import ensure_dataset, list_images
    from workloads.tf_pipeline import KerasImageDataset, TfDataPipeline

    out = {}
    expected = list_images(ensure_dataset(3, 4, 24, 0))[1]
    for cls, extra in (
        (KerasImageDataset, {}),
        (TfDataPipeline, {"parallelism": "2"}),
        (TfDataPipeline, {"parallelism": "autotune"}),
    ):
        w = _make(
            cls, classes=3, images_per_class=4, image_size=24, resize=16, batch_size=5, **extra
        )
        shapes, labels = [], []
        for images, batch_labels in w.dataset:
            shapes.append(list(images.shape))
            labels += [int(v) for v in batch_labels.numpy()]
        out[f"{cls.name}/{extra}"] = {
            "shapes": shapes,
            "labels": labels,
            "expected": expected,
            "items": w.items_per_step(),
        }
    return out


def flops_from_layers() -> dict[str, Any]:
    """FLOPs the workload reports against a count taken from the built model's own layers
    (kernel sizes and output shapes), for CNNs of one and two conv layers and an MLP."""
    import keras

    from workloads import keras_models
    from workloads.keras_train import KerasPhasedStep

    out = {}
    for name, params in {
        "cnn-one-conv": {"model": "cnn", "channels": (8,)},
        "cnn-two-convs": {"model": "cnn", "channels": (4, 8)},
        "mlp": {"model": "mlp", "hidden": (16, 8)},
    }.items():
        w = _make(KerasPhasedStep, batch_size=4, image_size=16, **params)
        macs = []
        for layer in w.model.layers:
            if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
                kernel = layer.kernel.shape  # (kh, kw, cin, cout) or (in, out)
                out_positions = 1
                for size in layer.output.shape[1:-1]:
                    out_positions *= size
                per_output = 1
                for size in kernel[:-1]:
                    per_output *= size
                macs.append(4 * out_positions * per_output * kernel[-1])
        expected = 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])
        out[name] = {
            "reported": keras_models.flops_per_step(w.param_values),
            "from_layers": expected,
            "conv_layers": sum(isinstance(x, keras.layers.Conv2D) for x in w.model.layers),
        }
    return out


def energy_step() -> dict[str, Any]:
    """Which tf.functions energy per step runs on keras.step (TensorFlow): a stand-in counter
    (10 W of wall time: this machine has no energy counter) and every call counted."""
    import time

    from harness.machine.energy import Counter
    from harness.worker import energy_per_step
    from workloads.keras_train import KerasPhasedStep

    w = _make(KerasPhasedStep, batch_size=8, hidden=(8,), backend="tensorflow")
    calls = {"forward": 0, "forward_backward": 0, "fused": 0}
    for name in calls:
        original = getattr(w, f"tf_{name}")

        def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] += 1
            return _original(*args)

        setattr(w, f"tf_{name}", counted)
    counter = Counter("stand-in", "nvml-total-energy", "known", lambda: time.perf_counter() * 10)
    found = energy_per_step(w, "cpu", w.items_per_step(), counters=[counter])
    return {"steps": found.get("steps"), "calls": calls, "available": found["available"]}


CHECKS = {
    f.__name__: f
    for f in (
        styles_train,
        regularization,
        fit_runs,
        checkpoints,
        pipelines,
        flops_from_layers,
        energy_step,
    )
}

if __name__ == "__main__":
    result = CHECKS[sys.argv[1]](**json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}"))
    print("RESULT=" + json.dumps(result))
