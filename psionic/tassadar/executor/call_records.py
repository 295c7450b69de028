"""The prompt's part of calls: which functions a run can reach, their frames, the call table.

Every slot in a record is relative to the frame base ``fp`` of the function the
instruction belongs to (globals and the output sink stay absolute: slots from
``L.SINK_SLOT`` up). A call at height ``h`` in a function with ``nl`` locals
(parameters included) bases its callee's frame at ``fp + D`` with
``D = nl + h - params`` (``call_indirect``: ``nl + h - 1 - params``, the index
sits above the arguments): the arguments stay where the caller pushed them.
``D`` is the call record's ``fr_d`` field; the executor adds it to ``fp`` at
the call's opcode token and subtracts it again at the target token of the
matching return, whose record (at the return pc minus one) is the call's.

The call table (for ``call_indirect``) is laid out in the tables section as
pairs ``(pc + 1, type + 1)`` per table slot (``(0, 0)`` for a null slot),
then one ``(0, 0)`` pair that a clamped out-of-bounds index reads.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func $f (param i32) (result i32) local.get 0) '
...              '(func (export "run") (result i32) i32.const 4 call $f))').program
>>> reachable(p, 1)
(0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar.executor import layout as L
from psionic.tassadar.program import Op, Program

Fields = dict[str, int]


def _table(program: Program) -> list[int | None]:
    """The table after instantiation (function indices, None for null slots)."""
    m = program.module
    table: list[int | None] = [None] * (m.table.minimum if m.table else 0)
    for seg in m.elems:
        if seg.offset + len(seg.funcs) > len(table):
            raise UnsupportedOperation("the executor does not cover instantiation traps "
                                       "(an element segment past its table)")
        table[seg.offset : seg.offset + len(seg.funcs)] = list(seg.funcs)
    return table


def _body(program: Program, index: int) -> list[Op]:
    start = program.function(index).pc
    ops = []
    for op in program.code[start:]:
        if op.func != index:
            break
        ops.append(op)
    return ops


def reachable(program: Program, entry: int) -> tuple[int, ...]:
    """The defined functions a run of ``entry`` can execute: the closure of its calls (a
    ``call_indirect`` reaches every function in the table)."""
    nimports = len(program.module.imports)
    seen, todo = {entry}, [entry]
    while todo:
        for op in _body(program, todo.pop()):
            callees: list[int] = []
            if op.name == "call":
                callees = [op.args[0]]
            elif op.name == "call_indirect":
                callees = [f for f in _table(program) if f is not None]
            for f in callees:
                if f < nimports:
                    raise UnsupportedOperation("the executor covers call_indirect into defined "
                                               "functions only (the table holds a host import)")
                if f == entry:
                    raise UnsupportedOperation("the executor covers entry functions that no "
                                               "function calls")
                if f not in seen:
                    seen.add(f)
                    todo.append(f)
    return tuple(sorted(seen))


def _type_id(program: Program, t: object) -> int:
    """Types compare structurally: the first index of an equal type, plus one (0: none)."""
    return program.module.types.index(t) + 1  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class CallLayout:
    table_section: list[int]  # appended to the prompt's tables section at offset ``toff``
    toff: int
    deltas: dict[int, int]  # call pc -> D
    frame_slots: dict[int, int]  # function entry pc -> slots its frame needs above fp


def call_layout(program: Program, functions: Sequence[int], toff: int) -> CallLayout:
    m = program.module
    table = _table(program)
    section: list[int] = []
    for f in table:
        if f is None:
            section += [0, 0]
        else:
            section += [program.function(f).pc + 1, _type_id(program, m.func_type(f))]
    section += [0, 0]
    deltas: dict[int, int] = {}
    slots: dict[int, int] = {}
    for f in functions:
        cf = program.function(f)
        nl = len(m.func_type(f).params) + len(cf.locals)
        body = _body(program, f)
        slots[cf.pc] = nl + max((op.height for op in body), default=0) + 1
        for i, op in enumerate(body):
            if op.name in ("call", "call_indirect"):
                deltas[cf.pc + i] = _delta(program, op, nl)
    return CallLayout(section, toff, deltas, slots)


def _params(program: Program, op: Op) -> int:
    m = program.module
    if op.name == "call":
        return len(m.func_type(op.args[0]).params)
    return len(m.types[op.args[0]].params)


def _delta(program: Program, op: Op, nl: int) -> int:
    return nl + op.height - (op.name == "call_indirect") - _params(program, op)


def call_fields(program: Program, op: Op, nl: int, layout: CallLayout, max_depth: int) -> Fields:
    """The record of a ``call`` or ``call_indirect`` in a function with ``nl`` locals."""
    bound = min(max_depth, L.NUM_LIMIT * L.NUM_LIMIT - 1)
    fields = {"fr_d": _delta(program, op, nl), "fr_lim_lo": bound % L.NUM_LIMIT,
              "fr_lim_hi": bound // L.NUM_LIMIT}
    if op.name == "call":
        return {**fields, "target": program.function(op.args[0]).pc}
    m = program.module
    # the index slot, relative to the callee's frame (fp already moved at this token)
    return {**fields, "src_c": _params(program, op), "tlen": len(_table(program)),
            "fr_want": _type_id(program, m.types[op.args[0]]), "fr_toff": layout.toff}


def frame_fields(op: Op, params: int, nl: int, is_entry: bool) -> Fields:
    """Extra fields of an instruction in a callee's frame (``nl`` locals, ``params`` of them
    parameters): returns go back to the caller, and a declared local reads as zero until
    this frame writes it."""
    if is_entry:
        return {}
    if op.name in ("return", "end"):
        return {"fr_ret": 1}
    # a local.get names its local relative to the stack top (validate.py)
    if op.name == "local.get" and op.args[0] + nl + op.height >= params:
        return {"fr_stale": 1}
    return {}


def check_capacity(steps: Sequence[object], entry_pc: int, layout: CallLayout) -> None:
    """Refuse a decoded run whose frames left the executor's exact range.

    The stack heads address ``L.MAX_SLOTS`` slots and the frame heads ``L.MAX_DEPTH``
    frames; the frame sizes are static, so the emitted steps (their opcodes and targets)
    say where each frame sits. Every token up to the first call past the range was
    computed within it; what follows would not be, so the run is refused there."""
    fp, bases, pc = 0, [], entry_pc
    for n, step in enumerate(steps):
        op, target = step.op, step.target  # type: ignore[attr-defined]
        if op in ("call", "call_indirect") and target is not None:
            bases.append(fp)
            fp += layout.deltas[pc]
            need = fp + layout.frame_slots.get(target, 0)
            if len(bases) > L.MAX_DEPTH or need > L.MAX_SLOTS:
                raise UnsupportedOperation(
                    f"the run's call stack passed the executor's exact range at step {n} "
                    f"(depth {len(bases)} of {L.MAX_DEPTH}, {need} of {L.MAX_SLOTS} stack "
                    "slots); a lower --max-call-depth ends it with call_depth_exceeded first",
                    depth=len(bases), slots=need)
        elif op in ("return", "end") and target is not None and bases:
            fp = bases.pop()
        pc = target if target is not None else pc + 1
