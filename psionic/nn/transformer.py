"""Trainable transformer blocks on Tensors: dropout, MLP and GLU, causal self-attention
with RoPE, grouped-query heads and a KV cache.

These take batched Tensors (B, T, C). With a ``KVCache`` the attention appends
each call's keys and values and attends over everything cached, so generation
runs one token at a time over the same weights used for training.

>>> import numpy as np, psionic.array as pa
>>> attn = CausalSelfAttention(16, n_heads=4, rng=np.random.default_rng(0))
>>> x = pa.randn((1, 5, 16), seed=1)
>>> full = attn(x)
>>> cache = KVCache()
>>> steps = [attn(x[:, t:t + 1], cache=cache) for t in range(5)]
>>> bool(np.allclose(pa.concat(steps, 1).numpy(), full.numpy(), atol=1e-5))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from psionic.array import Tensor, concat
from psionic.nn import functional as F
from psionic.nn import tensor_ops as T
from psionic.nn.layers import Linear
from psionic.nn.module import Module


class Dropout(Module):
    """Zeroes elements with probability ``p`` while training; the identity in eval mode."""

    def __init__(self, p: float, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def forward(self, x: Tensor) -> Tensor:
        return T.dropout(x, self.p, self.rng) if self.training else x


class MLP(Module):
    """down(act(up(x))): the classic feed-forward (GELU by default)."""

    def __init__(self, d_model: int, d_ff: int, rng: np.random.Generator, bias: bool = True,
                 activation: str = "gelu_tanh") -> None:
        super().__init__()
        self.up = Linear.create(d_model, d_ff, rng, bias)
        self.down = Linear.create(d_ff, d_model, rng, bias)
        self.act = T.ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))


class GLU(Module):
    """down(act(gate(x)) * up(x)): the gated feed-forward of the decoder families."""

    def __init__(self, d_model: int, d_ff: int, rng: np.random.Generator,
                 activation: str = "silu") -> None:
        super().__init__()
        self.gate = Linear.create(d_model, d_ff, rng, bias=False)
        self.up = Linear.create(d_model, d_ff, rng, bias=False)
        self.down = Linear.create(d_ff, d_model, rng, bias=False)
        self.act = T.ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.gate(x)) * self.up(x))


@dataclass(slots=True)
class KVCache:
    """Keys and values seen so far, (B, S, Hkv, D) each (mutable: it grows by appending)."""

    keys: list[Tensor] = field(default_factory=list)
    values: list[Tensor] = field(default_factory=list)
    length: int = 0

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.keys = [concat([*self.keys, k.detach()], 1)]
        self.values = [concat([*self.values, v.detach()], 1)]
        self.length = self.keys[0].shape[1]
        return self.keys[0], self.values[0]


class CausalSelfAttention(Module):
    """Multi-head causal attention with RoPE on q and k; ``n_kv_heads`` < ``n_heads`` shares kv."""

    def __init__(self, d_model: int, n_heads: int, rng: np.random.Generator,
                 n_kv_heads: int | None = None, rope_base: float = 10000.0, bias: bool = False,
                 neox: bool = True) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads or n_heads
        self.head_dim = d_model // n_heads
        kv_dim = self.n_kv_heads * self.head_dim
        self.q_proj = Linear.create(d_model, d_model, rng, bias)
        self.k_proj = Linear.create(d_model, kv_dim, rng, bias)
        self.v_proj = Linear.create(d_model, kv_dim, rng, bias)
        self.o_proj = Linear.create(d_model, d_model, rng, bias)
        self.freqs = F.rope_frequencies(self.head_dim, rope_base)
        self.neox = neox

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        b, t, _ = x.shape
        start = cache.length if cache is not None else 0
        positions = np.arange(start, start + t)
        q = self.q_proj(x).reshape(b, t, self.n_heads, self.head_dim)
        k = self.k_proj(x).reshape(b, t, self.n_kv_heads, self.head_dim)
        v = self.v_proj(x).reshape(b, t, self.n_kv_heads, self.head_dim)
        q = T.apply_rope(q, positions, self.freqs, self.neox)
        k = T.apply_rope(k, positions, self.freqs, self.neox)
        if cache is not None:
            k, v = cache.append(k, v)
        out = T.attention(q, k, v, start, self.head_dim ** -0.5)  # (B, T, H, D)
        return self.o_proj(out.reshape(b, t, self.n_heads * self.head_dim))
