"""The record every backend's matmul takes: a 2-D weight matrix in its stored format.

A ``QuantMatrix`` is a GGUF weight tensor as it lies in the file: ``N`` rows
(output features) of ``K`` columns (input features), each row stored as
``K / block_size`` blocks of ``type_size`` bytes. ``data`` is a ``(N,
row_bytes)`` uint8 view, usually zero-copy onto a memory-mapped file; float
formats may instead pass their typed ``(N, K)`` array, which is viewed as
bytes without copying. The record keeps a read-only view of ``data``: weights
are never written through it (and kernels compile once, for read-only input).

>>> import numpy as np
>>> from psionic.core.dtypes import DType
>>> w = QuantMatrix.from_array(DType.get("q8_0"), np.zeros((4, 34 * 2), np.uint8))
>>> w.shape, w.row_bytes
((4, 64), 68)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch, UnsupportedQuantType


@dataclass(frozen=True, slots=True)
class QuantMatrix:
    """A ``(rows, cols)`` weight matrix stored as ``rows`` rows of packed blocks."""

    dtype: DType
    shape: tuple[int, int]  # (N rows = output features, K cols = input features)
    data: np.ndarray  # uint8, (N, row_bytes), C-contiguous

    def __post_init__(self) -> None:
        rows, cols = self.shape
        if self.dtype.kind not in ("quant", "float"):
            raise UnsupportedQuantType(
                f"{self.dtype.name} is not a weight storage format", dtype=self.dtype.name
            )
        if rows < 0 or cols <= 0 or cols % self.dtype.block_size:
            raise TensorShapeMismatch(
                f"{self.dtype.name} matrix of shape {self.shape}: columns must be a positive "
                f"multiple of the block size {self.dtype.block_size}",
                dtype=self.dtype.name, shape=list(self.shape),
            )
        expect = (rows, cols // self.dtype.block_size * self.dtype.type_size)
        if self.data.dtype != np.uint8 or self.data.shape != expect:
            raise TensorShapeMismatch(
                f"{self.dtype.name} matrix of shape {self.shape} needs uint8 data of shape "
                f"{expect}, got {self.data.dtype} {self.data.shape}",
                dtype=self.dtype.name, shape=list(self.shape), data_shape=list(self.data.shape),
            )
        if not self.data.flags.c_contiguous:
            raise TensorShapeMismatch(
                "matrix data must be C-contiguous rows", dtype=self.dtype.name
            )
        if self.data.flags.writeable:
            view = self.data.view()
            view.flags.writeable = False
            object.__setattr__(self, "data", view)  # frozen record: set once, here

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return self.shape[1]

    @property
    def row_bytes(self) -> int:
        return int(self.data.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    @classmethod
    def from_array(cls, dtype: DType, data: np.ndarray) -> QuantMatrix:
        """Wrap packed bytes ``(N, row_bytes)`` or a typed float array ``(N, K)``, without copying.

        Float formats accept their numpy dtype (f32, f16, or ml_dtypes bfloat16); any
        format accepts uint8 bytes, whose column count then fixes ``K``.
        """
        if data.ndim != 2:
            raise TensorShapeMismatch(
                f"a weight matrix is 2-D, got shape {data.shape}", shape=list(data.shape)
            )
        if data.dtype == np.uint8:
            if data.shape[1] % dtype.type_size:
                raise TensorShapeMismatch(
                    f"{data.shape[1]} bytes per row is not a whole number of {dtype.name} "
                    f"blocks of {dtype.type_size} bytes",
                    dtype=dtype.name, shape=list(data.shape),
                )
            cols = data.shape[1] // dtype.type_size * dtype.block_size
            return cls(dtype, (int(data.shape[0]), int(cols)), data)
        if dtype.numpy is None or data.dtype != dtype.numpy:
            raise TensorShapeMismatch(
                f"{dtype.name} matrix given as a {data.dtype} array; pass uint8 bytes",
                dtype=dtype.name, array_dtype=str(data.dtype),
            )
        rows, cols = (int(s) for s in data.shape)
        if not data.flags.c_contiguous:
            raise TensorShapeMismatch("matrix data must be C-contiguous rows", dtype=dtype.name)
        return cls(dtype, (rows, cols), data.view(np.uint8).reshape(rows, cols * dtype.itemsize))
