"""Calls on the executor: frames, returns, recursion, call_indirect and their traps, token-exact."""

from __future__ import annotations

import pytest

from psionic.core.errors import Refusal, UnsupportedOperation
from psionic.tassadar.executor.call_records import reachable
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import WORKLOADS

from .callprog import call_program

# written after the weights were frozen: each exercises one part of the frames
CALLS = {
    # declared locals of a callee are zero on every entry, though the same slots held values
    "fresh_locals": ('(module (func $acc (param i32) (result i32) (local i32 i64 i32) local.get 1 '
                     'local.get 0 i32.add local.set 1 local.get 1 local.get 3 i32.add local.set 3 '
                     'local.get 2 i64.const 9 i64.add drop local.get 3) (func (export "run") (param '
                     'i32) (result i32) local.get 0 call $acc local.get 0 i32.const 5 i32.add call '
                     '$acc i32.add))', (7,)),
    # a call in the middle of an expression: the caller's operands stay beneath the frame
    "operands_beneath": ('(module (func $sq (param i32) (result i32) local.get 0 local.get 0 '
                         'i32.mul) (func (export "run") (param i32 i32) (result i32) i32.const 1000 '
                         'local.get 0 local.get 1 i32.add call $sq i32.sub local.get 1 call $sq '
                         'i32.add))', (3, -4)),
    # void callees, globals set in a callee, a callee without parameters
    "void_and_globals": ('(module (global $g (mut i32) (i32.const 5)) (func $bump (param i32) '
                         'global.get $g local.get 0 i32.add global.set $g) (func $get (result i32) '
                         'global.get $g) (func (export "run") (param i32) (result i32) local.get 0 '
                         'call $bump i32.const 3 call $bump call $get call $get i32.add))', (10,)),
    # recursion with a declared local and an early return from inside a block
    "recursive_sum": ('(module (func $sum (param i32) (result i32) (local i32) block local.get 0 '
                      'br_if 0 i32.const 0 return end local.get 0 i32.const 1 i32.sub call $sum '
                      'local.set 1 local.get 1 local.get 0 i32.add) (func (export "run") (param '
                      'i32) (result i32) local.get 0 call $sum))', (25,)),
    # a branch to the callee's own label that drops a value beneath its result
    "label_return": ('(module (func $f (param i32) (result i32) i32.const 100 local.get 0 '
                     'i32.const 7 i32.add br 0) (func (export "run") (param i32) (result i32) '
                     'local.get 0 call $f local.get 0 call $f i32.add))', (2,)),
    # call_indirect after a br_table: the call table follows the branch tables in the prompt
    "indirect_after_table": ('(module (type $u (func (param i32) (result i32))) (table 2 funcref) '
                             '(elem (i32.const 0) $dbl $neg) (func $dbl (type $u) local.get 0 '
                             'local.get 0 i32.add) (func $neg (type $u) i32.const 0 local.get 0 '
                             'i32.sub) (func (export "run") (param i32) (result i32) block block '
                             'local.get 0 br_table 0 1 end i32.const 5 i32.const 1 call_indirect '
                             '(type $u) return end i32.const 9))', (0,)),
    # call_indirect: two types, a null slot, a slot past the table, and a good call
    "indirect": ('(module (type $u (func (param i32) (result i32))) (type $n (func (result '
                 'i32))) (table 4 funcref) (elem (i32.const 0) $inc $seven) (elem (i32.const 3) '
                 '$inc) (func $inc (type $u) local.get 0 i32.const 1 i32.add) (func $seven (type '
                 '$n) i32.const 7) (func (export "run") (param i32) (result i32) i32.const 41 '
                 'local.get 0 call_indirect (type $u)))', (0,)),
}


def _exact(wat: str, args, limits: Limits | None = None) -> None:
    program = load_wat(wat)
    ref = Machine(program.program, (), limits).run("run", list(args))
    out = decode_linear(program, "run", list(args), [], limits)
    assert list(out.tokens) == list(ref.tokens)
    assert (out.result, out.trap, out.steps, out.globals) == (ref.result, ref.trap, ref.steps,
                                                              ref.globals)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_calls_decode_exactly(name: str) -> None:
    _exact(*CALLS[name])


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 99])
def test_call_indirect_traps_like_the_reference(index: int) -> None:
    # 0 and 3: calls; 1: another type; 2: null; 4 and 99: past the table
    _exact(CALLS["indirect"][0], (index,))


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_call_depth_bound_traps_like_the_reference(depth: int) -> None:
    _exact(CALLS["recursive_sum"][0], (25,), Limits(max_call_depth=depth))


