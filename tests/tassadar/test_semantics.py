"""Integer semantics, op by op: against wasmtime on edge values and against slow obvious formulas."""

from __future__ import annotations

import random

import pytest
import wasmtime

from psionic.tassadar.semantics import BINARY, UNARY, Trap, mul_tokens, signed

from .oracle import TRAP_KINDS

EDGES_32 = [0, 1, 2, 3, 7, 31, 32, 33, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
            0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x12345678]
EDGES_64 = [0, 1, 2, 63, 64, 65, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF,
            0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFE, 0x0123456789ABCDEF]
_PARAMS = {"i32": "i32", "i64": "i64"}


def _signature(name: str) -> tuple[list[str], str]:
    prefix, op = name.split(".")
    if name == "i32.wrap_i64":
        return ["i64"], "i32"
    if name.startswith("i64.extend_i32"):
        return ["i32"], "i64"
    result = "i32" if op in {"eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s",
                             "ge_u", "eqz"} else prefix
    arity = 2 if name in BINARY else 1
    return [prefix] * arity, result


@pytest.fixture(scope="module")
def engine_ops() -> dict:
    funcs = []
    for name in sorted({**BINARY, **UNARY}):
        params, result = _signature(name)
        gets = " ".join(f"local.get {i}" for i in range(len(params)))
        funcs.append(f'(func (export "{name}") (param {" ".join(params)}) (result {result}) '
                     f"{gets} {name})")
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, "(module " + "\n".join(funcs) + ")")
    instance = wasmtime.Instance(store, module, [])
    return {"store": store, "exports": instance.exports(store)}


def _engine(engine_ops: dict, name: str, args: list[int], types: list[str], result: str):
    call = [signed(a, 64 if t == "i64" else 32) for a, t in zip(args, types, strict=True)]
    try:
        v = engine_ops["exports"][name](engine_ops["store"], *call)
    except wasmtime.Trap as t:
        return ("trap", TRAP_KINDS[t.trap_code])
    return v & ((1 << (64 if result == "i64" else 32)) - 1)


def _ours(name: str, args: list[int]):
    f = {**BINARY, **UNARY}[name]
    try:
        return f(*args)
    except Trap as t:
        return ("trap", t.kind)


@pytest.mark.parametrize("name", sorted({**BINARY, **UNARY}))
def test_op_agrees_with_wasmtime_on_edge_values(engine_ops: dict, name: str) -> None:
    types, result = _signature(name)
    rng = random.Random(name)
    pools = [EDGES_64 if t == "i64" else EDGES_32 for t in types]
    cases = []
    if len(types) == 2:
        cases = [[a, b] for a in pools[0] for b in pools[1]]
    else:
        cases = [[a] for a in pools[0]]
    bits = [64 if t == "i64" else 32 for t in types]
    cases += [[rng.getrandbits(n) for n in bits] for _ in range(40)]
    for args in cases:
        assert _ours(name, args) == _engine(engine_ops, name, args, types, result), (name, args)


def test_division_matches_truncating_arithmetic() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        a, b = rng.getrandbits(32), rng.getrandbits(32) or 1
        x, y = signed(a, 32), signed(b, 32)
        if (x, y) == (-(1 << 31), -1):
            continue
        q = int(x / y) if abs(x) < (1 << 52) else None  # float division truncates toward zero
        if q is not None:
            assert signed(BINARY["i32.div_s"](a, b), 32) == q
            assert signed(BINARY["i32.rem_s"](a, b), 32) == x - q * y
        assert BINARY["i32.div_u"](a, b) == a // b


def test_traps() -> None:
    for name in ("i32.div_s", "i32.div_u", "i32.rem_s", "i32.rem_u", "i64.div_u", "i64.rem_s"):
        with pytest.raises(Trap) as info:
            BINARY[name](5, 0)
        assert info.value.kind == "integer_divide_by_zero"
    with pytest.raises(Trap) as info:
        BINARY["i64.div_s"](1 << 63, (1 << 64) - 1)
    assert info.value.kind == "integer_overflow"
    assert BINARY["i64.rem_s"](1 << 63, (1 << 64) - 1) == 0


@pytest.mark.parametrize("nbytes", [4, 8])
def test_mul_tokens_are_the_schoolbook_product(nbytes: int) -> None:
    rng = random.Random(nbytes)
    mask = (1 << (8 * nbytes)) - 1
    cases = [(mask, mask), (0, mask), (1, 1)] + [
        (rng.getrandbits(8 * nbytes), rng.getrandbits(8 * nbytes)) for _ in range(300)]
    for a, b in cases:
        tokens = mul_tokens(a, b, nbytes, 1000)
        assert len(tokens) == 2 * nbytes - 1
        product = bytes(tokens[0::2])
        carries = [t - 1000 for t in tokens[1::2]]
        assert int.from_bytes(product, "little") == (a * b) & mask
        assert all(0 <= c < 2048 for c in carries)
        ab, bb = a.to_bytes(nbytes, "little"), b.to_bytes(nbytes, "little")
        carry = 0
        for k in range(nbytes):  # each byte from its column and the carry token before it
            s = sum(ab[i] * bb[k - i] for i in range(k + 1)) + carry
            assert s % 256 == product[k]
            if k < nbytes - 1:
                carry = carries[k]
                assert carry == s // 256
