"""Lay out a program, its arguments and its step bound as the executor's prompt.

The executor covers the code of every function the entry can reach (see
``COVERED``; calls in ``call_records.py``): everything else is refused here,
before any token is decoded, with the opcode (or feature) named. The prompt carries the program only as
data: one record per lowered instruction (opcode token, payload width, payload
kind, operand and destination stack slots, what follows the step, jump target,
whether a condition picks its opcode token, immediate bytes), the initial
stack bytes (arguments, zeroed declared locals), the header, and the entry's
pc as the target token that starts the run.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func (export "run") (result i32) i32.const 7))').program
>>> prompt = lay_out(p, 0, [], 100)
>>> len(prompt.tokens), prompt.result_widths
(144, (4,))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psionic.core.errors import UnsupportedOpcode, UnsupportedOperation
from psionic.tassadar import trace as tr
from psionic.tassadar.executor import counts, divide, start
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor import memory_layout as ML
from psionic.tassadar.executor import stack_layout as SL
from psionic.tassadar.executor.call_records import (
    CallLayout,
    call_fields,
    call_layout,
    frame_fields,
    frame_reach,
    reachable,
)
from psionic.tassadar.opcodes import WIDTH
from psionic.tassadar.program import Op, Program

Fields = dict[str, int]


def _const(op: Op, sp: int) -> Fields:
    w = 4 if op.name == "i32.const" else 8
    bits = int(op.args[0]) & ((1 << (8 * w)) - 1)
    imm = {f"imm{k}": (bits >> (8 * k)) & 0xFF for k in range(w)}
    return {"width": w, "kind": L.KIND["const"], "dst": sp, **imm}


def _local_get(op: Op, sp: int) -> Fields:
    idx, w = op.args
    return {"width": w, "kind": L.KIND["copy"], "src_a": sp + idx, "dst": sp}


def _local_set(op: Op, sp: int) -> Fields:
    idx, w = op.args
    return {"width": w, "kind": L.KIND["copy"], "src_a": sp - 1, "dst": sp - 1 + idx}


def _local_tee(op: Op, sp: int) -> Fields:
    idx, w = op.args
    return {"width": w, "kind": L.KIND["copy"], "src_a": sp - 1, "dst": sp + idx}


def _arith(op: Op, sp: int) -> Fields:
    w = 4 if op.name.startswith("i32") else 8
    kind = L.KIND[op.name.split(".")[1]]
    return {"width": w, "kind": kind, "src_a": sp - 2, "src_b": sp - 1, "dst": sp - 2}


def _eqz(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["eqz"], "src_a": sp - 1, "dst": sp - 1}


def _compare(op: Op, sp: int) -> Fields:
    kind = L.KIND[op.name.split(".")[1]]
    return {"width": 4, "kind": kind, "src_a": sp - 2, "src_c": sp - 1, "dst": sp - 2}


def _eqz64(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["eqz64"], "src_a": sp - 1, "dst": sp - 1}


def _compare64(op: Op, sp: int) -> Fields:
    kind = L.KIND[op.name.split(".")[1] + "64"]
    return {"width": 4, "kind": kind, "src_a": sp - 2, "src_c": sp - 1, "dst": sp - 2}


def _select(op: Op, sp: int) -> Fields:
    (w,) = op.args
    return {"width": w, "kind": L.KIND["select"], "src_a": sp - 3, "src_b": sp - 2,
            "src_c": sp - 1, "dst": sp - 3}


def _mul(op: Op, sp: int) -> Fields:
    # payload r0 k(c1) r1 ... k(c_(n-1)) r_(n-1) (ABI 4.1); the r_k write bytes k of dst
    n = 4 if op.name == "i32.mul" else 8
    return {"width": 2 * n - 1, "mul": 1, "src_a": sp - 2, "src_c": sp - 1, "dst": sp - 2}


def _global_get(op: Op, sp: int) -> Fields:
    g, w = op.args
    return {"width": w, "kind": L.KIND["copy"], "src_a": L.GLOBAL_SLOT + g, "dst": sp}


def _global_set(op: Op, sp: int) -> Fields:
    g, w = op.args
    return {"width": w, "kind": L.KIND["copy"], "src_a": sp - 1, "dst": L.GLOBAL_SLOT + g}


def _shift(op: Op, sp: int) -> Fields:
    kind = L.KIND[op.name.split(".")[1]]
    w = 4 if op.name.startswith("i32") else 8
    return {"width": w, "kind": kind, "src_a": sp - 2, "src_c": sp - 1, "dst": sp - 2}


def _wrap(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["copy"], "src_a": sp - 1, "dst": sp - 1}


_EXTEND = {  # opcode: (result width, source bytes kept, sign-extended)
    "i64.extend_i32_u": (8, 4, 0), "i64.extend_i32_s": (8, 4, 1), "i32.extend8_s": (4, 1, 1),
    "i32.extend16_s": (4, 2, 1), "i64.extend8_s": (8, 1, 1), "i64.extend16_s": (8, 2, 1),
    "i64.extend32_s": (8, 4, 1),
}


def _extend(op: Op, sp: int) -> Fields:
    w, n, signed = _EXTEND[op.name]
    return {"width": w, "kind": L.KIND["extend"], "ext_n": n, "ext_signed": signed,
            "src_a": sp - 1, "dst": sp - 1}


def _divide(op: Op, sp: int) -> Fields:
    return divide.record(op.name, sp)


def _count(op: Op, sp: int) -> Fields:
    return counts.record(op.name, sp)


def _nothing(op: Op, sp: int) -> Fields:
    return {}


def _moves(op: Op, top: int, drop: int, widths: tuple[int, ...]) -> Fields:
    """A branch that keeps ``widths`` values from slot ``top - k`` up and drops ``drop`` beneath."""
    if not drop or not widths:
        return {}
    if len(widths) > 1:
        raise UnsupportedOperation(f"the executor covers branches that move one value ({op.name} "
                                   f"moves {len(widths)})", opcode=op.name)
    return {"width": widths[0], "kind": L.KIND["copy"], "src_a": top - 1, "dst": top - 1 - drop}


def _br(op: Op, sp: int) -> Fields:
    target, drop, widths = op.args
    return {**_moves(op, sp, drop, widths), "target": target}


def _br_if(op: Op, sp: int) -> Fields:
    # the opcode token is br_if.taken (this id) or br_if.fallthrough (id + 1) by slot sp - 1
    target, drop, widths = op.args
    return {**_moves(op, sp - 1, drop, widths), "target": target, "cond": 1, "src_c": sp - 1}


def _if(op: Op, sp: int) -> Fields:
    # if.then (this id) or if.else (id + 1, jumping to the else branch) by slot sp - 1
    return {"target": op.args[0], "cond": 1, "src_c": sp - 1}


def _else(op: Op, sp: int) -> Fields:
    return {"target": op.args[0]}


def _input(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["input"], "dst": sp}


def _output(op: Op, sp: int) -> Fields:
    # the payload is the popped value; its bytes go to the sink slot (outputs are read back
    # from the emitted steps)
    return {"width": 4, "kind": L.KIND["copy"], "src_a": sp - 1, "dst": L.SINK_SLOT}


def _br_table(op: Op, sp: int) -> Fields:
    # target: the table's offset in the tables section (filled in by lay_out); the index is
    # slot sp - 1, clamped to tlen (the default, stored last)
    # entries that all move the same value (drop d slots beneath it) share one record: the
    # copy happens before the target is known
    entries, default = op.args
    moves = {(drop, widths) if drop and widths else (0, ()) for _, drop, widths in (*entries, default)}
    if len(moves) > 1:
        raise UnsupportedOperation("the executor covers br_table whose targets move the same "
                                   "value (or none)", opcode=op.name)
    (drop, widths), = moves
    return {**_moves(op, sp - 1, drop, widths), "kind": L.KIND["br_table"], "src_c": sp - 1,
            "tlen": len(entries)}


def _unreachable(op: Op, sp: int) -> Fields:
    return {"after": tr.TRAP_ID["unreachable"]}


def _return(op: Op, sp: int) -> Fields:
    # the entry's return halts; a callee's returns to its caller (call_records.frame_fields)
    span, widths = op.args
    if len(widths) > 2:
        raise UnsupportedOperation("the executor covers functions with at most two results",
                                   results=len(widths))
    if not widths:
        return {"after": tr.HALT_ID}
    # the results move from the top slots to the frame base; their bytes follow each other in
    # the payload: an i64 fills its slot (a plain copy), an i32 first leaves 4 bytes (copy2)
    kind = "copy2" if len(widths) == 2 and widths[0] == 4 else "copy"
    return {"width": sum(widths), "kind": L.KIND[kind], "src_a": span - len(widths), "dst": 0,
            "after": tr.HALT_ID}


def _call(op: Op, sp: int) -> Fields:
    return {}  # filled in by lay_out (call_records.call_fields: it needs the program)


RECORDS = {
    "i32.const": _const, "i64.const": _const, "local.get": _local_get,
    "local.set": _local_set, "local.tee": _local_tee, "i32.add": _arith, "i64.add": _arith,
    "i32.sub": _arith, "i64.sub": _arith, "drop": _nothing, "nop": _nothing,
    "unreachable": _unreachable, "return": _return, "end": _return, "i32.eqz": _eqz,
    "select": _select, **{f"i32.{c}": _compare for c in L.COMPARISONS},
    "i64.eqz": _eqz64, **{f"i64.{c}": _compare64 for c in L.COMPARISONS},
    **{f"{t}.{op}": _arith for t in ("i32", "i64") for op in L.BITWISE}, "i32.mul": _mul,
    "i64.mul": _mul,
    "global.get": _global_get, "global.set": _global_set, "i32.wrap_i64": _wrap,
    **{f"{t}.{op}": _shift for t in ("i32", "i64")
       for op in ("shl", "shr_u", "shr_s", "rotl", "rotr")},
    **{name: _extend for name in _EXTEND},
    "br": _br, "br_if": _br_if, "if": _if, "else": _else, "br_table": _br_table,
    "host.input_i32": _input, "host.output_i32": _output,
    "call": _call, "call_indirect": _call, **ML.RECORDS,
    **{f"{t}.{kind}": _divide for t in divide.WIDTHS for kind in divide.KINDS},
    **{f"{t}.{kind}": _count for t in ("i32", "i64") for kind in counts.KINDS},
}
# the record's opcode field: the first variant of a conditional step
_OP_TOKEN = {"br_if": tr.OP_ID["br_if.taken"], "if": tr.OP_ID["if.then"]}
assert tr.OP_ID["br_if.fallthrough"] == _OP_TOKEN["br_if"] + 1
assert tr.OP_ID["if.else"] == _OP_TOKEN["if"] + 1
COVERED = tuple(sorted(RECORDS))  # lowered opcodes the executor runs


@dataclass(frozen=True, slots=True)
class Prompt:
    tokens: tuple[int, ...]
    code: tuple[Op, ...]  # the lowered program: a step's pc indexes it
    entry_pc: int
    result_widths: tuple[int, ...]
    steps_bound: int  # the step bound the header carries
    calls: CallLayout  # frame deltas and sizes (the decoded run's capacity check)
    position_bound: int = L.MAX_POSITION  # positions the run may use (memory, stack keys: fewer)
    begins_in_start: bool = False  # entry_pc is the start function's (start.py)
    stack_slots: int = L.MAX_SLOTS  # frame slots the stack keys cover (stack_layout.py)


def _code(program: Program, functions: Sequence[int]) -> list[Op]:
    ops = [op for op in program.code if op.func in functions]
    for op in ops:
        if op.name not in RECORDS:
            raise UnsupportedOpcode(f"the executor does not cover opcode {op.name!r}", opcode=op.name)
    return ops


def lay_out(program: Program, entry: int, args: Sequence[int], max_steps: int,
            max_memory_pages: int | None = None, inputs: Sequence[int] = (),
            max_call_depth: int = 10_000) -> Prompt:
    """The prompt for running ``entry`` with ``args`` and ``inputs`` under a step bound."""
    # a start function runs first (start.py); imports are the host ABI's (the decoder refuses
    # others), calls to them are host steps
    m = program.module
    if max_memory_pages is not None and m.memory and m.memory.minimum > max_memory_pages:
        raise UnsupportedOperation("the executor does not cover instantiation traps")
    ftype = m.func_type(entry)
    cf = program.function(entry)
    slot_types = list(ftype.params) + list(cf.locals)
    begin = start.plan(program, entry, len(slot_types))
    functions = reachable(program, entry) + ((begin.func,) if begin else ())
    ops = _code(program, functions)
    if len(m.globals) > L.MAX_GLOBALS:
        raise UnsupportedOperation(f"the executor covers at most {L.MAX_GLOBALS} globals")
    tables: list[int] = []
    for op in ops:
        if op.name == "br_table":
            tables += [target for target, _, _ in (*op.args[0], op.args[1])]
    calls = call_layout(program, functions, len(tables))
    if any(op.name == "call_indirect" for op in ops):
        tables += calls.table_section
    top = max(calls.frame_slots.values())
    if begin:
        top = max(top, begin.offset + calls.frame_slots[begin.pc])
    if top > L.MAX_SLOTS or len(program.code) > min(L.NUM_LIMIT, tr.PC_LIMIT):
        raise UnsupportedOperation(
            f"the program needs {top} stack slots and {len(program.code)} records; the "
            f"executor's bounds are {L.MAX_SLOTS} slots and {L.NUM_LIMIT} records")
    init: list[int] = []
    values = [int(a) for a in args] + [0] * len(cf.locals)
    for v, t in zip(values, slot_types, strict=True):
        bits = v & ((1 << (8 * WIDTH[t])) - 1)
        init += [L.INIT_BASE + ((bits >> (8 * k)) & 0xFF) for k in range(8)]
    if begin:  # the start function's declared locals, above the entry's
        init += [L.INIT_BASE] * (8 * begin.locals)
    # a zero record before pc 0 and after the last pc: a target token reads the record of
    # pc - 1 (ignored there) and the last step the record of pc + 1, which must be harmless
    records: list[int] = [0] * L.RECORD
    br_tables = 0
    for op in program.code:
        if op.func not in functions:
            records += [0] * L.RECORD  # a function the run cannot reach
            continue
        f_params = len(m.func_type(op.func).params)
        f_nl = f_params + len(program.function(op.func).locals)
        fields = {"op": _OP_TOKEN.get(op.name) or tr.OP_ID[op.name]}
        fields.update(RECORDS[op.name](op, f_nl + op.height))
        if op.name == "br_table":
            fields["target"] = br_tables
            br_tables += len(op.args[0]) + 1
        elif op.name in ("call", "call_indirect"):
            fields.update(call_fields(program, op, f_nl, calls, max_call_depth))
        elif op.func != entry and op.name in ("return", "end"):
            fields.pop("after", None)
        fields.update(frame_fields(op, f_params, f_nl, op.func in (entry, begin and begin.func)))
        if begin and op.func == begin.func:
            fields = start.fields(begin, op.name, fields)
        records += [fields.get(name, 0) for name in L.FIELDS]
    records += [0] * L.RECORD
    globals_init = [L.GLOBAL_INIT_BASE + ((g.init >> (8 * k)) & 0xFF)
                    for g in m.globals for k in range(8)]
    gbase = L.HEADER + len(init)
    tbase = gbase + len(globals_init)
    ibase = tbase + len(tables)
    input_bytes = [(int(v) >> (8 * k)) & 0xFF for v in inputs for k in range(4)]
    memory = ML.lay_out_memory(program, ops, max_memory_pages)
    dbase = ibase + len(input_bytes)
    image = memory.image if memory else b""
    # the stack keys' scale and range: the whole reach of the frames, or the positions first
    reach = frame_reach(program, entry, calls, max_call_depth)
    if begin:
        reach = max(reach, begin.offset + calls.frame_slots[begin.pc])
    bound = min(max_steps, L.NUM_LIMIT * L.NUM_LIMIT - 1)
    cap = memory.position_bound if memory else L.MAX_POSITION
    end = dbase + len(image) + L.RECORD * (len(program.code) + 2) + 1 + bool(begin)
    stack = SL.fit(reach, cap, end + SL.MAX_FRAME_SLOTS // L.FP_SNAP + 2 * L.FP_SNAP_OFFSET + 4
                   + 18 * (bound + 1))
    # the frame base is rounded by reads at the positions equal to its 64th part and to its
    # remainder plus FP_SNAP_OFFSET (frames.py): with calls, the prompt is longer than both
    pad = 0
    if calls.deltas:
        pad = max(0, stack.slots // L.FP_SNAP + 2 * L.FP_SNAP_OFFSET + 2 - end)
    rec_base = dbase + len(image) + pad + L.RECORD  # the record of pc 0
    if rec_base >= L.NUM_LIMIT:
        raise UnsupportedOperation("the executor's prompt header cannot address this many "
                                   "locals, globals, branch table entries and inputs")
    # positions stay below 2^24, so no run reaches a larger bound before the position bound
    header = [rec_base, bound % L.NUM_LIMIT, bound // L.NUM_LIMIT, gbase, tbase, ibase, len(inputs)]
    mem_header = list(memory.header) if memory else [0] * len(L.MEM_HEADER)
    mem_header[L.MEM_HEADER.index("mem_dbase")] = dbase
    tokens = [L.NUM_BASE + v for v in header + mem_header + list(stack.header)]
    tokens += init + globals_init
    tokens += [L.NUM_BASE + v for v in tables + input_bytes]
    tokens += [L.MEM_INIT_BASE + b for b in image]
    tokens += [L.NUM_BASE] * pad
    entry_pc = begin.pc if begin else cf.pc  # the pc the run begins at
    tokens += [L.NUM_BASE + v for v in records] + [L.START_TOKEN] * bool(begin)
    tokens += [tr.target_token(entry_pc)]
    return Prompt(tuple(tokens), tuple(program.code), entry_pc,
                  tuple(WIDTH[t] for t in ftype.results), bound, calls,
                  min(cap, stack.scale), begin is not None, stack.slots)
