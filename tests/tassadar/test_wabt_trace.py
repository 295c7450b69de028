"""The executed opcode sequence, step by step, against ``wasm-interp --trace`` (wabt)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.trace import decode
from psionic.tassadar.workloads import WORKLOADS

from .genprog import programs
from .markers import HAS_CLANG, needs_wabt
from .wabt import project, wabt_opcodes

ZEROS = [0] * 100_000  # wasm-interp's dummy imports return 0


def _same_sequence(wasm_program, wasm: bytes) -> int:
    out = Machine(wasm_program, ZEROS).run("run", [])
    ours = project([s.op for s in decode(out.tokens).steps])
    theirs = project(wabt_opcodes(wasm))
    if out.trap == "call_depth_exceeded":
        # the engines' call stacks differ in size: the shorter trace is a prefix of the longer
        n = min(len(ours), len(theirs))
        assert n > 1000 and ours[:n] == theirs[:n]
        return n
    assert ours == theirs
    return len(ours)


def _sample() -> list:
    chosen = []
    for w in WORKLOADS.values():
        # trap_input reads until its inputs run out; wabt's dummy imports never run out
        if w.args or w.slow or w.name == "trap_input" or w.language == "c" and not HAS_CLANG:
            continue
        source = w.path.read_text()
        if "(start" in source or "(param" in source.split('(export "run")')[-1].split("\n")[0]:
            continue
        chosen.append(pytest.param(w, id=w.name))
    return chosen


@needs_wabt
@pytest.mark.parametrize("workload", _sample())
def test_workload_opcode_sequence_matches_wabt(workload) -> None:
    program = load(workload.path)
    if program.program.module.func_type(program.program.module.export("run").index).params:
        pytest.skip("wasm-interp runs only parameterless exports")
    assert _same_sequence(program.program, program.wasm) > 0


@needs_wabt
@settings(max_examples=25, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(programs(with_params=False))
def test_generated_opcode_sequence_matches_wabt(case: tuple) -> None:
    wat, _, _ = case
    program = load_wat(wat)
    _same_sequence(program.program, program.wasm)
