"""Gradient rules: the vector-Jacobian product of every differentiable op.

Each rule receives the op's ``Node`` (inputs, attributes, output) and the
gradient of the output, and returns one gradient per input (None where an
input gets none). Rules use Tensor operations only, so a gradient can be
differentiated again. Broadcasting is undone by ``sum_to``.

>>> from psionic.array import tensor
>>> sum_to(tensor([[1.0, 2.0], [3.0, 4.0]]), (1, 2)).tolist()
[[4.0, 6.0]]
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from psionic.array.autograd import GRAD, Node
from psionic.array.backend import get_array_backend
from psionic.array.numpy_prims import GELU_A, GELU_C
from psionic.array.ops import OPS, op_rule, register_op
from psionic.array.tensor import TRACE, Tensor, apply, where
from psionic.core.errors import UnsupportedOperation

Grads = tuple[Tensor | None, ...]


def sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` down to ``shape``, undoing numpy broadcasting."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return (g.sum(axes, keepdims=True) if axes else g).reshape(shape)


def _needs(node: Node, i: int) -> bool:
    return node.inputs[i].requires_grad


# --- elementwise, unary ------------------------------------------------------------------


@op_rule("neg", "elementwise")
def _neg(n: Node, g: Tensor) -> Grads:
    return (-g,)


@op_rule("exp", "elementwise")
def _exp(n: Node, g: Tensor) -> Grads:
    return (g * n.out(),)


@op_rule("log", "elementwise")
def _log(n: Node, g: Tensor) -> Grads:
    return (g / n.inputs[0],)


@op_rule("sqrt", "elementwise")
def _sqrt(n: Node, g: Tensor) -> Grads:
    return (g * 0.5 / n.out(),)


@op_rule("tanh", "elementwise")
def _tanh(n: Node, g: Tensor) -> Grads:
    y = n.out()
    return (g * (1.0 - y * y),)


@op_rule("sigmoid", "elementwise")
def _sigmoid(n: Node, g: Tensor) -> Grads:
    y = n.out()
    return (g * y * (1.0 - y),)


@op_rule("relu", "elementwise")
def _relu(n: Node, g: Tensor) -> Grads:
    return (where(n.inputs[0] > 0, g, 0.0),)


@op_rule("abs", "elementwise")
def _abs(n: Node, g: Tensor) -> Grads:
    return (g * n.inputs[0].sign(),)


@op_rule("sin", "elementwise")
def _sin(n: Node, g: Tensor) -> Grads:
    return (g * n.inputs[0].cos(),)


@op_rule("cos", "elementwise")
def _cos(n: Node, g: Tensor) -> Grads:
    return (-(g * n.inputs[0].sin()),)


def gelu_tanh_composite(x: Tensor) -> Tensor:
    """The tanh-approximated GELU written with primitive ops (the fused op's reference)."""
    return 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x * x * x)).tanh())


@op_rule("gelu_tanh", "elementwise")
def _gelu_tanh(n: Node, g: Tensor) -> Grads:
    x = n.inputs[0]
    if GRAD.enabled:  # a gradient that must itself be differentiable: go through the tape
        _, (gx,) = _vjp_of(gelu_tanh_composite, x, g)
        return (gx,)
    return (apply("gelu_tanh_grad", x, g),)


register_op("gelu_tanh_grad", "elementwise")


def normalize_composite(x: Tensor, eps: float, center: bool) -> Tensor:
    """``normalize`` written with primitive ops (the fused op's reference)."""
    xc = x - x.mean(-1, keepdims=True) if center else x
    return xc * ((xc * xc).mean(-1, keepdims=True) + eps).rsqrt()


@op_rule("normalize", "reduce")
def _normalize(n: Node, g: Tensor) -> Grads:
    x = n.inputs[0]
    eps, center = n.attrs["eps"], n.attrs["center"]
    if GRAD.enabled:
        _, (gx,) = _vjp_of(lambda t: normalize_composite(t, eps, center), x, g)
        return (gx,)
    return (apply("normalize_grad", x, g, eps=eps, center=center),)


