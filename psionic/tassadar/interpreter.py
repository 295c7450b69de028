"""The reference interpreter: exact Wasm semantics for the profile, emitting the trace.

``Machine`` instantiates a ``Program`` (globals, memory, data and element
segments), runs the start function and then one entry function, and records
the ``tassadar.trace.v3`` tokens of every step. Bounds (steps, memory pages,
call depth) end a run with a typed trap, like any other trap.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 1 i32.add))')
>>> out = Machine(p.program).run("run", [41])
>>> out.result, out.trap, out.steps
((42,), None, 4)
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from psionic.core.errors import InvalidInput, UnsupportedWasmFeature
from psionic.tassadar import handlers_flow  # noqa: F401  (registers the flow handlers)
from psionic.tassadar import trace as tr
from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.handlers import PAGE, Step, build
from psionic.tassadar.opcodes import I64, VALTYPE_NAME
from psionic.tassadar.outcome import Outcome
from psionic.tassadar.program import Program
from psionic.tassadar.semantics import M32, Trap, signed

MAX_PAGES = 65536
FLUSH_STEPS = 1 << 16  # steps between moves of the token buffer into the compact trace


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on a run; crossing one is a trap of the named kind."""

    max_steps: int = 50_000_000  # step_limit_exceeded
    max_memory_pages: int = 1024  # memory_limit_exceeded (64 MiB)
    max_call_depth: int = 10_000  # call_depth_exceeded


class _Halt(Exception):
    pass


