"""The torch backend (optional): array primitives on torch tensors, CPU or CUDA.

It declares the same primitive names as the cpu backend's numpy reference and
the dtypes it holds; torch is imported only when the backend is first used,
and a machine without torch gets a typed ``BackendUnavailable``. The device is
CUDA when one is present (``PSIONIC_TORCH_DEVICE`` overrides), otherwise CPU.

Quantized weights multiply in their packed format through
``psionic.backends.torch_quant`` (decoded per call, a slice of rows at a time).
Inside ``autocast("bf16")`` or ``autocast("f16")`` every product (``matmul``
and the quantized ones, forward and backward) rounds its operands to that
dtype, multiplies there and hands back float32; everything else (norms,
softmax, losses, the parameters) stays float32, as with torch's autocast.

>>> TORCH_BACKEND.name, sorted(TORCH_BACKEND.matmul_dtypes)[:4]
('torch', ['bf16', 'f16', 'f32', 'q4_0'])
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

import ml_dtypes
import numpy as np

from psionic.backends import Backend
from psionic.core.dtypes import DType
from psionic.core.errors import BackendUnavailable, UnsupportedOperation

TORCH_BACKEND: Backend = Backend(
    name="torch",
    device="cuda-or-cpu",
    matmul_dtypes=frozenset({
        "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k",
    }),
    ops_module="psionic.backends.torch_backend",
    precisions=frozenset({"f32", "bf16", "f16"}),
)

# The dtype products run in (None: float32); set by ``autocast``.
COMPUTE: ContextVar[str | None] = ContextVar("torch_compute_dtype", default=None)


@contextmanager
def autocast(precision: str) -> Iterator[None]:
    """Run every product in ``precision`` ("f32", "bf16" or "f16") until the block ends."""
    if precision not in TORCH_BACKEND.precisions:
        raise UnsupportedOperation(
            f"the torch backend has no {precision} compute; it supports "
            + ", ".join(sorted(TORCH_BACKEND.precisions)), backend="torch", precision=precision)
    token = COMPUTE.set(None if precision == "f32" else precision)
    try:
        yield
    finally:
        COMPUTE.reset(token)


def compute_dtype() -> Any:
    """The torch dtype products run in now (None for float32)."""
    name = COMPUTE.get()
    return None if name is None else _dtype_table()[name]

DTYPES = ("f64", "f32", "f16", "bf16", "i32", "i64", "bool")


def available() -> bool:
    return importlib.util.find_spec("torch") is not None


def require_torch() -> Any:
    if not available():
        raise BackendUnavailable(
            "the torch backend needs torch (pip install torch==2.13.0)", backend="torch"
        )
    import torch

    return torch


@cache
def default_device() -> str:
    torch = require_torch()
    wanted = os.environ.get("PSIONIC_TORCH_DEVICE")
    if wanted:
        return wanted
    return "cuda" if torch.cuda.is_available() else "cpu"


@cache
def _dtype_table() -> dict[str, Any]:
    torch = require_torch()
    return {
        "f64": torch.float64, "f32": torch.float32, "f16": torch.float16,
        "bf16": torch.bfloat16, "i32": torch.int32, "i64": torch.int64, "bool": torch.bool,
    }


@cache
def _names_by_torch() -> dict[Any, DType]:
    return {t: DType.get(name) for name, t in _dtype_table().items()}


def torch_dtype(dtype: DType) -> Any:
    return _dtype_table()[dtype.name]


def dtype_of(x: Any) -> DType:
    return _names_by_torch()[x.dtype]


def asarray(data: Any, dtype: DType | None) -> Any:
    """A torch tensor on the backend's device from lists, scalars, numpy arrays or torch tensors."""
    torch = require_torch()
    if isinstance(data, torch.Tensor):
        out = data.to(default_device())
        return out if dtype is None else out.to(torch_dtype(dtype))
    if dtype is None:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and not isinstance(data, np.ndarray):
            arr = arr.astype(np.float32)
    else:
        arr = np.asarray(data, dtype=dtype.numpy)
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        arr = arr.copy()  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    if arr.dtype == ml_dtypes.bfloat16:
        t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(arr)
    return t.to(default_device())


def copy_from_host(x: Any, host: np.ndarray) -> None:
    """Write ``host`` into ``x`` unless ``x`` already is a view of the same memory."""
    if x.device.type == "cpu" and host.size and x.data_ptr() == host.ctypes.data:
        return
    x.copy_(asarray(host, None))


def to_numpy(x: Any) -> np.ndarray:
    torch = require_torch()
    x = x.detach().cpu()
    if x.dtype == torch.bfloat16:
        return x.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return x.numpy()


