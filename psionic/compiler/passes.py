"""Graph-to-graph passes: common-subexpression elimination and dead-code elimination,
and the elementwise-chain grouping that fusion uses.

>>> import psionic.array as pa
>>> from psionic.ir import trace
>>> g, _ = trace(lambda x: (x.exp(), x.exp() * 2.0)[1], pa.ones((2,)))
>>> [n.op for n in optimize(g).nodes]
['input', 'exp', 'const', 'mul']
"""

from __future__ import annotations

from psionic.array.ops import OPS
from psionic.ir.graph import Graph, Node, format_attr, format_const


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """Nodes that repeat an earlier node's op, inputs and attributes (or an equal const) merge."""
    seen: dict[tuple[str, ...], int] = {}
    replace: dict[int, int] = {}
    nodes: list[Node] = []
    for n in graph.nodes:
        inputs = tuple(replace.get(i, i) for i in n.inputs)
        if n.op == "input":
            nodes.append(n)
            continue
        if n.op == "const":
            key = ("const", n.dtype, str(n.shape), format_const(graph.consts[n.id]))
        else:
            key = (n.op, str(inputs), format_attr(tuple(v for _, v in n.attrs)),
                   ",".join(k for k, _ in n.attrs))
        if key in seen:
            replace[n.id] = seen[key]
            continue
        seen[key] = n.id
        nodes.append(Node(n.id, n.op, inputs, n.attrs, n.shape, n.dtype))
    outputs = tuple(replace.get(i, i) for i in graph.outputs)
    return Graph(tuple(nodes), graph.inputs, outputs, graph.consts)


def eliminate_dead_code(graph: Graph) -> Graph:
    """Only nodes the outputs depend on survive (inputs always do); ids are renumbered."""
    by_id = {n.id: n for n in graph.nodes}
    live: set[int] = set(graph.inputs)
    stack = list(graph.outputs)
    while stack:
        nid = stack.pop()
        if nid in live and nid not in graph.inputs:
            continue
        live.add(nid)
        stack.extend(i for i in by_id[nid].inputs if i not in live)
    return graph.renumbered(live)


def optimize(graph: Graph) -> Graph:
    return eliminate_dead_code(eliminate_common_subexpressions(graph))


def is_elementwise(node: Node) -> bool:
    op = OPS.get(node.op)
    return op is not None and op.kind == "elementwise"


def elementwise_chains(graph: Graph) -> list[list[Node]]:
    """Partition the computing nodes into groups: a chain of elementwise nodes where each
    feeds only the next, or a single node. Groups come out in execution order: sorted by
    their last node, since only a group's last value is read outside it."""
    users = graph.users()
    outputs = set(graph.outputs)
    group_of: dict[int, list[Node]] = {}
    groups: list[list[Node]] = []
    for n in graph.nodes:
        if n.op in ("input", "const"):
            continue
        target = None
        if is_elementwise(n):
            for i in n.inputs:
                chain = group_of.get(i)
                if (chain is not None and chain[-1].id == i and is_elementwise(chain[-1])
                        and users[i] == [n.id] and i not in outputs):
                    target = chain
                    break
        if target is None:
            target = []
            groups.append(target)
        target.append(n)
        group_of[n.id] = target
    return sorted(groups, key=lambda g: g[-1].id)