register_op("normalize_grad", "reduce")


def _vjp_of(fn: Any, x: Tensor, g: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
    from psionic.array.transforms import vjp

    out, back = vjp(fn, x)
    return out, back(g)


@op_rule("cast", "elementwise")
def _cast(n: Node, g: Tensor) -> Grads:
    return (g.cast(n.inputs[0].dtype),)


# --- elementwise, binary -------------------------------------------------------------------


@op_rule("add", "elementwise")
def _add(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return sum_to(g, a.shape), sum_to(g, b.shape)


@op_rule("sub", "elementwise")
def _sub(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return sum_to(g, a.shape), (sum_to(-g, b.shape) if b.requires_grad else None)


@op_rule("mul", "elementwise")
def _mul(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return (
        sum_to(g * b, a.shape) if a.requires_grad else None,
        sum_to(g * a, b.shape) if b.requires_grad else None,
    )


@op_rule("div", "elementwise")
def _div(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return (
        sum_to(g / b, a.shape) if a.requires_grad else None,
        sum_to(-(g * a) / (b * b), b.shape) if b.requires_grad else None,
    )


@op_rule("pow", "elementwise")
def _pow(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return (
        sum_to(g * b * a ** (b - 1.0), a.shape) if a.requires_grad else None,
        sum_to(g * n.out() * a.log(), b.shape) if b.requires_grad else None,
    )


def _select_grad(n: Node, g: Tensor, first: bool) -> Tensor:
    # Ties split the gradient evenly between the two operands.
    a, b = n.inputs
    mine, other = (a, b) if first else (b, a)
    win = where(mine == other, g * 0.5, g)
    return sum_to(where(mine == n.out(), win, 0.0), mine.shape)


@op_rule("maximum", "elementwise")
def _maximum(n: Node, g: Tensor) -> Grads:
    return (
        _select_grad(n, g, True) if _needs(n, 0) else None,
        _select_grad(n, g, False) if _needs(n, 1) else None,
    )


@op_rule("minimum", "elementwise")
def _minimum(n: Node, g: Tensor) -> Grads:
    return _maximum(n, g)


@op_rule("where", "elementwise")
def _where(n: Node, g: Tensor) -> Grads:
    cond, a, b = n.inputs
    return (
        None,
        sum_to(where(cond, g, 0.0), a.shape) if a.requires_grad else None,
        sum_to(where(cond, 0.0, g), b.shape) if b.requires_grad else None,
    )


for _name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_not", "sign"):
    register_op(_name, "compare" if _name != "sign" else "elementwise")


# --- reductions -----------------------------------------------------------------------------


def _keep(g: Tensor, n: Node) -> Tensor:
    """``g`` reshaped as if the reduction had kept its axes."""
    x = n.inputs[0]
    if n.attrs["keepdims"]:
        return g
    axes = n.attrs["axis"]
    shape = tuple(1 if axes is None or i in axes else s for i, s in enumerate(x.shape))
    return g.reshape(shape)


@op_rule("sum", "reduce")
def _sum(n: Node, g: Tensor) -> Grads:
    return (_keep(g, n).expand(n.inputs[0].shape),)


@op_rule("max", "reduce")
def _max(n: Node, g: Tensor) -> Grads:
    x = n.inputs[0]
    axes = n.attrs["axis"]
    hit = (x == _keep(n.out(), n)).cast(g.dtype)
    count = hit.sum(axes, keepdims=True)
    return (hit * (_keep(g, n) / count),)


register_op("argmax", "reduce")


@op_rule("softmax", "reduce")
def _softmax(n: Node, g: Tensor) -> Grads:
    y = n.out()
    return (y * (g - (g * y).sum(n.attrs["axis"], keepdims=True)),)


@op_rule("log_softmax", "reduce")
def _log_softmax(n: Node, g: Tensor) -> Grads:
    return (g - n.out().exp() * g.sum(n.attrs["axis"], keepdims=True),)


# --- movement and indexing ----------------------------------------------------------------------


@op_rule("reshape", "movement")
def _reshape(n: Node, g: Tensor) -> Grads:
    return (g.reshape(n.inputs[0].shape),)


@op_rule("permute", "movement")
def _permute(n: Node, g: Tensor) -> Grads:
    return (g.permute(tuple(int(i) for i in np.argsort(n.attrs["axes"]))),)


@op_rule("expand", "movement")
def _expand(n: Node, g: Tensor) -> Grads:
    return (sum_to(g, n.inputs[0].shape),)


@op_rule("getitem", "movement")
def _getitem(n: Node, g: Tensor) -> Grads:
    return (apply("getitem_grad", g, index=n.attrs["index"], shape=n.inputs[0].shape),)


@op_rule("getitem_grad", "movement")
def _getitem_grad(n: Node, g: Tensor) -> Grads:
    return (apply("getitem", g, index=n.attrs["index"]),)


@op_rule("take", "index")
def _take(n: Node, g: Tensor) -> Grads:
    x, idx = n.inputs
    return apply("take_grad", g, idx, axis=n.attrs["axis"], shape=x.shape), None


@op_rule("take_grad", "index")
def _take_grad(n: Node, g: Tensor) -> Grads:
    return apply("take", g, n.inputs[1], axis=n.attrs["axis"]), None


@op_rule("gather", "index")
def _gather(n: Node, g: Tensor) -> Grads:
    x, idx = n.inputs
    return apply("gather_grad", g, idx, axis=n.attrs["axis"], shape=x.shape), None


@op_rule("gather_grad", "index")
def _gather_grad(n: Node, g: Tensor) -> Grads:
    return apply("gather", g, n.inputs[1], axis=n.attrs["axis"]), None


@op_rule("concat", "movement")
def _concat(n: Node, g: Tensor) -> Grads:
    axis = n.attrs["axis"]
    out: list[Tensor | None] = []
    at = 0
    for x in n.inputs:
        size = x.shape[axis]
        index = (slice(None),) * axis + (slice(at, at + size),)
        out.append(apply("getitem", g, index=index) if x.requires_grad else None)
        at += size
    return tuple(out)


# --- contraction -------------------------------------------------------------------------------------


@op_rule("matmul", "contract")
def _matmul(n: Node, g: Tensor) -> Grads:
    a, b = n.inputs
    return (
        sum_to(apply("matmul", g, b.mT), a.shape) if a.requires_grad else None,
        sum_to(apply("matmul", a.mT, g), b.shape) if b.requires_grad else None,
    )


@op_rule("quant_matmul", "contract")
def _quant_matmul(n: Node, g: Tensor) -> Grads:
    # The weight is frozen; the input's gradient is g @ W with W decoded block by block.
    return (apply("quant_matmul_t", g, weight=n.attrs["weight"]),)


@op_rule("quant_matmul_t", "contract")
def _quant_matmul_t(n: Node, g: Tensor) -> Grads:
    return (apply("quant_matmul", g, weight=n.attrs["weight"]),)


register_op("quant_rows", "index")  # rows of a frozen quantized table; ids have no gradient


# --- moving between backends ---------------------------------------------------------------------


@op_rule("transfer", "movement")
def _transfer(n: Node, g: Tensor) -> Grads:
    return (transfer(g, n.inputs[0].backend),)


def transfer(x: Tensor, backend: str) -> Tensor:
    """``x`` copied to ``backend``; gradients flow back to ``x``'s backend."""
    if TRACE.hook is not None:
        raise UnsupportedOperation("moving a tensor between backends cannot be traced", op="transfer")
    dest = get_array_backend(backend)
    dest.check_dtype(x.dtype)
    out = Tensor._wrap(dest.asarray(x.numpy(), x.dtype), dest)
    if GRAD.enabled and x.requires_grad:
        out.requires_grad = True
        out._node = Node(OPS["transfer"], (x,), {"backend": backend}, weakref.ref(out))
    return out


def rule_names() -> list[str]:
    return sorted(name for name, op in OPS.items() if op.vjp is not None)


__all__: list[Any] = ["sum_to", "transfer", "rule_names"]
