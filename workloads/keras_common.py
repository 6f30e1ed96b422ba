"""What every Keras workload shares: backend selection, threads, seeds, TF32, device, sync.

Keras 3 reads ``KERAS_BACKEND`` once, at import: each workload runs in its own process, so the
worker sets it in ``setup`` before the first ``import keras``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import Workload

BACKENDS = ("tensorflow", "torch", "jax")

BACKEND_PARAM = Param(
    "backend", "str", "tensorflow", "Keras 3 backend: tensorflow, torch or jax", choices=BACKENDS
)
TF32_PARAM = Param("tf32", "bool", False, "allow TF32 on NVIDIA GPUs; set explicitly")


#: The module each Keras backend imports (checked before set-up; a missing one is a skip).
BACKEND_MODULES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}


def keras_required_modules(workload: Workload) -> tuple[str, ...]:
    backend = workload.param_values.get("backend", "tensorflow")
    return ("keras", BACKEND_MODULES.get(backend, backend))


def configure_keras(workload: Workload, tf32: bool = False) -> Any:
    """Set the backend, device, threads, seeds and TF32 before Keras runs anything."""
    backend = workload.param_values.get("backend", "tensorflow")
    if importlib.util.find_spec(backend) is None:
        raise WorkloadError(f"backend={backend} but the {backend} package is not installed")
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != backend:
        raise WorkloadError(
            f"Keras was already imported with the {loaded.backend.backend()} backend in this "
            f"process; backend={backend} needs a process of its own"
        )
    os.environ["KERAS_BACKEND"] = backend
    threads = workload.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    cuda = workload.device == "cuda"
    if backend == "tensorflow":
        import tensorflow as tf

        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        gpus = tf.config.list_physical_devices("GPU")
        if cuda and not gpus:
            raise WorkloadError("--device cuda was asked for but TensorFlow sees no GPU")
        if not cuda:
            tf.config.set_visible_devices([], "GPU")
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    elif backend == "torch":
        if not cuda:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        import torch

        if threads:
            torch.set_num_threads(threads)
        if cuda and not torch.cuda.is_available():
            raise WorkloadError("--device cuda was asked for but torch sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    else:
        os.environ.setdefault("JAX_PLATFORMS", "cuda" if cuda else "cpu")
        if not tf32:
            os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
    import keras

    if keras.backend.backend() != backend:
        raise WorkloadError(f"Keras loaded backend {keras.backend.backend()}, not {backend}")
    keras.utils.set_random_seed(workload.seed)
    return keras


def keras_runtime_info(backend: str) -> dict[str, Any]:
    import keras

    info: dict[str, Any] = {
        "framework_version": keras.__version__,
        "keras_backend": keras.backend.backend(),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        info.update(
            tensorflow_version=tf.__version__,
            intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
            inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
            tf32=tf.config.experimental.tensor_float_32_execution_enabled(),
            visible_gpus=[d.name for d in tf.config.get_visible_devices("GPU")],
        )
    elif backend == "torch":
        import torch

        info.update(
            torch_version=torch.__version__,
            num_threads=torch.get_num_threads(),
            tf32=torch.backends.cuda.matmul.allow_tf32,
        )
    else:
        import jax

        info.update(jax_version=jax.__version__, jax_devices=[str(d) for d in jax.devices()])
    return info


def read_back(value: Any) -> None:
    """Synchronize by reading a value back to the host: it waits for the ops that made it
    (and, on an in-order device stream, for everything queued before them)."""
    import keras

    keras.ops.convert_to_numpy(value)


def synchronize_backend(backend: str, device: str, last_value: Any) -> None:
    if device != "cuda":
        # TensorFlow and torch run CPU ops synchronously; JAX dispatches asynchronously.
        if backend == "jax" and last_value is not None:
            read_back(last_value)
        return
    if backend == "tensorflow":
        import tensorflow as tf

        tf.test.experimental.sync_devices()
    elif backend == "torch":
        import torch

        torch.cuda.synchronize()
    elif last_value is not None:
        read_back(last_value)
