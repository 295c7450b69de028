"""Type-check a decoded module and lower it to a ``Program``.

Validation follows the WebAssembly algorithm (an operand-type stack and a
control stack, polymorphic after an unconditional branch). Because the
operand height at every reachable instruction is static, lowering resolves
each local to a fixed offset from the stack top and each branch to a target
``pc`` with a drop and keep count.

Lowered ``args`` by name:

- ``local.get``/``local.tee``: (negative stack index, width); ``local.set`` the same
  after its pop
- ``global.get``/``global.set``: (index, width)
- loads: (static offset, bytes read, signed, result width); stores: (static offset, bytes)
- ``br``/``br_if``: (target pc, drop, keep widths); ``br_table``: (entries, default)
  where each entry is such a triple
- ``if``: (pc of the else branch or the end); ``else``: (pc after the end)
- ``return`` (and a function's final ``end``): (slots above the frame base, result widths)
- ``call``: (function index, declared locals to zero); ``call_indirect``: (type index,)
- ``i32.const``/``i64.const``: (bits,); ``select``: (width,)
"""

from __future__ import annotations

from psionic.core.errors import MalformedWasm
from psionic.tassadar import opcodes as oc
from psionic.tassadar.decoder import HOST_IMPORTS
from psionic.tassadar.module import Function, FuncType, Instruction, Module
from psionic.tassadar.program import CompiledFunction, Op, Program

UNKNOWN = 0  # the type of a value popped from a polymorphic (unreachable) stack
HOST_OPS = {("env", "input_i32"): "host.input_i32", ("env", "output_i32"): "host.output_i32"}


def _fail(what: str, ins: Instruction | None = None, offset: int | None = None) -> MalformedWasm:
    at = ins.offset if ins is not None else offset
    return MalformedWasm(f"{what} at byte offset {at}", offset=at)


class _Frame:
    # mutable on purpose: the validator updates reachability and collects fixups as it walks
    __slots__ = ("kind", "params", "results", "height", "unreachable", "start_pc", "fixups",
                 "if_index")

    def __init__(self, kind: str, params: tuple[int, ...], results: tuple[int, ...],
                 height: int, start_pc: int) -> None:
        self.kind = kind
        self.params = params
        self.results = results
        self.height = height
        self.unreachable = False
        self.start_pc = start_pc
        self.fixups: list[list] = []  # mutable arg lists whose slot 0 becomes the end pc
        self.if_index = -1

    def label_types(self) -> tuple[int, ...]:
        return self.params if self.kind == "loop" else self.results


