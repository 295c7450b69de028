"""The executed opcode sequence, step by step, against ``wasm-interp --trace`` (wabt).

wasm-interp runs only parameterless exports, so a workload with arguments gets
a wrapper export ``entry0`` that pushes them and calls ``run`` (in WAT text for
WAT workloads, in C for C workloads); both engines then execute the same
module. Its dummy imports return 0, so our run reads zeros as inputs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from psionic.tassadar.ingress import compile_c, from_wasm, load, load_wat, wat_to_wasm
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.opcodes import I64, VALTYPE_NAME
from psionic.tassadar.trace import decode
from psionic.tassadar.workloads import WORKLOADS, Workload

from .genprog import programs
from .markers import HAS_CLANG, needs_wabt
from .wabt import project, wabt_opcodes

ZEROS = [0] * 100_000  # wasm-interp's dummy imports return 0
ENTRY = "entry0"
# More than 100k steps (with zero inputs): kept for the slow run, with everything else.
HEAVY = {"fib_c", "collatz_c", "sieve_c", "insertion_sort_c", "quicksort_c", "binary_search_c",
         "knapsack_c", "lcs_c", "sudoku_c"}


def _same_sequence(program, wasm: bytes, entry: str = "run") -> int:
    out = Machine(program, ZEROS).run(entry, [])
    ours = project([s.op for s in decode(out.tokens).steps])
    theirs = project(wabt_opcodes(wasm, entry))
    if program.module.start is not None:
        # wasm-interp runs the start function at instantiation, untraced
        skipped = len(ours) - len(theirs)
        assert skipped > 0
        ours = ours[skipped:]
    if out.trap == "call_depth_exceeded":
        # the engines' call stacks differ in size: the shorter trace is a prefix of the longer
        n = min(len(ours), len(theirs))
        assert n > 1000 and ours[:n] == theirs[:n]
        return n
    assert ours == theirs
    return len(ours)


def _with_wrapper(w: Workload) -> tuple[bytes, str]:
    """The workload's module with a parameterless export that calls ``run`` with its arguments."""
    if not w.args:
        return load(w.path).wasm, "run"
    module = load(w.path).program.module
    index = module.export("run").index
    ftype = module.func_type(index)
    if w.language == "c":
        call = f"run({', '.join(str(a) for a in w.args)})"
        return compile_c(w.path.read_text() + f"\nint {ENTRY}(void) {{ return {call}; }}\n"), ENTRY
    pushes = " ".join(f"{'i64' if t == I64 else 'i32'}.const {a}"
                      for a, t in zip(w.args, ftype.params, strict=True))
    results = " ".join(VALTYPE_NAME[t] for t in ftype.results)
    text = w.path.read_text().rstrip()
    assert text.endswith(")")
    wrapper = f'  (func (export "{ENTRY}") (result {results}) {pushes} call {index})\n)'
    return wat_to_wasm(text[:-1] + wrapper), ENTRY


def _sample() -> list:
    chosen = []
    for w in WORKLOADS.values():
        # trap_input reads until its inputs run out; wabt's dummy imports never run out
        if w.slow or w.name == "trap_input" or w.language == "c" and not HAS_CLANG:
            continue
        marks = [pytest.mark.slow] if w.name in HEAVY else []
        chosen.append(pytest.param(w, id=w.name, marks=marks))
    return chosen


@needs_wabt
@pytest.mark.parametrize("workload", _sample())
def test_workload_opcode_sequence_matches_wabt(workload: Workload) -> None:
    wasm, entry = _with_wrapper(workload)
    assert _same_sequence(from_wasm(wasm).program, wasm, entry) > 0


@needs_wabt
@settings(max_examples=25, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(programs(with_params=False))
def test_generated_opcode_sequence_matches_wabt(case: tuple) -> None:
    wat, _, _ = case
    program = load_wat(wat)
    _same_sequence(program.program, program.wasm)