def test_corpus_recursion_traps_on_the_depth_bound() -> None:
    w = WORKLOADS["trap_deep_recursion"]
    program, limits = load(w.path), Limits(max_call_depth=40)
    ref = Machine(program.program, (), limits).run(w.entry, list(w.args))
    out = decode_linear(program, w.entry, list(w.args), [], limits)
    assert list(out.tokens) == list(ref.tokens) and out.trap == "call_depth_exceeded"


def wide_frames(locals_: int) -> str:
    """Recursion ``arg`` deep whose frames hold ``locals_`` declared i64 locals."""
    return ('(module (func $down (param i32) (result i32) (local' + ' i64' * locals_ + ') '
            'local.get 0 i32.eqz if (result i32) i32.const 0 else local.get 0 i32.const 1 '
            'i32.sub call $down end) (func (export "run") (param i32) (result i32) local.get 0 '
            'call $down))')


# 41 slots per frame: 30 frames pass slot 999, where the stack range ended before the stack
# header (stack_layout.py); 990 per frame: 34 pass the largest frame range (32,768 slots)
WIDE_FRAMES = wide_frames(40)
HUGE_FRAMES = wide_frames(990)


def test_a_stack_past_slot_999_decodes_exactly() -> None:
    _exact(WIDE_FRAMES, (30,))


def test_a_stack_past_the_executor_range_is_refused_not_wrong() -> None:
    # the default step bound asks for 2^24 positions: 3,688 frame slots, passed at depth 4
    with pytest.raises(UnsupportedOperation, match="exact range at depth 4 "):
        decode_linear(load_wat(HUGE_FRAMES), "run", [40], [], None)
    # a small step bound leaves the most slots, 32,768: passed at depth 34
    with pytest.raises(UnsupportedOperation, match="exact range at depth 34 "):
        decode_linear(load_wat(HUGE_FRAMES), "run", [40], [], Limits(max_steps=400))
    # the run's own bound first: its trap, exact
    _exact(HUGE_FRAMES, (40,), Limits(max_call_depth=3))


def test_the_stack_header_covers_the_whole_reach_of_a_bounded_recursion() -> None:
    program = load(WORKLOADS["trap_deep_recursion"].path).program
    prompt = lay_out(program, 1, [], 50_000_000)
    # 10,000 frames of one slot step and a last frame of 4: 2^21 positions keep them exact
    assert (prompt.stack_slots, prompt.position_bound) == (10_004, 1 << 21)
    # no recursion: the longest chain of frames (a call 3 slots up into a frame of 4), and
    # every position
    wat = CALLS["operands_beneath"][0]
    prompt = lay_out(load_wat(wat).program, 1, [3, -4], 1000)
    assert (prompt.stack_slots, prompt.position_bound) == (7, 1 << 24)


# one slot per frame and 7 tokens per call: past depth 8,191, where the frame heads ended
DEEP = ('(module (func $down (param i32) (result i32) local.get 0 call $down) '
        '(func (export "run") (result i32) i32.const 0 call $down))')


def test_recursion_past_depth_8191_traps_exactly_on_its_bound() -> None:
    program, limits = load_wat(DEEP), Limits(max_call_depth=8_200)
    ref = Machine(program.program, (), limits).run("run", [])
    out = decode_compiled(program, "run", [], [], limits, "hull")
    assert ref.trap == out.trap == "call_depth_exceeded"
    assert list(out.tokens) == list(ref.tokens)


def test_calling_the_entry_function_is_refused() -> None:
    wat = ('(module (func $run (export "run") (param i32) (result i32) local.get 0 i32.eqz if '
           '(result i32) i32.const 0 else local.get 0 i32.const 1 i32.sub call $run end))')
    with pytest.raises(Refusal, match="no function calls"):
        decode_linear(load_wat(wat), "run", [3], [], None)


def test_only_reachable_functions_need_covered_opcodes() -> None:
    # $unused holds an uncovered opcode; no run of "run" can reach it
    wat = ('(module (func $unused (param i32) (result i32) local.get 0 i32.const 3 i32.rotl) '
           '(func $used (result i32) i32.const 4) (func (export "run") (result i32) call $used))')
    assert reachable(load_wat(wat).program, 2) == (1, 2)
    _exact(wat, ())


