"""The validated, lowered form of a module: one flat instruction array for all functions.

Structured control (``block``, ``loop``, the ``end`` of a block) is resolved at
validation time and takes no step at run time; branches carry their target
``pc`` and how many stack slots they drop and keep. Every entry of ``code`` is
one executed step, and its ``name`` is the step's opcode in the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from psionic.tassadar.module import FuncType, Module


@dataclass(frozen=True, slots=True)
class Op:
    """One lowered instruction. ``args`` depend on ``name`` (see ``validate``)."""

    name: str
    args: tuple
    offset: int  # byte offset of the source instruction in the binary
    func: int  # index of the function it belongs to
    # operand stack height before the step, above the frame's locals (static in valid Wasm;
    # meaningless in unreachable code, which never runs)
    height: int = 0


@dataclass(frozen=True, slots=True)
class CompiledFunction:
    index: int
    type: FuncType
    pc: int  # where its first instruction sits in ``Program.code``
    locals: tuple[int, ...]  # declared locals (after the parameters)


@dataclass(frozen=True, slots=True)
class Program:
    module: Module
    code: tuple[Op, ...]
    functions: tuple[CompiledFunction, ...]  # defined functions, in index order

    def function(self, index: int) -> CompiledFunction:
        return self.functions[index - len(self.module.imports)]
