"""The start function on the executor: it runs first, then the entry, in one exact trace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import WORKLOADS

# written after the weights were frozen: the start function has declared locals of both widths,
# a loop and globals; the entry has arguments and a declared local (zero) in the slots the
# start function would use without its offset, and calls a function
HELD_OUT = ('(module (global $g (mut i32) (i32.const 0)) (global $h (mut i64) (i64.const 0)) '
            '(func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add) '
            '(func $s (local i32 i64) local.get 0 i32.const 7 i32.add local.set 0 local.get 1 '
            'i64.const 3 i64.add global.set $h block loop local.get 0 i32.eqz br_if 1 '
            'local.get 0 i32.const 1 i32.sub local.set 0 global.get $g i32.const 5 i32.add '
            'global.set $g br 0 end end) (start $s) '
            '(func (export "run") (param i32 i32) (result i32) (local i32) local.get 0 '
            'local.get 1 i32.add local.get 2 i32.add global.get $g i32.add call $inc))')


def _outcome(program, args: list[int], limits: Limits, model: Model | None = None,
             linear: bool = False):
    decode = decode_linear if linear else decode_compiled
    return decode(program, "run", args, [], limits, model=model)


def _exact(program, args: list[int], limits: Limits | None = None,
           model: Model | None = None, linear: bool = False) -> bool:
    ref = Machine(program.program, (), limits or Limits()).run("run", args)
    out = _outcome(program, args, limits or Limits(max_steps=ref.steps + 2), model, linear)
    return (list(out.tokens) == list(ref.tokens) and out.result == ref.result
            and out.trap == ref.trap and out.globals == ref.globals and out.memory == ref.memory)


def test_start_function_workload_decodes_exactly_with_memory_and_globals() -> None:
    w = WORKLOADS["start_function"]
    assert _exact(load(w.path), list(w.args))


@pytest.mark.parametrize("args", [(1, 2), (-5, 100)])
def test_held_out_start_function_decodes_exactly(args: tuple[int, int]) -> None:
    assert _exact(load_wat(HELD_OUT), list(args))


@pytest.mark.parametrize("steps", [3, 20, 60])
def test_the_step_bound_counts_the_start_functions_steps(steps: int) -> None:
    assert _exact(load_wat(HELD_OUT), [1, 2], Limits(max_steps=steps))


def test_start_function_decodes_exactly_with_the_session() -> None:
    wat = ('(module (global (mut i32) (i32.const 1)) (func $s i32.const 9 global.set 0) '
           '(start $s) (func (export "run") (param i32) (result i32) local.get 0 '
           'global.get 0 i32.add))')
    assert _exact(load_wat(wat), [4], linear=True)


@pytest.mark.parametrize("wat,named", [
    ('(module (func $f) (func $s call $f) (start $s) (func (export "run") (result i32) '
     'i32.const 1))', "make no calls"),
    ('(module (func $s) (start $s) (func (export "run") (result i32) call $s i32.const 1))',
     "entry also runs"),
])
def test_uncovered_start_functions_are_refused_by_name(wat: str, named: str) -> None:
    with pytest.raises(UnsupportedOperation, match=named):
        decode_compiled(load_wat(wat), "run", [], [], None)


NESTED = ('(module (global (mut i32) (i32.const 0)) (func $s i32.const 3 global.set 0) '
          '(start $s) (func $g (param i32) (result i32) local.get 0 i32.const 2 i32.mul) '
          '(func $f (param i32) (result i32) local.get 0 call $g i32.const 1 i32.add) '
          '(func (export "run") (param i32 i32) (result i32) local.get 0 call $f '
          'global.get 0 i32.add local.get 1 i32.add))')


def test_without_the_depth_token_nested_calls_return_to_the_wrong_caller() -> None:
    # the s token keeps the entry's call depth at 0 after the start function's end; without
    # it the depth would be -1, read as 0, and a return from depth 2 finds the wrong call
    model = Model.load()
    assert np.any(model.embedding[L.START_TOKEN])
    embedding = model.embedding.copy()
    embedding[L.START_TOKEN] = embedding[L.NUM_BASE]  # an n0 token instead
    broken = dataclasses.replace(model, embedding=embedding)
    program = load_wat(NESTED)
    assert _exact(program, [1, 2], model=model)
    assert not _exact(program, [1, 2], model=broken)


RECURSE = ('(module (global (mut i32) (i32.const 0)) (func $s i32.const 1 global.set 0) '
           '(start $s) (func $r (param i32) (result i32) local.get 0 i32.eqz if (result i32) '
           'i32.const 0 else local.get 0 i32.const 1 i32.sub call $r global.get 0 i32.add end) '
           '(func (export "run") (param i32) (result i32) local.get 0 call $r))')


@pytest.mark.parametrize("depth", [3, 5, 6])
def test_the_call_depth_bound_after_a_start_function_is_the_programs(depth: int) -> None:
    # five nested calls: trapped under bounds 3 and 5 (the trap is the program's, not a
    # refusal of the executor's range), done under 6
    limits = Limits(max_call_depth=depth)
    assert _exact(load_wat(RECURSE), [4], limits)
