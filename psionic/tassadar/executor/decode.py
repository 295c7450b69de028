"""``--decode linear``: greedy decoding of the trace on the executor, O(n) attention per token.

The decode path is the model alone: the prompt (``prompt.py``), the weights
(``model.py``) and argmax. It imports nothing of the reference interpreter;
the run's result, trap and step count are read back from the emitted tokens.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 1 i32.sub))')
>>> out = decode_linear(p, "run", [0], [], None)
>>> out.result, out.steps, out.trap
((-1,), 4, None)
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psionic.core.errors import InvalidInput, UnsupportedOperation
from psionic.tassadar import trace as tr
from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.executor import hull_attention as _hull_modes  # noqa: F401  registers hull
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.attention import MODES, AttentionFactory, LinearAttention
from psionic.tassadar.executor.call_records import check_capacity
from psionic.tassadar.executor.memory_readback import final_memory
from psionic.tassadar.executor.model import Model, Session
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.ingress import LoadedProgram
from psionic.tassadar.outcome import Outcome

PAGE = 65536
DEFAULT_MAX_STEPS = 50_000_000
DEFAULT_MAX_CALL_DEPTH = 10_000  # the reference interpreter's default bound
MAX_STEP_TOKENS = 18  # the longest covered step: opcode, 16 moved or written bytes, a target


@dataclass(frozen=True, slots=True)
class ExecutorOutcome(Outcome):
    """An ``Outcome`` read from the tokens the model emitted, with decode timings."""

    prompt_tokens: int = 0
    prefill_seconds: float = 0.0  # feeding the prompt
    decode_seconds: float = 0.0  # emitting the trace, one forward pass per token


@lru_cache(maxsize=1)
def default_model() -> Model:
    return Model.load()


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


@dataclass(frozen=True, slots=True)
class Generation:
    tokens: list[int]
    prefill_seconds: float
    decode_seconds: float


def generate(model: Model, prompt: Sequence[int], max_tokens: int,
             attention: AttentionFactory = LinearAttention) -> Generation:
    """Feed ``prompt``, then emit argmax tokens until ``halt`` or a trap (at most ``max_tokens``)."""
    started = time.perf_counter()
    session = Session(model, min(len(prompt) + max_tokens, L.MAX_POSITION), attention)
    x = None
    for token in prompt:
        x = session.feed(token)
    assert x is not None
    fed = time.perf_counter()
    out: list[int] = []
    ends = set(range(tr.HALT_ID, tr.OP_BASE))
    while len(out) < max_tokens:
        token = session.next_token(x)
        out.append(token)
        if token in ends:
            return Generation(out, fed - started, time.perf_counter() - fed)
        x = session.feed(token)
    raise UnsupportedOperation(f"the executor emitted {max_tokens} tokens without halting (the step "
                               "bound's worth, or the positions its memory and stack keys order "
                               "exactly)")


def decode_linear(program: LoadedProgram, entry: str | None, args: Sequence[int],
                  inputs: Sequence[int], limits: Any, model: Model | None = None,
                  attention: str = "linear",
                  generator: Callable[[Model, Sequence[int], int], Generation] | None = None,
                  ) -> ExecutorOutcome:
    """Run ``entry`` by greedy decoding on the executor (``limits`` needs ``max_steps``).

    ``generator`` replaces ``generate`` (the compiled decode loop, ``compiled.py``).

    ``attention`` names the hard-max lookup (``attention.MODES``): the emitted tokens are the
    same under every mode, only the time differs."""
    if attention not in MODES:
        raise InvalidInput(f"unknown attention mode {attention!r}; known: {sorted(MODES)}")
    module = program.program.module
    index = resolve_entry(module, entry)
    ftype = module.func_type(index)
    if len(args) != len(ftype.params):
        raise InvalidInput(f"entry takes {len(ftype.params)} argument(s), got {len(args)}")
    max_steps = getattr(limits, "max_steps", DEFAULT_MAX_STEPS)
    max_depth = getattr(limits, "max_call_depth", DEFAULT_MAX_CALL_DEPTH)
    prompt = lay_out(program.program, index, args, max_steps,
                     getattr(limits, "max_memory_pages", None), inputs, max_depth)
    model = model or default_model()
    # a step is at most MAX_STEP_TOKENS tokens, and the model traps when the bound is spent
    budget = min(prompt.position_bound - len(prompt.tokens),
                 MAX_STEP_TOKENS * (prompt.steps_bound + 1) + 2)
    gen = (generator(model, prompt.tokens, budget) if generator is not None
           else generate(model, prompt.tokens, budget, MODES[attention]))
    tokens = gen.tokens
    trace = tr.decode(tokens)
    check_capacity(trace.steps, trace.end, prompt.entry_pc, prompt.calls, max_depth,
                   prompt.stack_slots, int(prompt.begins_in_start))
    trap = None if trace.end == tr.HALT else trace.end
    result: tuple[int, ...] = ()
    if trap is None:
        data = trace.steps[-1].payload
        at = 0
        values = []
        for w in prompt.result_widths:
            raw = int.from_bytes(bytes(b & 0xFF for b in data[at : at + w]), "little")
            values.append(_signed(raw, 8 * w))
            at += w
        result = tuple(values)
    # final globals: the newest global.set of each, read from the emitted steps (each step's pc
    # is the newest emitted target plus the steps since it)
    final = [g.init for g in module.globals]
    pc = prompt.entry_pc
    for step in trace.steps:
        op = prompt.code[pc] if pc < len(prompt.code) else None
        if op is not None and step.op == "global.set" and len(step.payload) == op.args[1]:
            final[op.args[0]] = int.from_bytes(bytes(step.payload), "little")
        pc = step.target if step.target is not None else pc + 1
    outputs = tuple(_signed(int.from_bytes(step.value_bytes(), "little"), 32)
                    for step in trace.steps if step.op == "host.output_i32" and step.payload)
    return ExecutorOutcome(
        result=result, outputs=outputs, trap=trap, steps=len(trace.steps),
        tokens=array("H", tokens), memory=final_memory(prompt, module, trace.steps),
        globals=tuple(final), prompt_tokens=len(prompt.tokens),
        prefill_seconds=round(gen.prefill_seconds, 6), decode_seconds=round(gen.decode_seconds, 6),
    )
