"""Validation and lowering: invalid bodies are refused, as wasmtime refuses them."""

from __future__ import annotations

import pytest
import wasmtime

from psionic.core.errors import MalformedWasm
from psionic.tassadar.decoder import decode
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.validate import validate

from . import binary as b

I32_CONST_0 = b"\x41\x00"
I64_CONST_0 = b"\x42\x00"

INVALID = {
    "type mismatch": (b.one_function(I32_CONST_0 + I64_CONST_0 + b"\x6a\x0b"), "expects i32"),
    "stack underflow": (b.one_function(b"\x6a\x0b"), "empty operand stack"),
    "missing result": (b.one_function(b"\x0b"), "pops from an empty"),
    "extra values": (b.one_function(I32_CONST_0 + I32_CONST_0 + b"\x0b"), "left on the stack"),
    "branch too deep": (b.one_function(b"\x0c\x05\x0b"), "branch depth"),
    "local out of range": (b.one_function(b"\x20\x03\x0b"), "local 3 out of range"),
    "call to nothing": (b.one_function(b"\x10\x07\x0b"), "does not exist"),
    "load without memory": (b.one_function(I32_CONST_0 + b"\x28\x02\x00\x0b"), "without a memory"),
    "over-aligned load": (
        b.one_function(I32_CONST_0 + b"\x28\x03\x00\x0b", memory=True), "alignment",
    ),
    "if without else changes the stack": (
        b.one_function(I32_CONST_0 + b"\x04\x7f" + I32_CONST_0 + b"\x0b\x0b"), "without else",
    ),
    "else without if": (b.one_function(b"\x05" + I32_CONST_0 + b"\x0b"), "else without if"),
    "immutable global": (
        b.module(
            [b.functype([], [])], [0], [b.body(I32_CONST_0 + b"\x24\x00\x0b")],
            extra=[b.section(6, b.vec([b"\x7f\x00" + I32_CONST_0 + b"\x0b"]))],
        ),
        "immutable",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_bodies_are_refused_like_wasmtime(case: str) -> None:
    data, words = INVALID[case]
    with pytest.raises(MalformedWasm) as info:
        validate(decode(data))
    assert words in info.value.message and "byte offset" in info.value.message
    with pytest.raises(wasmtime.WasmtimeError):
        wasmtime.Module.validate(wasmtime.Engine(), data)


def test_unreachable_code_is_polymorphic() -> None:
    # after `unreachable` anything type-checks, as in the spec
    p = load_wat('(module (func (export "run") (result i32) unreachable i64.add i32.wrap_i64))')
    assert [op.name for op in p.program.code] == ["unreachable", "i64.add", "i32.wrap_i64", "end"]


def test_lowering_resolves_structure_to_pcs() -> None:
    p = load_wat("""(module (func (export "run") (param i32) (result i32)
        block (result i32)
          i32.const 5
          local.get 0
          br_if 0
          drop
          i32.const 6
        end))""")
    names = [op.name for op in p.program.code]
    assert names == ["i32.const", "local.get", "br_if", "drop", "i32.const", "end"]
    target, drop, keep = p.program.code[2].args
    assert target == 5 and drop == 0 and keep == (4,)
    # local 0 sits one slot below the function's operand stack, which holds one value here
    assert p.program.code[1].args == (-2, 4)


def test_branch_that_unwinds_records_drop_and_keep() -> None:
    p = load_wat("""(module (func (export "run") (result i64)
        block (result i64)
          i32.const 1
          i32.const 2
          i64.const 3
          br 0
        end))""")
    br = next(op for op in p.program.code if op.name == "br")
    assert br.args == (4, 2, (8,))
