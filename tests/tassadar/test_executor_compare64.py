"""i64 comparisons and eqz on the executor: token-exact at the boundaries, and every unit group
of compare64.py decides some result."""

from __future__ import annotations

import random

import pytest

from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.layout import COMPARISONS
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Limits, Machine

from .exactness import assert_workload_decodes_exactly, without_units

MIN, MAX = -(1 << 63), (1 << 63) - 1
# every i64 comparison of (a, b) as bit k, then eqz of a and of b: one i32 bitmask
_BODY = " ".join(f"local.get 0 local.get 1 i64.{op} i32.const {k} i32.shl i32.or"
                 for k, op in enumerate(COMPARISONS))
ALL = ('(module (func (export "run") (param i64 i64) (result i32) i32.const 0 ' + _BODY +
       ' local.get 0 i64.eqz i32.const 10 i32.shl i32.or'
       ' local.get 1 i64.eqz i32.const 11 i32.shl i32.or))')

# written after the weights were frozen
BOUNDARY = [
    (0, 0), (0, -1), (-1, 0), (MIN, MAX), (MAX, MIN), (MIN, 0), (0, MIN), (-1, MIN), (MAX, -1),
    # equal high halves: the low halves decide, unsigned (bit 31 set on one side only)
    (0x12345678_9ABCDEF0, 0x12345678_1ABCDEF0), (0x12345678_1ABCDEF0, 0x12345678_9ABCDEF0),
    (-2, -0x80000000), (-0x80000000, -2), (5, 4), (4, 5),
    # high halves one apart, low halves the other way round
    (1 << 32, 0xFFFFFFFF), (0xFFFFFFFF, 1 << 32), (-(1 << 32), -1), (-1, -(1 << 32)),
    # high halves that differ in one byte only, and zero low halves (eqz of a nonzero high half)
    *(((1 << (8 * k)), 0) for k in range(4, 8)), *((0, (1 << (8 * k))) for k in range(4, 8)),
    (0x7F00000000000000, 0x8000000000000000), (0x0123456789ABCDEF, 0x0123456789ABCDEF),
]


def _signed(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


SMALL = ('(module (func (export "run") (param i64 i64) (result i32) local.get 0 local.get 1 '
         'i64.lt_u local.get 0 local.get 1 i64.ge_s i32.add local.get 1 i64.eqz i32.add))')


def _exact(args: tuple[int, int], model: Model | None = None, linear: bool = False,
           wat: str = ALL) -> bool:
    program = load_wat(wat)
    ref = Machine(program.program).run("run", list(args))
    decode = decode_linear if linear else decode_compiled
    out = decode(program, "run", list(args), [], Limits(max_steps=ref.steps + 2), model=model)
    return list(out.tokens) == list(ref.tokens) and out.result == ref.result


def test_the_reference_bitmask_is_the_64_bit_order() -> None:
    # the program under test computes what its name says (so exactness means the 64-bit order)
    program = load_wat(ALL)
    for a, b in BOUNDARY:
        sa, sb = _signed(a), _signed(b)
        ua, ub = sa & ((1 << 64) - 1), sb & ((1 << 64) - 1)
        want = [sa == sb, sa != sb, sa < sb, ua < ub, sa > sb, ua > ub, sa <= sb, ua <= ub,
                sa >= sb, ua >= ub, sa == 0, sb == 0]
        got = Machine(program.program).run("run", [a, b]).result[0]
        assert got == sum(int(w) << k for k, w in enumerate(want)), (hex(a), hex(b))


@pytest.mark.parametrize("args", BOUNDARY, ids=[f"{a:#x},{b:#x}" for a, b in BOUNDARY])
def test_i64_comparisons_decode_exactly_at_the_boundaries(args: tuple[int, int]) -> None:
    assert _exact(args)


def test_i64_comparisons_decode_exactly_on_random_operands() -> None:
    rng = random.Random(6464)
    for _ in range(6):
        hi = rng.getrandbits(32)
        a = (hi << 32) | rng.getrandbits(32)
        b = ((hi if rng.random() < 0.5 else rng.getrandbits(32)) << 32) | rng.getrandbits(32)
        assert _exact((_signed(a), _signed(b))), (hex(a), hex(b))


def test_i64_comparisons_decode_exactly_with_the_session() -> None:
    # the numpy session (linear decode), not only the compiled loop
    assert _exact((0x12345678_9ABCDEF0, -0x12345678_1ABCDEF0), linear=True, wat=SMALL)


@pytest.mark.parametrize("name", ["compare_all", "select_minmax"])
def test_corpus_workloads_with_i64_comparisons_decode_exactly_in_hull_mode(name: str) -> None:
    assert_workload_decodes_exactly(name)



@pytest.mark.parametrize("feature,breaks,stays", [
    # the signed sign of the high halves: MIN < 0 needs it; equal high halves do not
    ("hi_cmp_s", (MIN, 0), (5, 4)),
    # the unsigned one: also eq/ne of different high halves
    ("hi_cmp_u", (1 << 32, 0), (5, 4)),
    # the sign bit of c7 (src_c negative): a positive a against a negative b
    ("sign_c7", (1, -(1 << 40)), (5, 4)),
])
def test_deleting_a_unit_group_breaks_the_comparisons_that_use_it(
        feature: str, breaks: tuple[int, int], stays: tuple[int, int]) -> None:
    model = Model.load()
    broken = without_units(model, feature)
    assert _exact(breaks, model) and _exact(stays, model)
    assert not _exact(breaks, broken)
    assert _exact(stays, broken)  # the deletion is local to what the group decides