def _generated(seeds, decode) -> None:
    for seed in seeds:
        wat, args = call_program(seed)
        program = load_wat(wat)
        ref = Machine(program.program).run("run", list(args))
        out = decode(program, list(args))
        assert list(out.tokens) == list(ref.tokens), seed
        assert (out.result, out.trap, out.steps) == (ref.result, ref.trap, ref.steps), seed


def test_generated_call_programs_decode_exactly() -> None:
    # five of the seeds with the shortest traces (up to ~250 tokens) keep the O(n) decode quick;
    # the compiled loop decodes 20 in the default run and 280 more in the slow one
    _generated((3, 4, 5, 9, 12),
               lambda p, a: decode_linear(p, "run", a, [], None))


def test_generated_call_programs_decode_exactly_in_hull_mode() -> None:
    _generated(range(20), lambda p, a: decode_compiled(p, "run", a, [], None, "hull"))


@pytest.mark.slow
def test_many_generated_call_programs_decode_exactly_in_hull_mode() -> None:
    _generated(range(20, 300), lambda p, a: decode_compiled(p, "run", a, [], None, "hull"))


@pytest.mark.parametrize("name", ["recursive_factorial", "trap_indirect", "trap_indirect_null",
                                  "trap_indirect_oob"])
def test_call_workloads_decode_exactly_in_hull_mode(name: str) -> None:
    w = WORKLOADS[name]
    program = load(w.path)
    ref = Machine(program.program, w.inputs).run(w.entry, list(w.args))
    out = decode_compiled(program, w.entry, list(w.args), list(w.inputs), None, "hull")
    assert list(out.tokens) == list(ref.tokens)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mutual_recursion", "call_indirect_ops", "ackermann",
                                  "trap_deep_recursion"])
def test_long_call_workloads_decode_exactly_in_hull_mode(name: str) -> None:
    test_call_workloads_decode_exactly_in_hull_mode(name)


@pytest.mark.slow
@pytest.mark.timeout(7200)  # the O(n) decode of 170,000 tokens after a 200-token prompt
def test_deep_recursion_decodes_exactly_in_linear_mode() -> None:
    w = WORKLOADS["trap_deep_recursion"]
    program = load(w.path)
    ref = Machine(program.program).run(w.entry, list(w.args))
    out = decode_compiled(program, w.entry, list(w.args), [], None, "linear")
    assert list(out.tokens) == list(ref.tokens)
    assert (out.result, out.trap) == (ref.result, ref.trap) == ((), "call_depth_exceeded")


@pytest.mark.slow
def test_recursion_past_depth_8191_returns_exactly() -> None:
    wat = ('(module (func $f (param i32) (result i32) local.get 0 i32.eqz if (result i32) '
           'i32.const 0 else local.get 0 i32.const 1 i32.sub call $f i32.const 1 i32.add end) '
           '(func (export "run") (param i32) (result i32) local.get 0 call $f))')
    program = load_wat(wat)
    ref = Machine(program.program).run("run", [9_000])
    out = decode_compiled(program, "run", [9_000], [], None, "hull")
    assert list(out.tokens) == list(ref.tokens) and out.result == ref.result == (9_000,)


def _chain(n: int) -> str:
    """``n`` functions, each calling the next one slot up; the last one's frame holds 3 slots."""
    funcs = "".join(f'(func $f{i} (param i32) (result i32) local.get 0 call $f{i + 1}) '
                    for i in range(n - 1))
    return (f'(module {funcs}(func $f{n - 1} (param i32) (result i32) local.get 0) '
            f'(func (export "run") (result i32) i32.const 5 call $f0))')


def test_the_reach_of_a_long_chain_of_calls_is_its_frame_steps_plus_the_last_frame() -> None:
    n = 1_100  # a chain longer than Python's recursion limit
    program = load_wat(_chain(n))
    assert lay_out(program.program, n, [], 50_000_000).stack_slots == (n - 1) + 3


@pytest.mark.slow
def test_a_long_chain_of_calls_decodes_exactly() -> None:
    program = load_wat(_chain(1_100))  # 100,000 prompt tokens: 3,300 records
    ref = Machine(program.program).run("run", [])
    out = decode_compiled(program, "run", [], [], None, "hull")
    assert list(out.tokens) == list(ref.tokens) and out.result == (5,)
