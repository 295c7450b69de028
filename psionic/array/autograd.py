"""The autodiff tape: grad mode, graph nodes, and the reverse-mode engine.

Each op applied to a tensor that requires grad leaves a ``Node`` on its
output: the op, its input tensors and attributes, and a weak reference back to
the output (the output holds the node; a strong reference would make a cycle).
``run_backward`` walks the nodes from a root in reverse topological order and
returns the gradient of every leaf it reaches.

>>> from psionic.array import tensor
>>> x = tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward(); x.grad.tolist()
[2.0, 4.0]
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psionic.array.ops import OpDef

if TYPE_CHECKING:
    from psionic.array.tensor import Tensor


class _GradMode:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


GRAD = _GradMode()


def is_grad_enabled() -> bool:
    return GRAD.enabled


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    previous = GRAD.enabled
    GRAD.enabled = enabled
    try:
        yield
    finally:
        GRAD.enabled = previous


def no_grad() -> Any:
    """Context manager: ops record no graph (inference, optimizer updates)."""
    return set_grad_enabled(False)


def enable_grad() -> Any:
    return set_grad_enabled(True)


@dataclass(slots=True, eq=False)
class Node:
    """How one tensor was made (mutable only in that it is created after its output)."""

    op: OpDef
    inputs: tuple[Tensor, ...]
    attrs: dict[str, Any]
    out_ref: weakref.ReferenceType[Tensor]

    def out(self) -> Tensor:
        out = self.out_ref()
        assert out is not None, "a node is reached only through its live output"
        return out


def _topological(root: Tensor, stop: frozenset[int]) -> list[Tensor]:
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is not None and id(t) not in stop:
            for inp in node.inputs:
                if inp.requires_grad and id(inp) not in seen:
                    stack.append((inp, False))
    return order  # inputs before outputs


def run_backward(
    root: Tensor, seed: Tensor, create_graph: bool = False, stop: frozenset[int] = frozenset()
) -> dict[int, tuple[Tensor, Tensor]]:
    """Gradients of ``root`` (weighted by ``seed``) for every leaf reached: ``{id: (leaf, grad)}``.

    Tensors whose id is in ``stop`` count as leaves even if they have a node
    (the inputs of a nested ``grad``). With ``create_graph`` the gradient
    computation is itself recorded, so the result can be differentiated again.
    """
    grads: dict[int, Tensor] = {id(root): seed}
    leaves: dict[int, tuple[Tensor, Tensor]] = {}
    with set_grad_enabled(create_graph):
        for t in reversed(_topological(root, stop)):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            node = t._node
            if node is None or id(t) in stop:
                leaves[id(t)] = (t, g)
                continue
            assert node.op.vjp is not None
            for inp, ig in zip(node.inputs, node.op.vjp(node, g), strict=True):
                if ig is None or not inp.requires_grad:
                    continue
                prev = grads.get(id(inp))
                grads[id(inp)] = ig if prev is None else prev + ig
    return leaves
