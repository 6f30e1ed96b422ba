"""``keras.gpt``: the decoder of ``torch.gpt``, built from Keras layers, on the TensorFlow or
torch backend (``backend=``), timed as ``keras.step`` times its steps (TensorFlow: phases
from prefixes of the real step; torch: phases split naturally).

The same model as ``torch.gpt``: token and position ``Embedding``; pre-``LayerNormalization``
blocks of Keras' own ``MultiHeadAttention`` with ``use_causal_mask=True`` (separate q/k/v
kernels with biases: the same parameters as torch's fused q/k/v projection) and a 4× MLP with
tanh-GELU; a final LayerNorm; logits from the token embedding's transpose (tied head). The same
initialisation (``model_flops.INIT_STD``), the same tokens (``model_flops.gpt_tokens``), AdamW
with the same settings. ``dtype=bfloat16``: Keras' ``mixed_bfloat16`` policy (bf16 compute,
float32 variables), the counterpart of torch's autocast; the logits go to float32 for the loss.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from workloads import model_flops
from workloads.keras_common import BACKEND_PARAM, TF32_PARAM, keras_runtime_info
from workloads.keras_train import KerasPhasedStep
from workloads.torch_gpt import GPT_PARAMS, MODEL, gpt_shape


def build_keras_gpt(keras: Any, shape: model_flops.GPTShape) -> Any:
    """The decoder as a built ``keras.Model``: ``model(tokens[B, S]) -> logits[B, S, V]``
    (float32)."""
    layers, ops = keras.layers, keras.ops
    d = shape.d_model
    eps = model_flops.LAYER_NORM_EPS

    def normal() -> Any:
        return keras.initializers.RandomNormal(stddev=model_flops.INIT_STD)

    class Block(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.ln1 = layers.LayerNormalization(epsilon=eps)
            self.attention = layers.MultiHeadAttention(
                shape.heads, d // shape.heads, kernel_initializer=normal()
            )
            self.ln2 = layers.LayerNormalization(epsilon=eps)
            self.fc = layers.Dense(4 * d, kernel_initializer=normal())
            self.fc_proj = layers.Dense(d, kernel_initializer=normal())

        def call(self, x: Any) -> Any:
            normed = self.ln1(x)
            x = x + self.attention(normed, normed, use_causal_mask=True)
            hidden = keras.activations.gelu(self.fc(self.ln2(x)), approximate=True)
            return x + self.fc_proj(hidden)

    class GPT(keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.wte = layers.Embedding(shape.vocab, d, embeddings_initializer=normal())
            self.wpe = layers.Embedding(shape.seq_len, d, embeddings_initializer=normal())
            self.blocks = [Block() for _ in range(shape.layers)]
            self.ln_f = layers.LayerNormalization(epsilon=eps)

        def call(self, tokens: Any, training: bool = False) -> Any:
            x = self.wte(tokens) + self.wpe(ops.arange(ops.shape(tokens)[1]))[None]
            for block in self.blocks:
                x = block(x)
            x = self.ln_f(x)
            logits = ops.matmul(x, ops.transpose(ops.cast(self.wte.embeddings, x.dtype)))
            return ops.cast(logits, "float32")

    model = GPT()
    model(ops.zeros((1, shape.seq_len), dtype="int32"))  # build the weights
    return model


class KerasGPTStep(KerasPhasedStep):
    name = "keras.gpt"
    model_name = MODEL
    description = "The torch.gpt decoder in Keras 3 (TensorFlow or torch backend); AdamW."
    params = (
        *GPT_PARAMS,
        BACKEND_PARAM,
        TF32_PARAM,
        Param("jit_compile", "bool", False, "XLA-compile the step (TensorFlow backend)"),
    )

    def setup(self) -> None:
        keras = self.start_keras()
        self.shape = gpt_shape(self.param_values)
        self.model = build_keras_gpt(keras, self.shape)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.optimizer = keras.optimizers.AdamW(
            learning_rate=self.param_values["lr"],
            weight_decay=0.01,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-8,
        )
        self.last: Any = None
        self.prepare()

    def make_data(self) -> tuple[Any, Any]:
        tokens = model_flops.gpt_tokens(
            self.param_values["batch_size"],
            self.param_values["seq_len"],
            self.param_values["vocab"],
            self.seed,
        )
        return tokens[:, :-1].copy(), tokens[:, 1:].copy()

    def items_per_step(self) -> int:
        return int(self.param_values["batch_size"] * self.param_values["seq_len"])

    def runtime_info(self) -> dict[str, Any]:
        info = keras_runtime_info(self.backend)
        info["dtype_policy"] = self.keras.config.dtype_policy().name
        return info

    def metrics(self) -> dict[str, Any]:
        flops = self.shape.train_flops_per_step(self.param_values["batch_size"])
        return {
            "model": MODEL,
            "parameters": int(self.model.count_params()),
            "flops_per_step": flops,
            "flops_per_phase": {"forward": flops // 3, "backward": flops - flops // 3},
            "flops_method": "analytic 6N + 12·L·S·d per token (PaLM App. B); FMA = 2 FLOPs",
            "final_loss": self.final_loss(),
        }
