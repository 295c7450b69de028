"""Proof bundles for Tassadar runs, and their replay with the other attention mode.

A run's receipt (``run.py``) digests the request (program digest, entry,
arguments, inputs, limits, profile) and the output (result, outputs, trap,
steps, token count, trace digest, memory digest); for the executor's decode
modes its artifacts add the weights digest, and its facts the decode mode.
The bundle adds the runtime manifest and a replay record: request, output,
the decode mode and the program's Wasm bytes (base64). ``psionic verify
BUNDLE`` re-runs the program with the *other* attention mode (hull runs are
re-decoded with brute-force attention, linear ones with the hull; interpreter
runs re-run on the interpreter) and requires the same trace digest and the
same output record.

>>> from psionic.tassadar.ingress import load_wat
>>> p = load_wat('(module (func (export "run") (result i32) i32.const 2 i32.const 3 i32.add))')
>>> bundle = run_bundle(p, "run", [], [], "hull")
>>> replay_run(bundle).startswith("verified")
True
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from psionic.core.errors import ReplayMismatch
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ProofBundle, register_replayer
from psionic.tassadar.executor.model import WEIGHTS_DIGEST
from psionic.tassadar.ingress import LoadedProgram, from_wasm
from psionic.tassadar.interpreter import Limits
from psionic.tassadar.run import RunReport, output_record, request_record, run_program

RECEIPT_KIND = "tassadar_run"
# the decode mode a bundle is replayed with: the other attention over the same weights
REPLAY_MODE = {
    "hull": "linear-compiled",
    "hull-session": "linear",
    "linear": "hull",
    "linear-compiled": "hull",
    "reference": "reference",
}


def bundle_of(report: RunReport, program: LoadedProgram, args: Sequence[int],
              inputs: Sequence[int], limits: Limits) -> ProofBundle:
    """The proof bundle of a finished run (same arguments as ``run_program`` got)."""
    replay = {
        "request": request_record(program, report.entry, args, inputs, limits),
        "output": output_record(report.outcome),
        "decode": report.decode,
        "program_wasm_base64": base64.b64encode(program.wasm).decode("ascii"),
    }
    bundle = ProofBundle(report.receipt, RuntimeManifest.current(), replay)
    bundle.check_bindings()
    return bundle


def run_bundle(program: LoadedProgram, entry: str | None, args: Sequence[int],
               inputs: Sequence[int], decode: str, limits: Limits | None = None) -> ProofBundle:
    limits = limits or Limits()
    report = run_program(program, entry, args, inputs, decode, limits)
    return bundle_of(report, program, args, inputs, limits)


def replay_run(bundle: ProofBundle) -> str:
    """Re-run the bundle's program with the other attention mode; raise ``ReplayMismatch``
    on the first difference."""
    replay = bundle.replay
    request, expected, decode = replay["request"], replay["output"], replay["decode"]
    if decode != bundle.receipt.facts.get("decode"):
        raise ReplayMismatch(f"replay record says decode {decode!r}, the receipt "
                             f"{bundle.receipt.facts.get('decode')!r}", field="decode")
    if decode not in REPLAY_MODE:
        raise ReplayMismatch(f"no replay mode for decode {decode!r}", field="decode")
    weights = bundle.receipt.artifacts.get("executor_weights")
    if weights is not None and weights != WEIGHTS_DIGEST:
        raise ReplayMismatch(f"the receipt names executor weights {weights}; these are "
                             f"{WEIGHTS_DIGEST}", field="executor_weights")
    program = from_wasm(base64.b64decode(replay["program_wasm_base64"], validate=True))
    if program.digest != request["program"]:
        raise ReplayMismatch(f"the bundled program has digest {program.digest}; the request "
                             f"names {request['program']}", field="program")
    limits = Limits(**request["limits"])
    args = [int(a) for a in request["args"]]
    inputs = [int(v) for v in request["inputs"]]
    other = REPLAY_MODE[decode]
    report = run_program(program, request["entry"], args, inputs, other, limits)
    got = output_record(report.outcome)
    if got["trace_digest"] != expected["trace_digest"]:
        raise ReplayMismatch(f"re-decoding with {other} gave trace {got['trace_digest']}; the "
                             f"bundle has {expected['trace_digest']}", field="trace_digest")
    for key, want in expected.items():
        if got.get(key) != want:
            raise ReplayMismatch(f"re-decoding with {other} gave {key} {got.get(key)!r}; the "
                                 f"bundle has {want!r}", field=key)
    return (f"verified: re-decoded with {other} (the bundle ran {decode}): {got['tokens']} "
            f"tokens, trace {got['trace_digest']} identical")


register_replayer(RECEIPT_KIND, replay_run)
