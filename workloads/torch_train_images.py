"""``torch.train_images``: the learner's training step end to end, from an image folder.

An ImageFolder-style ``Dataset`` (Pillow decode, resize, normalize: the same as
``torch.dataloader``) and a ``DataLoader`` feed the small CNN of ``torch.cnn``. One step is one
batch. Phases: ``data`` (the time the step waits for its batch: the whole decode with
``num_workers=0``, only what the workers have not prepared ahead otherwise; plus the copy to
the device), ``forward``, ``backward``, ``update``. The loader cycles over the dataset; its
workers are persistent, so their start-up is paid in set-up, not in measured steps.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from harness.workload import Mark
from workloads.image_folder import ensure_dataset, list_images
from workloads.pillow_decode import DATASET_PARAMS
from workloads.torch_pipeline import make_dataset_class
from workloads.torch_train import COMMON, TorchCNNStep


class TorchTrainImages(TorchCNNStep):
    name = "torch.train_images"
    description = (
        "Image folder -> Dataset/DataLoader -> CNN step; phases data/forward/backward/update."
    )
    phases = ("data", "forward", "backward", "update")
    workers_param = "num_workers"
    params = (
        # batch_size and classes are declared below and by the dataset (images per class)
        *[p for p in COMMON if p.name not in ("batch_size", "classes")],
        Param("batch_size", "int", 32, "images per step", minimum=1),
        *DATASET_PARAMS,
        Param("resize", "int", 32, "side the images are resized to (the model's input)",
              minimum=8),
        Param("channels", "ints", (16, 32), "conv widths, like 16x32"),
        Param("channels_last", "bool", False, "channels_last memory format"),
        Param("num_workers", "int", 0, "DataLoader worker processes", minimum=0),
        Param("prefetch_factor", "int", 2, "batches each worker prepares ahead", minimum=1),
        Param("pin_memory", "bool", False, "page-locked host batches (faster copies to CUDA)"),
    )  # fmt: skip

    @property
    def side(self) -> int:
        return int(self.param_values["resize"])  # image_size is the stored JPEGs' side

    def setup(self) -> None:
        super().setup()
        torch = self.torch
        root = ensure_dataset(
            self.param_values["classes"],
            self.param_values["images_per_class"],
            self.param_values["image_size"],
            self.seed,
        )
        self.dataset_dir = root  # the record says where the files were
        files, labels, _ = list_images(root)
        dataset = make_dataset_class(torch)(files, labels, self.side)
        workers = self.param_values["num_workers"]
        self.loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=self.param_values["batch_size"],
            shuffle=True,
            drop_last=True,  # every step sees a full batch
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=self.param_values["prefetch_factor"] if workers > 0 else None,
            pin_memory=self.param_values["pin_memory"],
            generator=torch.Generator().manual_seed(self.seed),
        )
        if len(self.loader) == 0:
            raise ValueError(
                f"the dataset has fewer images ({len(dataset)}) than one batch "
                f"({self.param_values['batch_size']}): raise images_per_class or lower batch_size"
            )
        self.batches = iter(self.loader)

    def _next_batch(self) -> tuple[Any, Any]:
        try:
            return next(self.batches)
        except StopIteration:  # an epoch ended: start the next one
            self.batches = iter(self.loader)
            return next(self.batches)

    def step(self, mark: Mark) -> None:
        images, labels = self._next_batch()
        non_blocking = self.param_values["pin_memory"] and self.device == "cuda"
        self.x = images.to(self.device, non_blocking=non_blocking)
        labels = labels.to(self.device, non_blocking=non_blocking)
        if self.param_values["channels_last"]:
            self.x = self.x.contiguous(memory_format=self.torch.channels_last)
        self.target = labels
        if self.param_values["loss"] == "mse":
            self.target = self.torch.nn.functional.one_hot(
                labels, self.param_values["classes"]
            ).float()
        mark("data")
        super().step(mark)

    def make_batch(self, torch: Any) -> tuple[Any, Any]:
        side = self.side
        return torch.zeros(self.param_values["batch_size"], 3, side, side), torch.zeros(
            self.param_values["batch_size"], dtype=torch.long
        )

    def teardown(self) -> None:
        self.batches = None
        self.loader = None  # persistent workers exit
