"""PyTorch training steps: ``loss.backward()`` and ``optimizer.step()``, phase by phase.

* ``torch.mlp``: flattened 28×28 inputs through hidden layers to classes;
* ``torch.cnn``: a small CNN on 3×H×W images.

Phases: ``forward`` (model + loss), ``backward`` (``loss.backward()``), ``update``
(``optimizer.step()`` and ``zero_grad``). On CUDA the phase boundaries are CUDA events with one
synchronize per block, and host dispatch time per phase is kept as ``host_samples``.
"""

from __future__ import annotations

import itertools
from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from workloads.torch_common import COMPILE_PARAM, TF32_PARAM, TorchModelStep, configure_torch

COMMON = (
    Param("batch_size", "int", 128, "samples per step", minimum=1),
    Param("classes", "int", 10, "output classes", minimum=2),
    Param(
        "loss",
        "str",
        "cross_entropy",
        "cross_entropy, or mse on one-hot targets",
        choices=("cross_entropy", "mse"),
    ),
    Param("optimizer", "str", "sgd", "sgd or adam", choices=("sgd", "adam")),
    Param("lr", "float", 0.01, "learning rate", minimum=0),
    Param(
        "dtype",
        "str",
        "float32",
        "float32, or bfloat16 autocast (torch.autocast on the CPU or CUDA)",
        choices=("float32", "bfloat16"),
    ),
    TF32_PARAM,
    COMPILE_PARAM,
)


class _TorchStep(TorchModelStep):
    def setup(self) -> None:
        torch = configure_torch(self, tf32=self.param_values["tf32"])
        self.torch = torch
        self.model = self.build_model(torch).to(self.device)
        x, labels = self.make_batch(torch)
        self.x = x.to(self.device)
        self.labels = labels.to(self.device)
        if self.param_values["loss"] == "mse":
            self.target = torch.nn.functional.one_hot(
                self.labels, self.param_values["classes"]
            ).float()
            self.loss_fn = torch.nn.MSELoss()
        else:
            self.target = self.labels
            self.loss_fn = torch.nn.CrossEntropyLoss()
        if self.param_values["optimizer"] == "adam":
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.param_values["lr"])
        else:
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.param_values["lr"])
        self.forward_model = self.model
        if self.param_values["compile"]:
            self.forward_model = torch.compile(self.model)
        self.loss = torch.zeros(())
        self.compiles_at_start: int | None = None

    def build_model(self, torch: Any) -> Any:
        raise NotImplementedError

    def make_batch(self, torch: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def loss_of(self, model: Any) -> Any:
        torch = self.torch
        if self.param_values["dtype"] == "bfloat16":
            with torch.autocast(self.device, dtype=torch.bfloat16):
                return self.loss_fn(model(self.x).float(), self.target)
        return self.loss_fn(model(self.x), self.target)

    # --- recompiles and peak memory -------------------------------------------------------
    def on_measure_start(self) -> None:
        if self.param_values["compile"]:
            self.compiles_at_start = self._frames_compiled()
        if self.device == "cuda":
            self.torch.cuda.reset_peak_memory_stats()

    def _frames_compiled(self) -> int:
        from torch._dynamo.utils import counters

        return int(counters["stats"].get("unique_graphs", 0))

    def check_after_measure(self) -> None:
        if self.compiles_at_start is not None:
            now = self._frames_compiled()
            if now != self.compiles_at_start:
                raise WorkloadError(
                    f"torch.compile recompiled during the measured blocks "
                    f"({now - self.compiles_at_start} new graph(s)); the measurement mixes "
                    "compile time into step time. Fix the shapes/dtypes that change."
                )

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flops_per_step": self.flops_per_step(),
            **self.counted_per_phase(),
            "final_loss": float(self.loss),
            "parameters": sum(p.numel() for p in self.model.parameters()),
        }
        if self.device == "cuda":
            out["peak_gpu_memory_bytes"] = int(self.torch.cuda.max_memory_allocated())
        return out

    def flops_per_step(self) -> int:
        """The step's FLOPs: the sum of ``counted_per_phase``'s, the one count that
        ``achieved_gflops`` and the verdicts both use."""
        return int(sum(self.counted_per_phase()["flops_per_phase"].values()))

    def layer_macs(self) -> list[int]:
        raise NotImplementedError

    def layer_tensors(self) -> list[tuple[int, int, int]]:
        """(input, weight, output) elements of each layer, for the bytes a phase moves."""
        raise NotImplementedError

    def counted_per_phase(self) -> dict[str, Any]:
        """FLOPs (analytic) and bytes moved (an estimate: each layer's input, weight and output
        read or written once forward, about twice that backward; the optimizer reads weights
        and gradients and writes weights) per phase, for the roofline and the verdicts."""
        # analytic: 2·MACs forward; backward = weight grads + input grads (none for layer 1)
        macs = self.layer_macs()
        params = sum(p.numel() for p in self.model.parameters())
        width = 2 if self.param_values["dtype"] == "bfloat16" else 4
        moved = sum(sum(layer) for layer in self.layer_tensors()) * width
        state = 3 if self.param_values["optimizer"] == "sgd" else 7  # Adam: two moments in, out
        return {
            "flops_per_phase": {
                "forward": 2 * sum(macs),
                "backward": 2 * sum(macs) + 2 * sum(macs[1:]),
                "update": (2 if self.param_values["optimizer"] == "sgd" else 10) * params,
            },
            "bytes_per_phase": {
                "forward": moved,
                "backward": 2 * moved,
                "update": state * params * 4,
            },
            "bytes_method": "analytic estimate: tensors read or written once per layer",
        }


