"""Every trace token follows from the prompt and earlier tokens (ABI document, section 7)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from psionic.tassadar import trace as tr
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import WORKLOADS, Workload, get

from .derivation import Deriver, Hole
from .genprog import programs
from .markers import needs_clang

# Over 50k steps: the derivation walks about 100k steps/s, so these wait for -m slow.
LONG = {"fib_c", "collatz_c", "sieve_c", "insertion_sort_c", "quicksort_c", "binary_search_c",
        "knapsack_c", "lcs_c", "gcd_c", "isqrt_c", "crc32_c", "powmod_c", "sudoku_c"}
# 17.6M steps would take minutes here; the same program runs as sudoku_c.
SKIP = {"sudoku_inkala_c"}


def _params() -> list:
    out = []
    for w in WORKLOADS.values():
        if w.name in SKIP:
            continue
        marks = [needs_clang] if w.language == "c" else []
        if w.slow or w.name in LONG:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(w, id=w.name, marks=marks))
    return out


@pytest.mark.parametrize("workload", _params())
def test_workload_trace_is_derivable(workload: Workload) -> None:
    program = load(workload.path).program
    out = Machine(program, workload.inputs).run(workload.entry, workload.args)
    steps = Deriver(program, workload.args, workload.inputs).check(out.tokens, workload.entry)
    assert steps == out.steps


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(programs())
def test_generated_traces_are_derivable(case: tuple) -> None:
    wat, args, inputs = case
    program = load_wat(wat).program
    out = Machine(program, inputs).run("run", args)
    assert Deriver(program, args, inputs).check(out.tokens) == out.steps


def test_bounds_are_derivable() -> None:
    w = get("ackermann")
    program = load(w.path).program
    for limits in (Limits(max_steps=777), Limits(max_call_depth=9)):
        out = Machine(program, limits=limits).run("run", w.args)
        assert out.trap in ("step_limit_exceeded", "call_depth_exceeded")
        Deriver(program, w.args, (), limits).check(out.tokens)


def test_a_tampered_trace_is_caught() -> None:
    w = get("call_chain")
    program = load(w.path).program
    tokens = list(Machine(program).run("run", w.args).tokens)
    Deriver(program, w.args, ()).check(tokens)
    for position in (0, 3, len(tokens) // 2, len(tokens) - 3):
        bad = list(tokens)
        bad[position] = tr.OP_ID["nop"] if bad[position] < tr.HALT_ID else 7
        with pytest.raises(Hole):
            Deriver(program, w.args, ()).check(bad)
    with pytest.raises(Hole):
        Deriver(program, w.args, ()).check(tokens[:-1] + [tr.HALT_ID, tr.HALT_ID])


def test_a_wrong_jump_target_is_caught() -> None:
    for name in ("call_chain", "br_table_switch", "start_function", "if_else_classify"):
        w = get(name)
        program = load(w.path).program
        tokens = list(Machine(program).run("run", w.args).tokens)
        targets = [i for i, t in enumerate(tokens) if t >= tr.TARGET_BASE]
        assert targets, name
        for position in (targets[0], targets[-1]):
            bad = list(tokens)
            bad[position] = tr.target_token((bad[position] - tr.TARGET_BASE + 1) % tr.PC_LIMIT)
            with pytest.raises(Hole):
                Deriver(program, w.args, ()).check(bad)


def test_declared_locals_read_zero_even_over_stale_slots() -> None:
    # g's declared local sits where f left a value in the same slot: it must read zero
    wat = """(module
      (func $f (result i32) (local i32) i32.const 77 local.set 0 local.get 0)
      (func $g (result i32) (local i32) local.get 0)
      (func (export "run") (result i32) call $f drop call $g))"""
    program = load_wat(wat).program
    out = Machine(program).run()
    assert out.result == (0,)
    Deriver(program, (), ()).check(out.tokens)
