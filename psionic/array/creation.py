"""Making tensors: from data, filled, ranges and seeded random draws.

Random tensors draw from a numpy ``Generator`` (pass ``rng`` or a ``seed``) on
the host and move to the backend, so every backend sees the same numbers.

>>> zeros((2, 3)).shape, ones(2, dtype="i64").dtype.name
((2, 3), 'i64')
>>> randn((2,), seed=0).tolist() == randn((2,), seed=0).tolist()
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.array.tensor import Tensor, as_dtype
from psionic.core.dtypes import DType


def tensor(data: Any, dtype: DType | str | None = None, requires_grad: bool = False,
           backend: str = "cpu") -> Tensor:
    """A tensor holding ``data`` (nested lists, scalars, numpy arrays); Python floats give f32."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, backend=backend)


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def full(shape: int | tuple[int, ...], value: float, dtype: DType | str = "f32",
         requires_grad: bool = False, backend: str = "cpu") -> Tensor:
    dt = as_dtype(dtype)
    return tensor(np.full(_shape(shape), value, dt.numpy), dt, requires_grad, backend)


def zeros(shape: int | tuple[int, ...], dtype: DType | str = "f32", requires_grad: bool = False,
          backend: str = "cpu") -> Tensor:
    return full(shape, 0, dtype, requires_grad, backend)


def ones(shape: int | tuple[int, ...], dtype: DType | str = "f32", requires_grad: bool = False,
         backend: str = "cpu") -> Tensor:
    return full(shape, 1, dtype, requires_grad, backend)


def zeros_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(x.shape, x.dtype, requires_grad, x.backend)


def ones_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(x.shape, x.dtype, requires_grad, x.backend)


def arange(start: int, stop: int | None = None, step: int = 1, dtype: DType | str = "i64",
           backend: str = "cpu") -> Tensor:
    if stop is None:
        start, stop = 0, start
    dt = as_dtype(dtype)
    return tensor(np.arange(start, stop, step, dtype=dt.numpy), dt, backend=backend)


def _generator(rng: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(seed)


def randn(shape: int | tuple[int, ...], dtype: DType | str = "f32", requires_grad: bool = False,
          backend: str = "cpu", rng: np.random.Generator | None = None, seed: int | None = None) -> Tensor:
    """Standard normal draws."""
    dt = as_dtype(dtype)
    data = _generator(rng, seed).standard_normal(_shape(shape), dtype=np.float32).astype(dt.numpy)
    return tensor(data, dt, requires_grad, backend)


def rand(shape: int | tuple[int, ...], dtype: DType | str = "f32", requires_grad: bool = False,
         backend: str = "cpu", rng: np.random.Generator | None = None, seed: int | None = None) -> Tensor:
    """Uniform draws in [0, 1)."""
    dt = as_dtype(dtype)
    data = _generator(rng, seed).random(_shape(shape), dtype=np.float32).astype(dt.numpy)
    return tensor(data, dt, requires_grad, backend)
