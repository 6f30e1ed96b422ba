"""Workload definitions. Framework code lives only here, imported inside ``setup``.

``CATALOGUE`` maps each workload's name to the dotted path of its class; the harness imports a
class only when it is listed or run, and the class's module imports its framework lazily.
"""

CATALOGUE: dict[str, str] = {
    # The hand-written NumPy loop (cupy with array_module=cupy).
    "numpy.linreg": "workloads.numpy_train:LinearRegressionStep",
    "numpy.mlp": "workloads.numpy_train:NumpyMLPStep",
    # PyTorch: training steps, checkpoints, the DataLoader pipeline.
    "torch.mlp": "workloads.torch_train:TorchMLPStep",
    "torch.cnn": "workloads.torch_train:TorchCNNStep",
    "torch.checkpoint": "workloads.torch_checkpoint:TorchCheckpoint",
    "torch.dataloader": "workloads.torch_pipeline:TorchDataLoader",
    "torch.train_images": "workloads.torch_train_images:TorchTrainImages",
    # Real models (the same model in PyTorch and Keras: workloads/model_flops.py).
    "torch.gpt": "workloads.torch_gpt:TorchGPTStep",
    "torch.resnet": "workloads.torch_resnet:TorchResNetStep",
    # Keras 3 (tensorflow by default; torch or jax backends with backend=...).
    "keras.fit": "workloads.keras_train:KerasFit",
    "keras.step": "workloads.keras_train:KerasPhasedStep",
    "keras.checkpoint": "workloads.keras_checkpoint:KerasCheckpoint",
    "keras.image_dataset": "workloads.tf_pipeline:KerasImageDataset",
    "keras.train_images": "workloads.keras_train_images:KerasTrainImages",
    "tf.data": "workloads.tf_pipeline:TfDataPipeline",
    "keras.gpt": "workloads.keras_gpt:KerasGPTStep",
    "keras.resnet": "workloads.keras_resnet:KerasResNetStep",
    # The decode-only baseline for the image pipelines.
    "pillow.decode": "workloads.pillow_decode:PillowDecode",
    # A no-op workload: measures the harness's own overhead.
    "harness.noop": "workloads.noop:NoOpStep",
}
