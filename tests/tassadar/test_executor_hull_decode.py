"""``--decode hull``: the same model and weights; every head selects the same key position as
linear decoding at every token, and the traces equal the reference's."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import Refusal
from psionic.tassadar.executor.attention import MODES, HardMaxHeads, HeadId, LinearAttention
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.hull_attention import ExactHullAttention, HullAttention
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.run import run_program
from psionic.tassadar.workloads import WORKLOADS

from .markers import HAS_CLANG
from .straightline import straight_line

SAMPLE = ("const_arith", "wrap_extend", pytest.param("straight_rounds_i64", marks=pytest.mark.slow))


class _SideBySide(HardMaxHeads):
    """Linear, fast hull and exact hull on the same keys; every query must agree in every head."""

    lookups = 0  # queries compared, over all instances of a test

    def __init__(self, heads: tuple[HeadId, ...], capacity: int) -> None:
        super().__init__(heads, capacity)
        self.modes = (LinearAttention(heads, capacity), HullAttention(heads, capacity),
                      ExactHullAttention(heads, capacity))
        self.position = -1

    def insert(self, position: int, keys: np.ndarray) -> None:
        self.position = position
        for m in self.modes:
            m.insert(position, keys)

    def query(self, queries: np.ndarray) -> np.ndarray:
        linear, fast, exact = (m.query(queries) for m in self.modes)
        for h, head in enumerate(self.heads):
            assert linear[h] == fast[h] == exact[h], (head, self.position, queries[h],
                                                     linear[h], fast[h], exact[h])
        _SideBySide.lookups += len(self.heads)
        return linear


def _corpus(name: str):
    w = WORKLOADS[name]
    if w.language == "c" and not HAS_CLANG:
        pytest.skip("no clang")
    return w, load(w.path)


@pytest.mark.parametrize("name", SAMPLE)
def test_hull_selects_the_linear_position_in_every_head_at_every_token(name, monkeypatch) -> None:
    monkeypatch.setitem(MODES, "side_by_side", _SideBySide)
    w, program = _corpus(name)
    _SideBySide.lookups = 0
    out = decode_linear(program, w.entry, list(w.args), list(w.inputs), None,
                        attention="side_by_side")
    ref = Machine(program.program, w.inputs).run(w.entry, w.args)
    assert list(out.tokens) == list(ref.tokens)
    assert _SideBySide.lookups > 20 * (out.prompt_tokens + len(out.tokens))


def test_hull_positions_on_a_loop(monkeypatch) -> None:
    from psionic.tassadar.scaling import loop_wat

    monkeypatch.setitem(MODES, "side_by_side", _SideBySide)
    program = load_wat(loop_wat())
    _SideBySide.lookups = 0
    out = decode_linear(program, "run", [40], [], None, attention="side_by_side")
    ref = Machine(program.program).run("run", [40])
    assert list(out.tokens) == list(ref.tokens) and out.result == (40,)
    assert _SideBySide.lookups > 40 * 9 * 4  # every head, every token of 360 steps


def test_hull_positions_on_generated_programs(monkeypatch) -> None:
    monkeypatch.setitem(MODES, "side_by_side", _SideBySide)
    for seed in range(0, 150, 30):
        wat, args, _ = straight_line(seed)
        program = load_wat(wat)
        out = decode_linear(program, "run", list(args), [], None, attention="side_by_side")
        assert list(out.tokens) == list(Machine(program.program).run("run", list(args)).tokens)


@pytest.mark.slow
def test_hull_traces_equal_everywhere_the_executor_decodes() -> None:
    decoded = []
    for w in WORKLOADS.values():
        if w.slow or (w.language == "c" and not HAS_CLANG):
            continue
        program = load(w.path)
        try:
            out = decode_linear(program, w.entry, list(w.args), list(w.inputs), None,
                                attention="hull")
        except Refusal:
            continue
        ref = Machine(program.program, w.inputs).run(w.entry, w.args)
        assert list(out.tokens) == list(ref.tokens), w.name
        assert (out.result, out.trap, out.steps) == (ref.result, ref.trap, ref.steps), w.name
        decoded.append(w.name)
    assert {"const_arith", "wrap_extend"} <= set(decoded)


def _generated_in_hull_mode(seeds: range) -> None:
    for seed in seeds:
        wat, args, _ = straight_line(seed)
        program = load_wat(wat)
        out = decode_linear(program, "run", list(args), [], None, attention="hull")
        assert list(out.tokens) == list(Machine(program.program).run("run", list(args)).tokens)


def test_generated_programs_decode_exactly_in_hull_mode() -> None:
    _generated_in_hull_mode(range(0, 150, 25))


@pytest.mark.slow
def test_all_generated_programs_decode_exactly_in_hull_mode() -> None:
    _generated_in_hull_mode(range(150))


def test_hull_is_a_decode_mode_with_a_receipt() -> None:
    p = load_wat('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 5 '
                 'i32.mul))')
    linear = run_program(p, "run", [7], decode="linear")
    hull = run_program(p, "run", [7], decode="hull")
    assert hull.result == (35,) and hull.decode == "hull"
    assert hull.trace_digest == linear.trace_digest
    assert hull.receipt.to_dict()["facts"]["decode"] == "hull"
