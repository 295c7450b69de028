"""Step handlers for memory, branches, calls and the host ABI (see ``handlers``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psionic.tassadar import trace as tr
from psionic.tassadar.handlers import PAGE, Step, handles
from psionic.tassadar.program import Op
from psionic.tassadar.semantics import M32, Trap

if TYPE_CHECKING:
    from psionic.tassadar.interpreter import Machine


# --- memory -------------------------------------------------------------------------


def _load(m: Machine, op: Op, pc: int) -> Step:
    S, M, T, nxt, tok = m.stack, m.memory, m.tokens, pc + 1, tr.OP_ID[op.name]
    offset, n, is_signed, w = op.args
    sign = 1 << (8 * n - 1)
    full = 1 << (8 * w)

    def step() -> int:
        T.append(tok)
        a = S[-1] + offset
        if a + n > len(M):
            raise Trap("memory_out_of_bounds")
        v = int.from_bytes(M[a : a + n], "little")
        if is_signed and v & sign:
            v += full - (sign << 1)
        S[-1] = v
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


def _store(m: Machine, op: Op, pc: int) -> Step:
    S, M, T, nxt, tok = m.stack, m.memory, m.tokens, pc + 1, tr.OP_ID[op.name]
    offset, n = op.args
    mask = (1 << (8 * n)) - 1

    def step() -> int:
        T.append(tok)
        v = S.pop()
        a = S.pop() + offset
        if a + n > len(M):
            raise Trap("memory_out_of_bounds")
        b = (v & mask).to_bytes(n, "little")
        M[a : a + n] = b
        T.extend(b)
        return nxt

    return step


for _name in ("i32.load", "i64.load", "i32.load8_s", "i32.load8_u", "i32.load16_s",
              "i32.load16_u", "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u",
              "i64.load32_s", "i64.load32_u"):
    handles(_name)(_load)
for _name in ("i32.store", "i64.store", "i32.store8", "i32.store16", "i64.store8",
              "i64.store16", "i64.store32"):
    handles(_name)(_store)


@handles("memory.size")
def _memory_size(m: Machine, op: Op, pc: int) -> Step:
    S, M, T, nxt, tok = m.stack, m.memory, m.tokens, pc + 1, tr.OP_ID[op.name]

    def step() -> int:
        v = len(M) // PAGE
        S.append(v)
        T.append(tok)
        T.extend(v.to_bytes(4, "little"))
        return nxt

    return step


@handles("memory.grow")
def _memory_grow(m: Machine, op: Op, pc: int) -> Step:
    S, M, T, nxt, tok = m.stack, m.memory, m.tokens, pc + 1, tr.OP_ID[op.name]
    declared = m.declared_max_pages
    limit = m.limits.max_memory_pages

    def step() -> int:
        T.append(tok)
        delta = S[-1]
        old = len(M) // PAGE
        if old + delta > declared:
            v = M32  # -1: the module's own maximum refuses the growth
        elif old + delta > limit:
            raise Trap("memory_limit_exceeded")
        else:
            M.extend(bytes(delta * PAGE))
            v = old
        S[-1] = v
        T.extend(v.to_bytes(4, "little"))
        return nxt

    return step


# --- branches -----------------------------------------------------------------------


def _moved(S: list[int], widths: tuple[int, ...]) -> list[int]:
    """Tokens of the values a branch or return carries, bottom to top."""
    out: list[int] = []
    k = len(widths)
    for i, w in enumerate(widths):
        out.extend(S[i - k].to_bytes(w, "little"))
    return out


def _unwinder(S: list[int], T: list[int], drop: int, widths: tuple[int, ...]) -> Step:
    """A closure that drops ``drop`` slots under the ``len(widths)`` kept ones and emits them."""
    k = len(widths)
    if not drop:
        return lambda: 0
    if not k:
        def unwind_all() -> int:
            del S[-drop:]
            return 0
        return unwind_all

    def unwind() -> int:
        T.extend(_moved(S, widths))
        del S[-(drop + k) : -k]
        return 0

    return unwind


@handles("br")
def _br(m: Machine, op: Op, pc: int) -> Step:
    S, T, tok = m.stack, m.tokens, tr.OP_ID["br"]
    target, drop, widths = op.args
    to = tr.target_token(target)
    if not drop:
        def jump() -> int:
            T.append(tok)
            T.append(to)
            return target
        return jump
    unwind = _unwinder(S, T, drop, widths)

    def step() -> int:
        T.append(tok)
        unwind()
        T.append(to)
        return target

    return step


@handles("br_if")
def _br_if(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt = m.stack, m.tokens, pc + 1
    taken, fallthrough = tr.OP_ID["br_if.taken"], tr.OP_ID["br_if.fallthrough"]
    target, drop, widths = op.args
    to = tr.target_token(target)
    if not drop:
        def branch() -> int:
            if S.pop():
                T.append(taken)
                T.append(to)
                return target
            T.append(fallthrough)
            return nxt
        return branch
    unwind = _unwinder(S, T, drop, widths)

    def step() -> int:
        if S.pop():
            T.append(taken)
            unwind()
            T.append(to)
            return target
        T.append(fallthrough)
        return nxt

    return step


@handles("br_table")
def _br_table(m: Machine, op: Op, pc: int) -> Step:
    S, T, tok, P = m.stack, m.tokens, tr.OP_ID["br_table"], tr.TARGET_BASE
    entries, default = op.args
    jumps = [(target, _unwinder(S, T, drop, widths)) for target, drop, widths in entries]
    default_jump = (default[0], _unwinder(S, T, default[1], default[2]))
    n = len(jumps)

    def step() -> int:
        i = S.pop()
        target, unwind = jumps[i] if i < n else default_jump
        T.append(tok)
        unwind()
        T.append(P + target)
        return target

    return step


@handles("if")
def _if(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt = m.stack, m.tokens, pc + 1
    then, other = tr.OP_ID["if.then"], tr.OP_ID["if.else"]
    (else_pc,) = op.args
    to = tr.target_token(else_pc)

    def step() -> int:
        if S.pop():
            T.append(then)
            return nxt
        T.append(other)
        T.append(to)
        return else_pc

    return step


@handles("else")
def _else(m: Machine, op: Op, pc: int) -> Step:
    T, tok = m.tokens, tr.OP_ID["else"]
    (end_pc,) = op.args
    to = tr.target_token(end_pc)

    def step() -> int:
        T.append(tok)
        T.append(to)
        return end_pc

    return step


# --- calls --------------------------------------------------------------------------


@handles("return", "end")
def _return(m: Machine, op: Op, pc: int) -> Step:
    S, T, R, tok, P = m.stack, m.tokens, m.returns, tr.OP_ID[op.name], tr.TARGET_BASE
    span, widths = op.args
    k = len(widths)
    drop = span - k
    # the return pc names the next step, except the halt slot (halt follows) and the start
    # slot (the start function is done: the entry function's first instruction is next)
    halt_pc, start_pc, entry = m.halt_pc, m.halt_pc + 1, tr.target_token(m.entry_pc)

    def step() -> int:
        T.append(tok)
        if k:
            T.extend(_moved(S, widths))
            if drop:
                del S[-span:-k]
        elif drop:
            del S[-span:]
        r = R.pop()
        if r < halt_pc:
            T.append(r + P)
        elif r == start_pc:
            T.append(entry)
        return r

    return step


@handles("call")
def _call(m: Machine, op: Op, pc: int) -> Step:
    T, R, tok, nxt = m.tokens, m.returns, tr.OP_ID["call"], pc + 1
    index, nzero = op.args
    target = m.program.function(index).pc
    enter = m.entry_routine(index)
    depth = m.limits.max_call_depth
    to = tr.target_token(target)

    def step() -> int:
        T.append(tok)
        if len(R) >= depth:
            raise Trap("call_depth_exceeded")
        R.append(nxt)
        enter()
        T.append(to)
        return target

    return step if nzero else _call_no_locals(m, target, nxt, depth)


def _call_no_locals(m: Machine, target: int, nxt: int, depth: int) -> Step:
    T, R, tok = m.tokens, m.returns, tr.OP_ID["call"]
    to = tr.target_token(target)

    def step() -> int:
        T.append(tok)
        if len(R) >= depth:
            raise Trap("call_depth_exceeded")
        R.append(nxt)
        T.append(to)
        return target

    return step


@handles("call_indirect")
def _call_indirect(m: Machine, op: Op, pc: int) -> Step:
    S, T, R, tok, nxt = m.stack, m.tokens, m.returns, tr.OP_ID["call_indirect"], pc + 1
    P = tr.TARGET_BASE
    want = m.program.module.types[op.args[0]]
    table, depth = m.table, m.limits.max_call_depth
    types = [m.program.module.func_type(i) for i in range(m.program.module.num_funcs)]
    nimports = len(m.program.module.imports)
    hosts = [m.host_routine(i) for i in range(nimports)]
    pcs = [0] * nimports + [f.pc for f in m.program.functions]
    enters = [m.entry_routine(i) for i in range(m.program.module.num_funcs)]

    def step() -> int:
        T.append(tok)
        i = S.pop()
        if i >= len(table):
            raise Trap("table_out_of_bounds")
        f = table[i]
        if f is None:
            raise Trap("indirect_call_to_null")
        if types[f] != want:
            raise Trap("indirect_call_type_mismatch")
        if f < nimports:
            hosts[f]()
            return nxt
        if len(R) >= depth:
            raise Trap("call_depth_exceeded")
        R.append(nxt)
        enters[f]()
        T.append(P + pcs[f])
        return pcs[f]

    return step


@handles("host.input_i32")
def _host_input(m: Machine, op: Op, pc: int) -> Step:
    T, tok, nxt = m.tokens, tr.OP_ID["host.input_i32"], pc + 1
    routine = m.host_routine_by_name("host.input_i32")

    def step() -> int:
        T.append(tok)
        routine()
        return nxt

    return step


@handles("host.output_i32")
def _host_output(m: Machine, op: Op, pc: int) -> Step:
    T, tok, nxt = m.tokens, tr.OP_ID["host.output_i32"], pc + 1
    routine = m.host_routine_by_name("host.output_i32")

    def step() -> int:
        T.append(tok)
        routine()
        return nxt

    return step
