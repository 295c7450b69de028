"""The low-rank update of one projection at inference: ``delta = scale * (x A^T) B^T``.

Both products run on the cpu backend's batch-invariant matmul, so a row's
delta is bit-identical whether it is computed alone or inside any batch, in
any position, next to rows of other adapters: the property that lets one
batched forward serve requests with different adapters and still replay each
one alone. The kernel needs the reduced dimension to be a multiple of 16, so
the rank is padded with zero rows of A and zero columns of B; a zero product
added to an accumulator leaves it unchanged, so the padding changes no bit.

>>> import numpy as np
>>> w = LoRAWeights.create(np.ones((2, 16), np.float32), np.ones((3, 2), np.float32), 0.5)
>>> w.delta(np.ones((1, 16), np.float32)).tolist()
[[16.0, 16.0, 16.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.backends.cpu import matmul as cpu
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch

RANK_MULTIPLE = 16


@dataclass(frozen=True, slots=True)
class LoRAWeights:
    """One projection's adapter: ``a`` (rank, in), ``b`` (out, rank), ``scale``; padded kernel views."""

    a: np.ndarray
    b: np.ndarray
    scale: float
    a_matrix: QuantMatrix  # (padded rank, in)
    b_matrix: QuantMatrix  # (out, padded rank)

    @classmethod
    def create(cls, a: np.ndarray, b: np.ndarray, scale: float) -> LoRAWeights:
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise TensorShapeMismatch(
                f"LoRA A {a.shape} and B {b.shape} must be (rank, in) and (out, rank)",
                a_shape=list(a.shape), b_shape=list(b.shape),
            )
        if a.shape[1] % RANK_MULTIPLE:
            raise TensorShapeMismatch(
                f"LoRA input width {a.shape[1]} is not a multiple of {RANK_MULTIPLE} (the cpu kernels' K)",
                a_shape=list(a.shape),
            )
        rank = a.shape[0]
        padded = -(-rank // RANK_MULTIPLE) * RANK_MULTIPLE
        a_pad = np.zeros((padded, a.shape[1]), np.float32)
        a_pad[:rank] = a
        b_pad = np.zeros((b.shape[0], padded), np.float32)
        b_pad[:, :rank] = b
        f32 = DType.get("f32")
        return cls(a, b, float(scale), QuantMatrix.from_array(f32, a_pad), QuantMatrix.from_array(f32, b_pad))

    @property
    def in_features(self) -> int:
        return int(self.a.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.b.shape[0])

    def delta(self, x: np.ndarray) -> np.ndarray:
        """``scale * (x @ A^T) @ B^T`` for x (M, in) -> (M, out), row by row batch-invariant."""
        down = cpu.matmul(x, self.a_matrix)
        up = cpu.matmul(down, self.b_matrix)
        up *= np.float32(self.scale)
        return up

    def dense(self) -> np.ndarray:
        """The update as a full (out, in) matrix in float64: ``scale * B @ A``."""
        return self.scale * (self.b.astype(np.float64) @ self.a.astype(np.float64))


def reference_delta(x: np.ndarray, a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """The slow, obvious delta in float64 (what the kernel path is tested against)."""
    return scale * ((x.astype(np.float64) @ a.T.astype(np.float64)) @ b.T.astype(np.float64))
