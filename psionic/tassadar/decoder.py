"""Decode a Wasm binary into a ``Module``, refusing what lies outside the profile.

Refusals name the thing refused and its byte offset: a float opcode is an
``UnsupportedOpcode``, an import other than the host ABI an
``UnsupportedImport``, a float value type or a passive segment an
``UnsupportedWasmFeature``. Malformed bytes are a ``MalformedWasm``.

>>> m = decode(bytes.fromhex("0061736d01000000"))
>>> len(m.funcs), m.memory
(0, None)
"""

from __future__ import annotations

from collections.abc import Callable

from psionic.core.errors import UnsupportedImport, UnsupportedOpcode, UnsupportedWasmFeature
from psionic.tassadar import opcodes as oc
from psionic.tassadar.module import (
    DataSegment,
    ElemSegment,
    Export,
    Function,
    FuncType,
    Global,
    Import,
    Instruction,
    Limits,
    Module,
)
from psionic.tassadar.reader import Reader

MAGIC = b"\x00asm\x01\x00\x00\x00"
HOST_IMPORTS: dict[tuple[str, str], FuncType] = {
    ("env", "input_i32"): FuncType((), (oc.I32,)),
    ("env", "output_i32"): FuncType((oc.I32,), ()),
}
MAX_LOCALS = 50_000
MAX_PAGES = 65_536
_FOREIGN_VALTYPES = {0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
_EXPORT_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global"}


def valtype(r: Reader) -> int:
    at = r.pos
    t = r.byte()
    if t in (oc.I32, oc.I64):
        return t
    if t in _FOREIGN_VALTYPES:
        raise UnsupportedWasmFeature(
            f"value type {_FOREIGN_VALTYPES[t]} at byte offset {at} is outside {oc.PROFILE}",
            feature=_FOREIGN_VALTYPES[t], offset=at,
        )
    raise r.fail(f"malformed value type 0x{t:02x}", at)


def limits(r: Reader, what: str) -> Limits:
    at = r.pos
    flags = r.byte()
    if flags not in (0, 1):
        raise UnsupportedWasmFeature(
            f"{what} limits flags 0x{flags:02x} (shared or 64-bit) at byte offset {at}",
            feature=f"{what}_flags", offset=at,
        )
    minimum = r.u32()
    maximum = r.u32() if flags == 1 else None
    if maximum is not None and maximum < minimum:
        raise r.fail(f"{what} maximum below minimum", at)
    return Limits(minimum, maximum)


def const_expr(r: Reader, globals_: list[Global], want: int) -> int:
    """A constant expression: ``i32.const``, ``i64.const`` or ``global.get``, then ``end``."""
    at = r.pos
    op = r.byte()
    if op == 0x41 and want == oc.I32:
        value = r.sleb(32) & 0xFFFFFFFF
    elif op == 0x42 and want == oc.I64:
        value = r.sleb(64) & 0xFFFFFFFFFFFFFFFF
    elif op == 0x23:
        index = r.u32()
        if index >= len(globals_) or globals_[index].valtype != want or globals_[index].mutable:
            raise r.fail("constant expression reads an unusable global", at)
        value = globals_[index].init
    elif op in oc.FOREIGN:
        raise UnsupportedOpcode(
            f"{oc.foreign_name(op)} at byte offset {at} is outside {oc.PROFILE}",
            opcode=oc.foreign_name(op), offset=at,
        )
    else:
        raise r.fail(f"unsupported constant expression opcode 0x{op:02x}", at)
    if r.byte() != 0x0B:
        raise r.fail("constant expression longer than one instruction", at)
    return value


def blocktype(r: Reader, ntypes: int) -> int | None:
    """``None`` for the empty type, a negative number ``-valtype`` for one result, else a type index."""
    at = r.pos
    b = r.data[r.pos] if r.pos < r.end else None
    if b == 0x40:
        r.pos += 1
        return None
    if b in (oc.I32, oc.I64):
        r.pos += 1
        return -b
    if b in _FOREIGN_VALTYPES:
        valtype(r)
    index = r.sleb(33)
    if not 0 <= index < ntypes:
        raise r.fail(f"block type index {index} out of range", at)
    return index


def instruction(r: Reader, ntypes: int) -> Instruction:
    at = r.pos
    byte = r.byte()
    info = oc.OPCODES.get(byte)
    if info is None:
        sub = r.u32() if byte in (oc.PREFIX_FC, oc.PREFIX_FD) else None
        name = oc.foreign_name(byte, sub)
        raise UnsupportedOpcode(
            f"{name} at byte offset {at} is outside {oc.PROFILE}", opcode=name, offset=at
        )
    imm = _IMMEDIATES[info.imm](r, ntypes)
    return Instruction(at, info, imm)


def _memarg(r: Reader, _: int) -> tuple:
    align = r.u32()
    return (align, r.u32())


def _labels(r: Reader, _: int) -> tuple:
    n = r.u32()
    if n > r.end - r.pos:
        raise r.fail("br_table longer than its function")
    targets = tuple(r.u32() for _ in range(n))
    return (targets, r.u32())


def _call_indirect(r: Reader, _: int) -> tuple:
    type_index = r.u32()
    return (type_index, r.u32())


def _memory(r: Reader, _: int) -> tuple:
    at = r.pos
    if r.byte() != 0:
        raise r.fail("memory index must be 0", at)
    return ()


def _select_t(r: Reader, _: int) -> tuple:
    n = r.u32()
    if n != 1:
        raise r.fail("typed select takes exactly one type")
    return (valtype(r),)


_IMMEDIATES: dict[str, Callable[[Reader, int], tuple]] = {
    oc.NONE: lambda r, n: (),
    oc.BLOCKTYPE: lambda r, n: (blocktype(r, n),),
    oc.LABEL: lambda r, n: (r.u32(),),
    oc.LABELS: _labels,
    oc.FUNC: lambda r, n: (r.u32(),),
    oc.CALL_INDIRECT: _call_indirect,
    oc.LOCAL: lambda r, n: (r.u32(),),
    oc.GLOBAL: lambda r, n: (r.u32(),),
    oc.MEMARG: _memarg,
    oc.I32_CONST: lambda r, n: (r.sleb(32) & 0xFFFFFFFF,),
    oc.I64_CONST: lambda r, n: (r.sleb(64) & 0xFFFFFFFFFFFFFFFF,),
    oc.MEMORY: _memory,
    oc.SELECT_T: _select_t,
}


def function_body(r: Reader, type_index: int, ntypes: int) -> Function:
    start = r.pos
    locals_: list[int] = []
    for _ in range(r.u32()):
        count = r.u32()
        t = valtype(r)
        if len(locals_) + count > MAX_LOCALS:
            raise UnsupportedWasmFeature(
                f"more than {MAX_LOCALS} locals in the function at byte offset {start}",
                feature="locals", offset=start,
            )
        locals_.extend([t] * count)
    body: list[Instruction] = []
    depth = 1
    while depth:
        ins = instruction(r, ntypes)
        body.append(ins)
        name = ins.op.name
        if name in ("block", "loop", "if"):
            depth += 1
        elif name == "end":
            depth -= 1
    if r.pos != r.end:
        raise r.fail("function body continues after its final end")
    return Function(type_index, tuple(locals_), tuple(body), start)


class _Sections:
    """Accumulates sections in order; one method per section id (a registry by id)."""

    def __init__(self) -> None:
        self.types: list[FuncType] = []
        self.imports: list[Import] = []
        self.func_types: list[int] = []
        self.funcs: list[Function] = []
        self.table: Limits | None = None
        self.memory: Limits | None = None
        self.globals: list[Global] = []
        self.exports: list[Export] = []
        self.start: int | None = None
        self.elems: list[ElemSegment] = []
        self.datas: list[DataSegment] = []
        self.names: dict[int, str] = {}

    def s1_type(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            if r.byte() != 0x60:
                raise r.fail("function type must start with 0x60", at)
            params = tuple(valtype(r) for _ in range(r.u32()))
            results = tuple(valtype(r) for _ in range(r.u32()))
            self.types.append(FuncType(params, results))

    def s2_import(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            module, name = r.name(), r.name()
            kind = r.byte()
            label = f"{module}.{name}"
            if kind != 0 or (module, name) not in HOST_IMPORTS:
                what = _EXPORT_KINDS.get(kind, "unknown")
                raise UnsupportedImport(
                    f"import {label} ({what}) at byte offset {at} is outside the host ABI "
                    "(env.input_i32, env.output_i32)",
                    name=label, offset=at,
                )
            type_index = r.u32()
            if type_index >= len(self.types):
                raise r.fail("import type index out of range", at)
            if self.types[type_index] != HOST_IMPORTS[(module, name)]:
                raise UnsupportedImport(
                    f"import {label} at byte offset {at} has type {self.types[type_index]}, "
                    f"the host ABI gives {HOST_IMPORTS[(module, name)]}",
                    name=label, offset=at,
                )
            self.imports.append(Import(module, name, type_index, at))

    def s3_function(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            t = r.u32()
            if t >= len(self.types):
                raise r.fail("function type index out of range", at)
            self.func_types.append(t)

    def s4_table(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            if self.table is not None:
                raise UnsupportedWasmFeature(
                    f"a second table at byte offset {at}", feature="tables", offset=at
                )
            if r.byte() != 0x70:
                raise UnsupportedWasmFeature(
                    f"a non-funcref table at byte offset {at}", feature="externref", offset=at
                )
            self.table = limits(r, "table")

    def s5_memory(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            if self.memory is not None:
                raise UnsupportedWasmFeature(
                    f"a second memory at byte offset {at}", feature="memories", offset=at
                )
            self.memory = limits(r, "memory")
            if self.memory.minimum > MAX_PAGES or (self.memory.maximum or 0) > MAX_PAGES:
                raise r.fail("memory larger than 65536 pages", at)

    def s6_global(self, r: Reader) -> None:
        for _ in range(r.u32()):
            t = valtype(r)
            at = r.pos
            mut = r.byte()
            if mut not in (0, 1):
                raise r.fail("global mutability must be 0 or 1", at)
            self.globals.append(Global(t, bool(mut), const_expr(r, self.globals, t)))

    def s7_export(self, r: Reader) -> None:
        seen = set()
        for _ in range(r.u32()):
            at = r.pos
            name = r.name()
            kind = _EXPORT_KINDS.get(r.byte())
            if kind is None:
                raise r.fail("unknown export kind", at)
            if name in seen:
                raise r.fail(f"duplicate export name {name!r}", at)
            seen.add(name)
            self.exports.append(Export(name, kind, r.u32()))

    def s8_start(self, r: Reader) -> None:
        self.start = r.u32()

    def s9_element(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            flags = r.u32()
            if flags != 0:
                raise UnsupportedWasmFeature(
                    f"element segment form {flags} at byte offset {at} (only active funcref "
                    "segments for table 0)", feature="element_segment", offset=at,
                )
            offset = const_expr(r, self.globals, oc.I32)
            n = r.u32()
            if n > r.end - r.pos:
                raise r.fail("element segment longer than its section", at)
            self.elems.append(ElemSegment(offset, tuple(r.u32() for _ in range(n))))

    def s10_code(self, r: Reader) -> None:
        n = r.u32()
        if n != len(self.func_types):
            raise r.fail("code section and function section disagree on the function count")
        for type_index in self.func_types:
            size = r.u32()
            end = r.pos + size
            if end > r.end:
                raise r.fail("function body runs past its section")
            self.funcs.append(function_body(Reader(r.data, r.pos, end), type_index, len(self.types)))
            r.pos = end

    def s11_data(self, r: Reader) -> None:
        for _ in range(r.u32()):
            at = r.pos
            flags = r.u32()
            if flags == 2 and r.u32() != 0:
                raise r.fail("data segment names a memory other than 0", at)
            if flags not in (0, 2):
                raise UnsupportedWasmFeature(
                    f"passive data segment at byte offset {at} (needs bulk memory)",
                    feature="passive_data", offset=at,
                )
            offset = const_expr(r, self.globals, oc.I32)
            self.datas.append(DataSegment(offset, r.bytes(r.u32())))

    def s12_datacount(self, r: Reader) -> None:
        r.u32()

    def s0_custom(self, r: Reader) -> None:
        if r.name() != "name":
            return
        try:  # names are a courtesy: a malformed name section is ignored, as engines do
            while not r.at_end():
                kind, size = r.byte(), r.u32()
                sub = Reader(r.data, r.pos, r.pos + size)
                r.pos += size
                if kind == 1:
                    for _ in range(sub.u32()):
                        index = sub.u32()
                        self.names[index] = sub.name()
        except Exception:
            return


_SECTION_ORDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12}
_HANDLERS: dict[int, Callable[[_Sections, Reader], None]] = {
    0: _Sections.s0_custom, 1: _Sections.s1_type, 2: _Sections.s2_import,
    3: _Sections.s3_function, 4: _Sections.s4_table, 5: _Sections.s5_memory,
    6: _Sections.s6_global, 7: _Sections.s7_export, 8: _Sections.s8_start,
    9: _Sections.s9_element, 10: _Sections.s10_code, 11: _Sections.s11_data,
    12: _Sections.s12_datacount,
}
_SECTION_NAMES = {13: "tag (exceptions)"}


def decode(data: bytes) -> Module:
    """Decode ``data`` (a Wasm binary) into a ``Module``; structure only, see ``validate``."""
    data = bytes(data)
    r = Reader(data)
    if len(data) < 8 or data[:8] != MAGIC:
        raise r.fail("not a Wasm binary version 1 (bad magic or version)", 0)
    r.pos = 8
    s = _Sections()
    last = 0
    while not r.at_end():
        at = r.pos
        sid = r.byte()
        size = r.u32()
        end = r.pos + size
        if end > len(data):
            raise r.fail(f"section {sid} runs past the end of the file", at)
        handler = _HANDLERS.get(sid)
        if handler is None:
            what = _SECTION_NAMES.get(sid, f"unknown section {sid}")
            raise UnsupportedWasmFeature(
                f"{what} at byte offset {at}", feature=f"section_{sid}", offset=at
            )
        if sid:
            order = _SECTION_ORDER[sid]
            if order <= last:
                raise r.fail(f"section {sid} out of order or repeated", at)
            last = order
        sub = Reader(data, r.pos, end)
        handler(s, sub)
        if sid and not sub.at_end():
            raise r.fail(f"section {sid} has {end - sub.pos} trailing bytes", sub.pos)
        r.pos = end
    if len(s.funcs) != len(s.func_types):
        raise r.fail("function section without a matching code section", len(data))
    return Module(
        types=tuple(s.types), imports=tuple(s.imports), funcs=tuple(s.funcs), table=s.table,
        memory=s.memory, globals=tuple(s.globals), exports=tuple(s.exports), start=s.start,
        elems=tuple(s.elems), datas=tuple(s.datas), names=s.names,
    )
