"""A traced array program: nodes in topological order, with a canonical text and a digest.

Every node is an op of the ``psionic.array`` registry applied to earlier
nodes, or an ``input`` (an argument of the traced function) or a ``const`` (a
tensor the function captured). The canonical text names nodes ``%0, %1, ...``
in order and writes attributes in a fixed form, so two traces of the same
program give the same text and the same digest, on any machine.

>>> g = Graph((Node(0, "input", (), (), (2,), "f32"), Node(1, "exp", (0,), (), (2,), "f32")),
...           inputs=(0,), outputs=(1,), consts={})
>>> print(g.text(), end="")
graph psionic.ir.v1
  %0 = input : f32[2]
  %1 = exp(%0) : f32[2]
  return %1
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psionic.core.digest import digest_bytes
from psionic.core.dtypes import DType


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    op: str  # a registered array op, "input" or "const"
    inputs: tuple[int, ...]
    attrs: tuple[tuple[str, Any], ...]  # sorted by name
    shape: tuple[int, ...]
    dtype: str

    def attr(self, name: str) -> Any:
        return dict(self.attrs)[name]

    @property
    def nbytes(self) -> int:
        size = 1
        for s in self.shape:
            size *= s
        return size * DType.get(self.dtype).itemsize


def format_attr(value: Any) -> str:
    """The canonical text of one attribute value."""
    if value is None:
        return "none"
    if value is Ellipsis:
        return "..."
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, slice):
        parts = ["" if v is None else str(v) for v in (value.start, value.stop, value.step)]
        return ":".join(parts)
    if isinstance(value, DType):
        return value.name
    if isinstance(value, (tuple, list)):
        inner = ",".join(format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"no canonical form for attribute {value!r}")


def format_const(value: np.ndarray) -> str:
    """Small constants inline, larger ones by digest of their bytes."""
    if value.size == 1:
        return repr(value.reshape(()).item())
    return digest_bytes(np.ascontiguousarray(value).tobytes())


def type_text(node: Node) -> str:
    return f"{node.dtype}[{','.join(str(s) for s in node.shape)}]"


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    consts: dict[int, np.ndarray] = field(compare=False)

    def node(self, id_: int) -> Node:
        return self._by_id()[id_]

    def _by_id(self) -> dict[int, Node]:
        return {n.id: n for n in self.nodes}

    def users(self) -> dict[int, list[int]]:
        """For each node id, the ids of the nodes that read it (in order)."""
        out: dict[int, list[int]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.id)
        return out

    def line(self, node: Node) -> str:
        if node.op == "input":
            rhs = "input"
        elif node.op == "const":
            rhs = f"const {format_const(self.consts[node.id])}"
        else:
            args = ", ".join(f"%{i}" for i in node.inputs)
            attrs = "".join(f", {k}={format_attr(v)}" for k, v in node.attrs)
            rhs = f"{node.op}({args}{attrs})"
        return f"%{node.id} = {rhs} : {type_text(node)}"

    def text(self) -> str:
        lines = ["graph psionic.ir.v1"]
        lines += ["  " + self.line(n) for n in self.nodes]
        lines.append("  return " + ", ".join(f"%{i}" for i in self.outputs))
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        return digest_bytes(self.text().encode())

    def renumbered(self, keep: Iterable[int]) -> Graph:
        """The subgraph of nodes in ``keep`` (in order), renumbered densely from 0."""
        kept = [n for n in self.nodes if n.id in set(keep)]
        new_id = {n.id: i for i, n in enumerate(kept)}
        nodes = tuple(
            Node(new_id[n.id], n.op, tuple(new_id[i] for i in n.inputs), n.attrs, n.shape, n.dtype)
            for n in kept
        )
        consts = {new_id[k]: v for k, v in self.consts.items() if k in new_id}
        return Graph(nodes, tuple(new_id[i] for i in self.inputs if i in new_id),
                     tuple(new_id[i] for i in self.outputs), consts)