class _FunctionCompiler:
    def __init__(self, module: Module, index: int, fn: Function, code: list) -> None:
        self.module = module
        self.index = index
        self.type = module.types[fn.type_index]
        self.local_types = self.type.params + fn.locals
        self.nlocals = len(self.local_types)
        self.fn = fn
        self.code = code  # list of [name, args(list), offset, func]
        self.opd: list[int] = []
        self.ctrl: list[_Frame] = []
        self.height = 0  # operand height before the instruction being lowered

    # --- operand stack -------------------------------------------------------
    def push(self, t: int) -> None:
        self.opd.append(t)

    def pop(self, ins: Instruction, want: int = UNKNOWN) -> int:
        frame = self.ctrl[-1]
        if len(self.opd) == frame.height:
            if frame.unreachable:
                return want
            raise _fail(f"{ins.op.name} pops from an empty operand stack", ins)
        t = self.opd.pop()
        if want and t and t != want:
            raise _fail(
                f"{ins.op.name} expects {oc.VALTYPE_NAME[want]} but finds {oc.VALTYPE_NAME[t]}",
                ins,
            )
        return t or want

    def pop_all(self, ins: Instruction, types: tuple[int, ...]) -> None:
        for t in reversed(types):
            self.pop(ins, t)

    def unreachable(self) -> None:
        frame = self.ctrl[-1]
        del self.opd[frame.height:]
        frame.unreachable = True

    def emit(self, name: str, ins: Instruction, *args: object) -> list:
        return self.emit_args(name, ins, list(args))

    def emit_args(self, name: str, ins: Instruction, args: list) -> list:
        """Append an instruction whose ``args`` list may still be patched (a branch fixup)."""
        entry = [name, args, ins.offset, self.index, self.height]
        self.code.append(entry)
        return entry

    # --- helpers --------------------------------------------------------------
    def block_type(self, ins: Instruction) -> FuncType:
        bt = ins.imm[0]
        if bt is None:
            return FuncType((), ())
        if bt < 0:
            return FuncType((), (-bt,))
        return self.module.types[bt]

    def label(self, ins: Instruction, depth: int) -> _Frame:
        if depth >= len(self.ctrl):
            raise _fail(f"branch depth {depth} exceeds the {len(self.ctrl)} enclosing labels", ins)
        return self.ctrl[-1 - depth]

    def branch_args(self, frame: _Frame, height: int) -> list:
        """[target, drop, keep widths] for a branch to ``frame`` from operand height ``height``."""
        keep = frame.label_types()
        drop = max(height - len(keep) - frame.height, 0)
        widths = tuple(oc.WIDTH[t] for t in keep)
        args = [frame.start_pc, drop, widths]
        if frame.kind != "loop":
            frame.fixups.append(args)
        return args

    def local_type(self, ins: Instruction) -> int:
        i = ins.imm[0]
        if i >= self.nlocals:
            raise _fail(f"local {i} out of range ({self.nlocals} locals)", ins)
        return self.local_types[i]

    def global_type(self, ins: Instruction, write: bool) -> int:
        i = ins.imm[0]
        if i >= len(self.module.globals):
            raise _fail(f"global {i} out of range", ins)
        g = self.module.globals[i]
        if write and not g.mutable:
            raise _fail(f"global {i} is immutable", ins)
        return g.valtype

    # --- the walk -------------------------------------------------------------
    def run(self) -> None:
        self.ctrl.append(_Frame("func", (), self.type.results, 0, len(self.code)))
        for ins in self.fn.body:
            if not self.ctrl:
                raise _fail("instruction after the function's end", ins)
            self.height = len(self.opd)
            handler = _HANDLERS.get(ins.op.name)
            if handler is not None:
                handler(self, ins)
            elif ins.op.numeric:
                self.pop_all(ins, tuple(oc.CHAR_VALTYPE[c] for c in ins.op.pops))
                self.emit(ins.op.name, ins)
                for c in ins.op.pushes:
                    self.push(oc.CHAR_VALTYPE[c])
            else:  # pragma: no cover - every profile opcode has a handler
                raise _fail(f"no validator for {ins.op.name}", ins)
        if self.ctrl:
            raise _fail("function body ends inside a block", offset=self.fn.offset)


def _block(c: _FunctionCompiler, ins: Instruction) -> None:
    t = c.block_type(ins)
    c.pop_all(ins, t.params)
    kind = ins.op.name
    frame = _Frame(kind, t.params, t.results, len(c.opd), len(c.code))
    c.ctrl.append(frame)
    c.opd.extend(t.params)


def _if(c: _FunctionCompiler, ins: Instruction) -> None:
    c.pop(ins, oc.I32)
    t = c.block_type(ins)
    c.pop_all(ins, t.params)
    c.emit("if", ins, -1)
    frame = _Frame("if", t.params, t.results, len(c.opd), len(c.code))
    frame.if_index = len(c.code) - 1
    c.ctrl.append(frame)
    c.opd.extend(t.params)


def _check_frame_results(c: _FunctionCompiler, ins: Instruction, frame: _Frame) -> None:
    c.pop_all(ins, frame.results)
    if len(c.opd) != frame.height:
        raise _fail(f"{ins.op.name}: {len(c.opd) - frame.height} values left on the stack", ins)


def _else(c: _FunctionCompiler, ins: Instruction) -> None:
    frame = c.ctrl[-1]
    if frame.kind != "if":
        raise _fail("else without if", ins)
    _check_frame_results(c, ins, frame)
    entry = c.emit("else", ins, -1)
    frame.fixups.append(entry[1])
    c.code[frame.if_index][1][0] = len(c.code)  # a false condition starts after the else
    frame.kind = "else"
    frame.unreachable = False
    c.opd.extend(frame.params)


def _end(c: _FunctionCompiler, ins: Instruction) -> None:
    frame = c.ctrl[-1]
    if len(c.ctrl) == 1:
        # Reached by falling through (height == results, checked) or by a branch to the
        # function's label, which unwinds to exactly the results: either way the frame
        # holds the locals and the results.
        _check_frame_results(c, ins, frame)
        for args in frame.fixups:
            args[0] = len(c.code)
        results = tuple(oc.WIDTH[t] for t in frame.results)
        c.emit("end", ins, c.nlocals + len(results), results)
        c.ctrl.pop()
        return
    _check_frame_results(c, ins, frame)
    if frame.kind == "if":
        if frame.params != frame.results:
            raise _fail("if without else must leave its parameters unchanged", ins)
        c.code[frame.if_index][1][0] = len(c.code)
    for args in frame.fixups:
        args[0] = len(c.code)
    c.ctrl.pop()
    c.opd.extend(frame.results)


