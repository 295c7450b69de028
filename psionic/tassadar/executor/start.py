"""The start function: it runs first, in slots above the entry's, then goes on to the entry.

The reference runs the module's start function before the entry: its steps,
its ``end``, then ``p<entry pc>`` and the entry's steps (one trace). In the
prompt:

- the run begins at the start function's pc (the prompt's last token);
- the start function's slots are placed above the entry's locals (``offset``
  = the entry's parameters and declared locals), so nothing it writes shadows
  an argument; its declared locals get zero bytes in the initial stack;
- its ``return``/``end`` records end the step with ``after = p<entry pc>``
  (the dispatch emits a record's ``after`` token when the step is complete);
- its ``end`` token lowers the call depth like every return, so the prompt
  carries one ``s`` token (input-only, call depth ``+1``) that keeps the depth
  of the entry at 0.

A start function that calls, or an entry past ``p<1412>`` (the ``after``
field is an ``n..`` number below 4096), is refused by name.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (global (mut i32) (i32.const 0)) (func $s i32.const 5 global.set 0) '
...              '(start $s) (func (export "run") (result i32) global.get 0))').program
>>> plan(p, 1, 0).entry_target - 2683
3
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.call_records import reachable
from psionic.tassadar.program import Program

SLOT_FIELDS = ("src_a", "src_b", "src_c", "dst")


@dataclass(frozen=True, slots=True)
class StartPlan:
    func: int  # the start function's index
    pc: int  # its first pc: the run begins there
    offset: int  # its slots sit this many slots above the entry's frame base
    locals: int  # its declared locals (zero bytes in the initial stack)
    entry_target: int  # the token its return emits: p<entry pc>


def plan(program: Program, entry: int, entry_locals: int) -> StartPlan | None:
    """The start function's placement, or ``None`` without one; refuses what is not covered."""
    start = program.module.start
    if start is None:
        return None
    if start == entry or start in reachable(program, entry):
        raise UnsupportedOperation("the executor does not cover a start function that the "
                                   "entry also runs")
    code = [op for op in program.code if op.func == start]
    if any(op.name in ("call", "call_indirect") for op in code):
        raise UnsupportedOperation("the executor covers start functions that make no calls")
    entry_pc = program.function(entry).pc
    target = tr.target_token(entry_pc)
    if target >= L.NUM_LIMIT:
        raise UnsupportedOperation(f"the executor covers a start function before an entry "
                                   f"below pc {L.NUM_LIMIT - tr.TARGET_BASE}")
    return StartPlan(start, program.function(start).pc, entry_locals,
                     len(program.function(start).locals), target)


def fields(p: StartPlan, name: str, record: dict[str, int]) -> dict[str, int]:
    """A start function's record: slots moved up by ``offset``, its returns go on to the entry."""
    out = dict(record)
    for f in SLOT_FIELDS:
        if f in out and out[f] < L.SINK_SLOT:
            out[f] += p.offset
    if name in ("return", "end"):
        out["after"] = p.entry_target
    return out


def embed(e: np.ndarray, idx: dict[str, int]) -> None:
    """The ``s`` token: call depth ``+1`` (the start function's ``end`` takes it back)."""
    e[L.START_TOKEN, idx["fr_dstep"]] = 1.0
