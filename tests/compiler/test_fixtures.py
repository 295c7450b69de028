"""Replay fixtures: the committed canonical graph and plan of each program must not change
silently. Run with PSIONIC_UPDATE_FIXTURES=1 to rewrite them after a deliberate change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from psionic.compiler import compile_graph
from psionic.ir import trace
from tests.compiler.programs import PROGRAMS

FIXTURES = Path(__file__).parent / "fixtures"


def _check(path: Path, text: str) -> None:
    if os.environ.get("PSIONIC_UPDATE_FIXTURES") == "1":
        path.write_text(text)
    assert path.exists(), f"missing fixture {path.name}: run with PSIONIC_UPDATE_FIXTURES=1"
    assert text == path.read_text(), f"{path.name} changed: lowering is different"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_graph_and_plan_match_their_fixtures(name: str) -> None:
    fn, make_args = PROGRAMS[name]
    graph, _ = trace(fn, *make_args())
    _check(FIXTURES / f"{name}.graph.txt", graph.text())
    _check(FIXTURES / f"{name}.plan.txt", compile_graph(graph).text())


def test_plan_text_names_its_source_graph() -> None:
    fn, make_args = PROGRAMS["mlp"]
    graph, _ = trace(fn, *make_args())
    plan = compile_graph(graph)
    assert f"source {graph.digest()}" in plan.text()
    assert plan.digest() != graph.digest()
