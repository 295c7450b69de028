"""Compiler passes: CSE, dead-code elimination, elementwise chains, memory planning."""

from __future__ import annotations

import psionic.array as pa
from psionic.compiler import (
    compile_graph,
    elementwise_chains,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    plan_memory,
)
from psionic.ir import trace


def test_dead_code_is_removed_and_ids_renumbered() -> None:
    def f(x: pa.Tensor) -> pa.Tensor:
        _unused = x.exp().sum()
        return x * 2.0

    graph, _ = trace(f, pa.ones((3,)))
    out = eliminate_dead_code(graph)
    assert [n.op for n in out.nodes] == ["input", "const", "mul"]
    assert [n.id for n in out.nodes] == [0, 1, 2] and out.outputs == (2,)


def test_common_subexpressions_merge_including_equal_constants() -> None:
    graph, _ = trace(lambda x: x.exp() * 2.0 + x.exp() * 2.0, pa.ones((3,)))
    merged = eliminate_dead_code(eliminate_common_subexpressions(graph))
    assert [n.op for n in merged.nodes] == ["input", "exp", "const", "mul", "add"]


def test_chains_fuse_only_single_use_elementwise_values() -> None:
    graph, _ = trace(lambda x: (x.exp() + 1.0).tanh() * x.exp().sum(), pa.ones((3,)))
    groups = elementwise_chains(graph)
    ops = [[n.op for n in g] for g in groups]
    assert ["exp", "add", "tanh"] in [g[:3] for g in ops]
    for group in groups:  # each group's non-final values are read only by the next op
        for a, b in zip(group, group[1:], strict=False):
            assert a.id in b.inputs


def test_memory_plan_reuses_dead_slots_and_keeps_views_alive() -> None:
    # value 1 is a view of 0; 0 must outlive 1's last use (step 3)
    steps = [(0, (), 64, False), (1, (0,), 64, True), (2, (), 64, False), (3, (1, 2), 64, False),
             (4, (3,), 64, False)]
    plan = plan_memory(steps, outputs={4})
    assert plan.slot_of[3] not in (plan.slot_of[0], plan.slot_of[2])
    assert plan.slot_of[4] in (plan.slot_of[0], plan.slot_of[2])
    assert plan.alias_of == {1: 0}
    assert plan.peak_bytes < plan.naive_bytes


def test_plan_reports_fusion_and_memory() -> None:
    graph, _ = trace(lambda x: ((x * 2.0 + 1.0).exp() @ x.T).sum(), pa.ones((4, 4)))
    summary = compile_graph(graph).summary()
    assert summary["fused_steps"] == 1 and summary["fused_ops"] == 3
    assert summary["peak_bytes"] <= summary["naive_bytes"]
