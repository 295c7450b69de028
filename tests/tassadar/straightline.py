"""A seeded generator of straight-line programs in the executor's covered subset.

Each program has parameters ``(i32, i64)``, a few declared locals of both
types, two mutable globals (i32, i64), statements (``local.set``/``local.tee``, ``global.set``, ``drop``, ``nop``) over random
expressions (constants, local reads, ``add``/``sub`` trees) and a final i32
or i64 expression; some end in ``unreachable`` instead. Written after the
weights were frozen: these are held-out programs for the executor.
"""

from __future__ import annotations

import random

INTERESTING = [0, 1, 2, 127, 128, 255, 256, 65535, 65536, 0x7FFFFFFF, -1, -2, -0x80000000,
               0x12345678, 0x0123456789ABCDEF, -0x8000000000000000, 0xFFFFFFFF, 0x100000000]
TYPES = ("i32", "i64")
COMPARISONS = ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")


def _const(r: random.Random, t: str) -> str:
    v = r.choice(INTERESTING) if r.random() < 0.6 else r.getrandbits(64 if t == "i64" else 32)
    bits = 64 if t == "i64" else 32
    v &= (1 << bits) - 1
    if v >> (bits - 1):
        v -= 1 << bits
    return f"({t}.const {v})"


def _expr(r: random.Random, t: str, locals_: dict[str, list[int]], depth: int) -> str:
    roll = r.random()
    if depth <= 0 or roll < 0.3:
        if locals_[t] and r.random() < 0.6:
            return f"(local.get {r.choice(locals_[t])})"
        return _const(r, t)
    if roll < 0.38:
        return f"(global.get {0 if t == 'i32' else 1})"
    if roll < 0.45 and locals_[t]:
        return f"(local.tee {r.choice(locals_[t])} {_expr(r, t, locals_, depth - 1)})"
    if roll < 0.55:
        cond = _expr(r, "i32", locals_, depth - 1)
        a, b = _expr(r, t, locals_, depth - 1), _expr(r, t, locals_, depth - 1)
        return f"(select {a} {b} {cond})"
    if roll < 0.62:
        options = {"i32": ["i32.wrap_i64 64", "i32.extend8_s 32", "i32.extend16_s 32"],
                   "i64": ["i64.extend_i32_s 32", "i64.extend_i32_u 32", "i64.extend8_s 64",
                           "i64.extend16_s 64", "i64.extend32_s 64"]}[t]
        name, source = r.choice(options).split()
        return f"({name} {_expr(r, 'i' + source, locals_, depth - 1)})"
    if t == "i32" and roll < 0.7:
        if r.random() < 0.25:
            return f"(i32.eqz {_expr(r, t, locals_, depth - 1)})"
        op = r.choice(COMPARISONS)
        return f"(i32.{op} {_expr(r, t, locals_, depth - 1)} {_expr(r, t, locals_, depth - 1)})"
    ops = ("add", "sub", "add", "sub", "and", "or", "xor") + (("mul", "shl", "shr_u", "shr_s") if t == "i32" else ())
    op = r.choice(ops)
    return f"({t}.{op} {_expr(r, t, locals_, depth - 1)} {_expr(r, t, locals_, depth - 1)})"


def straight_line(seed: int) -> tuple[str, tuple[int, int], str]:
    """``(wat, args, result type)`` of program number ``seed``."""
    r = random.Random(seed)
    extra = [r.choice(TYPES) for _ in range(r.randint(0, 4))]
    types = ["i32", "i64", *extra]
    locals_ = {t: [i for i, u in enumerate(types) if u == t] for t in TYPES}
    body = []
    for _ in range(r.randint(0, 6)):
        t = r.choice(TYPES)
        kind = r.random()
        if kind < 0.15:
            body.append(f"(global.set {0 if t == 'i32' else 1} {_expr(r, t, locals_, 2)})")
        elif kind < 0.55:
            body.append(f"(local.set {r.choice(locals_[t])} {_expr(r, t, locals_, 3)})")
        elif kind < 0.8:
            body.append(f"(drop {_expr(r, t, locals_, 2)})")
        else:
            body.append("(nop)")
    result = r.choice(TYPES)
    if r.random() < 0.08:
        body.append("(unreachable)")
    body.append(_expr(r, result, locals_, 4))
    decl = "".join(f" (local {t})" for t in extra)
    globals_ = (f"(global (mut i32) {_const(r, 'i32')}) (global (mut i64) {_const(r, 'i64')}) "
                f"(global i32 {_const(r, 'i32')})")
    wat = (f'(module {globals_} (func (export "run") (param i32 i64) (result {result}){decl}\n  '
           + "\n  ".join(body) + "))")
    args = (_to_signed(r.getrandbits(32), 32), _to_signed(r.getrandbits(64), 64))
    return wat, args, result


def _to_signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v
