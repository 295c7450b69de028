"""Layers used by the model families: Linear, Embedding, RMSNorm, LayerNorm.

Weights may be float arrays or quantized matrices; the matmul and row lookup
dispatch through ``psionic.nn.ops`` so that a backend kernel runs the hot path
and the numpy reference stays beside it. Given a ``Tensor`` instead of an
array, a layer runs its differentiable twin from ``psionic.nn.tensor_ops`` on
its parameters' tensors, so the same layer trains.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.array import Tensor
from psionic.backends.quant_matrix import QuantMatrix
from psionic.nn import functional as F
from psionic.nn import ops
from psionic.nn import tensor_ops as T
from psionic.nn.module import Module, Parameter


def weight_of(param: Parameter) -> Tensor | QuantMatrix:
    """What a layer multiplies by when training: the Tensor, or the frozen quantized matrix."""
    return param.data if isinstance(param.data, QuantMatrix) else param.tensor


class Linear(Module):
    """y = x @ W^T (+ b). ``weight`` is (out_features, in_features)."""

    def __init__(self, weight: Any, bias: np.ndarray | None = None) -> None:
        super().__init__()
        self.weight = Parameter(weight)
        self.bias = Parameter(bias) if bias is not None else None

    @classmethod
    def create(cls, in_features: int, out_features: int, rng: np.random.Generator,
               bias: bool = True) -> Linear:
        """A fresh f32 layer with PyTorch's default initialisation, U(-1/sqrt(in), 1/sqrt(in))."""
        bound = 1.0 / np.sqrt(in_features)
        weight = rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32)
        b = rng.uniform(-bound, bound, out_features).astype(np.float32) if bias else None
        return cls(weight, b)

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, Tensor):
            bias = self.bias.tensor if self.bias is not None else None
            return T.linear(x, weight_of(self.weight), bias)
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
        if isinstance(ids, Tensor):
            return T.embedding(weight_of(self.weight), ids)
        return ops.embed(self.weight.data, ids)


class RMSNorm(Module):
    def __init__(self, weight: np.ndarray, eps: float) -> None:
        super().__init__()
        self.weight = Parameter(np.asarray(weight, dtype=np.float32))
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, Tensor):
            return T.rms_norm(x, self.weight.tensor, self.eps)
        return ops.rms_norm(x, self.weight.data, self.eps)


class LayerNorm(Module):
    """Normalise over the last axis to zero mean and unit variance, then scale and shift."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, eps: float) -> None:
        super().__init__()
        self.weight = Parameter(np.asarray(weight, dtype=np.float32))
        self.bias = Parameter(np.asarray(bias, dtype=np.float32))
        self.eps = eps

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, Tensor):
            return T.layer_norm(x, self.weight.tensor, self.bias.tensor, self.eps)
        return F.layer_norm(x, self.weight.data, self.bias.data, self.eps)