class TorchMLPStep(_TorchStep):
    name = "torch.mlp"
    description = "MLP on flattened 28×28 inputs; MSE or cross-entropy; SGD or Adam."
    params = (
        *COMMON,
        Param("features", "int", 784, "input features (28×28)", minimum=1),
        Param("hidden", "ints", (256, 128), "hidden widths, like 256x128"),
    )

    def widths(self) -> list[int]:
        return [
            self.param_values["features"],
            *self.param_values["hidden"],
            self.param_values["classes"],
        ]

    def build_model(self, torch: Any) -> Any:
        layers: list[Any] = []
        widths = self.widths()
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            layers.append(torch.nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers)

    def make_batch(self, torch: Any) -> tuple[Any, Any]:
        generator = torch.Generator().manual_seed(self.seed)
        x = torch.randn(
            self.param_values["batch_size"], self.param_values["features"], generator=generator
        )
        labels = torch.randint(
            0, self.param_values["classes"], (self.param_values["batch_size"],), generator=generator
        )
        return x, labels

    def layer_macs(self) -> list[int]:
        widths = self.widths()
        return [self.param_values["batch_size"] * a * b for a, b in itertools.pairwise(widths)]

    def layer_tensors(self) -> list[tuple[int, int, int]]:
        n = self.param_values["batch_size"]
        return [(n * a, a * b, n * b) for a, b in itertools.pairwise(self.widths())]


class TorchCNNStep(_TorchStep):
    name = "torch.cnn"
    description = "Small CNN (conv-ReLU-pool ×2, linear) on 3×H×W images."
    params = (
        *COMMON,
        Param("image_size", "int", 32, "image height and width", minimum=8),
        Param("channels", "ints", (16, 32), "conv widths, like 16x32"),
        Param("channels_last", "bool", False, "channels_last memory format"),
    )

    @property
    def side(self) -> int:
        """The model's input height and width."""
        return int(self.param_values["image_size"])

    def build_model(self, torch: Any) -> Any:
        nn = torch.nn
        c1, c2 = ([*list(self.param_values["channels"]), 32, 32])[:2]
        side = self.side // 4
        model = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * side * side, self.param_values["classes"]),
        )
        if self.param_values["channels_last"]:
            model = model.to(memory_format=torch.channels_last)
        return model

    def make_batch(self, torch: Any) -> tuple[Any, Any]:
        generator = torch.Generator().manual_seed(self.seed)
        size = self.side
        x = torch.randn(self.param_values["batch_size"], 3, size, size, generator=generator)
        if self.param_values["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        labels = torch.randint(
            0, self.param_values["classes"], (self.param_values["batch_size"],), generator=generator
        )
        return x, labels

    def layer_macs(self) -> list[int]:
        n, s = self.param_values["batch_size"], self.side
        c1, c2 = ([*list(self.param_values["channels"]), 32, 32])[:2]
        return [
            n * c1 * s * s * 3 * 9,
            n * c2 * (s // 2) ** 2 * c1 * 9,
            n * c2 * (s // 4) ** 2 * self.param_values["classes"],
        ]

    def layer_tensors(self) -> list[tuple[int, int, int]]:
        n, s = self.param_values["batch_size"], self.side
        c1, c2 = ([*list(self.param_values["channels"]), 32, 32])[:2]
        flat = c2 * (s // 4) ** 2
        return [
            (n * 3 * s * s, c1 * 3 * 9, n * c1 * s * s),
            (n * c1 * (s // 2) ** 2, c2 * c1 * 9, n * c2 * (s // 2) ** 2),
            (n * flat, flat * self.param_values["classes"], n * self.param_values["classes"]),
        ]