def _all_dims(x: Any, axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(range(x.dim())) if axis is None else axis


@cache
def array_prims() -> dict[str, Callable[..., Any]]:
    """The primitive table, with the same names and attributes as the numpy reference."""
    torch = require_torch()

    def reduce_sum(x: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
        dims = _all_dims(x, axis)
        return torch.sum(x, dim=dims, keepdim=keepdims) if dims else x.clone()

    def reduce_max(x: Any, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
        dims = _all_dims(x, axis)
        return torch.amax(x, dim=dims, keepdim=keepdims) if dims else x.clone()

    def getitem_grad(g: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
        out = torch.zeros(shape, dtype=g.dtype, device=g.device)
        out[index] = g
        return out

    def take(x: Any, idx: Any, axis: int) -> Any:
        picked = torch.index_select(x, axis, idx.reshape(-1))
        return picked.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1:])

    def take_grad(g: Any, idx: Any, axis: int, shape: tuple[int, ...]) -> Any:
        out = torch.zeros(shape, dtype=g.dtype, device=g.device)
        flat = g.reshape(*shape[:axis], idx.numel(), *shape[axis + 1:])
        return out.index_add_(axis, idx.reshape(-1), flat)

    def gather_grad(g: Any, idx: Any, axis: int, shape: tuple[int, ...]) -> Any:
        out = torch.zeros(shape, dtype=g.dtype, device=g.device)
        return out.scatter_add_(axis, idx, g)

    def gelu_tanh_grad(x: Any, g: Any) -> Any:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (out,) = torch.autograd.grad(torch.nn.functional.gelu(xg, approximate="tanh"), xg, g)
        return out

    def normalize(x: Any, eps: float, center: bool) -> Any:
        xc = x - x.mean(-1, keepdim=True) if center else x
        return xc * torch.rsqrt((xc * xc).mean(-1, keepdim=True) + eps)

    def normalize_grad(x: Any, g: Any, eps: float, center: bool) -> Any:
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (out,) = torch.autograd.grad(normalize(xg, eps, center), xg, g)
        return out

    return {
        "normalize": normalize,
        "normalize_grad": normalize_grad,
        "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
        "gelu_tanh_grad": gelu_tanh_grad,
        "neg": torch.neg, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
        "tanh": torch.tanh, "sin": torch.sin, "cos": torch.cos, "abs": torch.abs,
        "sigmoid": torch.sigmoid, "relu": torch.relu, "sign": torch.sign,
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.true_divide,
        "pow": torch.pow, "maximum": torch.maximum, "minimum": torch.minimum,
        "eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt,
        "ge": torch.ge, "logical_and": torch.logical_and, "logical_not": torch.logical_not,
        "where": torch.where,
        "cast": lambda x, dtype: x.to(torch_dtype(dtype)),
        "sum": reduce_sum, "max": reduce_max,
        "argmax": lambda x, axis: torch.argmax(x, dim=axis),
        "softmax": lambda x, axis: torch.softmax(x, dim=axis),
        "log_softmax": lambda x, axis: torch.log_softmax(x, dim=axis),
        "reshape": lambda x, shape: x.reshape(shape),
        "permute": lambda x, axes: x.permute(axes),
        "expand": lambda x, shape: torch.broadcast_to(x, shape),
        "getitem": lambda x, index: x[index],
        "getitem_grad": getitem_grad,
        "take": take, "take_grad": take_grad,
        "gather": lambda x, idx, axis: torch.gather(x, axis, idx),
        "gather_grad": gather_grad,
        "concat": lambda *xs, axis: torch.cat(xs, dim=axis),
        "matmul": _matmul,
        **_quant_prims(),
    }


def _matmul(a: Any, b: Any) -> Any:
    torch = require_torch()
    dtype = compute_dtype()
    if dtype is None or a.dtype != torch.float32 or b.dtype != torch.float32:
        return torch.matmul(a, b)
    return torch.matmul(a.to(dtype), b.to(dtype)).float()


def _quant_prims() -> dict[str, Callable[..., Any]]:
    from psionic.backends import torch_quant as Q

    return {
        "quant_matmul": lambda x, weight: Q.quant_matmul(x, weight, compute_dtype()),
        "quant_matmul_t": lambda g, weight: Q.quant_matmul_t(g, weight, compute_dtype()),
        "quant_rows": lambda ids, weight: Q.quant_rows(ids, weight),
    }


def matmul(x: np.ndarray, w: Any) -> np.ndarray:
    """``x @ W^T`` for a ``QuantMatrix`` W in any supported format; f32 result on the host."""
    from psionic.backends import torch_quant as Q

    TORCH_BACKEND.check_matmul(w.dtype)
    return to_numpy(Q.quant_matmul(asarray(x, DType.get("f32")), w))
