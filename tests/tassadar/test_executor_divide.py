"""Division and remainder (i32 and i64) on the executor: restoring long division in scratch
tokens.

Every trace is compared token by token with the reference interpreter, in the linear
(numpy) decode and in the compiled hull decode.
"""

from __future__ import annotations

import random

import pytest

from psionic.tassadar import trace as tr
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.decode import decode_linear, default_model
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Machine

from .exactness import without_units


def _all_four(t: str) -> str:
    return (f'(module (func (export "run") (param {t} {t}) (result {t}) '
            f'local.get 0 local.get 1 {t}.div_u local.get 0 local.get 1 {t}.div_s {t}.xor '
            f'local.get 0 local.get 1 {t}.rem_u {t}.xor local.get 0 local.get 1 {t}.rem_s {t}.xor))')


ALL_FOUR = _all_four("i32")
ALL_FOUR64 = _all_four("i64")
# written after the weights were frozen: signs, extremes, divisors above the dividend,
# quotients with every byte set, remainders with every byte set, negative zeros
HELD_OUT = [(7, 2), (-7, 2), (7, -2), (-7, -2), (-6, 3), (5, 7), (-5, 7), (0, -9),
            (-(1 << 31), 1), (-(1 << 31), -2), ((1 << 31) - 1, -1), (0xDEADBEEF, 0x1234),
            (0x7F6E5D4C, 3), (-0x7F6E5D4C, 0x01020304), (1, -1), (-1, -1), (-1, 1),
            (123456789, 10), (-(1 << 31), 0x7FFFFFFF)]
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
HELD_OUT64 = [(7, 2), (-7, 2), (7, -2), (-7, -2), (-6, 3), (0, -9), (1, -1), (-1, -1),
              (I64_MIN, 1), (I64_MIN, -2), (I64_MAX, -1), (I64_MIN, I64_MAX), (I64_MAX, I64_MIN),
              (-1, (1 << 32) + 1),  # 2^64 - 1 unsigned: every quotient byte set
              (0x7FEDCBA987654321, 0x12345), (-0x7FEDCBA987654321, 0x100000001),
              (0x0123456789ABCDEF, 0x00FEDCBA98765432), (12345678901234567, -98765432101),
              (I64_MIN, 0x100), ((1 << 62) + 12345, (1 << 61) - 1)]
TRAPS = [  # (type, op, a, b, trap)
    ("i32", "div_u", 5, 0, "integer_divide_by_zero"),
    ("i32", "div_s", -5, 0, "integer_divide_by_zero"),
    ("i32", "rem_u", 0, 0, "integer_divide_by_zero"),
    ("i32", "rem_s", 1 << 31, 0, "integer_divide_by_zero"),
    ("i32", "div_s", -(1 << 31), -1, "integer_overflow"), ("i32", "rem_s", -(1 << 31), -1, None),
    ("i32", "div_u", -(1 << 31), -1, None),
    ("i64", "div_u", 5, 0, "integer_divide_by_zero"),
    ("i64", "rem_s", I64_MIN, 0, "integer_divide_by_zero"),
    ("i64", "div_s", I64_MIN, -1, "integer_overflow"), ("i64", "rem_s", I64_MIN, -1, None),
    ("i64", "div_u", I64_MIN, -1, None), ("i64", "div_s", -(1 << 31), -1, None),
]
LOOP = ('(module (func (export "run") (param i32) (result i32) (local i32 i32) '
        'loop local.get 0 i32.const 7 i32.rem_u i32.eqz local.get 1 i32.add local.set 1 '
        'local.get 0 i32.const 3 i32.div_s local.get 2 i32.add local.set 2 '
        'local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0 end local.get 1 local.get 2 i32.sub))')


def _exact(wat: str, args: tuple[int, ...], hull: bool = False) -> list[int]:
    program = load_wat(wat)
    ref = Machine(program.program).run("run", list(args))
    out = decode_linear(program, "run", list(args), [], None)
    assert list(out.tokens) == list(ref.tokens), tr.render(ref.tokens)
    assert (out.result, out.trap, out.steps) == (ref.result, ref.trap, ref.steps)
    if hull:
        fast = decode_compiled(program, "run", list(args), [], None, "hull")
        assert list(fast.tokens) == list(ref.tokens)
    return list(ref.tokens)


