"""PyTorch save/load: ``state_dict`` via torch.save/torch.load(weights_only=True), a full
checkpoint with optimizer state, and safetensors.

Phases: ``save`` (serialize, write, fsync) and ``load`` (read back into tensors; with
``mmap=true`` every byte is touched before the clock stops). With ``cold_read=true`` (default)
the file is evicted from the page cache between save and load, inside the step but in neither
phase (``mark(UNTIMED)``), so ``load`` reads from the disk and ``save`` times the save only. The
reloaded weights must give outputs identical to the original model's: checked after the
measurement, never assumed.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import UNTIMED, Mark
from workloads import checkpoint_files as files
from workloads.torch_common import configure_torch, torch_runtime_info


class TorchCheckpoint(files.CheckpointWorkload):
    name = "torch.checkpoint"
    framework = "torch"
    requires = ("torch",)
    description = "Save and reload an MLP: state_dict, full checkpoint or safetensors."
    params = (
        Param(
            "format",
            "str",
            "state_dict",
            "state_dict, full (with optimizer) or safetensors",
            choices=("state_dict", "full", "safetensors"),
        ),
        Param("hidden", "ints", (1024, 1024), "hidden widths of the MLP saved"),
        Param("features", "int", 784, "input features", minimum=1),
        Param("mmap", "bool", False, "torch.load(mmap=True); every byte touched before stop"),
        Param("cold_read", "bool", True, "evict the file from the page cache before load"),
    )

    def required_modules(self) -> tuple[str, ...]:
        return (
            ("torch", "safetensors") if self.param_values["format"] == "safetensors" else ("torch",)
        )

    def setup(self) -> None:
        torch = configure_torch(self)
        self.torch = torch
        self.safetensors: Any = None
        if self.param_values["format"] == "safetensors":
            try:
                import safetensors.torch
            except ImportError:
                raise WorkloadError("format=safetensors needs the safetensors package") from None
            self.safetensors = safetensors.torch
        if self.param_values["mmap"] and self.param_values["format"] == "safetensors":
            raise WorkloadError("mmap=true applies to torch.load; safetensors maps by itself")
        self.model = self._build_model()
        self.optimizer = torch.optim.Adam(self.model.parameters())
        self.probe = torch.randn(4, self.param_values["features"], device=self.device)
        self.model(self.probe).sum().backward()
        self.optimizer.step()  # the optimizer now has state worth saving
        self.folder = files.scratch_dir("harness-torch-ckpt-")
        suffix = ".safetensors" if self.param_values["format"] == "safetensors" else ".pt"
        self.path = self.folder / f"checkpoint{suffix}"
        self.loaded: Any = None

    def _build_model(self) -> Any:
        torch = self.torch
        widths = [self.param_values["features"], *self.param_values["hidden"], 10]
        layers: list[Any] = []
        for a, b in itertools.pairwise(widths):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1]).to(self.device)

    def _payload(self) -> Any:
        state = self.model.state_dict()
        if self.param_values["format"] == "full":
            return {"model": state, "optimizer": self.optimizer.state_dict(), "step": 1}
        return state

    def step(self, mark: Mark) -> None:
        torch = self.torch
        if self.safetensors is not None:
            self.safetensors.save_file(self._payload(), str(self.path))
            files.fsync_path(self.path)
        else:
            with open(self.path, "wb") as handle:
                torch.save(self._payload(), handle)
                handle.flush()
                os.fsync(handle.fileno())
        mark("save")
        self.evict_and_check()
        mark(UNTIMED)  # eviction and its check belong to neither phase
        if self.safetensors is not None:
            loaded = self.safetensors.load_file(str(self.path), device=self.device)
        else:
            loaded = torch.load(
                self.path,
                weights_only=True,
                mmap=self.param_values["mmap"],
                map_location=self.device,
            )
            if self.param_values["mmap"]:
                self._touch(loaded)
        if self.device == "cuda":
            torch.cuda.synchronize()
        mark("load")
        self.loaded = loaded

    def _touch(self, value: Any) -> None:
        """Read every byte of every tensor of a lazily mapped checkpoint."""
        if isinstance(value, dict):
            for item in value.values():
                self._touch(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._touch(item)
        elif isinstance(value, self.torch.Tensor) and value.numel():
            value.sum()  # reads every element, so every page of the mapping

    def check_after_measure(self) -> None:
        state = self.loaded["model"] if self.param_values["format"] == "full" else self.loaded
        clone = self._build_model()
        clone.load_state_dict(state)
        with self.torch.no_grad():
            if not self.torch.equal(clone(self.probe), self.model(self.probe)):
                raise WorkloadError("the reloaded model's outputs differ from the original's")
        self.round_trip_equal = True

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def runtime_info(self) -> dict[str, Any]:
        return torch_runtime_info(self.device)
