"""Shifts and rotations of both widths, and i64 multiplication, on the executor: token-exact."""

from __future__ import annotations

import random

import pytest

from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Limits, Machine

OPS = ("shl", "shr_u", "shr_s", "rotl", "rotr")


def _program(t: str) -> str:
    body = " ".join(f"local.get 0 local.get 1 {t}.{op}" for op in OPS) + f" {t}.xor" * 4
    return f'(module (func (export "run") (param {t} {t}) (result {t}) {body}))'


def _exact(wat: str, args: list[int]) -> None:
    program = load_wat(wat)
    ref = Machine(program.program).run("run", args)
    out = decode_linear(program, "run", args, [], Limits(max_steps=ref.steps + 2))
    assert list(out.tokens) == list(ref.tokens)
    assert out.result == ref.result


# written after the weights were frozen: byte offsets q and bit offsets r within and across
# bytes, the top bit, counts past the width (taken mod 32 / 64), negative operands for shr_s
@pytest.mark.parametrize("t,bits", [("i32", 32), ("i64", 64)])
def test_shifts_and_rotations_decode_exactly(t: str, bits: int) -> None:
    rng = random.Random(bits)
    wat = _program(t)
    for k in [1, 8, 13, bits - 1, bits + 3, rng.randrange(256)]:
        _exact(wat, [rng.getrandbits(bits) - (1 << (bits - 1)), k])


@pytest.mark.slow
@pytest.mark.parametrize("t,bits", [("i32", 32), ("i64", 64)])
def test_every_shift_count_decodes_exactly(t: str, bits: int) -> None:
    rng = random.Random(bits + 7)
    wat = _program(t)
    for k in range(bits + 8):
        _exact(wat, [rng.getrandbits(bits) - (1 << (bits - 1)), k])


def test_i64_multiplication_decodes_exactly() -> None:
    wat = ('(module (func (export "run") (param i64 i64) (result i64) local.get 0 local.get 1 '
           'i64.mul local.get 1 i64.mul))')
    rng = random.Random(64)
    # all bytes 0xff: the largest column sums and carries (1784)
    for args in ([-1, -1], [0x0123456789ABCDEF, -0x0123456789ABCDF0],
                 [rng.getrandbits(64) - (1 << 63), rng.getrandbits(64) - (1 << 63)]):
        _exact(wat, args)
