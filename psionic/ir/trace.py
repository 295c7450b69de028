"""Tracing: run a function of tensors once and record every op it applies as a Graph.

The tracer watches ``psionic.array``'s dispatch. The function's tensor
arguments become ``input`` nodes; any other tensor it reads (a captured
weight, a lifted scalar) becomes a ``const`` node holding its value at trace
time. Gradient computations inside the function are traced too, so tracing
``psionic.array.grad(f)`` gives the gradient program.

>>> import psionic.array as pa
>>> graph, _ = trace(lambda x: (x * 2.0).exp(), pa.zeros((3,)))
>>> [n.op for n in graph.nodes]
['input', 'const', 'mul', 'exp']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.array.tensor import TRACE, Tensor
from psionic.core.errors import InvalidInput, UnsupportedOperation
from psionic.ir.graph import Graph, Node, format_attr


class _Recorder:
    def __init__(self) -> None:
        self.nodes: list[Node] = []
        # Keyed by the raw array, so a detached tensor (same data) is the same value.
        self.ids: dict[int, int] = {}
        self.alive: list[Tensor] = []  # keeps traced tensors alive, so ids are never reused
        self.consts: dict[int, np.ndarray] = {}

    def _add(self, t: Tensor, op: str, inputs: tuple[int, ...], attrs: dict[str, Any]) -> int:
        nid = len(self.nodes)
        canon = tuple(sorted((k, _canonical(v)) for k, v in attrs.items()))
        self.nodes.append(Node(nid, op, inputs, canon, t.shape, t.dtype.name))
        self.ids[id(t._data)] = nid
        self.alive.append(t)
        return nid

    def input(self, t: Tensor) -> int:
        return self._add(t, "input", (), {})

    def value(self, t: Tensor) -> int:
        nid = self.ids.get(id(t._data))
        if nid is None:
            nid = self._add(t, "const", (), {})
            self.consts[nid] = np.array(t.numpy(), copy=True)
        return nid

    def __call__(self, op: str, inputs: tuple[Tensor, ...], attrs: dict[str, Any], out: Tensor) -> None:
        args = tuple(self.value(t) for t in inputs)
        self._add(out, op, args, attrs)


def _canonical(value: Any) -> Any:
    """The attribute as the graph stores it; refused if it has no canonical text (a function,
    a quantized weight matrix), since the graph's digest could not name it."""
    if isinstance(value, list):
        value = tuple(value)
    try:
        format_attr(value)
    except TypeError:
        raise UnsupportedOperation(
            f"an op attribute of type {type(value).__name__} has no canonical form and cannot be traced",
            attribute=type(value).__name__,
        ) from None
    return value


def trace(fn: Callable[..., Any], *args: Tensor) -> tuple[Graph, Any]:
    """Run ``fn(*args)`` once, recording it; returns the graph and ``fn``'s own result."""
    if TRACE.hook is not None:
        raise InvalidInput("tracing is already active; traces do not nest")
    rec = _Recorder()
    inputs = tuple(rec.input(a) for a in args)
    TRACE.hook = rec
    try:
        result = fn(*args)
    finally:
        TRACE.hook = None
    outs = result if isinstance(result, (tuple, list)) else (result,)
    if not all(isinstance(o, Tensor) for o in outs):
        raise InvalidInput("a traced function must return a Tensor or a tuple of Tensors")
    outputs = tuple(rec.value(o) for o in outs)
    return Graph(tuple(rec.nodes), inputs, outputs, rec.consts), result
