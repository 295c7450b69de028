"""Run a program under a decode mode and bind the result to a receipt.

Decode modes register under a name (``reference``: the interpreter;
``linear``: greedy decoding on the constructed executor with brute-force
attention, ``psionic.tassadar.executor``). Every mode returns an
``Outcome`` whose trace is in ``tassadar.trace.v3``, so reports and digests
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
# artifacts a decode mode adds to the receipt (the executor's weights, by digest)
DECODER_ARTIFACTS: dict[str, Callable[[], dict[str, str]]] = {}


def _executor_weights() -> dict[str, str]:
    from psionic.tassadar.executor.model import WEIGHTS_DIGEST

    return {"executor_weights": WEIGHTS_DIGEST}


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


DECODER_ARTIFACTS["linear"] = _executor_weights
register_decoder("linear", model_decoder("linear"))
DECODER_ARTIFACTS["hull-session"] = _executor_weights
register_decoder("hull-session", model_decoder("hull"))


def compiled_decoder(lookup: str) -> Decoder:
    """A decode mode that runs the executor model in the compiled decode loop with the
    hard-max lookup ``lookup`` (``hull`` or ``linear``: ``executor/compiled.py``)."""

    def decode(program: LoadedProgram, entry: str | None, args: Sequence[int],
               inputs: Sequence[int], limits: Limits) -> Outcome:
        from psionic.tassadar.executor.compiled import decode_compiled

        return decode_compiled(program, entry, args, inputs, limits, lookup)

    return decode


DECODER_ARTIFACTS["hull"] = _executor_weights
register_decoder("hull", compiled_decoder("hull"))
DECODER_ARTIFACTS["linear-compiled"] = _executor_weights
register_decoder("linear-compiled", compiled_decoder("linear"))


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


def request_record(program: LoadedProgram, entry: str, args: Sequence[int],
                   inputs: Sequence[int], limits: Limits) -> dict[str, Any]:
    """What a run's receipt digests as its request."""
    # Canonical JSON holds integers only up to 2**53: Wasm values go in as decimal strings.
    return {
        "program": program.digest,
        "entry": entry,
        "args": _decimal(args),
        "inputs": _decimal(inputs),
        "limits": asdict(limits),
        "profile": PROFILE,
    }


def output_record(outcome: Outcome) -> dict[str, Any]:
    """What a run's receipt digests as its output: equal across decode modes for equal runs."""
    return {
        "result": _decimal(outcome.result),
        "outputs": _decimal(outcome.outputs),
        "trap": outcome.trap,
        "steps": outcome.steps,
        "tokens": len(outcome.tokens),
        "trace_digest": trace_digest(outcome.tokens),
        "memory_digest": digest_bytes(outcome.memory),
    }


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
    request = request_record(program, entry_name, args, inputs, limits)
    output = output_record(outcome)
    tdigest, mdigest = output["trace_digest"], output["memory_digest"]
    receipt = ExecutionReceipt.create(
        kind="tassadar_run",
        request=request,
        output=output,
        manifest_digest=RuntimeManifest.current().digest,
        artifacts={"program": program.digest, **DECODER_ARTIFACTS.get(decode, dict)()},
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
