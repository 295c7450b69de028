"""Evaluate a Graph node by node on a backend: the slow, obvious reference for compiled plans.

>>> import psionic.array as pa
>>> from psionic.ir.trace import trace
>>> g, _ = trace(lambda x: x * x, pa.tensor([3.0]))
>>> [t.tolist() for t in evaluate(g, [pa.tensor([4.0])])]
[[16.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psionic.array.backend import get_array_backend
from psionic.array.tensor import Tensor
from psionic.core.errors import InvalidInput
from psionic.ir.graph import Graph


def check_inputs(graph: Graph, args: Sequence[Tensor]) -> None:
    if len(args) != len(graph.inputs):
        raise InvalidInput(f"graph takes {len(graph.inputs)} inputs, got {len(args)}")
    for nid, a in zip(graph.inputs, args, strict=True):
        node = graph.node(nid)
        if a.shape != node.shape or a.dtype.name != node.dtype:
            raise InvalidInput(
                f"input %{nid} is {node.dtype}{list(node.shape)}, got {a.dtype.name}{list(a.shape)}"
            )


def evaluate(graph: Graph, args: Sequence[Tensor], backend: str | None = None) -> list[Tensor]:
    """The graph's outputs for ``args``, one primitive call per node."""
    check_inputs(graph, args)
    be = get_array_backend(backend or (args[0].backend if args else "cpu"))
    env: dict[int, Any] = {}
    for nid, a in zip(graph.inputs, args, strict=True):
        env[nid] = a.to(be.name)._data
    for node in graph.nodes:
        if node.op == "input":
            continue
        if node.op == "const":
            env[node.id] = be.asarray(graph.consts[node.id], None)
            continue
        env[node.id] = be.prim(node.op)(*[env[i] for i in node.inputs], **dict(node.attrs))
    return [Tensor._wrap(env[i], be) for i in graph.outputs]
