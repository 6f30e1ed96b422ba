"""Parameter counts and training FLOPs of the real models, framework-free (plain Python).

Convention everywhere: a fused multiply-add is 2 FLOPs; only matrix products and convolutions
count (biases, normalisation, activations, softmax and the loss are left out, as
``torch.utils.flop_counter.FlopCounterMode`` leaves them out); recomputation is not counted
(this is *model* FLOPs, the numerator of MFU as PaLM defines it).

Training FLOPs per step = forward + backward, the backward being twice the forward (one product
for the input gradients, one for the weight gradients), except where an input needs no
gradient (the images entering a ResNet's first convolution).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the GPT-2 family decoder -------------------------------------------------------------------


@dataclass(frozen=True)
class GPTShape:
    """One decoder size: ``layers`` pre-LayerNorm blocks of width ``d_model`` with ``heads``
    attention heads, ``seq_len`` positions and a ``vocab``-token embedding tied to the LM head."""

    layers: int
    d_model: int
    heads: int
    seq_len: int
    vocab: int

    def parameters(self) -> int:
        """Trainable parameters: token (V·d) and position (S·d) embeddings; per block two
        LayerNorms (2·2d), the q/k/v and output projections with biases (4d² + 4d) and the 4×
        MLP with biases (8d² + 5d); the final LayerNorm (2d); the LM head shares the token
        embedding (GPT-2's weight tying), so it adds none. GPT-2 small (12, 768, 12, 1024,
        50257) gives 124,439,808."""
        d = self.d_model
        block = 12 * d * d + 13 * d
        return self.vocab * d + self.seq_len * d + self.layers * block + 2 * d

    def matmul_parameters(self) -> int:
        """The parameters that multiply activations: 12·L·d² in the blocks plus the d·V LM head
        (embeddings are looked up, not multiplied; biases and norms are not products)."""
        return 12 * self.layers * self.d_model**2 + self.d_model * self.vocab

    def forward_flops_per_token(self) -> int:
        """2·N (N = ``matmul_parameters``) plus the attention scores and the weighted sum of
        values, 2·2·L·S·d per token, counted over the full S×S square as PaLM and
        FlopCounterMode do (the causal mask does not halve it).

        Source: Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1
        (C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn, with the de-embedding's 2·d·V in N here);
        Chowdhery et al. 2022, "PaLM", Appendix B (6N + 12·L·H·Q·T per token for training)."""
        return 2 * self.matmul_parameters() + 4 * self.layers * self.seq_len * self.d_model

    def train_flops_per_step(self, batch_size: int) -> int:
        """3 × the forward per token (backward = 2 × forward) × tokens per step
        (``batch_size`` · ``seq_len``): 6N + 12·L·S·d per token (PaLM, Appendix B)."""
        return 3 * self.forward_flops_per_token() * batch_size * self.seq_len


def gpt_tokens(batch_size: int, seq_len: int, vocab: int, seed: int):  # -> numpy array
    """The training batch every framework sees: seeded uniform random token ids, shape
    (batch_size, seq_len + 1), int32; inputs are ``[:, :-1]``, next-token targets ``[:, 1:]``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (batch_size, seq_len + 1)).astype("int32")


#: The initialisation both frameworks use: every weight matrix and both embeddings drawn from
#: N(0, 0.02²), biases zero, LayerNorm scale one and shift zero (GPT-2's scheme without the
#: 1/√(2L) scaling of the residual projections, which Keras' MultiHeadAttention cannot take
#: for its output projection alone).
INIT_STD = 0.02
LAYER_NORM_EPS = 1e-5


# --- ResNet-50 ----------------------------------------------------------------------------------

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (width, blocks, first stride)
EXPANSION = 4


def _out(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def resnet50_conv_macs(image_size: int, classes: int, stride_on: str = "3x3") -> list[int]:
    """Multiply-adds per image of each convolution and of the classifier, in order.

    ``stride_on``: where a stage's down-sampling stride sits in its first bottleneck: on the
    3×3 convolution (torchvision's ResNet-50, "v1.5") or on the first 1×1 (Keras'
    ``applications.ResNet50``, the original paper's "v1"); v1.5 costs more multiply-adds at
    the same size because its 3×3 runs at the higher resolution. Source: He et al. 2016,
    "Deep Residual Learning", Table 1 (3.8 G multiply-adds for v1 at 224 px, which
    counts one multiply-add as one FLOP)."""
    if stride_on not in ("3x3", "1x1"):
        raise ValueError(f"stride_on must be '3x3' or '1x1', not {stride_on!r}")
    side = _out(image_size, 7, 2, 3)
    macs = [side * side * 3 * 64 * 49]
    side = _out(side, 3, 2, 1)  # max pool
    channels = 64
    for width, blocks, first_stride in STAGES:
        for block in range(blocks):
            stride = first_stride if block == 0 else 1
            out_side = _out(side, 1, stride, 0)
            first_side = out_side if stride_on == "1x1" else side
            macs.append(first_side * first_side * channels * width)  # 1×1 reduce
            macs.append(out_side * out_side * width * width * 9)  # 3×3
            macs.append(out_side * out_side * width * width * EXPANSION)  # 1×1 expand
            if block == 0:
                macs.append(out_side * out_side * channels * width * EXPANSION)  # projection
            channels, side = width * EXPANSION, out_side
    macs.append(channels * classes)
    return macs


def resnet50_train_flops_per_step(
    image_size: int, classes: int, batch_size: int, stride_on: str = "3x3"
) -> int:
    """2 FLOPs per multiply-add; forward once, backward twice, minus the input gradients of
    the first convolution (the images need none)."""
    macs = resnet50_conv_macs(image_size, classes, stride_on)
    return batch_size * 2 * (3 * sum(macs) - macs[0])


def resnet50_parameters(classes: int, conv_bias: bool) -> int:
    """Trainable parameters of ResNet-50 with ``classes`` outputs: convolutions, BatchNorm scale
    and shift, classifier with bias; ``conv_bias``: every convolution also carries a bias (Keras'
    ``applications.ResNet50``; torchvision's has none). torchvision at 1000 classes:
    25,557,032; Keras: 25,583,592 (+ 26,560 biases: 53,120 non-trainable BatchNorm moving
    statistics come on top in Keras' ``count_params``)."""
    convs: list[tuple[int, int, int]] = [(3, 64, 49)]
    norms = [64]
    channels = 64
    for width, blocks, _ in STAGES:
        for block in range(blocks):
            convs += [(channels, width, 1), (width, width, 9), (width, width * EXPANSION, 1)]
            norms += [width, width, width * EXPANSION]
            if block == 0:
                convs.append((channels, width * EXPANSION, 1))
                norms.append(width * EXPANSION)
            channels = width * EXPANSION
    weights = sum(cin * cout * k for cin, cout, k in convs)
    biases = sum(cout for _, cout, _ in convs) if conv_bias else 0
    return weights + biases + 2 * sum(norms) + channels * classes + classes
