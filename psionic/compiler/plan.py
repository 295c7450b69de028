"""Graph to plan: optimize, group elementwise chains into fused steps, plan memory.

A ``Plan`` is what the runtime executes: steps in order, each a single op or
a fused elementwise chain, each output assigned an arena slot (or marked as
a view of another value). Its canonical text lists every step with the graph
lines it runs, so a change in lowering shows up as a text diff; its digest is
the cache key.

>>> import psionic.array as pa
>>> from psionic.ir import trace
>>> g, _ = trace(lambda x: ((x * 2.0).exp() + 1.0).sum(), pa.ones((4,)))
>>> plan = compile_graph(g)
>>> [s.kind for s in plan.steps]
['fused', 'kernel']
"""

from __future__ import annotations

from dataclasses import dataclass

from psionic.array.ops import OPS
from psionic.compiler.memory import MemoryPlan, plan_memory
from psionic.compiler.passes import elementwise_chains, optimize
from psionic.core.digest import digest_bytes
from psionic.ir.graph import Graph, Node

VIEW_OPS = frozenset({"reshape", "permute", "expand", "getitem"})


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # "kernel" | "fused" | "view"
    nodes: tuple[Node, ...]  # in order; the last one's value is the step's output
    reads: tuple[int, ...]  # value ids from outside the step
    slot: int | None  # None for views

    @property
    def output(self) -> Node:
        return self.nodes[-1]


@dataclass(frozen=True, slots=True)
class Plan:
    graph: Graph  # optimized
    source_digest: str  # digest of the graph as traced
    steps: tuple[Step, ...]
    memory: MemoryPlan

    def text(self) -> str:
        lines = ["plan psionic.plan.v1", f"  source {self.source_digest}"]
        for nid in self.graph.inputs:
            lines.append("  " + self.graph.line(self.graph.node(nid)))
        for n in self.graph.nodes:
            if n.op == "const":
                lines.append("  " + self.graph.line(n))
        for i, step in enumerate(self.steps):
            where = "view" if step.slot is None else f"slot {step.slot}"
            reads = ", ".join(f"%{r}" for r in step.reads)
            lines.append(f"  step {i} {step.kind}({reads}) -> %{step.output.id} @ {where}")
            lines += ["    " + self.graph.line(n) for n in step.nodes]
        slots = ", ".join(f"{b}" for b in self.memory.slot_bytes)
        lines.append(f"  slots [{slots}] peak {self.memory.peak_bytes} naive {self.memory.naive_bytes}")
        lines.append("  return " + ", ".join(f"%{i}" for i in self.graph.outputs))
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        return digest_bytes(self.text().encode())

    def summary(self) -> dict[str, int]:
        return {
            "steps": len(self.steps),
            "fused_steps": sum(s.kind == "fused" for s in self.steps),
            "fused_ops": sum(len(s.nodes) for s in self.steps if s.kind == "fused"),
            "graph_nodes": len(self.graph.nodes),
            "peak_bytes": self.memory.peak_bytes,
            "naive_bytes": self.memory.naive_bytes,
        }


def _kind(group: list[Node]) -> str:
    if len(group) > 1:
        return "fused"
    return "view" if group[0].op in VIEW_OPS else "kernel"


def compile_graph(graph: Graph) -> Plan:
    """Lower a traced graph to an executable plan."""
    opt = optimize(graph)
    groups = elementwise_chains(opt)
    uses = []
    for group in groups:
        inside = {n.id for n in group}
        reads = tuple(dict.fromkeys(i for n in group for i in n.inputs if i not in inside))
        uses.append((group[-1].id, reads, group[-1].nbytes, _kind(group) == "view"))
    memory = plan_memory(uses, set(opt.outputs))
    steps = tuple(
        Step(_kind(group), tuple(group), reads, memory.slot_of.get(group[-1].id))
        for group, (_, reads, _, _) in zip(groups, uses, strict=True)
    )
    for step in steps:
        for n in step.nodes:
            assert n.op in OPS, f"unknown op {n.op} in graph"
    return Plan(opt, graph.digest(), steps, memory)


__all__ = ["Plan", "Step", "compile_graph"]
