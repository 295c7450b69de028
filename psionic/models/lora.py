"""LoRA adapters on the decoder families, and the decoder's forward on Tensors for training.

``attach_lora`` freezes every weight of a loaded ``DecoderModel`` (quantized
matrices are frozen by nature) and wraps the chosen projections in
``LoRALinear``: ``y = base(x) + (x @ A^T) @ B^T * alpha / r`` with only A and B
trainable. The wrapped layers keep serving numpy inputs, so an adapted model
still decodes through the inference path.

``decoder_logits`` runs the same modules on Tensors: the block arithmetic of
``psionic.models.decoder`` (norms, RoPE, grouped-query causal attention,
gated MLP, Gemma's sandwich norms and soft-capping) written with
``psionic.nn.tensor_ops`` for one sequence at a time, without a KV cache.

>>> import numpy as np
>>> from psionic.nn.layers import Linear
>>> lora = LoRALinear(Linear(np.eye(4, dtype=np.float32)), rank=2, alpha=4.0, rng=np.random.default_rng(0))
>>> bool((lora(np.ones((1, 4), np.float32)) == 1).all())  # B starts at zero
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from psionic.array import Tensor
from psionic.core.errors import InvalidInput
from psionic.models.decoder import Attention, DecoderModel
from psionic.nn import tensor_ops as T
from psionic.nn.layers import Linear
from psionic.nn.losses import cross_entropy
from psionic.nn.module import Module, Parameter

DEFAULT_TARGETS = ("q_proj", "v_proj")


class LoRALinear(Module):
    """A frozen ``Linear`` plus a trainable low-rank update of rank ``rank``."""

    def __init__(self, base: Linear, rank: int, alpha: float, rng: np.random.Generator) -> None:
        super().__init__()
        out_features, in_features = base.weight.shape
        self.base = base
        bound = 1.0 / np.sqrt(in_features)
        self.lora_a = Parameter(rng.uniform(-bound, bound, (rank, in_features)).astype(np.float32))
        self.lora_b = Parameter(np.zeros((out_features, rank), np.float32))
        self.scale = alpha / rank

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = self.base(x)
        if isinstance(x, Tensor):
            down = T.linear(x, self.lora_a.tensor)
            return y + T.linear(down, self.lora_b.tensor) * self.scale
        down = np.asarray(x, np.float32) @ self.lora_a.data.T
        return y + (down @ self.lora_b.data.T) * np.float32(self.scale)


def attach_lora(model: DecoderModel, rank: int = 8, alpha: float = 16.0,
                targets: Sequence[str] = DEFAULT_TARGETS, seed: int = 0) -> list[LoRALinear]:
    """Freeze ``model`` and wrap each attention projection named in ``targets``; returns the adapters."""
    model.freeze()
    rng = np.random.default_rng(seed)
    adapters = []
    for _, module in model.named_modules():
        if not isinstance(module, Attention):
            continue
        for name in targets:
            base = getattr(module, name, None)
            if not isinstance(base, Linear):
                raise InvalidInput(f"no linear projection {name!r} to adapt", target=name)
            adapter = LoRALinear(base, rank, alpha, rng)
            setattr(module, name, adapter)
            adapters.append(adapter)
    return adapters


def decoder_logits(model: DecoderModel, ids: np.ndarray) -> Tensor:
    """Logits (T, vocab) at every position of one sequence of token ids, as a Tensor."""
    return model.sequence_logits(ids)


def next_token_loss(model: DecoderModel, ids: np.ndarray) -> Tensor:
    """Mean cross-entropy of predicting each token from the ones before it."""
    logits = decoder_logits(model, ids)
    return cross_entropy(logits[:-1], Tensor(np.asarray(ids[1:], dtype=np.int64), dtype="i64"))
