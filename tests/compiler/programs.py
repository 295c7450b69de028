"""Small array programs the compiler and runtime tests lower and run (weights are arguments,
so the canonical texts hold no constants that depend on a random generator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psionic.array as pa


def mlp(x: pa.Tensor, w1: pa.Tensor, b1: pa.Tensor, w2: pa.Tensor) -> pa.Tensor:
    h = x @ w1 + b1
    h = 0.5 * h * (1.0 + (0.7978845608 * (h + 0.044715 * h * h * h)).tanh())
    return h @ w2


def layer_norm(x: pa.Tensor, w: pa.Tensor, b: pa.Tensor) -> pa.Tensor:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc * (var + 1e-5).rsqrt() * w + b


def xent_grad(logits: pa.Tensor, onehot: pa.Tensor) -> pa.Tensor:
    return pa.grad(lambda z: -(z.log_softmax(-1) * onehot).sum(-1).mean())(logits)


def attention(q: pa.Tensor, k: pa.Tensor, v: pa.Tensor) -> pa.Tensor:
    t = q.shape[-2]
    mask = pa.tensor([[j > i for j in range(t)] for i in range(t)], backend=q.backend)
    scores = (q @ k.mT) * (q.shape[-1] ** -0.5)
    return scores.masked_fill(mask, float("-inf")).softmax(-1) @ v


def _args(*shapes: tuple[int, ...]) -> Callable[[], list[pa.Tensor]]:
    return lambda: [pa.randn(s, seed=i) for i, s in enumerate(shapes)]


def _onehot() -> list[pa.Tensor]:
    logits = pa.randn((4, 6), seed=0)
    onehot = pa.tensor([[1.0 if j == (3 * i) % 6 else 0.0 for j in range(6)] for i in range(4)])
    return [logits, onehot]


PROGRAMS: dict[str, tuple[Callable[..., Any], Callable[[], list[pa.Tensor]]]] = {
    "mlp": (mlp, _args((4, 8), (8, 16), (16,), (16, 8))),
    "layer_norm": (layer_norm, _args((3, 8), (8,), (8,))),
    "xent_grad": (xent_grad, _onehot),
    "attention": (attention, _args((2, 5, 4), (2, 5, 4), (2, 5, 4))),
}
