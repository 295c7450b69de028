"""Generated programs with calls: a random acyclic call graph plus one recursive function.

Each function takes 0 to 3 i32 parameters, declares 0 to 2 i32 locals (zero on
every entry) and returns one i32 computed from its locals, constants and calls
to later functions; ``$rec`` counts its first parameter (0 to 3) down to zero,
folding the second. The entry ``run`` calls into the graph from an expression, so
callers keep operands beneath their callees' frames.
"""

from __future__ import annotations

import random

OPS = ("i32.add", "i32.sub", "i32.xor", "i32.and", "i32.or", "i32.mul")


def _expr(rng: random.Random, f: int, nf: int, arity: list[int], nlocals: int, depth: int) -> str:
    roll = rng.random()
    if depth <= 0 or roll < 0.25:
        if nlocals and rng.random() < 0.7:
            return f"local.get {rng.randrange(nlocals)}"
        return f"i32.const {rng.randint(-1000, 1000)}"
    if roll < 0.5 and f + 1 < nf:
        g = rng.randrange(f + 1, nf)
        args = " ".join(_expr(rng, f, nf, arity, nlocals, depth - 1) for _ in range(arity[g]))
        return f"{args} call $f{g}".strip()
    if roll < 0.6:
        count = f"{_expr(rng, f, nf, arity, nlocals, 0)} i32.const 3 i32.and"
        return f"{count} {_expr(rng, f, nf, arity, nlocals, depth - 1)} call $rec"
    if roll < 0.7 and nlocals:
        return f"{_expr(rng, f, nf, arity, nlocals, depth - 1)} local.tee {rng.randrange(nlocals)}"
    a = _expr(rng, f, nf, arity, nlocals, depth - 1)
    b = _expr(rng, f, nf, arity, nlocals, depth - 1)
    return f"{a} {b} {rng.choice(OPS)}"


def call_program(seed: int) -> tuple[str, tuple[int, int]]:
    rng = random.Random(seed)
    nf = rng.randint(2, 4)
    arity = [rng.randint(0, 3) for _ in range(nf)]
    funcs = []
    for f in range(nf):
        declared = rng.randint(0, 2)
        nlocals = arity[f] + declared
        params = " ".join(["(param i32)"] * arity[f])
        locals_ = " ".join(["(local i32)"] * declared)
        body = []
        for _ in range(rng.randint(0, 2)):
            if nlocals:
                body.append(f"{_expr(rng, f, nf, arity, nlocals, 2)} local.set "
                            f"{rng.randrange(nlocals)}")
        body.append(_expr(rng, f, nf, arity, nlocals, 3))
        funcs.append(f"(func $f{f} {params} (result i32) {locals_} {' '.join(body)})")
    rec = ("(func $rec (param i32 i32) (result i32) (local i32) local.get 0 i32.eqz if (result "
           "i32) local.get 1 local.get 2 i32.add else local.get 0 i32.const 1 i32.sub local.get 1 "
           "i32.const 7 i32.mul local.get 0 i32.xor call $rec local.get 2 i32.add end)")
    entry_args = " ".join(rng.choice(("local.get 0", "local.get 1", "i32.const 11"))
                          for _ in range(arity[0]))
    run = (f'(func (export "run") (param i32 i32) (result i32) local.get 1 {entry_args} call $f0 '
           "i32.add)")
    return f"(module {' '.join(funcs)} {rec} {run})", (rng.randint(-99, 99), rng.randint(0, 5))
