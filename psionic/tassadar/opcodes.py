"""The opcode table of the profile ``tassadar.wasm.int.v1``.

Each profile instruction is registered once under its byte with its name and
the shape of its immediates (``imm``). Simple numeric instructions also carry a
signature: the value types they pop and push (``"i"`` is i32, ``"I"`` is i64).
Instructions of WebAssembly that lie outside the profile (floats, SIMD, bulk
memory, references) are named in ``FOREIGN`` so that a refusal can say what it
met.

>>> OPCODES[0x6A].name, OPCODES[0x6A].pops, OPCODES[0x6A].pushes
('i32.add', 'ii', 'i')
>>> foreign_name(0x92)
'f32.add'
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE = "tassadar.wasm.int.v1"

I32 = 0x7F
I64 = 0x7E
VALTYPE_CHAR = {I32: "i", I64: "I"}
CHAR_VALTYPE = {"i": I32, "I": I64}
VALTYPE_NAME = {I32: "i32", I64: "i64"}
WIDTH = {I32: 4, I64: 8}

# Immediate shapes.
NONE = "none"
BLOCKTYPE = "blocktype"
LABEL = "label"
LABELS = "br_table"
FUNC = "func"
CALL_INDIRECT = "call_indirect"
LOCAL = "local"
GLOBAL = "global"
MEMARG = "memarg"
I32_CONST = "i32"
I64_CONST = "i64"
MEMORY = "memory"
SELECT_T = "select_t"


@dataclass(frozen=True, slots=True)
class OpInfo:
    """One profile instruction: its byte, name, immediate shape and (for numeric ops) types."""

    byte: int
    name: str
    imm: str = NONE
    pops: str = ""
    pushes: str = ""
    numeric: bool = False
    # loads and stores: bytes moved, and for loads whether the value is sign-extended
    width: int = 0
    signed: bool = False


OPCODES: dict[int, OpInfo] = {}


def _register(info: OpInfo) -> None:
    if info.byte in OPCODES:
        raise ValueError(f"opcode 0x{info.byte:02x} registered twice")
    OPCODES[info.byte] = info


def _numeric(byte: int, name: str, pops: str, pushes: str) -> None:
    _register(OpInfo(byte, name, NONE, pops, pushes, numeric=True))


_CONTROL = [
    (0x00, "unreachable", NONE), (0x01, "nop", NONE), (0x02, "block", BLOCKTYPE),
    (0x03, "loop", BLOCKTYPE), (0x04, "if", BLOCKTYPE), (0x05, "else", NONE),
    (0x0B, "end", NONE), (0x0C, "br", LABEL), (0x0D, "br_if", LABEL),
    (0x0E, "br_table", LABELS), (0x0F, "return", NONE), (0x10, "call", FUNC),
    (0x11, "call_indirect", CALL_INDIRECT), (0x1A, "drop", NONE), (0x1B, "select", NONE),
    (0x1C, "select", SELECT_T), (0x20, "local.get", LOCAL), (0x21, "local.set", LOCAL),
    (0x22, "local.tee", LOCAL), (0x23, "global.get", GLOBAL), (0x24, "global.set", GLOBAL),
    (0x3F, "memory.size", MEMORY), (0x40, "memory.grow", MEMORY),
    (0x41, "i32.const", I32_CONST), (0x42, "i64.const", I64_CONST),
]
for _byte, _name, _imm in _CONTROL:
    _register(OpInfo(_byte, _name, _imm))

# loads: byte, name, result, width, signed
_LOADS = [
    (0x28, "i32.load", "i", 4, False), (0x29, "i64.load", "I", 8, False),
    (0x2C, "i32.load8_s", "i", 1, True), (0x2D, "i32.load8_u", "i", 1, False),
    (0x2E, "i32.load16_s", "i", 2, True), (0x2F, "i32.load16_u", "i", 2, False),
    (0x30, "i64.load8_s", "I", 1, True), (0x31, "i64.load8_u", "I", 1, False),
    (0x32, "i64.load16_s", "I", 2, True), (0x33, "i64.load16_u", "I", 2, False),
    (0x34, "i64.load32_s", "I", 4, True), (0x35, "i64.load32_u", "I", 4, False),
]
for _byte, _name, _t, _w, _s in _LOADS:
    _register(OpInfo(_byte, _name, MEMARG, "i", _t, width=_w, signed=_s))

_STORES = [
    (0x36, "i32.store", "i", 4), (0x37, "i64.store", "I", 8), (0x3A, "i32.store8", "i", 1),
    (0x3B, "i32.store16", "i", 2), (0x3C, "i64.store8", "I", 1), (0x3D, "i64.store16", "I", 2),
    (0x3E, "i64.store32", "I", 4),
]
for _byte, _name, _t, _w in _STORES:
    _register(OpInfo(_byte, _name, MEMARG, "i" + _t, "", width=_w))

_CMP = ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"]
_UNARY = ["clz", "ctz", "popcnt"]
_BINARY = ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor",
           "shl", "shr_s", "shr_u", "rotl", "rotr"]

for _base, _p, _t in ((0x45, "i32", "i"), (0x50, "i64", "I")):
    _numeric(_base, f"{_p}.eqz", _t, "i")
    for _k, _op in enumerate(_CMP):
        _numeric(_base + 1 + _k, f"{_p}.{_op}", _t + _t, "i")
for _base, _p, _t in ((0x67, "i32", "i"), (0x79, "i64", "I")):
    for _k, _op in enumerate(_UNARY):
        _numeric(_base + _k, f"{_p}.{_op}", _t, _t)
    for _k, _op in enumerate(_BINARY):
        _numeric(_base + 3 + _k, f"{_p}.{_op}", _t + _t, _t)

_numeric(0xA7, "i32.wrap_i64", "I", "i")
_numeric(0xAC, "i64.extend_i32_s", "i", "I")
_numeric(0xAD, "i64.extend_i32_u", "i", "I")
_numeric(0xC0, "i32.extend8_s", "i", "i")
_numeric(0xC1, "i32.extend16_s", "i", "i")
_numeric(0xC2, "i64.extend8_s", "I", "I")
_numeric(0xC3, "i64.extend16_s", "I", "I")
_numeric(0xC4, "i64.extend32_s", "I", "I")

BY_NAME: dict[str, OpInfo] = {}
for _info in OPCODES.values():
    BY_NAME.setdefault(_info.name, _info)

# --- outside the profile: names for refusals ------------------------------------

FOREIGN: dict[int, str] = {
    0x06: "try", 0x07: "catch", 0x08: "throw", 0x09: "rethrow", 0x12: "return_call",
    0x13: "return_call_indirect", 0x25: "table.get", 0x26: "table.set",
    0x2A: "f32.load", 0x2B: "f64.load", 0x38: "f32.store", 0x39: "f64.store",
    0x43: "f32.const", 0x44: "f64.const", 0xD0: "ref.null", 0xD1: "ref.is_null",
    0xD2: "ref.func",
}
_F_CMP = ["eq", "ne", "lt", "gt", "le", "ge"]
for _k, _op in enumerate(_F_CMP):
    FOREIGN[0x5B + _k] = f"f32.{_op}"
    FOREIGN[0x61 + _k] = f"f64.{_op}"
_F_ARITH = ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt", "add", "sub", "mul",
            "div", "min", "max", "copysign"]
for _k, _op in enumerate(_F_ARITH):
    FOREIGN[0x8B + _k] = f"f32.{_op}"
    FOREIGN[0x99 + _k] = f"f64.{_op}"
_CONVERSIONS = [
    "i32.trunc_f32_s", "i32.trunc_f32_u", "i32.trunc_f64_s", "i32.trunc_f64_u", None, None,
    "i64.trunc_f32_s", "i64.trunc_f32_u", "i64.trunc_f64_s", "i64.trunc_f64_u",
    "f32.convert_i32_s", "f32.convert_i32_u", "f32.convert_i64_s", "f32.convert_i64_u",
    "f32.demote_f64", "f64.convert_i32_s", "f64.convert_i32_u", "f64.convert_i64_s",
    "f64.convert_i64_u", "f64.promote_f32", "i32.reinterpret_f32", "i64.reinterpret_f64",
    "f32.reinterpret_i32", "f64.reinterpret_i64",
]
for _k, _conv in enumerate(_CONVERSIONS):
    if _conv:
        FOREIGN[0xA8 + _k] = _conv

PREFIX_FC = 0xFC
PREFIX_FD = 0xFD
FOREIGN_FC = {
    0: "i32.trunc_sat_f32_s", 1: "i32.trunc_sat_f32_u", 2: "i32.trunc_sat_f64_s",
    3: "i32.trunc_sat_f64_u", 4: "i64.trunc_sat_f32_s", 5: "i64.trunc_sat_f32_u",
    6: "i64.trunc_sat_f64_s", 7: "i64.trunc_sat_f64_u", 8: "memory.init", 9: "data.drop",
    10: "memory.copy", 11: "memory.fill", 12: "table.init", 13: "elem.drop", 14: "table.copy",
    15: "table.grow", 16: "table.size", 17: "table.fill",
}


def foreign_name(byte: int, sub: int | None = None) -> str:
    """A readable name for an instruction outside the profile."""
    if byte == PREFIX_FC:
        return FOREIGN_FC.get(sub if sub is not None else -1, f"0xfc {sub} (misc prefix)")
    if byte == PREFIX_FD:
        return f"simd 0xfd {sub}"
    return FOREIGN.get(byte, f"opcode 0x{byte:02x}")