def _br(c: _FunctionCompiler, ins: Instruction) -> None:
    frame = c.label(ins, ins.imm[0])
    height = len(c.opd)
    c.pop_all(ins, frame.label_types())
    c.emit_args("br", ins, c.branch_args(frame, height))
    c.unreachable()


def _br_if(c: _FunctionCompiler, ins: Instruction) -> None:
    c.pop(ins, oc.I32)
    frame = c.label(ins, ins.imm[0])
    height = len(c.opd)
    types = frame.label_types()
    c.pop_all(ins, types)
    c.opd.extend(types)
    c.emit_args("br_if", ins, c.branch_args(frame, height))


def _br_table(c: _FunctionCompiler, ins: Instruction) -> None:
    c.pop(ins, oc.I32)
    targets, default = ins.imm
    height = len(c.opd)
    dframe = c.label(ins, default)
    arity = len(dframe.label_types())
    entries = []
    for depth in (*targets, default):
        frame = c.label(ins, depth)
        types = frame.label_types()
        if len(types) != arity:
            raise _fail("br_table targets disagree on their arity", ins)
        c.pop_all(ins, types)
        c.opd.extend(types)
        entries.append(c.branch_args(frame, height))
    c.pop_all(ins, dframe.label_types())
    c.emit("br_table", ins, entries[:-1], entries[-1])
    c.unreachable()


def _return(c: _FunctionCompiler, ins: Instruction) -> None:
    height = len(c.opd)
    results = c.type.results
    c.pop_all(ins, results)
    c.emit("return", ins, c.nlocals + height, tuple(oc.WIDTH[t] for t in results))
    c.unreachable()


def _call(c: _FunctionCompiler, ins: Instruction) -> None:
    index = ins.imm[0]
    m = c.module
    if index >= m.num_funcs:
        raise _fail(f"call to function {index}, which does not exist", ins)
    t = m.func_type(index)
    c.pop_all(ins, t.params)
    if index < len(m.imports):
        imp = m.imports[index]
        c.emit(HOST_OPS[(imp.module, imp.name)], ins)
    else:
        c.emit("call", ins, index, len(m.funcs[index - len(m.imports)].locals))
    c.opd.extend(t.results)


def _call_indirect(c: _FunctionCompiler, ins: Instruction) -> None:
    type_index, table = ins.imm
    if c.module.table is None or table != 0:
        raise _fail("call_indirect without table 0", ins)
    if type_index >= len(c.module.types):
        raise _fail(f"call_indirect type {type_index} out of range", ins)
    c.pop(ins, oc.I32)
    t = c.module.types[type_index]
    c.pop_all(ins, t.params)
    c.emit("call_indirect", ins, type_index)
    c.opd.extend(t.results)


def _local(c: _FunctionCompiler, ins: Instruction) -> None:
    t = c.local_type(ins)
    i, h = ins.imm[0], len(c.opd)
    name = ins.op.name
    if name == "local.get":
        c.emit(name, ins, i - c.nlocals - h, oc.WIDTH[t])
        c.push(t)
    elif name == "local.set":
        c.pop(ins, t)
        c.emit(name, ins, i - c.nlocals - h + 1, oc.WIDTH[t])
    else:
        c.pop(ins, t)
        c.emit(name, ins, i - c.nlocals - h, oc.WIDTH[t])
        c.push(t)


def _global(c: _FunctionCompiler, ins: Instruction) -> None:
    write = ins.op.name == "global.set"
    t = c.global_type(ins, write)
    if write:
        c.pop(ins, t)
    else:
        c.push(t)
    c.emit(ins.op.name, ins, ins.imm[0], oc.WIDTH[t])


def _need_memory(c: _FunctionCompiler, ins: Instruction) -> None:
    if c.module.memory is None:
        raise _fail(f"{ins.op.name} without a memory", ins)


