"""A hypothesis generator of random valid programs in the profile ``tassadar.wasm.int.v1``.

Programs are WAT text: a memory, globals, a table of fixed helper functions,
up to two generated functions ``(i32, i64) -> i32`` with their own declared
locals, and an entry ``run(i32, i64) -> i32``; bodies are built from typed
random expressions and statements, with early returns from inside
expressions. Loops run on dedicated counters with fixed bounds and generated
functions call only the fixed helpers, so every program terminates; traps (division by
zero, out-of-bounds access, a bad indirect call, unreachable) happen when the
random operands say so, as in real programs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

I32, I64 = "i32", "i64"
INTERESTING_32 = [0, 1, 2, 3, 7, 8, 31, 32, 33, 255, 256, 65535, 0x7FFFFFFF, -1, -2,
                  -0x80000000, 0x12345678, -7]
INTERESTING_64 = [0, 1, 2, 63, 64, 65, 0x7FFFFFFFFFFFFFFF, -1, -0x8000000000000000,
                  0x0123456789ABCDEF, 0xFFFFFFFF, 0x100000000, -3]
BIN = ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl",
       "shr_s", "shr_u", "rotl", "rotr"]
CMP = ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"]
UN = ["clz", "ctz", "popcnt"]
LOADS = {I32: ["i32.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u"],
         I64: ["i64.load", "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u",
               "i64.load32_s", "i64.load32_u"]}
STORES = {I32: ["i32.store", "i32.store8", "i32.store16"],
          I64: ["i64.store", "i64.store8", "i64.store16", "i64.store32"]}
HELPERS = [  # (name, params, result, body); all of type (i32, i32) -> i32 except $wide
    ("$h_add", "i32.add"), ("$h_mix", "i32.xor"), ("$h_mul", "i32.mul"), ("$h_sub", "i32.sub"),
]


@dataclass
class _Ctx:
    # mutable by design: the generator allocates locals and labels as it draws
    draw: st.DrawFn
    locals: dict[str, list[str]] = field(default_factory=lambda: {I32: ["0"], I64: ["1"]})
    extra: list[str] = field(default_factory=list)  # declared locals, in order
    counters: int = 0
    labels: int = 0
    budget: int = 60  # instructions left, roughly
    callees: tuple[str, ...] = ()  # generated functions this body may call

    def new_local(self, t: str, counter: bool = False) -> str:
        name = f"{2 + len(self.extra)}"
        self.extra.append(t)
        if not counter:
            self.locals[t].append(name)
        return name

    def label(self) -> str:
        self.labels += 1
        return f"$L{self.labels}"


def _const(ctx: _Ctx, t: str) -> list[str]:
    pool = INTERESTING_32 if t == I32 else INTERESTING_64
    bits = 32 if t == I32 else 64
    v = ctx.draw(st.one_of(st.sampled_from(pool),
                           st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)))
    return [f"{t}.const {v}"]


def expr(ctx: _Ctx, t: str, depth: int) -> list[str]:
    ctx.budget -= 1
    if depth <= 0 or ctx.budget <= 0:
        kind = ctx.draw(st.sampled_from(["const", "local", "global"]))
    else:
        kind = ctx.draw(st.sampled_from([
            "const", "local", "global", "bin", "bin", "bin", "safe_div", "un", "cmp", "eqz",
            "conv", "load", "select", "call", "call_indirect", "block", "if", "tee",
            "memory_size", "ext", "gcall", "early_return", "param_block", "multi_value",
        ]))
    d = depth - 1
    if kind == "const":
        return _const(ctx, t)
    if kind == "local":
        return [f"local.get {ctx.draw(st.sampled_from(ctx.locals[t]))}"]
    if kind == "global":
        return [f"global.get $g{t}"]
    if kind == "bin":
        op = ctx.draw(st.sampled_from(BIN))
        return expr(ctx, t, d) + expr(ctx, t, d) + [f"{t}.{op}"]
    if kind == "safe_div":
        op = ctx.draw(st.sampled_from(["div_s", "div_u", "rem_s", "rem_u"]))
        return expr(ctx, t, d) + expr(ctx, t, d) + [f"{t}.const 1", f"{t}.or", f"{t}.{op}"]
    if kind == "un":
        return expr(ctx, t, d) + [f"{t}.{ctx.draw(st.sampled_from(UN))}"]
    if kind == "cmp":
        u = ctx.draw(st.sampled_from([I32, I64]))
        code = expr(ctx, u, d) + expr(ctx, u, d) + [f"{u}.{ctx.draw(st.sampled_from(CMP))}"]
        return code if t == I32 else code + ["i64.extend_i32_u"]
    if kind == "eqz":
        u = ctx.draw(st.sampled_from([I32, I64]))
        code = expr(ctx, u, d) + [f"{u}.eqz"]
        return code if t == I32 else code + ["i64.extend_i32_s"]
    if kind == "conv":
        if t == I32:
            return expr(ctx, I64, d) + ["i32.wrap_i64"]
        return expr(ctx, I32, d) + [ctx.draw(st.sampled_from(["i64.extend_i32_s",
                                                             "i64.extend_i32_u"]))]
    if kind == "ext":
        ops = ["i32.extend8_s", "i32.extend16_s"] if t == I32 else [
            "i64.extend8_s", "i64.extend16_s", "i64.extend32_s"]
        return expr(ctx, t, d) + [ctx.draw(st.sampled_from(ops))]
    if kind == "load":
        return address(ctx, d) + [
            f"{ctx.draw(st.sampled_from(LOADS[t]))} offset={ctx.draw(st.sampled_from([0, 1, 4, 100]))}"
        ]
    if kind == "select":
        return expr(ctx, t, d) + expr(ctx, t, d) + expr(ctx, I32, d) + ["select"]
    if kind == "call":
        code = expr(ctx, I32, d) + expr(ctx, I32, d)
        code.append(f"call {ctx.draw(st.sampled_from([h[0] for h in HELPERS]))}")
        return code if t == I32 else code + ["i64.extend_i32_s"]
    if kind == "call_indirect":
        code = expr(ctx, I32, d) + expr(ctx, I32, d)
        index = ctx.draw(st.one_of(st.integers(0, len(HELPERS) - 1), st.integers(0, 6)))
        code += [f"i32.const {index}", "call_indirect (type $bin)"]
        return code if t == I32 else code + ["i64.extend_i32_s"]
    if kind == "block":
        label = ctx.label()
        inner = expr(ctx, t, d) + expr(ctx, I32, d) + [f"br_if {label}", "drop"] + expr(ctx, t, d)
        return [f"block {label} (result {t})"] + inner + ["end"]
    if kind == "if":
        return expr(ctx, I32, d) + [f"if (result {t})"] + expr(ctx, t, d) + ["else"] + \
            expr(ctx, t, d) + ["end"]
    if kind == "tee":
        name = ctx.draw(st.sampled_from(ctx.locals[t]))
        return expr(ctx, t, d) + [f"local.tee {name}"]
    if kind == "gcall":
        if not ctx.callees:
            return _const(ctx, t)
        code = expr(ctx, I32, d) + expr(ctx, I64, d) + [f"call {ctx.draw(st.sampled_from(ctx.callees))}"]
        return code if t == I32 else code + ["i64.extend_i32_s"]
    if kind == "early_return":  # leaves the function with values still on the stack
        return expr(ctx, t, d) + expr(ctx, I32, d) + ["i32.const 3", "i32.rem_u", "i32.eqz", "if"] + \
            expr(ctx, I32, d) + ["return", "end"]
    if kind == "param_block":  # a block that takes a parameter from the stack
        code = expr(ctx, I32, d) + ["block (param i32) (result i32)"] + expr(ctx, I32, d) + [
            "i32.xor", "end"]
        return code if t == I32 else code + ["i64.extend_i32_u"]
    if kind == "multi_value":  # two results; a branch out keeps both and drops what lies beneath
        label = ctx.label()
        t32, t64 = ctx.new_local(I32, counter=True), ctx.new_local(I64, counter=True)
        code = [f"block {label} (result i32 i64)"] + expr(ctx, I64, d) + expr(ctx, I32, d) + \
            expr(ctx, I64, d) + expr(ctx, I32, d) + [
                f"br_if {label}", f"local.set {t64}", f"local.set {t32}", "drop",
                f"local.get {t32}", f"local.get {t64}", "end", "i32.wrap_i64", "i32.add"]
        return code if t == I32 else code + ["i64.extend_i32_s"]
    if kind == "memory_size":
        code = ["memory.size"]
        return code if t == I32 else code + ["i64.extend_i32_u"]
    raise AssertionError(kind)  # pragma: no cover


def address(ctx: _Ctx, depth: int) -> list[str]:
    """Mostly in bounds (masked to the first page), sometimes anything (a likely trap)."""
    code = expr(ctx, I32, depth)
    if ctx.draw(st.integers(0, 9)) < 9:
        code += ["i32.const 0xFF8", "i32.and"]
    return code


def statement(ctx: _Ctx, depth: int, top: bool = False) -> list[str]:
    """A statement (leaves the stack as it found it); ``top`` when directly in the function body."""
    ctx.budget -= 1
    kinds = ["set", "set", "global_set", "store", "store", "output", "drop"]
    if top:
        kinds.append("exit_if")
    if depth > 0 and ctx.budget > 0:
        kinds += ["if", "loop", "switch", "grow", "trap"]
    kind = ctx.draw(st.sampled_from(kinds))
    d = depth - 1
    if kind == "set":
        t = ctx.draw(st.sampled_from([I32, I64]))
        return expr(ctx, t, 3) + [f"local.set {ctx.draw(st.sampled_from(ctx.locals[t]))}"]
    if kind == "global_set":
        t = ctx.draw(st.sampled_from([I32, I64]))
        return expr(ctx, t, 3) + [f"global.set $g{t}"]
    if kind == "store":
        t = ctx.draw(st.sampled_from([I32, I64]))
        op = ctx.draw(st.sampled_from(STORES[t]))
        return address(ctx, 2) + expr(ctx, t, 3) + [f"{op} offset={ctx.draw(st.sampled_from([0, 2, 8]))}"]
    if kind == "output":
        return expr(ctx, I32, 3) + ["call $out"]
    if kind == "drop":
        return expr(ctx, ctx.draw(st.sampled_from([I32, I64])), 3) + ["drop"]
    if kind == "if":
        code = expr(ctx, I32, 2) + ["if"] + block(ctx, d, 2)
        if ctx.draw(st.booleans()):
            code += ["else"] + block(ctx, d, 2)
        return code + ["end"]
    if kind == "loop":
        counter = ctx.new_local(I32, counter=True)
        top, out = ctx.label(), ctx.label()
        n = ctx.draw(st.integers(0, 10))
        return [f"i32.const {n}", f"local.set {counter}", f"block {out}", f"loop {top}",
                f"local.get {counter}", "i32.eqz", f"br_if {out}", *block(ctx, d, 3),
                f"local.get {counter}", "i32.const 1", "i32.sub", f"local.set {counter}",
                f"br {top}", "end", "end"]
    if kind == "switch":
        labels = [ctx.label() for _ in range(3)]
        code = ["block " + labels[2], "block " + labels[1], "block " + labels[0]]
        code += expr(ctx, I32, 2) + [f"br_table {labels[0]} {labels[1]} {labels[0]} {labels[2]}"]
        code += ["end"] + block(ctx, d, 1) + ["end"] + block(ctx, d, 1) + ["end"]
        return code
    if kind == "exit_if":  # br_if to the function's own label, dropping an i64 beneath the result
        return expr(ctx, I64, 1) + expr(ctx, I32, 2) + expr(ctx, I32, 1) + [
            "i32.const 5", "i32.rem_u", "i32.eqz", "br_if 0", "drop", "drop"]
    if kind == "grow":
        return [f"i32.const {ctx.draw(st.integers(0, 2))}", "memory.grow", "call $out"]
    if kind == "trap":
        return expr(ctx, I32, 1) + ["i32.const 97", "i32.eq", "if", "unreachable", "end"]
    raise AssertionError(kind)  # pragma: no cover


def block(ctx: _Ctx, depth: int, most: int) -> list[str]:
    code: list[str] = []
    for _ in range(ctx.draw(st.integers(1, most))):
        code += statement(ctx, depth)
    return code


@st.composite
def programs(
    draw: st.DrawFn, with_params: bool = True
) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """(WAT text, args of the entry, inputs).

    The entry is ``run(i32, i64) -> i32``; with ``with_params=False`` it is
    ``run() -> i32`` and the two values become constants set at its start (for
    engines that only run parameterless exports).
    """
    ctx = _Ctx(draw)
    for t in (I32, I64, I32, I64):
        ctx.new_local(t)
    args = (draw(st.sampled_from(INTERESTING_32 + [5, 100])),
            draw(st.sampled_from(INTERESTING_64 + [5, 1000])))
    functions: list[str] = []
    for k in range(draw(st.integers(0, 2))):
        fctx = _Ctx(draw, budget=30)
        for t in (I32, I64):
            fctx.new_local(t)
        fbody: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            fbody += statement(fctx, 1, top=True)
        fbody += expr(fctx, I32, 2)
        functions.append(
            f"  (func $g{k} (param i32 i64) (result i32) (local {' '.join(fctx.extra)})\n"
            + "\n".join("    " + line for line in fbody) + "\n  )"
        )
    ctx.callees = tuple(f"$g{k}" for k in range(len(functions)))
    body: list[str] = []
    if not with_params:
        body += [f"i32.const {args[0]}", "local.set 0", f"i64.const {args[1]}", "local.set 1"]
    for _ in range(draw(st.integers(1, 6))):
        body += statement(ctx, 2, top=True)
    if draw(st.booleans()):
        body += ["call $in", "call $out"]
    body += expr(ctx, I32, 3)
    helpers = "\n".join(
        f"  (func {name} (type $bin) local.get 0 local.get 1 {op})" for name, op in HELPERS
    )
    elems = " ".join(h[0] for h in HELPERS)
    locals_decl = " ".join(ctx.extra if with_params else [I32, I64, *ctx.extra])
    params = "(param i32 i64) " if with_params else ""
    wat = "\n".join([
        "(module",
        '  (import "env" "input_i32" (func $in (result i32)))',
        '  (import "env" "output_i32" (func $out (param i32)))',
        "  (type $bin (func (param i32 i32) (result i32)))",
        "  (type $other (func (param i32) (result i32)))",
        '  (memory (export "memory") 1 3)',
        f"  (global $gi32 (mut i32) (i32.const {draw(st.sampled_from(INTERESTING_32))}))",
        f"  (global $gi64 (mut i64) (i64.const {draw(st.sampled_from(INTERESTING_64))}))",
        '  (data (i32.const 16) "\\01\\02\\03\\04\\fe\\ff\\80\\7f tassadar")',
        "  (table 6 funcref)",
        f"  (elem (i32.const 0) {elems} $odd)",
        helpers,
        "  (func $odd (type $other) local.get 0)",
        *functions,
        f'  (func (export "run") {params}(result i32) (local {locals_decl})',
        *("    " + line for line in body),
        "  )",
        ")",
    ])
    inputs = tuple(draw(st.lists(st.integers(-(1 << 31), (1 << 31) - 1), min_size=1, max_size=3)))
    return wat, (args if with_params else ()), inputs
