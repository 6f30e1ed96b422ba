"""The decode-only baseline: a plain Pillow loop over the same JPEG files, one process.

Pipelines report images/s beside this figure; their ratio to it (times the workers) shows what
the pipeline machinery costs on top of decoding.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from harness.workload import Mark, Workload
from workloads.image_folder import ensure_dataset, list_images

DATASET_PARAMS = (
    Param("classes", "int", 4, "classes (folders) in the synthetic dataset", minimum=1),
    Param("images_per_class", "int", 64, "images per class in the synthetic dataset", minimum=1),
    Param("image_size", "int", 128, "stored JPEG width and height", minimum=8),
)


class PillowDecode(Workload):
    name = "pillow.decode"
    framework = "pillow"
    kind = "pipeline"
    phases = ()
    description = "Decode every JPEG of the dataset with Pillow in one process (the baseline)."
    params = DATASET_PARAMS
    requires = ("PIL",)

    def setup(self) -> None:
        root = ensure_dataset(
            self.param_values["classes"],
            self.param_values["images_per_class"],
            self.param_values["image_size"],
            self.seed,
        )
        self.dataset_dir = root  # the record says where the files were
        self.files, _, _ = list_images(root)
        from PIL import Image

        self.image_module = Image

    def step(self, mark: Mark) -> None:
        for path in self.files:
            with self.image_module.open(path) as image:
                image.convert("RGB").load()

    def items_per_step(self) -> int:
        return len(self.files)

    def runtime_info(self) -> dict[str, Any]:
        import PIL

        return {"framework_version": PIL.__version__}
