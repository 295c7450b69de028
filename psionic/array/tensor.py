"""The eager Tensor: data on one backend, operators that dispatch primitives, a tape for grads.

Every operation goes through ``apply``: look up the op, run the backend's
primitive on the raw arrays, wrap the result, and, when grad mode is on and
an input requires grad, leave a ``Node`` for the backward pass. A tracer (the
``ir`` layer) may watch ``apply`` to record graphs.

>>> from psionic.array import tensor
>>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> y = (x @ x).sum(); y.backward()
>>> x.grad.tolist()
[[7.0, 11.0], [9.0, 13.0]]
"""

from __future__ import annotations

import builtins
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from psionic.array.autograd import GRAD, Node, run_backward
from psionic.array.backend import ArrayBackend, get_array_backend
from psionic.array.ops import OPS
from psionic.core.dtypes import DType
from psionic.core.errors import InvalidInput, UnsupportedOperation

_DTYPE_ALIASES = {
    "float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16",
    "int32": "i32", "int64": "i64", "bool_": "bool",
}


def as_dtype(dtype: DType | str) -> DType:
    """A registered array dtype from a DType or a name (``"f32"``, ``"float32"``, ...)."""
    if isinstance(dtype, DType):
        return dtype
    return DType.get(_DTYPE_ALIASES.get(dtype, dtype))


class _Trace:
    """The hook a tracer installs to watch every op (``psionic.ir.trace``)."""

    __slots__ = ("hook",)

    def __init__(self) -> None:
        self.hook: Callable[[str, tuple[Tensor, ...], dict[str, Any], Tensor], None] | None = None


TRACE = _Trace()


def apply(name: str, *inputs: Tensor, **attrs: Any) -> Tensor:
    """Run op ``name`` on ``inputs`` with ``attrs``; record it for autodiff and tracing."""
    op = OPS[name]
    be = inputs[0]._backend
    for t in inputs[1:]:
        if t._backend is not be:
            raise UnsupportedOperation(
                f"{name}: tensors on backends {be.name} and {t._backend.name}; move one with .to()",
                op=name,
            )
    out = Tensor._wrap(be.prim(name)(*[t._data for t in inputs], **attrs), be)
    if GRAD.enabled and op.vjp is not None:
        for t in inputs:
            if t.requires_grad:
                out.requires_grad = True
                out._node = Node(op, inputs, attrs, weakref.ref(out))
                break
    if TRACE.hook is not None:
        TRACE.hook(name, inputs, attrs, out)
    return out


def _normalize_axis(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim if ndim else 0 for a in axes))