@pytest.mark.parametrize("a,b", HELD_OUT)
def test_held_out_divisions_decode_exactly(a: int, b: int) -> None:
    tokens = _exact(ALL_FOUR, (a, b), hull=(a, b) == HELD_OUT[0])
    # four divisions, 4 and 8 scratch tokens each, all emitted by the model
    assert sum(t >= tr.DIV_SCRATCH for t in tokens) == 2 * 4 + 2 * 8


@pytest.mark.parametrize("t,bits,seed", [("i32", (32, 24, 16, 8), 11),
                                         ("i64", (64, 56, 40, 33, 32, 16, 8), 64)])
def test_generated_divisions_decode_exactly(t: str, bits: tuple[int, ...], seed: int) -> None:
    rng = random.Random(seed)
    width = bits[0]
    for _ in range(6):
        a = rng.getrandbits(width) - (1 << (width - 1))
        b = rng.getrandbits(rng.choice(bits)) or 3
        _exact(_all_four(t), (a, b))


@pytest.mark.parametrize("t,op,a,b,trap", TRAPS)
def test_division_traps_decode_exactly(t: str, op: str, a: int, b: int, trap: str | None) -> None:
    wat = (f'(module (func (export "run") (param {t} {t}) (result {t}) local.get 0 local.get 1 '
           f'{t}.{op}))')
    tokens = _exact(wat, (a, b))
    if trap is not None:
        assert tokens[-2:] == [tr.OP_ID[f"{t}.{op}"], tr.TRAP_ID[trap]]


def test_divisions_in_a_loop_decode_exactly_in_both_modes() -> None:
    _exact(LOOP, (30,), hull=True)


@pytest.mark.parametrize("a,b", HELD_OUT64)
def test_held_out_i64_divisions_decode_exactly(a: int, b: int) -> None:
    tokens = _exact(ALL_FOUR64, (a, b), hull=(a, b) == HELD_OUT64[14])
    assert sum(t >= tr.DIV_SCRATCH for t in tokens) == 2 * 8 + 2 * 16


def test_an_i32_division_ignores_the_stale_upper_bytes_of_its_slots() -> None:
    # the two i64 arguments leave 0xff.. in bytes 4..7 of the slots that the i32 operands reuse
    wat = ('(module (func (export "run") (param i64 i64) (result i32) local.get 0 local.get 1 '
           'drop drop i32.const -7 i32.const 2 i32.div_s i32.const 9 i32.const -4 i32.rem_s '
           'i32.add i32.const 0 i32.const 3 i32.div_u i32.add))')
    _exact(wat, (-1, -1), hull=True)


def test_the_clamp_of_every_threshold_is_needed() -> None:
    # div_h_m carries clamp(H_m) + C: without it the threshold m reads Y - m D as far below 0
    model = default_model()
    broken = without_units(model, "div_h1")
    wat, args = ALL_FOUR64, (7, 2)
    ref = Machine(load_wat(wat).program).run("run", list(args))
    assert list(decode_linear(load_wat(wat), "run", list(args), [], None, model=model).tokens) \
        == list(ref.tokens)
    out = decode_linear(load_wat(wat), "run", list(args), [], None, model=broken)
    assert list(out.tokens) != list(ref.tokens)


def test_divisors_shifted_past_two_to_the_64_need_their_count_in_h() -> None:
    # |y| >= 2^32 puts its digits at place 8 and above while the quotient's high bytes are
    # emitted; without the units that count them, D looks smaller than it is
    broken = without_units(default_model(), "div_dhi", "D >= 2^64")
    wat, args = ALL_FOUR64, (0x7FEDCBA987654321, 0x100000001)
    ref = Machine(load_wat(wat).program).run("run", list(args))
    out = decode_linear(load_wat(wat), "run", list(args), [], None, model=broken)
    assert list(out.tokens) != list(ref.tokens)


def test_the_nested_loops_workload_decodes_exactly_on_a_small_input() -> None:
    # the corpus instance (n = 60, 179,380 tokens) is decoded in the slow corpus tests and in
    # hull mode by the benchmark; the same program on a small n here, in both modes
    from psionic.tassadar.workloads import WORKLOADS

    _exact(WORKLOADS["nested_loops"].path.read_text(), (4,), hull=True)
