"""The cpu backend's array primitives: numpy, the deterministic reference.

Every primitive takes raw arrays (and attributes by keyword) and returns a raw
array; nothing here knows about tensors or gradients. The torch backend
(``psionic.backends.torch_backend``) provides the same names over torch tensors.

>>> import numpy as np
>>> PRIMS["softmax"](np.zeros((1, 4), np.float32), axis=-1).tolist()
[[0.25, 0.25, 0.25, 0.25]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.core.dtypes import DType

Prim = Callable[..., Any]


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive argument only, so neither branch overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sum(x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype))


def _max(x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    return np.asarray(np.max(x, axis=axis, keepdims=keepdims))


def _getitem(x: np.ndarray, index: tuple[Any, ...]) -> np.ndarray:
    return np.asarray(x[index])


def _getitem_grad(g: np.ndarray, index: tuple[Any, ...], shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    out[index] = g
    return out


def _take(x: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    return np.take(x, idx, axis=axis)


def _take_grad(g: np.ndarray, idx: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    moved = np.moveaxis(out, axis, 0)
    g_moved = np.moveaxis(g, tuple(range(axis, axis + idx.ndim)), tuple(range(idx.ndim)))
    np.add.at(moved, idx.reshape(-1), g_moved.reshape(idx.size, *moved.shape[1:]))
    return out


def _gather(x: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    return np.take_along_axis(x, idx, axis=axis)


def _gather_grad(g: np.ndarray, idx: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis % len(shape)] = idx
    np.add.at(out, tuple(grid), g)
    return out


def _where(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(cond, a, b)


def _cast(x: np.ndarray, dtype: DType) -> np.ndarray:
    return x.astype(dtype.numpy, copy=False)


PRIMS: dict[str, Prim] = {
    # elementwise, unary
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "abs": np.abs,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "sign": np.sign,
    # elementwise, binary
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_not": np.logical_not,
    "where": _where,
    "cast": _cast,
    # reductions
    "sum": _sum,
    "max": _max,
    "argmax": lambda x, axis: np.argmax(x, axis=axis),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    # movement
    "reshape": lambda x, shape: np.reshape(x, shape),
    "permute": lambda x, axes: np.transpose(x, axes),
    "expand": lambda x, shape: np.broadcast_to(x, shape),
    "getitem": _getitem,
    "getitem_grad": _getitem_grad,
    "take": _take,
    "take_grad": _take_grad,
    "gather": _gather,
    "gather_grad": _gather_grad,
    "concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    # contraction
    "matmul": np.matmul,
}


def asarray(data: Any, dtype: DType | None) -> np.ndarray:
    """A numpy array from nested lists, scalars or arrays, of ``dtype`` when given."""
    if dtype is None:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and not isinstance(data, np.ndarray):
            arr = arr.astype(np.float32)  # Python floats default to f32, as in torch
        return arr
    return np.asarray(data, dtype=dtype.numpy)


def to_numpy(x: np.ndarray) -> np.ndarray:
    return x


def shape_of(x: np.ndarray) -> tuple[int, ...]:
    return x.shape
