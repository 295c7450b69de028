"""Linear decode on the executor: token-exact traces against the reference, refusals, isolation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import psionic.tassadar.executor as executor_pkg
from psionic.core.errors import Refusal, UnsupportedOpcode
from psionic.tassadar import handlers, interpreter, semantics
from psionic.tassadar import run as run_mod
from psionic.tassadar import trace as tr
from psionic.tassadar.executor import prompt as prompt_mod
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.prompt import COVERED
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.run import run_program
from psionic.tassadar.workloads import WORKLOADS

from .exactness import decode_corpus
from .flowprog import flow_program
from .straightline import straight_line

HELD_OUT = [  # written after the weights were frozen
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))',
     (255, 1)),
    ('(module (func (export "run") (param i32) (result i32) (local i32) local.get 0 i32.const 1 '
     'i32.sub local.tee 1 local.get 1 i32.sub local.get 0 i32.sub))', (0,)),
    ('(module (func (export "run") (param i64) (result i64) local.get 0 i64.const -1 i64.add '
     'i64.const 0x7fffffffffffffff i64.sub))', (-0x8000000000000000,)),
    ('(module (func (export "run") (result i32) i32.const 5 drop nop i32.const 6 return))', ()),
    ('(module (func (export "run") (param i32) local.get 0 i32.const 7 i32.add drop))', (3,)),
    ('(module (func (export "run") (param i32) (result i32) local.get 0 unreachable))', (1,)),
    ('(module (global $g (mut i32) (i32.const 7)) (global $h (mut i64) (i64.const -5)) '
     '(global $c i32 (i32.const 100)) (func (export "run") (param i32) (result i32) global.get $g '
     'local.get 0 i32.add global.set $g global.get $h i64.const 9 i64.add global.set $h '
     'global.get $g global.get $c i32.sub global.get $g i32.add))', (5,)),
]


def _exact(wat: str, args, limits: Limits | None = None, inputs=()) -> None:
    program = load_wat(wat)
    ref = Machine(program.program, inputs, limits).run("run", list(args))
    out = decode_linear(program, "run", list(args), list(inputs), limits)
    assert list(out.tokens) == list(ref.tokens)
    assert (out.result, out.trap, out.steps, out.outputs) == (ref.result, ref.trap, ref.steps,
                                                              ref.outputs)
    assert (out.memory, out.globals) == (ref.memory, ref.globals)


@pytest.mark.parametrize("case", range(len(HELD_OUT)))
def test_held_out_programs_decode_exactly(case: int) -> None:
    _exact(*HELD_OUT[case])


def test_generated_straight_line_programs_decode_exactly() -> None:
    for seed in range(24):  # 126 more under slow
        wat, args, _ = straight_line(seed)
        _exact(wat, args)


@pytest.mark.slow
def test_more_generated_straight_line_programs_decode_exactly() -> None:
    for seed in range(24, 150):
        wat, args, _ = straight_line(seed)
        _exact(wat, args)


def test_generated_control_flow_programs_decode_exactly() -> None:
    for seed in range(6):
        _exact(*flow_program(seed))


@pytest.mark.slow
@pytest.mark.timeout(3600)  # minutes of O(n) decoding
def test_many_generated_control_flow_programs_decode_exactly() -> None:
    for seed in range(6, 212):  # 206 more held-out programs with loops, ifs and branches
        _exact(*flow_program(seed))


FLOW_HELD_OUT = [  # written after the weights were frozen
    # a countdown loop: br_if out, br back
    ('(module (func (export "run") (param i32) (result i32) (local i32) block loop local.get 0 '
     'i32.eqz br_if 1 local.get 0 i32.const 1 i32.sub local.set 0 local.get 1 i32.const 3 i32.add '
     'local.set 1 br 0 end end local.get 1))', (5,)),
    # if/else with a result, both ways
    ('(module (func (export "run") (param i32) (result i32) local.get 0 if (result i32) '
     'i32.const 1 else i32.const 2 end))', (0,)),
    ('(module (func (export "run") (param i32) (result i32) local.get 0 if (result i32) '
     'i32.const 1 else i32.const 2 end))', (-7,)),
    # a block result leaving through br_if, two slots dropped beneath it
    ('(module (func (export "run") (param i32) (result i32) block (result i32) i32.const 9 '
     'i32.const 4 local.get 0 br_if 0 drop drop i32.const 5 end))', (1,)),
    # fibonacci by a loop whose back edge is a br_if, with an early return
    ('(module (func (export "run") (param i32) (result i32) (local i32 i32 i32) i32.const 1 '
     'local.set 2 local.get 0 i32.eqz if i32.const 0 return end loop local.get 1 local.get 2 '
     'i32.add local.set 3 local.get 2 local.set 1 local.get 3 local.set 2 local.get 0 i32.const 1 '
     'i32.sub local.tee 0 i32.const 1 i32.gt_u br_if 0 end local.get 2))', (12,)),
    # br_table: every entry, the default, and indices past the table in each byte
    *((('(module (func (export "run") (param i32) (result i32) block block block local.get 0 '
        'br_table 0 1 2 end i32.const 10 return end i32.const 11 return end i32.const 12))'), (a,))
      for a in (0, 1, 2, 3, -1, 256, 1 << 24)),
    # nested loops and an if without else
    ('(module (func (export "run") (param i32) (result i32) (local i32 i32 i32) loop local.get 0 '
     'local.set 2 loop local.get 2 i32.const 1 i32.and if local.get 3 local.get 2 i32.add '
     'local.set 3 end local.get 2 i32.const 1 i32.sub local.tee 2 br_if 0 end local.get 1 '
     'i32.const 1 i32.add local.tee 1 i32.const 3 i32.lt_u br_if 0 end local.get 3))', (4,)),
]


IO = ('(module (import "env" "input_i32" (func $in (result i32))) (import "env" "output_i32" '
      '(func $out (param i32))) (func (export "run") (result i32) call $in call $in i32.add '
      'call $out call $in))')
IO_LOOP = ('(module (import "env" "input_i32" (func $in (result i32))) (import "env" "output_i32" '
           '(func $out (param i32))) (func (export "run") (param i32) (result i32) (local i32) '
           'loop local.get 1 call $in i32.xor local.tee 1 call $out local.get 0 i32.const 1 i32.sub '
           'local.tee 0 br_if 0 end local.get 1))')


@pytest.mark.parametrize("inputs", [(5, -7, 0x12345678), (5, -7), (), (-1, 256, 65536, 1 << 24)])
def test_host_io_decodes_exactly_and_traps_when_inputs_run_out(inputs) -> None:
    _exact(IO, (), inputs=inputs)
    _exact(IO_LOOP, (3,), inputs=inputs)


@pytest.mark.parametrize("case", range(len(FLOW_HELD_OUT)))
def test_held_out_control_flow_programs_decode_exactly(case: int) -> None:
    _exact(*FLOW_HELD_OUT[case])


def test_a_loop_trapping_on_the_step_bound_matches_the_reference() -> None:
    wat, args = FLOW_HELD_OUT[0]
    for max_steps in (0, 7, 23, 40):
        _exact(wat, args, Limits(max_steps=max_steps))

@pytest.mark.slow
def test_many_generated_straight_line_programs_decode_exactly() -> None:
    for seed in range(150, 400):  # 250 more held-out programs
        wat, args, _ = straight_line(seed)
        _exact(wat, args)


@pytest.mark.parametrize("max_steps", [0, 1, 2, 5])
def test_step_bound_traps_like_the_reference(max_steps: int) -> None:
    wat, args = HELD_OUT[1]
    _exact(wat, args, Limits(max_steps=max_steps))


def test_uncovered_opcode_is_refused_before_decoding_with_its_name(monkeypatch) -> None:
    # every opcode of the profile is covered; an opcode without a record is refused by name
    monkeypatch.delitem(prompt_mod.RECORDS, "i64.rem_u")
    p = load_wat('(module (func $f (param i64) (result i64) local.get 0 i64.const 3 i64.rem_u) '
                 '(func (export "run") (param i64) (result i64) local.get 0 call $f))')
    with pytest.raises(UnsupportedOpcode, match="i64.rem_u"):
        decode_linear(p, "run", [2], [], None)


# workloads decoded by the default run: short traces (the linear decode is O(n) per token);
# the compiled loop's corpus test compares the rest up to 60k tokens in the default run too
QUICK_TOKENS = 1000
# longer traces (C programs with memory: 200k+ tokens) are checked in the compiled loop
# (test_executor_memory.py): the O(n)-per-token session would take hours
LINEAR_TOKENS = 60_000
# the workloads the executor decodes token-exact; every other one is refused by name
DECODED = {"ackermann", "bigfact_c", "binary_search_c", "bit_counts", "bit_tricks_c",
           "block_results", "br_table_switch", "br_table_values", "bubble_sort_c", "bytecode_vm_c",
           "call_chain", "call_indirect_ops", "collatz_c", "collatz_state", "compare_all", "const_arith",
           "crc32_c", "data_checksum", "factorial_i64", "fib_c", "fib_iter", "func_pointers_c",
           "function_label_branches", "gcd_c", "globals_counter", "hanoi_c", "hungarian_c",
           "i64_arith", "if_else_classify", "insertion_sort_c", "isqrt_c", "io_prefix_sums", "io_transform", "knapsack_c", "lcs_c", "matmul_c",
           "memory_grow", "memory_sum", "memory_widths", "mutual_recursion", "nested_loops",
           "nqueens_c", "powmod_c", "quicksort_c", "recursive_factorial", "select_minmax", "shifts_wide",
           "sieve_c", "signed_division", "start_function", "straight_rounds_i32", "straight_rounds_i64", "strings_c",
           "sudoku_c", "sudoku_inkala_c", "sum_loop", "tee_drop_nop", "trap_div_zero",
           "trap_indirect", "trap_indirect_null", "trap_indirect_oob", "trap_input", "trap_oob",
           "trap_deep_recursion", "trap_overflow", "trap_unreachable", "wrap_extend"}
# too long for the O(n) decode: ackermann (101k tokens) is compared in hull mode
# (test_executor_frames), compare_all (1,517 tokens after a 1,000-token prompt: it calls) in
# test_executor_compare64, fib_c (1.4M) in compiled hull mode (test_executor_compiled, slow)
LINEAR_TOO_LONG = {"ackermann", "compare_all", "fib_c"}


def _corpus(long: bool) -> None:
    decoded, refused = decode_corpus(
        lambda p, w: decode_linear(p, w.entry, list(w.args), list(w.inputs), None),
        lambda w: not w.slow and w.name not in LINEAR_TOO_LONG,
        lambda n: (n > QUICK_TOKENS) == long and n <= LINEAR_TOKENS)
    assert set(decoded) <= DECODED and not set(refused) & DECODED, (decoded, refused)
    assert decoded


def test_a_branch_moving_two_values_is_refused() -> None:
    wat = ('(module (func (export "run") (result i32) block (result i32 i32) i64.const 1 '
           'i32.const 2 i32.const 3 br 0 end i32.add))')
    with pytest.raises(Refusal, match="moves 2"):
        decode_linear(load_wat(wat), "run", [], [], None)


def test_corpus_workloads_decode_exactly_or_are_refused() -> None:
    _corpus(long=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # minutes of O(n) decoding
def test_long_corpus_workloads_decode_exactly_or_are_refused() -> None:
    _corpus(long=True)


class _Raiser:
    def __init__(self, *a, **k) -> None:
        raise AssertionError("the reference interpreter was called from the decode path")


def test_decode_path_never_reaches_the_interpreter(monkeypatch) -> None:
    monkeypatch.setattr(interpreter, "Machine", _Raiser)
    monkeypatch.setattr(run_mod, "Machine", _Raiser)
    monkeypatch.setattr(handlers, "build", _Raiser)  # the step closures of the reference
    monkeypatch.setattr(semantics, "BINARY", {})  # the reference's numeric semantics
    monkeypatch.setattr(semantics, "UNARY", {})
    wat, args = HELD_OUT[0]
    report = run_program(load_wat(wat), "run", args, decode="linear")
    assert report.result == (256,) and report.decode == "linear"
    for seed in range(4):
        wat, args, _ = straight_line(seed)
        run_program(load_wat(wat), "run", args, decode="linear")
    for wat, args in FLOW_HELD_OUT:  # loops, ifs, branch tables
        run_program(load_wat(wat), "run", args, decode="linear")
    for name in ("const_arith", "wrap_extend"):  # corpus workloads, decoded by the model alone
        w = WORKLOADS[name]
        assert run_program(load(w.path), w.entry, w.args, decode="linear").trap is None
    w = WORKLOADS["trap_unreachable"]  # an if, then a trap
    assert run_program(load(w.path), w.entry, w.args, decode="linear").trap == "unreachable"


def test_executor_modules_import_no_interpreter_code() -> None:
    banned = {"psionic.tassadar.interpreter", "psionic.tassadar.handlers",
              "psionic.tassadar.handlers_flow", "psionic.tassadar.semantics"}
    for path in Path(executor_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            else:
                continue
            assert not names & banned, (path.name, names & banned)


def test_covered_opcodes_are_listed() -> None:
    assert {"i32.add", "i64.sub", "i32.mul", "i32.lt_s", "select"} <= set(COVERED)
    assert {"br", "br_if", "if", "else"} <= set(COVERED)
    assert {"call", "call_indirect", "return"} <= set(COVERED)
    assert {"i32.div_u", "i32.rem_s", "i32.load8_s", "i64.store", "memory.grow"} <= set(COVERED)
    assert {"i64.div_u", "i64.rem_s"} <= set(COVERED)
    # every lowered opcode of the profile (br_if and if stand for their two variants)
    assert set(tr.OP_ID) - set(COVERED) == {"br_if.taken", "br_if.fallthrough", "if.then",
                                             "if.else"}
