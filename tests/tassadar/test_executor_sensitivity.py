"""Every head matters: perturbing one weight of a head, or deleting a head, breaks exactness.

The weights digest is also checked after the other executor tests have run
(pytest runs this file after the decode tests), so no test rewrote the file.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from psionic.tassadar.executor.circuit import LayerWeights
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.model import WEIGHTS_DIGEST, Model, file_digest
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Limits, Machine

from .straightline import straight_line
from .test_executor_frames import CALLS, HUGE_FRAMES
from .test_executor_memory import MEMORY_HELD_OUT

COND = ('(module (func (export "run") (param i32) (result i32) local.get 0 if (result i32) '
        'i32.const 1 else i32.const 2 end))')
LOOP = ('(module (func (export "run") (param i32) (result i32) (local i32) block loop local.get 0 '
        'i32.eqz br_if 1 local.get 0 i32.const 1 i32.sub local.set 0 local.get 1 i32.const 3 '
        'i32.add local.set 1 br 0 end end local.get 1))')
TABLE = ('(module (func (export "run") (param i32) (result i32) block block block local.get 0 '
         'br_table 0 1 2 end i32.const 10 return end i32.const 11 return end i32.const 12))')
IO = ('(module (import "env" "input_i32" (func $in (result i32))) (import "env" "output_i32" '
      '(func $out (param i32))) (func (export "run") (result i32) call $in call $in i32.add '
      'call $out call $in))')
WHOLE = ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 '
         'i32.eq local.get 1 i32.eqz i32.add local.get 1 local.get 0 i32.lt_s i32.add '
         'i32.const 10 i32.const 20 local.get 1 select i32.add))')
DIVIDE = ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 '
          'i32.div_s local.get 0 local.get 1 i32.rem_s i32.xor local.get 1 i32.const 0 i32.div_u '
          'i32.add))')
DIVIDE64 = ('(module (func (export "run") (param i64 i64) (result i64) local.get 0 local.get 1 '
            'i64.div_s local.get 0 local.get 1 i64.rem_s i64.xor local.get 1 i64.const 0 '
            'i64.div_u i64.add))')
# calls first: a deleted frame head shows there, and every other head breaks them quickly
CALL_PROGRAMS = [
    (CALLS["operands_beneath"][0], (3, -4)),  # frame deltas, returns
    (CALLS["fresh_locals"][0], (7,)),  # declared locals: stale and never written
    (CALLS["recursive_sum"][0], (4,)),  # nested frames: depth-keyed return pcs
    (CALLS["indirect_after_table"][0], (0,)),  # the call table after a branch table
    *((CALLS["indirect"][0], (i,)) for i in (0, 1, 2, 5)),  # call_indirect and its traps
    (CALLS["recursive_sum"][0], (4,), Limits(max_call_depth=3)),  # the depth bound, low field
    (CALLS["recursive_sum"][0], (4,), Limits(max_call_depth=4097)),  # and its high field
    # refused at depth 34, where the frame base (32,703) is in range but the callee's frame is not
    (HUGE_FRAMES, (40,), Limits(max_steps=400), (), "exact range"),
]
PROGRAMS = CALL_PROGRAMS + [straight_line(seed)[:2] for seed in range(8)] + [
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.sub))',
     (1, 2)),
    # operands that differ in one byte only: every whole-operand byte head decides a result
    *((WHOLE, (0, 1 << (8 * k))) for k in range(4)),
    *((WHOLE, (1 << (8 * k), 0)) for k in range(4)),
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul))',
     (-1, -1)),
    ('(module (func (export "run") (param i32) (result i64) local.get 0 i64.extend_i32_s))', (-5,)),
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.shl))',
     (0x12345678, 13)),
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.shr_s '
     'local.get 0 local.get 1 i32.shr_u i32.xor))', (-0x12345678, 13)),
    # divisions: quotients with every byte set, remainders with every byte set, negated results
    *((DIVIDE, args) for args in ((0x7F6E5D4C, 3), (-0x7F6E5D4C, 0x40302010), (0x7F6E5D4C, -3))),
    *((DIVIDE64, args) for args in ((0x7F6E5D4C3B2A1908, 3), (-0x7F6E5D4C3B2A1908, 0x4030201010203040),
                                    (0x7F6E5D4C3B2A1908, -3))),
    # i64: every operand byte of a product, and the wrapped bytes of a rotation
    ('(module (func (export "run") (param i64 i64) (result i64) local.get 0 local.get 1 i64.mul '
     'local.get 0 local.get 1 i64.rotr i64.xor))', (-0x0123456789ABCDEF, 0x7EDCBA9876543219)),
    # control flow: a condition nonzero in one byte only picks the opcode token (if.then)
    *((COND, (1 << (8 * k),)) for k in range(4)),
    (LOOP, (3,)),
    (IO, (), None, (5, -0x1234567)),  # inputs: each byte, and the outputs they make
    (IO, (), None, (5,)),  # the inputs run out
    *((TABLE, (a,)) for a in (1, 256, 1 << 16, 1 << 24)),
    # step bounds of both header fields: 5 = (5, 0) and 4099 = (3, 1) in base 4096
    (LOOP, (3,), Limits(max_steps=5)),
    (LOOP, (3,), Limits(max_steps=4099)),
]
MEMORY_PROGRAMS = [
    # linear memory: sign and zero extensions, overwrites, the bounds check, an offset past
    # 4096 over a data segment, growth within the declared maximum and within the page limit
    (MEMORY_HELD_OUT[0][0], (0,)),
    (MEMORY_HELD_OUT[3][0], ()),
    (MEMORY_HELD_OUT[0][0], (65532,)),
    (MEMORY_HELD_OUT[4][0], (101,)),
    (MEMORY_HELD_OUT[5][0], (1,)),
    ('(module (memory 1) (func (export "run") (param i32) (result i32) local.get 0 memory.grow '
     'memory.size i32.add))', (1,), Limits(max_memory_pages=2)),
]


def _names() -> list[tuple[int, int, str]]:
    from psionic.tassadar.executor.compiler import build_circuit

    return [(li, hi, h.name) for li, layer in enumerate(build_circuit().layers)
            for hi, h in enumerate(layer.heads)]


def _with_layer(model: Model, li: int, **arrays: np.ndarray) -> Model:
    layers = list(model.layers)
    layers[li] = dataclasses.replace(layers[li], **arrays)
    return dataclasses.replace(model, layers=tuple(layers))


def _programs(head: str) -> list[tuple]:
    """Every program, the memory ones first for a memory head (they are the ones it breaks)."""
    if "mem" in head:
        return MEMORY_PROGRAMS + PROGRAMS
    return PROGRAMS + MEMORY_PROGRAMS


def _all_exact(model: Model, programs: list[tuple] | None = None) -> bool:
    for wat, args, *rest in programs if programs is not None else _programs(""):
        program = load_wat(wat)
        inputs = rest[1] if len(rest) > 1 else ()
        refusal = rest[2] if len(rest) > 2 else None  # the model must refuse the run so
        # a bound just past the run's length: a broken model that loops stops there
        limits = rest[0] if rest and rest[0] else Limits(
            max_steps=Machine(program.program, inputs).run("run", list(args)).steps + 2)
        ref = Machine(program.program, inputs, limits).run("run", list(args))
        try:
            out = decode_linear(program, "run", list(args), list(inputs), limits, model=model)
        except Exception as e:
            if refusal is not None and refusal in str(e):
                continue
            return False
        if refusal is not None:
            return False
        if list(out.tokens) != list(ref.tokens):
            return False
    return True


def test_the_unmodified_model_is_exact() -> None:
    assert _all_exact(Model.load())


# the centres of the memory and stack keys are precision devices: without them the programs above
# stay exact, but keys leave the exact float64 range (test_executor_memory and
# test_executor_stack_layout test that instead)
PRECISION_ONLY = {"header_mem_center", "header_st_center"}


# heads whose deletion shows on one of the first programs (about a second each); deleting any
# other head runs in the slow suite, as its first broken program lies further down the list
EARLY_BREAKING = {
    "count_marks", "fr_frame_entry", "fr_frame_return", "fr_latest_mark", "fr_snap_frame",
    "fr_snap_rest", "fr_sum_frames", "header_mem_scale", "header_rec_base", "header_st_scale",
    "header_st_slots_lo", "header_steps_lo", "latest_mark",
    "latest_target", "next_record_cond", "next_record_op", "previous_token", "record_after",
    "record_dst", "record_fr_d", "record_fr_ret", "record_fr_stale", "record_imm", "record_kind",
    "record_mem_off_lo", "record_mul", "record_src_a", "record_src_b", "record_width",
    "stack_a0", "stack_a1", "stack_a2", "stack_a3", "stack_c0", "stack_c1", "stack_c2",
    "stack_c3", "stack_opa", "stack_opb",
}


@pytest.mark.parametrize("li,hi,name", [
    pytest.param(li, hi, n, id=n, marks=() if n in EARLY_BREAKING else pytest.mark.slow)
    for li, hi, n in _names() if n not in PRECISION_ONLY])
def test_deleting_any_head_breaks_exactness(li: int, hi: int, name: str) -> None:
    model = Model.load()
    wo = model.layers[li].wo.copy()
    wo[hi] = 0.0
    assert not _all_exact(_with_layer(model, li, wo=wo), _programs(name))


def test_the_early_breaking_heads_exist() -> None:
    assert {n for _, _, n in _names()} >= EARLY_BREAKING


PERTURBATIONS = [  # (head, array, query/key coordinate, feature, new coefficient)
    ("stack_opa", "wq", 0, "f_src_a", 8.5),  # the operand's slot read half a slot off
    ("stack_opb", "wk", 1, "pos", -1.0),  # recency inverted: the oldest write wins
    ("record_imm", "wq", 0, "mpos", -0.5),  # the immediate byte index drifts
    ("latest_mark", "wk", 0, "is_mark", 0.0),  # the key no longer favours step marks
    ("header_rec_base", "wq", 0, "one", 1.0),  # reads the step bound as the record base
    ("latest_target", "wk", 1, "pos", -1.0),  # the oldest target wins: loops lose their place
    ("next_record_cond", "wq", 0, "one", 0.0),  # reads the wrong field of the next record
    ("mem_byte", "wk", 1, "pos", -1.0),  # the oldest write of a memory byte wins
]


@pytest.mark.parametrize("name,field,coord,feature,value", PERTURBATIONS,
                         ids=[p[0] for p in PERTURBATIONS])
def test_perturbing_one_weight_of_a_head_breaks_exactness(name, field, coord, feature,
                                                          value) -> None:
    model = Model.load()
    li, hi = next((li, hi) for li, hi, n in _names() if n == name)
    arr: np.ndarray = getattr(model.layers[li], field).copy()
    assert arr[hi, coord, model.features.index(feature)] != value
    arr[hi, coord, model.features.index(feature)] = value
    assert not _all_exact(_with_layer(model, li, **{field: arr}), _programs(name))


def test_perturbing_the_counting_head_breaks_exactness() -> None:
    model = Model.load()
    li, hi = next((li, hi) for li, hi, n in _names() if n == "count_marks")
    wv = model.layers[li].wv.copy()
    wv[hi] *= 1.01  # a 1% error in the step count
    assert not _all_exact(_with_layer(model, li, wv=wv))


def test_weights_file_is_unchanged_by_the_test_run() -> None:
    assert file_digest() == WEIGHTS_DIGEST
    assert isinstance(Model.load().layers[0], LayerWeights)
