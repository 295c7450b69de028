"""A seeded generator of structured control-flow programs in the executor's covered subset.

Each program has parameters ``(i32, i64)``, a counter local and a few more
locals, and a body of bounded loops (``block``/``loop`` with ``br_if`` out and
``br`` back), ``if``/``else`` with and without results, blocks whose result
leaves through a ``br_if`` that drops values beneath it, early ``return``,
nested loops, and the straight-line statements of ``straightline``. Every
loop runs at most a handful of iterations, so traces stay short. Written
after the weights were frozen: held-out programs for the executor.
"""

from __future__ import annotations

import random

from .straightline import TYPES, _const, _expr, _to_signed

COUNTER = 2  # local 2 (i32) counts loop iterations; loops nest through locals 2 and 3


def _statement(r: random.Random, locals_: dict[str, list[int]], depth: int) -> str:
    roll = r.random()
    t = r.choice(TYPES)
    if depth > 0 and roll < 0.2:
        return _loop(r, locals_, depth - 1)
    if depth > 0 and roll < 0.35:
        cond = _expr(r, "i32", locals_, 2)
        then = " ".join(_statement(r, locals_, depth - 1) for _ in range(r.randint(0, 2)))
        other = " ".join(_statement(r, locals_, depth - 1) for _ in range(r.randint(0, 2)))
        return f"(if {cond} (then {then}) (else {other}))"
    if roll < 0.45:
        # a block result that leaves through br_if, dropping the two values beneath it
        u = r.choice(TYPES)
        value = _expr(r, u, locals_, 2)
        cond = _expr(r, "i32", locals_, 1)
        return (f"(drop (block (result {u}) {_const(r, 'i64')} {_const(r, 'i32')} {value} "
                f"(br_if 0 {cond}) (drop) (drop) (drop) {_const(r, u)}))")
    if roll < 0.5:
        cond = _expr(r, "i32", locals_, 1)
        return f"(if (result {t}) {cond} (then {_expr(r, t, locals_, 2)}) " \
               f"(else {_expr(r, t, locals_, 2)})) (drop)"
    if roll < 0.75:
        return f"(local.set {r.choice(locals_[t])} {_expr(r, t, locals_, 3)})"
    if roll < 0.85:
        return f"(global.set {0 if t == 'i32' else 1} {_expr(r, t, locals_, 2)})"
    return f"(drop {_expr(r, t, locals_, 2)})"


def _loop(r: random.Random, locals_: dict[str, list[int]], depth: int) -> str:
    counter = COUNTER if depth % 2 else COUNTER + 1
    body = " ".join(_statement(r, locals_, depth) for _ in range(r.randint(1, 3)))
    n = r.randint(0, 3)
    return (f"(local.set {counter} (i32.const {n})) (block (loop "
            f"(br_if 1 (i32.eqz (local.get {counter}))) {body} "
            f"(local.set {counter} (i32.sub (local.get {counter}) (i32.const 1))) (br 0)))")


def flow_program(seed: int) -> tuple[str, tuple[int, int]]:
    """``(wat, args)`` of control-flow program number ``seed``."""
    r = random.Random(seed)
    extra = [r.choice(TYPES) for _ in range(r.randint(0, 2))]
    types = ["i32", "i64", "i32", "i32", *extra]
    # the counters are not written by ordinary statements, so every loop ends
    locals_ = {t: [i for i, u in enumerate(types) if u == t and i not in (2, 3)] for t in TYPES}
    body = [_statement(r, locals_, 2) for _ in range(r.randint(1, 4))]
    result = r.choice(TYPES)
    if r.random() < 0.2:
        body.append(f"(if {_expr(r, 'i32', locals_, 1)} (then {_expr(r, result, locals_, 2)} "
                    "(return)))")
    if r.random() < 0.05:
        body.append("(unreachable)")
    body.append(_expr(r, result, locals_, 3))
    decl = "".join(f" (local {t})" for t in types[2:])
    globals_ = f"(global (mut i32) {_const(r, 'i32')}) (global (mut i64) {_const(r, 'i64')})"
    wat = (f'(module {globals_} (func (export "run") (param i32 i64) (result {result}){decl}\n  '
           + "\n  ".join(body) + "))")
    return wat, (_to_signed(r.getrandbits(32), 32), _to_signed(r.getrandbits(64), 64))
