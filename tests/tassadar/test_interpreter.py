"""The reference interpreter: bounds as typed traps, entries, arguments, instantiation."""

from __future__ import annotations

import pytest

from psionic.core.errors import InvalidInput
from psionic.tassadar import trace as tr
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import get

from .oracle import run_wasmtime


def _workload(name: str):
    w = get(name)
    return w, load(w.path).program


def test_step_limit_is_a_typed_trap() -> None:
    w, program = _workload("sum_loop")
    out = Machine(program, limits=Limits(max_steps=100)).run(w.entry, w.args)
    assert out.trap == "step_limit_exceeded" and out.steps == 100
    assert out.tokens[-1] == tr.TRAP_ID["step_limit_exceeded"]
    assert len(tr.decode(out.tokens).steps) == 100


def test_memory_limit_is_a_typed_trap() -> None:
    program = load_wat('(module (memory 1) (func (export "run") (result i32) '
                       "i32.const 3 memory.grow))").program
    assert Machine(program).run().result == (1,)
    out = Machine(program, limits=Limits(max_memory_pages=2)).run()
    assert out.trap == "memory_limit_exceeded"
    too_big = load_wat('(module (memory 5) (func (export "run")))').program
    assert Machine(too_big, limits=Limits(max_memory_pages=4)).run().trap == "memory_limit_exceeded"


def test_declared_maximum_makes_grow_return_minus_one() -> None:
    program = load_wat('(module (memory 1 2) (func (export "run") (result i32) '
                       "i32.const 2 memory.grow))").program
    assert Machine(program).run().result == (-1,)


def test_call_depth_is_a_typed_trap() -> None:
    w, program = _workload("ackermann")
    out = Machine(program, limits=Limits(max_call_depth=20)).run(w.entry, w.args)
    assert out.trap == "call_depth_exceeded"
    assert Machine(program).run(w.entry, w.args).result == (63,)


def test_entry_defaults_to_run_then_parameterless_main() -> None:
    both = load_wat('(module (func (export "run") (result i32) i32.const 1)'
                    ' (func (export "main") (result i32) i32.const 2))').program
    assert Machine(both).run().result == (1,)
    main = load_wat('(module (func (export "main") (result i32) i32.const 2))').program
    assert Machine(main).run().result == (2,)
    neither = load_wat('(module (func (export "main") (param i32)))').program
    with pytest.raises(InvalidInput) as info:
        Machine(neither).run()
    assert "main" in info.value.message
    with pytest.raises(InvalidInput):
        Machine(main).run("nope")


def test_arguments_are_counted_and_wrapped() -> None:
    program = load_wat('(module (func (export "run") (param i32 i64) (result i32 i64) '
                       "local.get 0 local.get 1))").program
    with pytest.raises(InvalidInput) as info:
        Machine(program).run("run", [1])
    assert "takes 2 argument(s) (i32, i64)" in info.value.message
    assert Machine(program).run("run", [0xFFFFFFFF, 1 << 63]).result == (-1, -(1 << 63))


def test_steps_count_op_tokens_and_exclude_structure() -> None:
    out = Machine(load_wat('(module (func (export "run") block loop nop end end))').program).run()
    assert out.steps == 2  # nop and the function's end; block and loop are not steps
    assert tr.render(out.tokens) == "nop\nend\nhalt"


@pytest.mark.parametrize("wat,trap", [
    ('(module (memory 1) (data (i32.const 65534) "abc") (func (export "run")))',
     "memory_out_of_bounds"),
    ('(module (table 1 funcref) (elem (i32.const 1) $f) (func $f) (func (export "run")))',
     "table_out_of_bounds"),
])
def test_instantiation_traps_like_wasmtime(wat: str, trap: str) -> None:
    loaded = load_wat(wat)
    out = Machine(loaded.program).run()
    assert out.trap == trap and out.steps == 0
    assert run_wasmtime(loaded.wasm, "run").trap == trap


def test_start_function_runs_before_the_entry_in_one_trace() -> None:
    w, program = _workload("start_function")
    out = Machine(program).run()
    ops = [s.op for s in tr.decode(out.tokens).steps]
    assert ops[:4] == ["i32.const", "global.set", "i32.const", "i32.const"]
    assert out.result == (42 + 0x01020304,)


def test_output_and_input_values_are_signed() -> None:
    w, program = _workload("io_transform")
    out = Machine(program, w.inputs).run()
    assert out.outputs == (9, 16, 1410065408, 49)  # 100000**2 wraps
    assert out.result == (4,)
