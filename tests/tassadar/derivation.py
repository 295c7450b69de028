"""Predict every trace token from the prompt and the tokens before it, as the ABI document says.

This is the claim of docs/TASSADAR_TRACE_ABI.md section 7 made executable. It
keeps no machine state of its own: values come only from *latest writes*,
which it learns by reading the payload tokens of earlier steps at the
addresses of section 7.2 (stack bytes, memory bytes, global bytes), from the
prompt (lowered program, table, data segments, initial globals, arguments,
inputs), and from counters and frame records that the steps imply (7.3). For
each step it predicts the opcode token and the payload from those reads
alone, and it takes the pc of every step from the newest target token in the
trace plus the steps since (``tassadar.trace.v2``), never from its own
prediction of the previous step; any hole in the ABI (a value reaching a slot without a write, a
payload that needs state the trace does not carry) makes a prediction fail
or a read miss.

It is a test oracle, deliberately separate from the interpreter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psionic.tassadar import trace as tr
from psionic.tassadar.interpreter import Limits
from psionic.tassadar.opcodes import BY_NAME, CHAR_VALTYPE, I64, WIDTH
from psionic.tassadar.program import Program
from psionic.tassadar.semantics import BINARY, UNARY, Trap, div_tokens

PAGE = 65536
HALT = -1


class Hole(AssertionError):
    """A token that the earlier tokens and the prompt do not determine."""


@dataclass
class _Frame:
    # a frame record, written at the call step (mutable: nothing; one per call)
    func: int
    fp: int
    ret: int
    entry: int  # position of the call token; declared locals written before it are stale


class Deriver:
    def __init__(self, program: Program, args: Sequence[int], inputs: Sequence[int],
                 limits: Limits | None = None) -> None:
        self.p = program
        self.m = program.module
        self.limits = limits or Limits()
        self.args = list(args)
        self.inputs = [v & 0xFFFFFFFF for v in inputs]
        # latest writes: address -> (byte, position of the writing token)
        self.stack: dict[int, tuple[int, int]] = {}
        self.mem: dict[int, int] = {}
        self.glob: dict[int, int] = {}
        self.nimports = len(self.m.imports)

    # --- reads ---------------------------------------------------------------------
    def _slot(self, s: int, w: int) -> int:
        out = 0
        for k in range(w):
            if 8 * s + k not in self.stack:
                raise Hole(f"stack slot {s} byte {k} was never written")
            out |= self.stack[8 * s + k][0] << (8 * k)
        return out

    def _local(self, frame: _Frame, i: int, w: int) -> int:
        nparams = len(self.m.func_type(frame.func).params)
        s = frame.fp + i
        if i >= nparams and any(
            self.stack.get(8 * s + k, (0, -2))[1] <= frame.entry for k in range(w)
        ):
            return 0  # stale: written before this frame was entered
        return self._slot(s, w)

    def _mem(self, a: int, n: int) -> int:
        return sum(self.mem.get(a + k, 0) << (8 * k) for k in range(n))

    def _glob(self, g: int, w: int) -> int:
        return sum(self.glob[8 * g + k] << (8 * k) for k in range(w))

    # --- writes, learned from payload tokens --------------------------------------------
    def _write_slot(self, s: int, data: Sequence[int], pos: int) -> None:
        for k, b in enumerate(data):
            self.stack[8 * s + k] = (b, pos + k)

    # --- the walk ---------------------------------------------------------------------
    def check(self, tokens: Sequence[int], entry: str = "run") -> int:
        """Walk ``tokens`` predicting each; return the number of steps checked."""
        self.tokens = list(tokens)
        self.pos = 0
        trap = self._instantiate()
        if trap:
            self._expect([tr.TRAP_ID[trap]], "instantiation trap")
            return self._done(0)
        self.steps = 0
        self.depth = 0
        self.frames: dict[int, _Frame] = {}
        self.cursor = 0
        index = next(e.index for e in self.m.exports if e.kind == "func" and e.name == entry)
        nargs = len(self.m.func_type(index).params)
        for s, (a, t) in enumerate(zip(self.args, self.m.func_type(index).params, strict=True)):
            # the arguments are prompt writes of slots 0 .. p-1, older than any trace token
            self._write_slot(s, _bytes(a, WIDTH[t]), -1)
        # the start function runs in a frame based above the arguments, so it never shadows them
        self.entry_pc = self.p.function(index).pc
        self.in_start = self.m.start is not None
        if self.m.start is not None and self._run(self.m.start, nargs, -1):
            return self._done(self.steps)
        self.in_start = False
        self._run(index, 0, self.pos - 1)
        return self._done(self.steps)

    def _done(self, steps: int) -> int:
        if self.pos != len(self.tokens):
            raise Hole(f"{len(self.tokens) - self.pos} tokens after the predicted end")
        return steps

    def _expect(self, predicted: list[int], what: str) -> None:
        actual = self.tokens[self.pos : self.pos + len(predicted)]
        if actual != predicted:
            names = [tr.VOCAB.name(t) for t in predicted]
            got = [tr.VOCAB.name(t) for t in actual]
            raise Hole(f"at token {self.pos} ({what}): predicted {names}, trace has {got}")
        self.pos += len(predicted)

    def _instantiate(self) -> str | None:
        m = self.m
        for g, glob in enumerate(m.globals):
            for k in range(8):
                self.glob[8 * g + k] = (glob.init >> (8 * k)) & 0xFF
        self.pages = m.memory.minimum if m.memory else 0
        self.max_pages = m.memory.maximum if m.memory and m.memory.maximum is not None else 65536
        if self.pages > self.limits.max_memory_pages:
            return "memory_limit_exceeded"
        self.table: list[int | None] = [None] * (m.table.minimum if m.table else 0)
        for seg in m.elems:
            if seg.offset + len(seg.funcs) > len(self.table):
                return "table_out_of_bounds"
            self.table[seg.offset : seg.offset + len(seg.funcs)] = list(seg.funcs)
        for seg in m.datas:
            if seg.offset + len(seg.data) > self.pages * PAGE:
                return "memory_out_of_bounds"
            for k, b in enumerate(seg.data):
                self.mem[seg.offset + k] = b
        return None

    def _run(self, func: int, fp: int, entered: int) -> bool:
        """Check one invocation (frame base ``fp``, entered at token ``entered``); True on a trap."""
        self.depth = 1
        self.frames[1] = _Frame(func, fp, HALT, entered)
        pc = self.p.function(func).pc
        if func != self.m.start and self.m.start is not None:
            pc = self._from_targets(self.p.function(self.m.start).pc)  # the start named it
        # the newest target and the step count at it: the pc of any step is target + steps since
        target, at = pc, self.steps
        while True:
            if self.steps >= self.limits.max_steps:
                self._expect([tr.TRAP_ID["step_limit_exceeded"]], "step budget")
                return True
            self.steps += 1
            try:
                predicted = self._step(pc)
            except Trap as t:
                self._expect([tr.TRAP_ID[t.kind]], "trap")
                return True
            if predicted == HALT:
                if func == self.m.start:
                    return False
                self._expect([tr.HALT_ID], "halt")
                return False
            last = self.tokens[self.pos - 1]
            if last >= tr.TARGET_BASE:  # this step jumped: its target token names the next pc
                target, at = last - tr.TARGET_BASE, self.steps
            pc = target + (self.steps - at)
            if pc != predicted:
                raise Hole(f"at token {self.pos}: the targets give pc {pc}, the step {predicted}")

    def _from_targets(self, fallback: int) -> int:
        """The pc named by the newest target token so far (``fallback`` when there is none)."""
        for t in reversed(self.tokens[: self.pos]):
            if t >= tr.TARGET_BASE:
                return t - tr.TARGET_BASE
        return fallback

    # --- one step ------------------------------------------------------------------------
    def _step(self, pc: int) -> int:
        op = self.p.code[pc]
        frame = self.frames[self.depth]
        cf = self.p.function(frame.func)
        nl = len(cf.type.params) + len(cf.locals)
        sp = frame.fp + nl + op.height
        name = op.name
        handler = _STEPS.get(name)
        if handler is None:
            handler = _numeric
        return handler(self, op, pc, frame, nl, sp)

    def _op(self, name: str) -> None:
        self._expect([tr.OP_ID[name]], "opcode")

    def _payload(self, predicted: list[int], what: str) -> int:
        start = self.pos
        self._expect(predicted, what)
        return start


def _bytes(v: int, n: int) -> list[int]:
    return list((v & ((1 << (8 * n)) - 1)).to_bytes(n, "little"))


def _push(d: Deriver, slot: int, v: int, w: int, what: str) -> None:
    data = _bytes(v, w)
    start = d._payload(data, what)
    d._write_slot(slot, data, start)


def _const(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    _push(d, sp, op.args[0], 4 if op.name == "i32.const" else 8, "constant")
    return pc + 1


def _local_get(d: Deriver, op, pc, frame, nl, sp) -> int:
    idx, w = op.args
    d._op(op.name)
    _push(d, sp, d._local(frame, sp + idx - frame.fp, w), w, "local value")
    return pc + 1


def _local_set(d: Deriver, op, pc, frame, nl, sp) -> int:
    idx, w = op.args
    d._op(op.name)
    v = d._slot(sp - 1, w)
    slot = (sp - 1 if op.name == "local.set" else sp) + idx
    data = _bytes(v, w)
    d._write_slot(slot, data, d._payload(data, "local write"))
    return pc + 1


def _global_get(d: Deriver, op, pc, frame, nl, sp) -> int:
    g, w = op.args
    d._op(op.name)
    _push(d, sp, d._glob(g, w), w, "global value")
    return pc + 1


def _global_set(d: Deriver, op, pc, frame, nl, sp) -> int:
    g, w = op.args
    d._op(op.name)
    data = _bytes(d._slot(sp - 1, w), w)
    d._payload(data, "global write")
    for k, b in enumerate(data):
        d.glob[8 * g + k] = b
    return pc + 1


def _load(d: Deriver, op, pc, frame, nl, sp) -> int:
    offset, n, is_signed, w = op.args
    d._op(op.name)
    ea = d._slot(sp - 1, 4) + offset
    if ea + n > d.pages * PAGE:
        raise Trap("memory_out_of_bounds")
    v = d._mem(ea, n)
    if is_signed and v >> (8 * n - 1):
        v -= 1 << (8 * n)
    _push(d, sp - 1, v, w, "loaded value")
    return pc + 1


def _store(d: Deriver, op, pc, frame, nl, sp) -> int:
    offset, n = op.args
    d._op(op.name)
    v = d._slot(sp - 1, n)
    ea = d._slot(sp - 2, 4) + offset
    if ea + n > d.pages * PAGE:
        raise Trap("memory_out_of_bounds")
    data = _bytes(v, n)
    d._payload(data, "stored bytes")
    for k, b in enumerate(data):
        d.mem[ea + k] = b
    return pc + 1


def _memory_size(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    _push(d, sp, d.pages, 4, "memory size")
    return pc + 1


def _memory_grow(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    delta = d._slot(sp - 1, 4)
    if d.pages + delta > d.max_pages:
        v = 0xFFFFFFFF
    elif d.pages + delta > d.limits.max_memory_pages:
        raise Trap("memory_limit_exceeded")
    else:
        v, d.pages = d.pages, d.pages + delta
    _push(d, sp - 1, v, 4, "memory.grow result")
    return pc + 1


def _drop(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    return pc + 1


def _unreachable(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    raise Trap("unreachable")


def _select(d: Deriver, op, pc, frame, nl, sp) -> int:
    (w,) = op.args
    d._op(op.name)
    c = d._slot(sp - 1, 4)
    v = d._slot(sp - 3, w) if c else d._slot(sp - 2, w)
    _push(d, sp - 3, v, w, "selected value")
    return pc + 1


def _move(d: Deriver, top: int, drop: int, widths: tuple[int, ...]) -> None:
    """A branch keeps ``widths`` values from slot ``top - k`` up and drops ``drop`` beneath."""
    k = len(widths)
    if not drop or not k:
        return
    values = [d._slot(top - k + j, w) for j, w in enumerate(widths)]
    for j, (v, w) in enumerate(zip(values, widths, strict=True)):
        _push(d, top - drop - k + j, v, w, "moved value")


def _jump(d: Deriver, target: int) -> int:
    """A jumping step's last token: its target (section 4)."""
    d._expect([tr.target_token(target)], "jump target")
    return target


