"""Step handlers: for every lowered opcode, a factory that builds a closure for one instruction.

The interpreter turns each ``Op`` of a ``Program`` into a zero-argument closure
that performs the step on the run's state (captured from ``Machine``), appends
the step's tokens to the trace and returns the next ``pc``. Building closures
once per run keeps the hot loop to ``pc = code[pc]()``: no decoding, no
dictionary lookups and no objects made per step beyond the values themselves.

Factories register under the op names they handle (a registry, one entry per
name; a duplicate is an error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from psionic.tassadar import trace as tr
from psionic.tassadar.program import Op
from psionic.tassadar.semantics import BINARY, M32, M64, UNARY, Trap, div_tokens, mul_tokens

if TYPE_CHECKING:
    from psionic.tassadar.interpreter import Machine

Step = Callable[[], int]
Factory = Callable[["Machine", Op, int], Step]
FACTORIES: dict[str, Factory] = {}
PAGE = 65536
MASK = {4: M32, 8: M64}


def handles(*names: str) -> Callable[[Factory], Factory]:
    def deco(f: Factory) -> Factory:
        for name in names:
            if name in FACTORIES:
                raise ValueError(f"a step handler for {name!r} is already registered")
            FACTORIES[name] = f
        return f

    return deco


def build(m: Machine, op: Op, pc: int) -> Step:
    if op.name in FACTORIES:
        return FACTORIES[op.name](m, op, pc)
    if op.name in BINARY:
        return _binary(m, op, pc)
    return _unary(m, op, pc)


# --- numeric -----------------------------------------------------------------------


def _binary(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    f = BINARY[op.name]
    w = 8 if op.name.startswith("i64") and not _is_compare(op.name) else 4

    def step() -> int:
        T.append(tok)
        b = S.pop()
        r = S[-1] = f(S[-1], b)
        T.extend(r.to_bytes(w, "little"))
        return nxt

    return step


def _is_compare(name: str) -> bool:
    return name.split(".")[1] in {"eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u",
                                  "ge_s", "ge_u", "eqz"}


def _unary(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    f = UNARY[op.name]
    w = 8 if op.name.startswith("i64") and not _is_compare(op.name) else 4
    if op.name == "i64.extend_i32_s" or op.name == "i64.extend_i32_u":
        w = 8

    def step() -> int:
        T.append(tok)
        r = S[-1] = f(S[-1])
        T.extend(r.to_bytes(w, "little"))
        return nxt

    return step


def _carry_tokens(r: int, x: int, w: int) -> list[int]:
    """Bytes of ``r``, each with bit 8 set where bit ``8k`` of ``x`` marks a carry out of byte ``k``."""
    rb = r.to_bytes(w, "little")
    return [rb[k] | ((x >> (8 * k)) & 1) << 8 for k in range(w)]


def _carry_emitter(T: list[int], w: int) -> Callable[[int, int], None]:
    """Appends the flagged bytes of a sum or difference (unrolled for the two widths)."""
    if w == 4:
        def emit4(r: int, x: int) -> None:
            T.extend((r & 255 | (x & 1) << 8, r >> 8 & 255 | (x >> 8 & 1) << 8,
                      r >> 16 & 255 | (x >> 16 & 1) << 8, r >> 24 | (x >> 24 & 1) << 8))
        return emit4

    def emit8(r: int, x: int) -> None:
        T.extend(_carry_tokens(r, x, 8))
    return emit8


@handles("i32.add", "i64.add")
def _add(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    w = 4 if op.name == "i32.add" else 8
    mask = MASK[w]
    flagged = _carry_emitter(T, w)

    def step() -> int:
        b = S.pop()
        a = S[-1]
        s = a + b
        r = S[-1] = s & mask
        x = (a ^ b ^ s) >> 8  # bit 8k: carry out of byte k
        T.append(tok)
        if x:
            flagged(r, x)
        else:
            T.extend(r.to_bytes(w, "little"))
        return nxt

    return step


@handles("i32.sub", "i64.sub")
def _sub(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    w = 4 if op.name == "i32.sub" else 8
    mask = MASK[w]
    flagged = _carry_emitter(T, w)

    def step() -> int:
        b = S.pop()
        a = S[-1]
        d = a - b
        r = S[-1] = d & mask
        x = ((a ^ b ^ d) >> 8) & mask  # bit 8k: borrow out of byte k
        T.append(tok)
        if x:
            flagged(r, x)
        else:
            T.extend(r.to_bytes(w, "little"))
        return nxt

    return step


@handles("i32.mul", "i64.mul")
def _mul(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    w = 4 if op.name == "i32.mul" else 8
    mask = MASK[w]

    def step() -> int:
        b = S.pop()
        a = S[-1]
        S[-1] = (a * b) & mask
        T.append(tok)
        T.extend(mul_tokens(a, b, w, tr.MUL_CARRY))
        return nxt

    return step


@handles(*(f"{t}.{op}" for t in ("i32", "i64") for op in ("div_s", "div_u", "rem_s", "rem_u")))
def _div(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    w = 4 if op.name.startswith("i32") else 8
    is_signed, remainder = op.name.endswith("_s"), ".rem" in op.name

    def step() -> int:
        T.append(tok)
        b = S.pop()
        payload, S[-1] = div_tokens(S[-1], b, w, is_signed, remainder, tr.DIV_SCRATCH)
        T.extend(payload)
        return nxt

    return step


@handles("i32.const", "i64.const")
def _const(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    v = op.args[0]
    payload = [tok, *v.to_bytes(4 if op.name == "i32.const" else 8, "little")]

    def step() -> int:
        S.append(v)
        T.extend(payload)
        return nxt

    return step


# --- locals, globals, stack ---------------------------------------------------------


@handles("local.get")
def _local_get(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    idx, w = op.args

    def step() -> int:
        v = S[idx]
        S.append(v)
        T.append(tok)
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


@handles("local.set")
def _local_set(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    idx, w = op.args

    def step() -> int:
        v = S.pop()
        S[idx] = v
        T.append(tok)
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


@handles("local.tee")
def _local_tee(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    idx, w = op.args

    def step() -> int:
        v = S[idx] = S[-1]
        T.append(tok)
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


@handles("global.get")
def _global_get(m: Machine, op: Op, pc: int) -> Step:
    S, G, T, nxt, tok = m.stack, m.globals, m.tokens, pc + 1, tr.OP_ID[op.name]
    i, w = op.args

    def step() -> int:
        v = G[i]
        S.append(v)
        T.append(tok)
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


@handles("global.set")
def _global_set(m: Machine, op: Op, pc: int) -> Step:
    S, G, T, nxt, tok = m.stack, m.globals, m.tokens, pc + 1, tr.OP_ID[op.name]
    i, w = op.args

    def step() -> int:
        v = G[i] = S.pop()
        T.append(tok)
        T.extend(v.to_bytes(w, "little"))
        return nxt

    return step


@handles("drop")
def _drop(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]

    def step() -> int:
        S.pop()
        T.append(tok)
        return nxt

    return step


@handles("select")
def _select(m: Machine, op: Op, pc: int) -> Step:
    S, T, nxt, tok = m.stack, m.tokens, pc + 1, tr.OP_ID[op.name]
    (w,) = op.args

    def step() -> int:
        c = S.pop()
        b = S.pop()
        if not c:
            S[-1] = b
        T.append(tok)
        T.extend(S[-1].to_bytes(w, "little"))
        return nxt

    return step


@handles("nop")
def _nop(m: Machine, op: Op, pc: int) -> Step:
    T, nxt, tok = m.tokens, pc + 1, tr.OP_ID[op.name]

    def step() -> int:
        T.append(tok)
        return nxt

    return step


@handles("unreachable")
def _unreachable(m: Machine, op: Op, pc: int) -> Step:
    T, tok = m.tokens, tr.OP_ID[op.name]

    def step() -> int:
        T.append(tok)
        raise Trap("unreachable")

    return step
