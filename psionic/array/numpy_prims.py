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

from psionic.array.cpu_parallel import THREADS, parallel_matmul, set_num_threads
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
    grid: list[np.ndarray] = list(np.indices(idx.shape, sparse=True))
    grid[axis % len(shape)] = idx
    np.add.at(out, tuple(grid), g)
    return out


GELU_C = 0.7978845608028654  # sqrt(2 / pi)
GELU_A = 0.044715


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + tanh(c (x + a x^3))), in place after the first temporary."""
    t = x * x
    t *= x.dtype.type(GELU_A)
    t += 1
    t *= x
    t *= x.dtype.type(GELU_C)
    np.tanh(t, out=t)
    t += 1
    t *= x
    t *= x.dtype.type(0.5)
    return t


def _gelu_tanh_grad(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g * d/dx gelu_tanh(x) = g (0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2))."""
    one = x.dtype.type(1)
    x2 = x * x
    inner = x2 * x.dtype.type(GELU_A)
    inner += one
    inner *= x
    inner *= x.dtype.type(GELU_C)
    t = np.tanh(inner, out=inner)
    dt = t * t  # 1 - t^2, built in place below
    np.subtract(one, dt, out=dt)
    x2 *= x.dtype.type(3 * GELU_A)
    x2 += one
    dt *= x2
    dt *= x
    dt *= x.dtype.type(GELU_C)
    t += one
    dt += t
    dt *= x.dtype.type(0.5)
    dt *= g
    return dt


def _normalize(x: np.ndarray, eps: float, center: bool) -> tuple[np.ndarray, np.ndarray]:
    """(x - mean) * rstd over the last axis (without centering for RMS), and rstd."""
    xc = x - x.mean(axis=-1, keepdims=True, dtype=x.dtype) if center else x
    var = np.mean(xc * xc, axis=-1, keepdims=True, dtype=x.dtype)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    return xc * rstd, rstd


def _normalize_grad(x: np.ndarray, g: np.ndarray, eps: float, center: bool) -> np.ndarray:
    """The input gradient of ``_normalize``: rstd (g - mean(g) - xhat mean(g xhat))."""
    xhat, rstd = _normalize(x, eps, center)
    proj = np.mean(g * xhat, axis=-1, keepdims=True, dtype=x.dtype)
    out = xhat * proj
    np.subtract(g, out, out=out)
    if center:
        out -= np.mean(g, axis=-1, keepdims=True, dtype=x.dtype)
    out *= rstd
    return out


def _where(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(cond, a, b)


def _cast(x: np.ndarray, dtype: DType) -> np.ndarray:
    return x.astype(dtype.numpy, copy=False)


# Rows of a quantized weight decoded per block in the transpose product (bounds its memory).
QUANT_ROW_BLOCK = 2048


def _quant_matmul(x: np.ndarray, weight: Any) -> np.ndarray:
    """``x @ W^T`` for a ``QuantMatrix`` W (N, K), by the cpu backend's kernel."""
    from psionic.backends.cpu.matmul import matmul

    flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]), dtype=np.float32)
    return matmul(flat, weight).reshape(*x.shape[:-1], weight.rows)


def _quant_matmul_t(g: np.ndarray, weight: Any) -> np.ndarray:
    """``g @ W`` for a ``QuantMatrix`` W (N, K): W's rows decoded a block at a time, never whole."""
    from psionic.backends.cpu.matmul import get_rows

    flat = g.reshape(-1, weight.rows).astype(np.float32, copy=False)
    out = np.zeros((flat.shape[0], weight.cols), np.float32)
    for start in range(0, weight.rows, QUANT_ROW_BLOCK):
        stop = min(start + QUANT_ROW_BLOCK, weight.rows)
        # The pool's single-thread BLAS blocks: numpy's own threaded product ran 4-6x slower here.
        out += parallel_matmul(flat[:, start:stop], get_rows(weight, np.arange(start, stop)))
    return out.reshape(*g.shape[:-1], weight.cols)


def _quant_rows(ids: np.ndarray, weight: Any) -> np.ndarray:
    from psionic.backends.cpu.matmul import get_rows

    return get_rows(weight, ids.reshape(-1)).reshape(*ids.shape, weight.cols)


# Primitives that take ``out=`` (the runtime writes them into its arena).
ACCEPTS_OUT = frozenset({
    "neg", "exp", "log", "sqrt", "tanh", "sin", "cos", "abs", "add", "sub", "mul", "div", "pow",
    "maximum", "minimum", "matmul",
})

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
    "gelu_tanh": _gelu_tanh,
    "gelu_tanh_grad": _gelu_tanh_grad,
    "normalize": lambda x, eps, center: _normalize(x, eps, center)[0],
    "normalize_grad": _normalize_grad,
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
    "matmul": parallel_matmul,
    "quant_matmul": _quant_matmul,
    "quant_matmul_t": _quant_matmul_t,
    "quant_rows": _quant_rows,
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


__all__ = ["ACCEPTS_OUT", "PRIMS", "THREADS", "asarray", "set_num_threads", "shape_of", "to_numpy"]
