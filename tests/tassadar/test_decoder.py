"""The decoder: the profile's refusals (named, with offsets) and a corpus of malformed binaries."""

from __future__ import annotations

import random

import pytest
import wasmtime

from psionic.core.errors import (
    MalformedWasm,
    PsionicError,
    UnsupportedImport,
    UnsupportedOpcode,
    UnsupportedWasmFeature,
)
from psionic.tassadar.decoder import decode
from psionic.tassadar.ingress import load, load_wat, wat_to_wasm
from psionic.tassadar.validate import validate
from psionic.tassadar.workloads import WORKLOADS

from . import binary as b
from .markers import HAS_CLANG


def _refused(wat: str, error: type, *words: str) -> Exception:
    wasm = wat_to_wasm(wat)
    with pytest.raises(error) as info:
        decode(wasm)
    for word in words:
        assert word in info.value.message, info.value.message
    offset = info.value.details["offset"]
    assert 0 < offset < len(wasm)
    return info.value


def test_float_opcode_is_refused_with_its_name_and_offset() -> None:
    wat = '(module (func (export "run") (param i32) (result i32) local.get 0 f32.convert_i32_s i32.trunc_f32_s))'
    err = _refused(wat, UnsupportedOpcode, "f32.convert_i32_s", "byte offset")
    wasm = wat_to_wasm(wat)
    assert wasm[err.details["offset"]] == 0xB2  # f32.convert_i32_s
    assert err.code == "unsupported_opcode"


def test_float_const_and_arith_are_refused() -> None:
    _refused('(module (func (result i32) f64.const 1 drop i32.const 0))', UnsupportedOpcode, "f64.const")
    _refused('(module (memory 1) (func i32.const 0 f32.load drop))', UnsupportedOpcode, "f32.load")


def test_simd_is_refused() -> None:
    wat = "(module (func (result i32) v128.const i32x4 1 2 3 4 i32x4.extract_lane 0))"
    _refused(wat, UnsupportedOpcode, "simd 0xfd")


def test_bulk_memory_is_refused() -> None:
    wat = "(module (memory 1) (func i32.const 0 i32.const 0 i32.const 4 memory.copy))"
    _refused(wat, UnsupportedOpcode, "memory.copy")


def test_float_value_types_are_refused() -> None:
    _refused('(module (func (param f32)))', UnsupportedWasmFeature, "f32")
    _refused('(module (func (local f64)))', UnsupportedWasmFeature, "f64")
    _refused('(module (global f32 (f32.const 0)))', UnsupportedWasmFeature, "f32")


def test_foreign_imports_are_refused_by_name() -> None:
    _refused('(module (import "env" "print" (func (param i32))))', UnsupportedImport, "env.print")
    _refused('(module (import "wasi" "input_i32" (func (result i32))))', UnsupportedImport,
             "wasi.input_i32")
    _refused('(module (import "env" "memory" (memory 1)))', UnsupportedImport, "env.memory")
    err = _refused('(module (import "env" "input_i32" (func (result i64))))', UnsupportedImport,
                   "env.input_i32", "host ABI")
    assert err.details["name"] == "env.input_i32"


def test_passive_segments_and_second_tables_are_refused() -> None:
    _refused('(module (memory 1) (data "abc"))', UnsupportedWasmFeature, "passive")
    _refused("(module (table 1 funcref) (table 1 funcref))", UnsupportedWasmFeature, "second table")


def test_host_abi_imports_decode() -> None:
    m = decode(wat_to_wasm(
        '(module (import "env" "input_i32" (func (result i32)))'
        ' (import "env" "output_i32" (func (param i32))))'
    ))
    assert [(i.module, i.name) for i in m.imports] == [("env", "input_i32"), ("env", "output_i32")]


_VALID = b.one_function(b"\x41\x07\x0b")  # i32.const 7; end

MALFORMED = {
    "empty": (b"", "bad magic"),
    "bad magic": (b"\x00asn\x01\x00\x00\x00", "bad magic"),
    "version 2": (b"\x00asm\x02\x00\x00\x00", "version"),
    "section past the end": (b.MAGIC + b"\x01\x10\x01", "runs past the end"),
    "truncated body": (_VALID[:-2], "past"),
    "leb too long": (b.MAGIC + b"\x01\x85\x80\x80\x80\x80\x00", "too long"),
    "sections out of order": (
        b.MAGIC + b.section(7, b.vec([])) + b.section(5, b.vec([])), "out of order",
    ),
    "unknown section": (b.MAGIC + b.section(14, b""), "unknown section 14"),
    "function without code": (
        b.MAGIC + b.section(1, b.vec([b.functype([], [])])) + b.section(3, b.vec([b"\x00"])),
        "code section",
    ),
    "bad value type": (b.MAGIC + b.section(1, b.vec([b"\x60\x01\x55\x00"])), "value type"),
    "code after the final end": (b.one_function(b"\x41\x07\x0b\x01"), "continues after"),
    "duplicate export": (
        b.module([b.functype([], [])], [0], [b.body(b"\x0b")],
                 [b.export_func("a", 0), b.export_func("a", 0)]),
        "duplicate export",
    ),
    "trailing section bytes": (b.MAGIC + b.section(1, b.vec([]) + b"\x00"), "trailing"),
    "bad utf-8 name": (
        b.module([b.functype([], [])], [0], [b.body(b"\x0b")], [b"\x01\xff\x00\x00"]),
        "UTF-8",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_binaries_get_a_clear_error(case: str) -> None:
    data, words = MALFORMED[case]
    with pytest.raises((MalformedWasm, UnsupportedWasmFeature)) as info:
        decode(data)
    assert words in info.value.message
    assert "offset" in info.value.message
    with pytest.raises(wasmtime.WasmtimeError):
        wasmtime.Module.validate(wasmtime.Engine(), data)


def test_valid_hand_made_module_decodes() -> None:
    m = decode(_VALID)
    assert m.funcs[0].body[0].op.name == "i32.const" and m.funcs[0].body[0].imm == (7,)


def test_every_workload_is_valid_for_both_decoders() -> None:
    engine = wasmtime.Engine()
    for w in WORKLOADS.values():
        if w.language == "c" and not HAS_CLANG:
            continue
        program = load(w.path)
        wasmtime.Module.validate(engine, program.wasm)
        assert program.program.code


def test_names_come_from_the_name_section() -> None:
    p = load_wat('(module (func $helper) (func (export "run") call $helper))')
    assert p.program.module.func_name(0) == "helper"
    assert p.program.module.func_name(1) == "run"


def test_mutated_binaries_are_refused_cleanly_or_valid_for_wasmtime_too() -> None:
    """Byte flips, deletions and insertions in corpus binaries: the decoder either refuses with a
    typed error or accepts a module that wasmtime also finds valid (never a crash, never a module
    wasmtime rejects)."""
    engine = wasmtime.Engine()
    seeds = [load(w.path).wasm for w in WORKLOADS.values() if w.language == "wat"]
    rng = random.Random(20260326)
    accepted = 0
    for _ in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(8, len(data))
            roll = rng.random()
            if roll < 0.6:
                data[k] = rng.randrange(256)
            elif roll < 0.8:
                del data[k]
            else:
                data.insert(k, rng.randrange(256))
        try:
            validate(decode(bytes(data)))
        except PsionicError:
            continue
        accepted += 1
        wasmtime.Module.validate(engine, bytes(data))
    assert accepted > 10  # some mutations land in immediates and stay valid
