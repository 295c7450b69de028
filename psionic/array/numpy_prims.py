"""The cpu backend's array primitives: numpy, the deterministic reference.

Every primitive takes raw arrays (and attributes by keyword) and returns a raw
array; nothing here knows about tensors or gradients. The torch backend
(``psionic.backends.torch_backend``) provides the same names over torch tensors.

>>> import numpy as np
>>> PRIMS["softmax"](np.zeros((1, 4), np.float32), axis=-1).tolist()
[[0.25, 0.25, 0.25, 0.25]]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
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


def _blas_ready(x: np.ndarray) -> np.ndarray:
    """``x`` if its matrices are row- or column-contiguous (BLAS takes them as they are), else a
    C-contiguous copy: numpy's matmul falls back to a slow loop for other strides."""
    if x.ndim < 2 or x.flags.c_contiguous or x.swapaxes(-1, -2).flags.c_contiguous:
        return x
    return np.ascontiguousarray(x)


class _Threads:
    """How many threads the cpu backend's matmul splits its work over (fixed, so results
    are reproducible: each output row is always computed by the same single-thread product)."""

    def __init__(self) -> None:
        self.count = max(1, int(os.environ.get("PSIONIC_NUM_THREADS", os.cpu_count() or 1)))
        self._pool: ThreadPoolExecutor | None = None

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pool._max_workers != self.count:
            self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="psionic-matmul")
        return self._pool


THREADS = _Threads()
_SPLIT_FLOPS = 1 << 22  # products smaller than this run on the calling thread


def set_num_threads(n: int) -> None:
    THREADS.count = max(1, int(n))


@cache
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _split_axis0(a: np.ndarray, b: np.ndarray, out_shape: tuple[int, ...]) -> bool:
    """Whether rows (2-D) or batch entries (leading axis) of ``a`` map to the output's axis 0."""
    if a.ndim == 2:
        return b.ndim == 2
    return a.ndim == len(out_shape) and (b.ndim < a.ndim or b.shape[0] == a.shape[0])


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` with BLAS held to one thread per product, the work split over ``THREADS``.

    BLAS's own threads wake and join on every call and spin while they wait: on
    small or batched products, and on a busy machine, that costs more than the
    product. Instead the output's leading axis is cut into one block per thread,
    each block a single-thread product written in place (into ``out`` when given).
    """
    a, b = _blas_ready(a), _blas_ready(b)
    with _blas().limit(limits=1, user_api="blas"):
        n = THREADS.count
        if n == 1 or a.ndim < 2 or b.ndim < 2:
            return np.matmul(a, b, out=out)
        out_shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        flops = 2 * a.shape[-2] * a.shape[-1] * b.shape[-1] * int(np.prod(out_shape[:-2]))
        if flops < _SPLIT_FLOPS or out_shape[0] < n or not _split_axis0(a, b, out_shape):
            return np.matmul(a, b, out=out)
        if out is None:
            out = np.empty(out_shape, np.result_type(a, b))
        bounds = np.linspace(0, out_shape[0], n + 1).astype(int)
        batched_b = b.ndim == a.ndim and a.ndim > 2
        jobs = [
            THREADS.pool().submit(np.matmul, a[lo:hi], b[lo:hi] if batched_b else b, out=out[lo:hi])
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        for job in jobs:
            job.result()
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
        out += flat[:, start:stop] @ get_rows(weight, np.arange(start, stop))
    return out.reshape(*g.shape[:-1], weight.cols)


def _quant_rows(ids: np.ndarray, weight: Any) -> np.ndarray:
    from psionic.backends.cpu.matmul import get_rows

    return get_rows(weight, ids.reshape(-1)).reshape(*ids.shape, weight.cols)


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
    "matmul": _matmul,
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