class Tensor:
    """An n-dimensional array on one backend, with optional gradient tracking."""

    __slots__ = ("_data", "_backend", "requires_grad", "grad", "_node", "__weakref__")
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, data: Any, dtype: DType | str | None = None, requires_grad: bool = False,
                 backend: str = "cpu") -> None:
        be = get_array_backend(backend)
        if isinstance(data, Tensor):
            data = data.numpy()
        dt = as_dtype(dtype) if dtype is not None else None
        if dt is not None:
            be.check_dtype(dt)
        self._data = be.asarray(data, dt)
        self._backend = be
        self.grad: Tensor | None = None
        self._node: Node | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, raw: Any, backend: ArrayBackend) -> Tensor:
        t = cls.__new__(cls)
        t._data = raw
        t._backend = backend
        t.requires_grad = False
        t.grad = None
        t._node = None
        return t

    # --- facts ------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    @property
    def dtype(self) -> DType:
        return self._backend.dtype_of(self._data)

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def device(self) -> str:
        return self._backend.device

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def numel(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (a view where the backend allows)."""
        return self._backend.to_numpy(self._data)

    def item(self) -> Any:
        return self.numpy().item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.numpy()!r}, dtype={self.dtype.name}, backend={self.backend}{grad})"

    __hash__ = object.__hash__

    # --- autodiff ---------------------------------------------------------------

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and not self.dtype.is_floating:
            raise InvalidInput(f"only floating tensors can require grad, not {self.dtype.name}")
        self.requires_grad = flag
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self._data, self._backend)

    def backward(self, grad: Tensor | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        if not self.requires_grad:
            raise InvalidInput("backward() on a tensor that does not require grad")
        if grad is None:
            if self.numel() != 1:
                raise InvalidInput(f"backward() without a gradient needs a scalar, not {self.shape}")
            grad = self._lift(1.0).expand(self.shape)
        for leaf, g in run_backward(self, grad, create_graph).values():
            leaf.grad = g if leaf.grad is None else leaf.grad + g

    def to(self, backend: str) -> Tensor:
        """A copy on another backend (differentiable: grads flow back to this backend)."""
        if backend == self.backend:
            return self
        from psionic.array.rules import transfer

        return transfer(self, backend)

    # --- construction helpers ----------------------------------------------------

    def _lift(self, value: Any) -> Tensor:
        """A Python scalar or array as a tensor on this backend, taking this dtype for scalars."""
        if isinstance(value, Tensor):
            return value
        dt = self.dtype
        if isinstance(value, float) and not dt.is_floating:
            dt = as_dtype("f32")
        elif isinstance(value, np.ndarray):
            return Tensor._wrap(self._backend.asarray(value, None), self._backend)
        return Tensor._wrap(self._backend.asarray(value, dt), self._backend)

    # --- arithmetic ---------------------------------------------------------------

    def __add__(self, o: Any) -> Tensor: return apply("add", self, self._lift(o))
    def __radd__(self, o: Any) -> Tensor: return apply("add", self._lift(o), self)
    def __sub__(self, o: Any) -> Tensor: return apply("sub", self, self._lift(o))
    def __rsub__(self, o: Any) -> Tensor: return apply("sub", self._lift(o), self)
    def __mul__(self, o: Any) -> Tensor: return apply("mul", self, self._lift(o))
    def __rmul__(self, o: Any) -> Tensor: return apply("mul", self._lift(o), self)
    def __truediv__(self, o: Any) -> Tensor: return apply("div", self, self._lift(o))
    def __rtruediv__(self, o: Any) -> Tensor: return apply("div", self._lift(o), self)
    def __pow__(self, o: Any) -> Tensor: return apply("pow", self, self._lift(o))
    def __rpow__(self, o: Any) -> Tensor: return apply("pow", self._lift(o), self)
    def __neg__(self) -> Tensor: return apply("neg", self)
    def __matmul__(self, o: Any) -> Tensor: return matmul(self, self._lift(o))
    def __rmatmul__(self, o: Any) -> Tensor: return matmul(self._lift(o), self)

    def __eq__(self, o: Any) -> Tensor: return apply("eq", self, self._lift(o))  # type: ignore[override]
    def __ne__(self, o: Any) -> Tensor: return apply("ne", self, self._lift(o))  # type: ignore[override]
    def __lt__(self, o: Any) -> Tensor: return apply("lt", self, self._lift(o))
    def __le__(self, o: Any) -> Tensor: return apply("le", self, self._lift(o))
    def __gt__(self, o: Any) -> Tensor: return apply("gt", self, self._lift(o))
    def __ge__(self, o: Any) -> Tensor: return apply("ge", self, self._lift(o))
    def __and__(self, o: Any) -> Tensor: return apply("logical_and", self, self._lift(o))
    def __invert__(self) -> Tensor: return apply("logical_not", self)

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise InvalidInput(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    # --- elementwise functions -------------------------------------------------------

    def exp(self) -> Tensor: return apply("exp", self)
    def log(self) -> Tensor: return apply("log", self)
    def sqrt(self) -> Tensor: return apply("sqrt", self)
    def rsqrt(self) -> Tensor: return 1.0 / apply("sqrt", self)
    def tanh(self) -> Tensor: return apply("tanh", self)
    def sigmoid(self) -> Tensor: return apply("sigmoid", self)
    def relu(self) -> Tensor: return apply("relu", self)
    def gelu_tanh(self) -> Tensor: return apply("gelu_tanh", self)
    def abs(self) -> Tensor: return apply("abs", self)
    def sin(self) -> Tensor: return apply("sin", self)
    def cos(self) -> Tensor: return apply("cos", self)
    def sign(self) -> Tensor: return apply("sign", self)
    def square(self) -> Tensor: return self * self

    def maximum(self, o: Any) -> Tensor: return apply("maximum", self, self._lift(o))
    def minimum(self, o: Any) -> Tensor: return apply("minimum", self, self._lift(o))

    def clamp(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        out = self
        if lo is not None:
            out = out.maximum(lo)
        if hi is not None:
            out = out.minimum(hi)
        return out

    def cast(self, dtype: DType | str) -> Tensor:
        dt = as_dtype(dtype)
        if dt == self.dtype:
            return self
        self._backend.check_dtype(dt)
        return apply("cast", self, dtype=dt)

    astype = cast

    def float(self) -> Tensor:
        return self.cast("f32")

    def where(self, cond: Tensor, other: Any) -> Tensor:
        """``self`` where ``cond`` holds, else ``other``."""
        return where(cond, self, other)

    def masked_fill(self, mask: Tensor, value: builtins.float) -> Tensor:
        return where(mask, self._lift(value), self)

    # --- reductions -------------------------------------------------------------------

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply("sum", self, axis=_normalize_axis(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        axes = _normalize_axis(axis, self.ndim)
        n = self.numel() if axes is None else math.prod(self.shape[a] for a in axes)
        return self.sum(axes, keepdims) * (1.0 / max(n, 1))

    def var(self, axis: int | Sequence[int] | None = None, keepdims: bool = False,
            correction: int = 0) -> Tensor:
        axes = _normalize_axis(axis, self.ndim)
        n = self.numel() if axes is None else math.prod(self.shape[a] for a in axes)
        centered = self - self.mean(axes, keepdims=True)
        return (centered * centered).sum(axes, keepdims) * (1.0 / max(n - correction, 1))

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply("max", self, axis=_normalize_axis(axis, self.ndim), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return -((-self).max(axis, keepdims))

    def argmax(self, axis: int = -1) -> Tensor:
        return apply("argmax", self, axis=axis % self.ndim)

    def softmax(self, axis: int = -1) -> Tensor:
        return apply("softmax", self, axis=axis % self.ndim)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply("log_softmax", self, axis=axis % self.ndim)

    def normalize(self, eps: builtins.float, center: bool = True) -> Tensor:
        """Over the last axis: (x - mean) / sqrt(var + eps), or x / sqrt(mean(x^2) + eps)
        without ``center`` (the cores of LayerNorm and RMSNorm)."""
        return apply("normalize", self, eps=float(eps), center=bool(center))

    # --- movement -------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        dims = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        if -1 in dims:
            known = math.prod(d for d in dims if d != -1)
            dims = tuple(self.numel() // max(known, 1) if d == -1 else d for d in dims)
        dims = tuple(int(d) for d in dims)
        if dims == self.shape:
            return self
        if math.prod(dims) != self.numel():
            raise InvalidInput(f"cannot reshape {self.shape} to {dims}")
        return apply("reshape", self, shape=dims)

    view = reshape

    def flatten(self, start: int = 0) -> Tensor:
        return self.reshape(*self.shape[:start], -1)

    def permute(self, *axes: Any) -> Tensor:
        dims = tuple(axes[0]) if len(axes) == 1 and not isinstance(axes[0], int) else axes
        dims = tuple(a % self.ndim for a in dims)
        if dims == tuple(range(self.ndim)):
            return self
        return apply("permute", self, axes=dims)

    def transpose(self, a: int = -2, b: int = -1) -> Tensor:
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(axes)

    @property
    def T(self) -> Tensor:  # noqa: N802  (the conventional name)
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        return self.transpose(-2, -1)

    def unsqueeze(self, axis: int) -> Tensor:
        axis = axis % (self.ndim + 1)
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    def squeeze(self, axis: int | None = None) -> Tensor:
        if axis is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        axis %= self.ndim
        if self.shape[axis] != 1:
            return self
        return self.reshape(*self.shape[:axis], *self.shape[axis + 1:])

    def expand(self, *shape: Any) -> Tensor:
        dims = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        lead = len(dims) - self.ndim
        dims = tuple(self.shape[i - lead] if d == -1 else d for i, d in enumerate(dims))
        if dims == self.shape:
            return self
        return apply("expand", self, shape=tuple(int(d) for d in dims))

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, (Tensor, np.ndarray, list)):
            return self.take(index, 0)
        index = index if isinstance(index, tuple) else (index,)
        for part in index:
            if not (part is None or part is Ellipsis or isinstance(part, (int, slice))):
                raise UnsupportedOperation(
                    f"index part {type(part).__name__}: use int, slice, None, ... or take()/gather()",
                    op="getitem",
                )
        return apply("getitem", self, index=index)

    def _index(self, idx: Any) -> Tensor:
        if isinstance(idx, Tensor):
            return idx
        return Tensor._wrap(self._backend.asarray(np.asarray(idx, dtype=np.int64), None), self._backend)

    def take(self, idx: Any, axis: int = 0) -> Tensor:
        """Select whole slices along ``axis`` by integer ``idx`` of any shape (embedding lookup)."""
        return apply("take", self, self._index(idx), axis=axis % self.ndim)

    def gather(self, idx: Any, axis: int = -1) -> Tensor:
        """``out[..., i, ...] = self[..., idx[..., i, ...], ...]`` along ``axis`` (take_along_axis)."""
        return apply("gather", self, self._index(idx), axis=axis % self.ndim)


# --- functions over several tensors ------------------------------------------------------------


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with numpy's rules: 1-D operands are promoted, batch dims broadcast."""
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return apply("matmul", a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return apply("matmul", a, b.unsqueeze(-1)).squeeze(-1)
    return apply("matmul", a, b)


def where(cond: Tensor, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` holds, else ``b``, broadcasting all three."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise InvalidInput("where() needs at least one tensor among its values")
    return apply("where", cond, like._lift(a), like._lift(b))


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    if not tensors:
        raise InvalidInput("concat() of no tensors")
    return apply("concat", *tensors, axis=axis % tensors[0].ndim)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    if not tensors:
        raise InvalidInput("stack() of no tensors")
    axis = axis % (tensors[0].ndim + 1)
    return concat([t.unsqueeze(axis) for t in tensors], axis)
