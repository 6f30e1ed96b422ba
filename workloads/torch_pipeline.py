"""PyTorch image input pipeline: a ``Dataset`` decoding JPEGs with Pillow, resize, to tensor,
normalize; ``DataLoader`` with ``num_workers``, batch size and (on CUDA) ``pin_memory``.

One step is one full pass over the dataset, batches copied to the device; images/s is the
end-to-end figure. Workers are persistent, so their start-up is paid in set-up and warm-up,
not in every measured epoch. Compare with ``pillow.decode`` on the same files.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from harness.workload import Mark, Workload
from workloads.image_folder import ensure_dataset, list_images
from workloads.pillow_decode import DATASET_PARAMS
from workloads.torch_common import configure_torch, synchronize_device, torch_runtime_info

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def make_dataset_class(torch: Any) -> Any:
    import numpy as np
    from PIL import Image

    class JpegFolderDataset(torch.utils.data.Dataset):
        def __init__(self, files: list, labels: list, size: int):
            self.files, self.labels, self.size = files, labels, size
            self.mean = torch.tensor(MEAN).view(3, 1, 1)
            self.std = torch.tensor(STD).view(3, 1, 1)

        def __len__(self) -> int:
            return len(self.files)

        def __getitem__(self, index: int) -> tuple[Any, int]:
            with Image.open(self.files[index]) as image:
                rgb = image.convert("RGB").resize((self.size, self.size))
            tensor = torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy())
            tensor = tensor.permute(2, 0, 1).float().div_(255)
            return (tensor - self.mean) / self.std, self.labels[index]

    return JpegFolderDataset


class TorchDataLoader(Workload):
    name = "torch.dataloader"
    workers_param = "num_workers"
    framework = "torch"
    kind = "pipeline"
    phases = ()
    devices = ("cpu", "cuda")
    requires = ("torch",)
    description = "Dataset (Pillow decode, resize, normalize) + DataLoader; one epoch per step."
    params = (
        *DATASET_PARAMS,
        Param("resize", "int", 96, "side the images are resized to", minimum=1),
        Param("batch_size", "int", 32, "images per batch", minimum=1),
        Param("num_workers", "int", 0, "DataLoader worker processes", minimum=0),
        Param("shuffle", "bool", False, "shuffle each epoch (seeded)"),
    )

    def setup(self) -> None:
        torch = configure_torch(self)
        self.torch = torch
        root = ensure_dataset(
            self.param_values["classes"],
            self.param_values["images_per_class"],
            self.param_values["image_size"],
            self.seed,
        )
        self.dataset_dir = root  # the record says where the files were
        files, labels, self.class_names = list_images(root)
        dataset = make_dataset_class(torch)(files, labels, self.param_values["resize"])
        workers = self.param_values["num_workers"]
        self.loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=self.param_values["batch_size"],
            shuffle=self.param_values["shuffle"],
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=self.device == "cuda",
            generator=torch.Generator().manual_seed(self.seed),
        )
        self.count = len(dataset)
        self.last_batch: Any = None

    def step(self, mark: Mark) -> None:
        non_blocking = self.device == "cuda"
        for images, labels in self.loader:
            images = images.to(self.device, non_blocking=non_blocking)
            labels = labels.to(self.device, non_blocking=non_blocking)
            self.last_batch = (images, labels)

    def synchronize(self) -> None:
        synchronize_device(self.device)

    def items_per_step(self) -> int:
        return self.count

    def runtime_info(self) -> dict[str, Any]:
        return torch_runtime_info(self.device)

    def teardown(self) -> None:
        self.loader = None  # persistent workers exit
