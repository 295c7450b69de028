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
from psionic.tassadar.module import FuncType
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


def _type_id(program: Program, t: FuncType) -> int:
    """Types compare structurally: the first index of an equal type, plus one (0: none)."""
    return program.module.types.index(t) + 1


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


def _callees(program: Program, op: Op) -> list[int]:
    if op.name == "call":
        return [op.args[0]]
    want = program.module.types[op.args[0]]
    return [f for f in _table(program) if f is not None and program.module.func_type(f) == want]


def frame_reach(program: Program, entry: int, layout: CallLayout, max_depth: int) -> int:
    """Frame slots a run of ``entry`` can occupy (above its frame base 0): the longest chain of
    frames when no function can reach itself, else the depth bound times the largest frame
    step plus the largest frame (a call past the bound traps before its frame exists)."""
    calls: dict[int, list[tuple[int, int]]] = {}  # function -> (frame step D, callee) per call
    order: list[int] = []  # callees before their callers (depth-first, post-order)
    state: dict[int, int] = {entry: 0}  # 0: on the current path, 1: done
    stack = [(entry, iter(_calls(program, entry, layout, calls)))]
    while stack:
        f, pending = stack[-1]
        callee = next(pending, None)
        if callee is None:
            stack.pop()
            state[f] = 1
            order.append(f)
        elif callee not in state:
            state[callee] = 0
            stack.append((callee, iter(_calls(program, callee, layout, calls))))
        elif state[callee] == 0:  # recursion: as deep as the bound lets it go
            step = max(layout.deltas.values(), default=0)
            return min(max_depth, L.MAX_DEPTH) * step + max(layout.frame_slots.values())
    reach: dict[int, int] = {}
    for f in order:
        own = layout.frame_slots[program.function(f).pc]
        reach[f] = max([own] + [d + reach[g] for d, g in calls[f]])
    return reach[entry]


def _calls(program: Program, f: int, layout: CallLayout,
           calls: dict[int, list[tuple[int, int]]]) -> list[int]:
    """The callees of ``f``; records ``(D, callee)`` of each of its calls in ``calls``."""
    start = program.function(f).pc
    calls[f] = [(layout.deltas[start + i], g) for i, op in enumerate(_body(program, f))
                if op.name in ("call", "call_indirect") for g in _callees(program, op)]
    return [g for _, g in calls[f]]


def call_fields(program: Program, op: Op, nl: int, layout: CallLayout, max_depth: int) -> Fields:
    """The record of a ``call`` or ``call_indirect`` in a function with ``nl`` locals."""
    # past MAX_DEPTH frames, or a callee frame past MAX_SLOTS, the executor stops with
    # call_depth_exceeded, and check_capacity turns that into a refusal
    bound = min(max_depth, L.MAX_DEPTH)
    fields = {"fr_d": _delta(program, op, nl), "fr_lim_lo": bound % L.NUM_LIMIT,
              "fr_lim_hi": bound // L.NUM_LIMIT}
    m = program.module
    if op.name == "call":
        callee = program.function(op.args[0]).pc
        return {**fields, "target": callee, "fr_need": layout.frame_slots[callee]}
    needs = [layout.frame_slots.get(program.function(f).pc, 0) for f in _callees(program, op)]
    fields["fr_need"] = max(needs, default=0)
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


def check_capacity(steps: Sequence[object], end: str, entry_pc: int, layout: CallLayout,
                   max_depth: int, slots: int, depth0: int = 0) -> None:
    """Refuse a run that the executor stopped at the end of its exact range.

    The stack heads address the ``slots`` frame slots of the prompt's stack header
    (``stack_layout.py``) and the frame heads ``L.MAX_DEPTH`` frames. A call whose frame would pass either ends the decoded trace with
    ``call_depth_exceeded`` (every token before it was computed within the range); when
    the run's own depth bound was not reached there, that trap is the executor's limit,
    not the program's, and the run is refused."""
    depth, pc = depth0, entry_pc  # depth0 = 1 in a start function: its end goes to the entry
    for step in steps:
        op, target = step.op, step.target  # type: ignore[attr-defined]
        if op in ("call", "call_indirect") and target is not None:
            depth += 1
        elif op in ("return", "end") and target is not None:
            depth -= 1
        pc = target if target is not None else pc + 1
    last = steps[-1].op if steps else None  # type: ignore[attr-defined]
    if end == "call_depth_exceeded" and last in ("call", "call_indirect") \
            and depth + 1 < max_depth:
        raise UnsupportedOperation(
            f"the run's call stack passed the executor's exact range at depth {depth + 1} "
            f"(it holds {L.MAX_DEPTH} frames and, for this run, {slots} frame slots); a lower "
            "--max-call-depth ends the run with call_depth_exceeded first", depth=depth + 1)
