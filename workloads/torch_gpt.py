"""``torch.gpt``: a GPT-2-family decoder trained on next-token cross-entropy, in PyTorch.

Token and learned position embeddings; ``layers`` pre-LayerNorm blocks of causal multi-head
self-attention (``F.scaled_dot_product_attention(is_causal=True)``) and a 4× MLP with tanh-GELU
(GPT-2's); a final LayerNorm; the LM head tied to the token embedding. AdamW (β 0.9/0.999,
ε 1e-8, weight decay 0.01). Data: ``model_flops.gpt_tokens`` (seeded, the same array Keras
gets). Initialisation: ``model_flops.INIT_STD``. ``keras.gpt`` builds the same model: the same
parameter count at every size (a test checks).

Phases: ``forward`` (model + loss), ``backward`` (``loss.backward()``), ``update``
(``optimizer.step()`` + ``zero_grad``). Items = tokens per step (batch_size × seq_len).

Metrics: ``parameters``; ``flops_per_step`` (analytic, ``GPTShape.train_flops_per_step``);
``flops_counter`` (``torch.utils.flop_counter.FlopCounterMode`` over one forward and backward
in set-up, outside the timed region); MFU is stamped on the record by the harness
(``harness/analysis/mfu.py``) against the measured peak of the precision that ran.
"""

from __future__ import annotations

from typing import Any

from harness.errors import WorkloadError
from harness.params import Param
from workloads import model_flops
from workloads.torch_common import (
    COMPILE_PARAM,
    TF32_PARAM,
    TorchModelStep,
    configure_torch,
)

#: the model name workloads of several frameworks share (report: frameworks side by side)
MODEL = "gpt"

GPT_PARAMS = (
    Param("layers", "int", 2, "decoder blocks", minimum=1),
    Param("d_model", "int", 64, "model width", minimum=8),
    Param("heads", "int", 4, "attention heads (d_model must divide by it)", minimum=1),
    Param("seq_len", "int", 64, "tokens per sequence", minimum=2),
    Param("vocab", "int", 256, "vocabulary size", minimum=2),
    Param("batch_size", "int", 8, "sequences per step", minimum=1),
    Param("lr", "float", 3e-4, "AdamW learning rate", minimum=0),
    Param(
        "dtype",
        "str",
        "float32",
        "float32, or bfloat16 autocast (CPU and CUDA)",
        choices=("float32", "bfloat16"),
    ),
)


def gpt_shape(p: dict[str, Any]) -> model_flops.GPTShape:
    if p["d_model"] % p["heads"]:
        raise WorkloadError(f"d_model={p['d_model']} does not divide into heads={p['heads']}")
    return model_flops.GPTShape(p["layers"], p["d_model"], p["heads"], p["seq_len"], p["vocab"])


def build_gpt(torch: Any, shape: model_flops.GPTShape) -> Any:
    """The decoder as a ``torch.nn.Module``: ``model(tokens[B, S]) -> logits[B, S, V]``."""
    nn = torch.nn
    functional = torch.nn.functional
    d, heads = shape.d_model, shape.heads
    eps = model_flops.LAYER_NORM_EPS

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d, eps=eps)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d, eps=eps)
            self.fc = nn.Linear(d, 4 * d)
            self.fc_proj = nn.Linear(4 * d, d)

        def forward(self, x: Any) -> Any:
            batch, seq, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (t.view(batch, seq, heads, d // heads).transpose(1, 2) for t in (q, k, v))
            attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(attended.transpose(1, 2).reshape(batch, seq, d))
            return x + self.fc_proj(functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(shape.vocab, d)
            self.wpe = nn.Embedding(shape.seq_len, d)
            self.blocks = nn.ModuleList(Block() for _ in range(shape.layers))
            self.ln_f = nn.LayerNorm(d, eps=eps)
            self.head = nn.Linear(d, shape.vocab, bias=False)
            self.head.weight = self.wte.weight  # tied, as GPT-2
            for module in self.modules():
                if isinstance(module, nn.Linear | nn.Embedding):
                    nn.init.normal_(module.weight, std=model_flops.INIT_STD)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)

        def forward(self, tokens: Any) -> Any:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
            x = self.wte(tokens) + self.wpe(positions)
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return GPT()


def cpu_attention_formulas(torch: Any) -> dict[Any, Any]:
    """FlopCounterMode formulas for the CPU flash-attention kernels, which its registry lacks
    (it counts the CUDA ones): the same ``sdpa_flop_count`` the CUDA kernels use (the full
    S×S square, causal or not)."""
    from torch.utils import flop_counter

    aten = torch.ops.aten

    def forward(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
        return int(flop_counter.sdpa_flop_count(query, key, value))

    def backward(grad: Any, query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> int:
        return int(flop_counter.sdpa_backward_flop_count(grad, query, key, value))

    found: dict[Any, Any] = {}
    for name, formula in (
        ("_scaled_dot_product_flash_attention_for_cpu", forward),
        ("_scaled_dot_product_flash_attention_for_cpu_backward", backward),
    ):
        if hasattr(aten, name):
            found[getattr(aten, name)] = formula
    return found


class TorchGPTStep(TorchModelStep):
    name = "torch.gpt"
    model_name = MODEL
    description = "GPT-2-family decoder, next-token cross-entropy, AdamW (tokens/s, MFU)."
    params = (
        *GPT_PARAMS,
        TF32_PARAM,
        COMPILE_PARAM,
    )

    def setup(self) -> None:
        torch = configure_torch(self, tf32=self.param_values["tf32"])
        self.torch = torch
        self.shape = gpt_shape(self.param_values)
        self.model = build_gpt(torch, self.shape).to(self.device)
        p = self.param_values
        tokens = torch.from_numpy(
            model_flops.gpt_tokens(p["batch_size"], p["seq_len"], p["vocab"], self.seed)
        ).long()
        self.inputs = tokens[:, :-1].contiguous().to(self.device)
        self.targets = tokens[:, 1:].contiguous().to(self.device)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=self.param_values["lr"], betas=(0.9, 0.999), eps=1e-8,
            weight_decay=0.01,
        )  # fmt: skip
        self.finish_setup(cpu_attention_formulas(torch))

    def loss_of(self, model: Any) -> Any:
        logits = self.run_model(model, self.inputs)
        return self.torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, self.shape.vocab), self.targets.reshape(-1)
        )

    def items_per_step(self) -> int:
        return int(self.param_values["batch_size"] * self.param_values["seq_len"])

    def metrics(self) -> dict[str, Any]:
        flops = self.shape.train_flops_per_step(self.param_values["batch_size"])
        return self.model_metrics(
            flops,
            flops // 3,
            model=MODEL,
            flops_method="analytic 6N + 12·L·S·d per token (PaLM App. B); FMA = 2 FLOPs",
        )
