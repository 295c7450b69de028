"""Random valid programs in the profile, against wasmtime (and a sample against wabt)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from psionic.core.digest import digest_bytes
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.trace import decode, encode

from .genprog import programs
from .oracle import run_wasmtime

SETTINGS = settings(max_examples=160, derandomize=True, deadline=None,
                    suppress_health_check=list(HealthCheck))


@SETTINGS
@given(programs())
def test_generated_programs_agree_with_wasmtime(case: tuple) -> None:
    wat, args, inputs = case
    program = load_wat(wat)
    # generated programs take a few thousand steps at most; a runaway fails fast, as a mismatch
    ours = Machine(program.program, inputs, Limits(max_steps=200_000)).run("run", args)
    theirs = run_wasmtime(program.wasm, "run", args, inputs)
    assert (ours.trap, ours.result, ours.outputs) == (theirs.trap, theirs.result, theirs.outputs)
    assert digest_bytes(ours.memory) == theirs.memory_digest
    assert encode(decode(ours.tokens)) == ours.tokens


@pytest.mark.slow
@settings(max_examples=1000, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(programs())
def test_many_generated_programs_agree_with_wasmtime(case: tuple) -> None:
    test_generated_programs_agree_with_wasmtime.hypothesis.inner_test(case)
