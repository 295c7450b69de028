"""A small GPT built from psionic.nn: the model ``psionic bench train`` steps.

Pre-norm blocks (LayerNorm, causal self-attention with RoPE, LayerNorm, GELU
MLP), a final LayerNorm and an output projection tied to the token embedding.

>>> import numpy as np, psionic.array as pa
>>> cfg = GPTConfig(vocab_size=32, n_layers=1, d_model=16, n_heads=2, seq_len=8)
>>> model = GPT(cfg, seed=0)
>>> model(pa.tensor(np.zeros((2, 8), np.int64))).shape
(2, 8, 32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.array import Tensor, checkpoint, is_grad_enabled
from psionic.nn import tensor_ops as T
from psionic.nn.init import normal_
from psionic.nn.layers import Embedding, LayerNorm
from psionic.nn.losses import cross_entropy
from psionic.nn.module import Module, ModuleList
from psionic.nn.transformer import MLP, CausalSelfAttention, KVCache


@dataclass(frozen=True, slots=True)
class GPTConfig:
    vocab_size: int = 4096
    n_layers: int = 6
    d_model: int = 384
    n_heads: int = 6
    seq_len: int = 256
    d_ff: int | None = None  # 4 * d_model when None
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def ff(self) -> int:
        return self.d_ff or 4 * self.d_model


def _norm(d: int, eps: float) -> LayerNorm:
    return LayerNorm(np.ones(d, np.float32), np.zeros(d, np.float32), eps)


class GPTBlock(Module):
    def __init__(self, cfg: GPTConfig, rng: np.random.Generator) -> None:
        super().__init__()
        self.ln1 = _norm(cfg.d_model, cfg.norm_eps)
        self.attn = CausalSelfAttention(cfg.d_model, cfg.n_heads, rng, rope_base=cfg.rope_base)
        self.ln2 = _norm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg.d_model, cfg.ff, rng)

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


class GPT(Module):
    def __init__(self, cfg: GPTConfig, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.config = cfg
        self.tok = Embedding(np.empty((cfg.vocab_size, cfg.d_model), np.float32))
        normal_(self.tok.weight, rng, std=0.02)
        self.blocks = ModuleList([GPTBlock(cfg, rng) for _ in range(cfg.n_layers)])
        self.ln_f = _norm(cfg.d_model, cfg.norm_eps)
        # Recompute each block's activations in backward instead of keeping them.
        self.gradient_checkpointing = False

    def forward(self, ids: Tensor, caches: list[KVCache] | None = None) -> Tensor:
        """Logits (B, T, vocab) for token ids (B, T)."""
        x = self.tok(ids)
        for i, block in enumerate(self.blocks):
            if self.gradient_checkpointing and caches is None and is_grad_enabled():
                params = [p.tensor for p in block.trainable_parameters()]
                x = checkpoint(block, x, captured=params)
            else:
                x = block(x, caches[i] if caches is not None else None)
        return T.linear(self.ln_f(x), self.tok.weight.tensor)  # tied output projection

    def loss(self, ids: Tensor, targets: Tensor) -> Tensor:
        return cross_entropy(self(ids), targets)
