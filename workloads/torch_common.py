"""What every PyTorch workload shares: settings, seeding, device sync, CUDA-event phase timing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from harness.workload import UNTIMED, Mark, PhaseTimer, Workload

#: the two switches every PyTorch training step has
TF32_PARAM = Param("tf32", "bool", False, "allow TF32 matmuls/convolutions (CUDA); set explicitly")
COMPILE_PARAM = Param(
    "compile", "bool", False, "torch.compile the model (compile time = first step)"
)


def configure_torch(workload: Workload, tf32: bool = False) -> Any:
    """Import torch, fix threads and seeds, set TF32 explicitly, check the device."""
    import torch

    threads = workload.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if threads:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # already set once in this process
            torch.set_num_interop_threads(1)
    torch.manual_seed(workload.seed)
    if workload.device == "cuda":
        if not torch.cuda.is_available():
            raise WorkloadError("--device cuda was asked for but torch sees no CUDA device")
        torch.cuda.manual_seed_all(workload.seed)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    return torch


def torch_runtime_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "framework_version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "cuda_build": torch.version.cuda,
    }
    if device == "cuda":
        info["device_name"] = torch.cuda.get_device_name()
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def synchronize_device(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


class CudaEventPhaseTimer(PhaseTimer):
    """Phase boundaries as CUDA events recorded on the current stream; one sync per block.

    Device time per phase comes from the events; the host clock at each mark gives the host's
    dispatch time per phase, kept beside it.
    """

    def __init__(self, clock: Callable[[], float]):
        super().__init__(clock, None)
        import torch

        self.torch = torch
        self.events: list[tuple[str, Any]] = []
        self.host: dict[str, float] = {}

    def _event(self) -> Any:
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def start_block(self) -> None:
        self.events = [("", self._event())]
        self.host = {}
        self.previous = self.clock()

    def mark(self, phase: str) -> None:
        self.events.append((phase, self._event()))
        now = self.clock()
        if phase != UNTIMED:
            self.host[phase] = self.host.get(phase, 0.0) + (now - self.previous)
        self.previous = now

    def end_block(self) -> dict[str, float]:
        self.torch.cuda.synchronize()
        totals: dict[str, float] = {}
        for (_, before), (phase, after) in zip(self.events, self.events[1:], strict=False):
            if phase == UNTIMED:
                continue
            totals[phase] = totals.get(phase, 0.0) + before.elapsed_time(after) / 1e3
        return totals

    def host_totals(self) -> dict[str, float]:
        return self.host


class TorchModelStep(Workload):
    """The training step the real PyTorch models share: ``loss_of(model)`` (forward with the
    loss), ``backward``, the optimizer's update; CUDA events on a GPU. Subclasses build
    ``self.model``, ``self.forward_model`` (compiled or not), ``self.optimizer`` and
    ``self.loss`` in ``setup`` and define ``loss_of``."""

    framework = "torch"
    kind = "train_step"
    devices = ("cpu", "cuda")
    requires = ("torch",)

    def loss_of(self, model: Any) -> Any:
        raise NotImplementedError

    def run_model(self, model: Any, inputs: Any) -> Any:
        """``model(inputs)``, under bfloat16 autocast where ``dtype=bfloat16``."""
        torch = self.torch
        if self.param_values["dtype"] == "bfloat16":
            with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16):
                return model(inputs)
        return model(inputs)

    def finish_setup(self, custom_flop_formulas: dict[Any, Any] | None = None) -> None:
        """After the model, data and optimizer are built: count one step's FLOPs, compile the
        model where ``compile=true`` (its compile time is the first step's), zero the loss."""
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False, custom_mapping=custom_flop_formulas)
        with counter:  # one forward and backward; BatchNorm statistics move once
            self.loss_of(self.model).backward()
        self.optimizer.zero_grad(set_to_none=True)
        self.flops_counted = int(counter.get_total_flops())
        torch = self.torch
        self.forward_model = (
            torch.compile(self.model) if self.param_values["compile"] else self.model
        )
        self.loss = torch.zeros(())

    def model_metrics(self, flops: int, forward_flops: int, **facts: Any) -> dict[str, Any]:
        """What every model reports: parameters, analytic FLOPs (per step and phase), the
        counter's FLOPs, the final loss and (CUDA) the peak memory; ``facts`` go first."""
        out: dict[str, Any] = {
            **facts,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "flops_per_step": flops,
            "flops_per_phase": {"forward": forward_flops, "backward": flops - forward_flops},
            "flops_counter": self.flops_counted,
            "final_loss": float(self.loss),
        }
        if self.device == "cuda":
            out["peak_gpu_memory_bytes"] = int(self.torch.cuda.max_memory_allocated())
        return out

    def runtime_info(self) -> dict[str, Any]:
        return torch_runtime_info(self.device)

    def step(self, mark: Mark) -> None:
        loss = self.loss_of(self.forward_model)
        mark("forward")
        loss.backward()
        mark("backward")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        mark("update")
        self.loss = loss.detach()

    def synchronize(self) -> None:
        synchronize_device(self.device)

    def phase_timer(self, clock: Callable[[], float]) -> PhaseTimer:
        if self.device == "cuda":
            return CudaEventPhaseTimer(clock)
        return PhaseTimer(clock, None)

    def loss_value(self) -> float:
        """The last step's loss (read outside the timed blocks: harness.loss_check)."""
        return float(self.loss)
