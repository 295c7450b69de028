"""Functional autodiff: grad, value_and_grad, vjp, jvp, and gradient checkpointing.

The transforms take a Python function of tensors and return a function (or
values), leaving ``.grad`` of the caller's tensors untouched. ``jvp`` is the
transpose of a ``vjp``: the vjp is linear in its cotangent, so differentiating
it with respect to that cotangent gives the Jacobian-vector product.

>>> from psionic.array import tensor
>>> grad(lambda x: (x * x * x).sum())(tensor([2.0])).tolist()
[12.0]
>>> _, t = jvp(lambda x: x.sin(), (tensor([0.0]),), (tensor([3.0]),)); t.tolist()
[3.0]
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from psionic.array.autograd import GRAD, Node, no_grad, run_backward, set_grad_enabled
from psionic.array.ops import OPS, op_rule
from psionic.array.tensor import Tensor
from psionic.core.errors import InvalidInput


def _leaves(args: Sequence[Any], argnums: tuple[int, ...]) -> tuple[list[Any], bool]:
    """The arguments with the differentiated ones made leaves, and whether any was already
    part of an enclosing graph (a nested transform: its result must stay differentiable)."""
    out = list(args)
    nested = False
    for i in argnums:
        if not isinstance(out[i], Tensor):
            raise InvalidInput(f"argument {i} is differentiated but is not a Tensor")
        if out[i].requires_grad and GRAD.enabled:
            nested = True  # keep it: the enclosing transform differentiates through us
        else:
            out[i] = out[i].detach().requires_grad_(True)
    return out, nested


def _grads_of(root: Tensor, seed: Tensor, wrt: Sequence[Tensor], create_graph: bool) -> list[Tensor]:
    stop = frozenset(id(x) for x in wrt)
    found = run_backward(root, seed, create_graph, stop) if root.requires_grad else {}
    result = []
    for x in wrt:
        hit = found.get(id(x))
        result.append(hit[1] if hit is not None else _zeros_like(x))
    return result


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor._wrap(x._backend.asarray(0, x.dtype), x._backend).expand(x.shape) * 1.0


def value_and_grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """``f``'s value and its gradient with respect to the ``argnums`` arguments (``f`` is scalar)."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def wrapped(*args: Any) -> tuple[Tensor, Any]:
        leaves, nested = _leaves(args, nums)
        with set_grad_enabled(True):
            out = f(*leaves)
        if out.numel() != 1:
            raise InvalidInput(f"grad needs a scalar function, got shape {out.shape}")
        seed = out._lift(1.0).expand(out.shape)
        grads = _grads_of(out, seed, [leaves[i] for i in nums], nested)
        value = out if nested else out.detach()
        return value, grads[0] if isinstance(argnums, int) else tuple(grads)

    return wrapped


def grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The gradient function of scalar ``f`` with respect to the ``argnums`` arguments."""
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def vjp(f: Callable[..., Tensor], *primals: Tensor) -> tuple[Tensor, Callable[[Tensor], tuple[Tensor, ...]]]:
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` gives one gradient per primal.

    Under grad mode the returned gradients are themselves differentiable.
    """
    leaves, nested = _leaves(primals, tuple(range(len(primals))))
    with set_grad_enabled(True):
        out = f(*leaves)

    def vjp_fn(cotangent: Tensor) -> tuple[Tensor, ...]:
        if cotangent.shape != out.shape:
            raise InvalidInput(f"cotangent shape {cotangent.shape} != output shape {out.shape}")
        keep = GRAD.enabled and (nested or cotangent.requires_grad)
        return tuple(_grads_of(out, cotangent, leaves, keep))

    return (out if nested else out.detach()), vjp_fn


def jvp(f: Callable[..., Tensor], primals: Sequence[Tensor], tangents: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J @ tangents)``: forward-mode derivative, as the transpose of a vjp."""
    if len(primals) != len(tangents):
        raise InvalidInput("jvp needs one tangent per primal")
    with set_grad_enabled(True):
        out, vjp_fn = vjp(f, *primals)
        u = _zeros_like(out).requires_grad_(True)
        grads = vjp_fn(u)  # linear in u
        total: Tensor | None = None
        for g, t in zip(grads, tangents, strict=True):
            term = (g * t.detach()).sum()
            total = term if total is None else total + term
    assert total is not None
    (tangent_out,) = _grads_of(total, total._lift(1.0), [u], False)
    return out, tangent_out


# --- checkpointing ------------------------------------------------------------------------------


@op_rule("checkpoint", "movement")
def _checkpoint_rule(n: Node, g: Tensor) -> tuple[Tensor | None, ...]:
    fn, n_args = n.attrs["fn"], n.attrs["n_args"]
    args = [x.detach().requires_grad_(x.requires_grad) if x.dtype.is_floating else x
            for x in n.inputs[:n_args]]
    captured = list(n.inputs[n_args:])
    with set_grad_enabled(True):
        out = fn(*args)  # the forward again, this time keeping its graph
    wanted = [x for x in args + captured if x.requires_grad]
    grads = iter(_grads_of(out, g, wanted, GRAD.enabled))
    return tuple(next(grads) if x.requires_grad else None for x in args + captured)


def checkpoint(fn: Callable[..., Tensor], *args: Tensor, captured: Sequence[Tensor] = ()) -> Tensor:
    """``fn(*args)`` without keeping its intermediate tensors; they are recomputed in backward.

    Trades compute for memory: only the inputs and the output stay alive.
    Tensors that ``fn`` reads without taking them as arguments (a module's
    parameters) must be named in ``captured`` to receive their gradients.
    """
    with no_grad():
        raw = fn(*args)
    out = raw.detach()
    inputs = (*args, *captured)
    if GRAD.enabled and any(a.requires_grad for a in inputs):
        out.requires_grad = True
        out._node = Node(OPS["checkpoint"], inputs, {"fn": fn, "n_args": len(args)}, weakref.ref(out))
    return out
