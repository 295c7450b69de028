"""The op registry: every primitive a Tensor can run, with its kind and gradient rule.

An ``OpDef`` names a primitive (each backend implements it on raw arrays), says
what kind of op it is (the compiler fuses ``elementwise`` ops) and holds its
vector-Jacobian product, written with Tensor operations so that gradients are
themselves differentiable. An op without a rule is not differentiable
(comparisons, argmax); its outputs never require grad. Rules live in
``psionic.array.rules``.

>>> OPS["add"].kind, OPS["add"].differentiable, OPS["argmax"].differentiable
('elementwise', True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KINDS = ("elementwise", "reduce", "movement", "index", "contract", "compare")

# (node, grad of output) -> one gradient (or None) per input
VJPRule = Callable[[Any, Any], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    kind: str
    vjp: VJPRule | None = None

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None


OPS: dict[str, OpDef] = {}


def register_op(name: str, kind: str, vjp: VJPRule | None = None) -> OpDef:
    if name in OPS:
        raise ValueError(f"op {name!r} is already registered")
    if kind not in KINDS:
        raise ValueError(f"op kind {kind!r} is not one of {KINDS}")
    op = OPS[name] = OpDef(name, kind, vjp)
    return op


def op_rule(name: str, kind: str) -> Callable[[VJPRule], VJPRule]:
    """Decorator form of ``register_op`` for an op with a gradient rule."""

    def add(rule: VJPRule) -> VJPRule:
        register_op(name, kind, rule)
        return rule

    return add
