"""Layers used by the model families: Linear, Embedding, RMSNorm, LayerNorm.

Weights may be float arrays or quantized matrices; the matmul and row lookup
dispatch through ``psionic.nn.ops`` so that a backend kernel runs the hot path
and the numpy reference stays beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.nn import functional as F
from psionic.nn import ops
from psionic.nn.module import Module, Parameter


class Linear(Module):
    """y = x @ W^T (+ b). ``weight`` is (out_features, in_features)."""

    def __init__(self, weight: Any, bias: np.ndarray | None = None) -> None:
        super().__init__()
        self.weight = Parameter(weight)
        self.bias = Parameter(bias) if bias is not None else None

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = ops.linear(x, self.weight.data)
        if self.bias is not None:
            y += self.bias.data
        return y


class Embedding(Module):
    """Row lookup in a (vocab, dim) table, float or quantized."""

    def __init__(self, weight: Any) -> None:
        super().__init__()
        self.weight = Parameter(weight)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        return ops.embed(self.weight.data, ids)


class RMSNorm(Module):
    def __init__(self, weight: np.ndarray, eps: float) -> None:
        super().__init__()
        self.weight = Parameter(np.asarray(weight, dtype=np.float32))
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        return ops.rms_norm(x, self.weight.data, self.eps)


class LayerNorm(Module):
    """Normalise over the last axis to zero mean and unit variance, then scale and shift."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, eps: float) -> None:
        super().__init__()
        self.weight = Parameter(np.asarray(weight, dtype=np.float32))
        self.bias = Parameter(np.asarray(bias, dtype=np.float32))
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        return F.layer_norm(x, self.weight.data, self.bias.data, self.eps)
