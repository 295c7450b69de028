"""Run a program under a decode mode and bind the result to a receipt.

Decode modes register under a name (``reference``: the interpreter;
``linear``: greedy decoding on the constructed executor with brute-force
attention, ``psionic.tassadar.executor``). Every mode returns an
``Outcome`` whose trace is in ``tassadar.trace.v2``, so reports and digests
compare across modes.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func (export "main") (result i32) i32.const 2 i32.const 3 i32.mul))')
>>> r = run_program(p)
>>> r.result, r.steps, r.tokens, r.receipt.kind
((6,), 4, 24, 'tassadar_run')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from psionic.core.digest import digest_bytes
from psionic.core.errors import InvalidInput
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt
from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.ingress import LoadedProgram
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.opcodes import PROFILE
from psionic.tassadar.outcome import Outcome
from psionic.tassadar.trace import ABI, trace_digest

Decoder = Callable[[LoadedProgram, str | None, Sequence[int], Sequence[int], Limits], Outcome]
DECODERS: dict[str, Decoder] = {}


def register_decoder(name: str, decoder: Decoder) -> Decoder:
    if name in DECODERS:
        raise ValueError(f"decode mode {name!r} is already registered")
    DECODERS[name] = decoder
    return decoder


def _reference(program: LoadedProgram, entry: str | None, args: Sequence[int],
               inputs: Sequence[int], limits: Limits) -> Outcome:
    return Machine(program.program, inputs, limits).run(entry, args)


register_decoder("reference", _reference)


def model_decoder(attention: str) -> Decoder:
    """A decode mode that runs the executor model with the hard-max lookup ``attention``
    (a key of ``psionic.tassadar.executor.attention.MODES``)."""

    def decode(program: LoadedProgram, entry: str | None, args: Sequence[int],
               inputs: Sequence[int], limits: Limits) -> Outcome:
        from psionic.tassadar.executor.decode import decode_linear  # the model, no interpreter

        return decode_linear(program, entry, args, inputs, limits, attention=attention)

    return decode


register_decoder("linear", model_decoder("linear"))


@dataclass(frozen=True, slots=True)
class RunReport:
    """What ``psionic tassadar run --json`` prints (``outcome`` keeps the tokens and memory)."""

    entry: str
    result: tuple[int, ...]
    outputs: tuple[int, ...]
    trap: str | None
    steps: int
    tokens: int
    trace_digest: str
    program_digest: str
    memory_digest: str
    decode: str
    seconds: float
    receipt: ExecutionReceipt
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "result": list(self.result),
            "outputs": list(self.outputs),
            "trap": self.trap,
            "steps": self.steps,
            "tokens": self.tokens,
            "tokens_per_step": round(self.tokens / self.steps, 4) if self.steps else None,
            "trace_abi": ABI,
            "trace_digest": self.trace_digest,
            "program_digest": self.program_digest,
            "memory_digest": self.memory_digest,
            "decode": self.decode,
            "seconds": self.seconds,
            "receipt": self.receipt.to_dict(),
        }


def _decimal(values: Sequence[int]) -> list[str]:
    return [str(int(v)) for v in values]


def run_program(
    program: LoadedProgram,
    entry: str | None = None,
    args: Sequence[int] = (),
    inputs: Sequence[int] = (),
    decode: str = "reference",
    limits: Limits | None = None,
) -> RunReport:
    """Run ``program`` from ``entry`` (default ``run``, else ``main``) and make its receipt."""
    if decode not in DECODERS:
        raise InvalidInput(f"unknown decode mode {decode!r}; known: {sorted(DECODERS)}")
    limits = limits or Limits()
    index = resolve_entry(program.program.module, entry)
    entry_name = entry or program.program.module.func_name(index)
    started = time.perf_counter()
    outcome = DECODERS[decode](program, entry_name, list(args), list(inputs), limits)
    seconds = round(time.perf_counter() - started, 6)
    tdigest = trace_digest(outcome.tokens)
    mdigest = digest_bytes(outcome.memory)
    # Canonical JSON holds integers only up to 2**53: Wasm values go in as decimal strings.
    request = {
        "program": program.digest,
        "entry": entry_name,
        "args": _decimal(args),
        "inputs": _decimal(inputs),
        "limits": asdict(limits),
        "profile": PROFILE,
    }
    output = {
        "result": _decimal(outcome.result),
        "outputs": _decimal(outcome.outputs),
        "trap": outcome.trap,
        "steps": outcome.steps,
        "tokens": len(outcome.tokens),
        "trace_digest": tdigest,
        "memory_digest": mdigest,
    }
    receipt = ExecutionReceipt.create(
        kind="tassadar_run",
        request=request,
        output=output,
        manifest_digest=RuntimeManifest.current().digest,
        artifacts={"program": program.digest},
        sampling={"decode": decode},
        timings={"seconds": seconds},
        facts={"trace_abi": ABI, "profile": PROFILE, "decode": decode},
    )
    return RunReport(
        entry=entry_name, result=outcome.result, outputs=outcome.outputs, trap=outcome.trap,
        steps=outcome.steps, tokens=len(outcome.tokens), trace_digest=tdigest,
        program_digest=program.digest, memory_digest=mdigest, decode=decode, seconds=seconds,
        receipt=receipt, outcome=outcome,
    )
