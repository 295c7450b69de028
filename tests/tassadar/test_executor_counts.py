"""clz, ctz and popcnt of both widths on the executor: token-exact against the reference."""

from __future__ import annotations

import random

import pytest

from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Limits, Machine


def _program(t: str) -> str:
    return (f'(module (func (export "run") (param {t}) (result {t}) local.get 0 {t}.clz '
            f'local.get 0 {t}.ctz i32.const 0 drop {t}.add local.get 0 {t}.popcnt {t}.xor))')


# written after the weights were frozen: zero, single bits in every byte, all ones, random
@pytest.mark.parametrize("t,bits", [("i32", 32), ("i64", 64)])
def test_counts_decode_exactly(t: str, bits: int) -> None:
    rng = random.Random(bits + 1)
    wat = _program(t)
    values = [0, -1, 1 << (bits - 1), 0x0100, 1 << rng.randrange(bits),
              rng.getrandbits(bits), rng.getrandbits(bits) >> rng.randrange(bits)]
    for x in values:
        program = load_wat(wat)
        ref = Machine(program.program).run("run", [x])
        out = decode_linear(program, "run", [x], [], Limits(max_steps=ref.steps + 2))
        assert list(out.tokens) == list(ref.tokens), hex(x)