def _br(d: Deriver, op, pc, frame, nl, sp) -> int:
    target, drop, widths = op.args
    d._op("br")
    _move(d, sp, drop, widths)
    return _jump(d, target)


def _br_if(d: Deriver, op, pc, frame, nl, sp) -> int:
    target, drop, widths = op.args
    if d._slot(sp - 1, 4):
        d._op("br_if.taken")
        _move(d, sp - 1, drop, widths)
        return _jump(d, target)
    d._op("br_if.fallthrough")
    return pc + 1


def _br_table(d: Deriver, op, pc, frame, nl, sp) -> int:
    entries, default = op.args
    i = d._slot(sp - 1, 4)
    target, drop, widths = entries[i] if i < len(entries) else default
    d._op("br_table")
    _move(d, sp - 1, drop, widths)
    return _jump(d, target)


def _if(d: Deriver, op, pc, frame, nl, sp) -> int:
    if d._slot(sp - 1, 4):
        d._op("if.then")
        return pc + 1
    d._op("if.else")
    return _jump(d, op.args[0])


def _else(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op("else")
    return _jump(d, op.args[0])


def _nop(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op("nop")
    return pc + 1


def _return(d: Deriver, op, pc, frame, nl, sp) -> int:
    span, widths = op.args
    d._op(op.name)
    top = frame.fp + span
    k = len(widths)
    values = [d._slot(top - k + j, w) for j, w in enumerate(widths)]
    for j, (v, w) in enumerate(zip(values, widths, strict=True)):
        _push(d, frame.fp + j, v, w, "result")
    del d.frames[d.depth]
    d.depth -= 1
    if frame.ret != HALT:
        return _jump(d, frame.ret)
    if d.in_start:  # the start function is done: it names the entry's first instruction
        _jump(d, d.entry_pc)
    return HALT


def _enter(d: Deriver, func: int, fp: int, ret: int, call_pos: int) -> int:
    if d.depth >= d.limits.max_call_depth:
        raise Trap("call_depth_exceeded")
    d.depth += 1
    d.frames[d.depth] = _Frame(func, fp, ret, call_pos)
    return _jump(d, d.p.function(func).pc)


def _call(d: Deriver, op, pc, frame, nl, sp) -> int:
    func = op.args[0]
    call_pos = d.pos
    d._op("call")
    nparams = len(d.m.func_type(func).params)
    return _enter(d, func, sp - nparams, pc + 1, call_pos)


def _call_indirect(d: Deriver, op, pc, frame, nl, sp) -> int:
    call_pos = d.pos
    d._op("call_indirect")
    i = d._slot(sp - 1, 4)
    if i >= len(d.table):
        raise Trap("table_out_of_bounds")
    func = d.table[i]
    if func is None:
        raise Trap("indirect_call_to_null")
    if d.m.func_type(func) != d.m.types[op.args[0]]:
        raise Trap("indirect_call_type_mismatch")
    if func < d.nimports:
        _HOST[d.m.imports[func].name](d, sp - 1)
        return pc + 1
    nparams = len(d.m.func_type(func).params)
    return _enter(d, func, sp - 1 - nparams, pc + 1, call_pos)


def _input(d: Deriver, sp: int) -> None:
    if d.cursor >= len(d.inputs):
        raise Trap("input_exhausted")
    v = d.inputs[d.cursor]
    d.cursor += 1
    _push(d, sp, v, 4, "input value")


def _output(d: Deriver, sp: int) -> None:
    d._payload(_bytes(d._slot(sp - 1, 4), 4), "output value")


_HOST = {"input_i32": _input, "output_i32": _output}


def _host(d: Deriver, op, pc, frame, nl, sp) -> int:
    d._op(op.name)
    _HOST[op.name.split(".")[1]](d, sp)
    return pc + 1


def _numeric(d: Deriver, op, pc, frame, nl, sp) -> int:
    info = BY_NAME[op.name]
    types = [CHAR_VALTYPE[c] for c in info.pops]
    operands = [d._slot(sp - len(types) + j, WIDTH[t]) for j, t in enumerate(types)]
    result_w = WIDTH[CHAR_VALTYPE[info.pushes]]
    d._op(op.name)
    f = BINARY.get(op.name) or UNARY[op.name]
    _, kind = op.name.split(".")
    if kind in ("div_s", "div_u", "rem_s", "rem_u"):  # section 4.3: scratch, then the result
        payload, r = div_tokens(*operands, result_w, kind.endswith("_s"), kind.startswith("rem"),
                                tr.DIV_SCRATCH)
        start = d._payload(payload, "division")
        d._write_slot(sp - len(types), _bytes(r, result_w), start + len(payload) - result_w)
        return pc + 1
    r = f(*operands)
    data = _bytes(r, result_w)
    payload = list(data)
    if kind in ("add", "sub"):  # section 4.2: the flag of byte k from the operands' low bytes
        a, b = operands
        for k in range(result_w):
            low = (1 << (8 * (k + 1))) - 1
            flag = (a & low) + (b & low) > low if kind == "add" else (a & low) < (b & low)
            payload[k] += 256 * flag
    elif kind == "mul":  # section 4.1: columns and carries
        a, b = (list(_bytes(x, result_w)) for x in operands)
        payload, carry = [], 0
        for k in range(result_w):
            s = carry + sum(a[i] * b[k - i] for i in range(k + 1))
            if k:
                payload.append(tr.MUL_CARRY + carry)
            payload.append(s % 256)
            carry = s // 256
    start = d._payload(payload, "numeric result")
    d._write_slot(sp - len(types), data, start)
    return pc + 1


_STEPS = {
    "i32.const": _const, "i64.const": _const, "local.get": _local_get,
    "local.set": _local_set, "local.tee": _local_set, "global.get": _global_get,
    "global.set": _global_set, "memory.size": _memory_size, "memory.grow": _memory_grow,
    "drop": _drop, "unreachable": _unreachable, "select": _select, "br": _br,
    "br_if": _br_if, "br_table": _br_table, "if": _if, "else": _else, "nop": _nop,
    "return": _return, "end": _return, "call": _call, "call_indirect": _call_indirect,
    "host.input_i32": _host, "host.output_i32": _host,
}
for _info in BY_NAME.values():
    if _info.imm == "memarg":
        _STEPS[_info.name] = _load if _info.pushes else _store

__all__ = ["Deriver", "Hole", "I64"]