def _memory_access(c: _FunctionCompiler, ins: Instruction) -> None:
    _need_memory(c, ins)
    align, offset = ins.imm
    op = ins.op
    if (1 << align) > op.width:
        raise _fail(f"{op.name} alignment 2**{align} exceeds its natural alignment", ins)
    if op.pushes:  # a load
        c.pop(ins, oc.I32)
        t = oc.CHAR_VALTYPE[op.pushes]
        c.emit(op.name, ins, offset, op.width, op.signed, oc.WIDTH[t])
        c.push(t)
    else:
        c.pop(ins, oc.CHAR_VALTYPE[op.pops[1]])
        c.pop(ins, oc.I32)
        c.emit(op.name, ins, offset, op.width)


def _memory_size(c: _FunctionCompiler, ins: Instruction) -> None:
    _need_memory(c, ins)
    if ins.op.name == "memory.grow":
        c.pop(ins, oc.I32)
    c.emit(ins.op.name, ins)
    c.push(oc.I32)


def _const(c: _FunctionCompiler, ins: Instruction) -> None:
    c.emit(ins.op.name, ins, ins.imm[0])
    c.push(oc.I32 if ins.op.name == "i32.const" else oc.I64)


def _drop(c: _FunctionCompiler, ins: Instruction) -> None:
    c.pop(ins)
    c.emit("drop", ins)


def _select(c: _FunctionCompiler, ins: Instruction) -> None:
    c.pop(ins, oc.I32)
    want = ins.imm[0] if ins.imm else UNKNOWN
    t1 = c.pop(ins, want)
    t2 = c.pop(ins, t1 or want)
    t = t1 or t2 or want or oc.I32
    c.emit("select", ins, oc.WIDTH[t])
    c.push(t1 or t2 or want)


def _unreachable(c: _FunctionCompiler, ins: Instruction) -> None:
    c.emit("unreachable", ins)
    c.unreachable()


def _nop(c: _FunctionCompiler, ins: Instruction) -> None:
    c.emit("nop", ins)


_HANDLERS = {
    "block": _block, "loop": _block, "if": _if, "else": _else, "end": _end, "br": _br,
    "br_if": _br_if, "br_table": _br_table, "return": _return, "call": _call,
    "call_indirect": _call_indirect, "local.get": _local, "local.set": _local,
    "local.tee": _local, "global.get": _global, "global.set": _global,
    "memory.size": _memory_size, "memory.grow": _memory_size, "i32.const": _const,
    "i64.const": _const, "drop": _drop, "select": _select, "unreachable": _unreachable,
    "nop": _nop,
}
for _info in oc.OPCODES.values():
    if _info.imm == oc.MEMARG:
        _HANDLERS[_info.name] = _memory_access


def _check_module(m: Module) -> None:
    for e in m.exports:
        limit = {"func": m.num_funcs, "global": len(m.globals),
                 "memory": int(m.memory is not None), "table": int(m.table is not None)}[e.kind]
        if e.index >= limit:
            raise _fail(f"export {e.name!r} names a missing {e.kind} {e.index}", offset=0)
    if m.start is not None:
        if m.start >= m.num_funcs:
            raise _fail(f"start function {m.start} does not exist", offset=0)
        if m.func_type(m.start) != FuncType((), ()):
            raise _fail("the start function must take and return nothing", offset=0)
    for seg in m.elems:
        if m.table is None:
            raise _fail("element segment without a table", offset=0)
        if any(f >= m.num_funcs for f in seg.funcs):
            raise _fail("element segment names a missing function", offset=0)
    if m.datas and m.memory is None:
        raise _fail("data segment without a memory", offset=0)
    for imp in m.imports:
        if (imp.module, imp.name) not in HOST_IMPORTS:  # pragma: no cover - the decoder refuses
            raise _fail(f"import {imp.module}.{imp.name}", offset=imp.offset)


def validate(module: Module) -> Program:
    """Type-check ``module`` and lower it; raises ``MalformedWasm`` naming the first fault."""
    _check_module(module)
    code: list = []
    functions = []
    base = len(module.imports)
    for k, fn in enumerate(module.funcs):
        index = base + k
        if fn.type_index >= len(module.types):
            raise _fail("function type out of range", offset=fn.offset)
        functions.append(CompiledFunction(index, module.types[fn.type_index], len(code), fn.locals))
        _FunctionCompiler(module, index, fn, code).run()
    frozen = tuple(
        Op(name, tuple(_freeze(a) for a in args), offset, func, height)
        for name, args, offset, func, height in code
    )
    return Program(module, frozen, tuple(functions))


def _freeze(value: object) -> object:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