class Machine:
    """One instance of a program: its stack, memory, globals, table, inputs and trace.

    Mutable by nature (it is the running machine); a fresh one per run.
    """

    def __init__(self, program: Program, inputs: Sequence[int] = (), limits: Limits | None = None):
        self.program = program
        self.limits = limits or Limits()
        module = program.module
        self.stack: list[int] = []
        self.tokens: list[int] = []  # the hot buffer the step closures append to
        self.trace = array("H")  # every token so far (ids < 65536), flushed from ``tokens``
        self.returns: list[int] = []
        self.globals: list[int] = [g.init for g in module.globals]
        self.memory = bytearray()
        mem = module.memory
        self.declared_max_pages = MAX_PAGES if mem is None or mem.maximum is None else mem.maximum
        self.table: list[int | None] = [None] * (module.table.minimum if module.table else 0)
        self.inputs = [int(v) & M32 for v in inputs]
        self.input_pos = 0
        self.outputs: list[int] = []
        self.steps = 0
        self._hosts = {
            "host.input_i32": self._input,
            "host.output_i32": self._output,
        }
        self._code: list[Step] | None = None
        self.halt_pc = len(program.code)  # the return pc of the entry function: halt follows
        self.entry_pc = 0  # the entry function's first instruction (set by ``run``)

    # --- routines the handlers bind to ----------------------------------------------
    def _input(self) -> None:
        if self.input_pos >= len(self.inputs):
            raise Trap("input_exhausted")
        v = self.inputs[self.input_pos]
        self.input_pos += 1
        self.stack.append(v)
        self.tokens.extend(v.to_bytes(4, "little"))

    def _output(self) -> None:
        v = self.stack.pop()
        self.outputs.append(v)
        self.tokens.extend(v.to_bytes(4, "little"))

    def host_routine_by_name(self, name: str) -> Callable[[], None]:
        return self._hosts[name]

    def host_routine(self, index: int) -> Callable[[], None]:
        imp = self.program.module.imports[index]
        return self._hosts[f"host.{imp.name}"]

    def entry_routine(self, index: int) -> Callable[[], None]:
        """What entering function ``index`` does to the stack: zero its declared locals."""
        if index < len(self.program.module.imports):
            return lambda: None
        zeros = [0] * len(self.program.function(index).locals)
        if not zeros:
            return lambda: None
        extend = self.stack.extend
        return lambda: extend(zeros)

    # --- instantiation and running ------------------------------------------------------
    def _instantiate(self) -> None:
        module = self.program.module
        if module.memory is not None:
            if module.memory.minimum > self.limits.max_memory_pages:
                raise Trap("memory_limit_exceeded")
            self.memory.extend(bytes(module.memory.minimum * PAGE))
        for seg in module.elems:
            if seg.offset + len(seg.funcs) > len(self.table):
                raise Trap("table_out_of_bounds")
            self.table[seg.offset : seg.offset + len(seg.funcs)] = list(seg.funcs)
        for data in module.datas:
            if data.offset + len(data.data) > len(self.memory):
                raise Trap("memory_out_of_bounds")
            self.memory[data.offset : data.offset + len(data.data)] = data.data

    def _compile(self) -> list[Step]:
        code = [build(self, op, pc) for pc, op in enumerate(self.program.code)]

        def halt() -> int:
            raise _Halt

        code.append(halt)  # the halt slot: the entry function returns here
        code.append(halt)  # the start slot: the start function returns here
        return code

    def _execute(self, pc: int) -> None:
        code = self._code
        assert code is not None
        remaining = self.limits.max_steps - self.steps
        while remaining > 0:
            chunk = min(remaining, FLUSH_STEPS)
            n = 0
            try:
                for n in range(chunk):  # noqa: B007 - n is the step count on exit
                    pc = code[pc]()
            except _Halt:
                self.steps += n
                return
            except Trap:
                self.steps += n + 1
                raise
            finally:
                self._flush()
            self.steps += chunk
            remaining -= chunk
        raise Trap("step_limit_exceeded")

    def _flush(self) -> None:
        """Move the hot token buffer (a list: fastest to append) into the compact trace."""
        self.trace.fromlist(self.tokens)
        self.tokens.clear()

    def _invoke(self, index: int, args: Sequence[int], returns_to: int) -> None:
        module = self.program.module
        if index < len(module.imports):
            raise UnsupportedWasmFeature("an entry or start function that is a host import")
        self.stack.extend(args)
        self.returns.append(returns_to)
        self.entry_routine(index)()
        self._execute(self.program.function(index).pc)

    def run(self, entry: str | None = None, args: Sequence[int] = ()) -> Outcome:
        """Run the start function then ``entry`` with ``args``; traps end the run, not raise."""
        module = self.program.module
        index = resolve_entry(module, entry)
        ftype = module.func_type(index)
        if len(args) != len(ftype.params):
            raise InvalidInput(
                f"entry {entry or module.func_name(index)!r} takes {len(ftype.params)} "
                f"argument(s) ({', '.join(VALTYPE_NAME[t] for t in ftype.params) or 'none'}), "
                f"got {len(args)}"
            )
        masked = [int(a) & ((1 << (64 if t == I64 else 32)) - 1) for a, t in zip(args, ftype.params, strict=True)]
        trap: str | None = None
        try:
            if len(self.program.code) > tr.PC_LIMIT:
                raise UnsupportedWasmFeature(
                    f"the lowered code has {len(self.program.code)} instructions; {tr.ABI} names "
                    f"jump targets below {tr.PC_LIMIT}")
            self.entry_pc = self.program.function(index).pc if index >= len(module.imports) else 0
            self._instantiate()
            self._code = self._compile()
            if module.start is not None:
                self._invoke(module.start, [], self.halt_pc + 1)
            self._invoke(index, masked, self.halt_pc)
            self.trace.append(tr.HALT_ID)
        except Trap as t:
            trap = t.kind
            self._flush()
            self.trace.append(tr.TRAP_ID[t.kind])
        result: tuple[int, ...] = ()
        if trap is None:
            result = tuple(
                signed(v, 64 if t == I64 else 32) for v, t in zip(self.stack, ftype.results, strict=True)
            )
        return Outcome(
            result=result,
            outputs=tuple(signed(v, 32) for v in self.outputs),
            trap=trap,
            steps=self.steps,
            tokens=self.trace,
            memory=bytes(self.memory),
            globals=tuple(self.globals),
        )
