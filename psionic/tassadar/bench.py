"""``psionic tassadar bench MODE``: steps and tokens per second of a decode mode on each workload.

Wall time covers the whole run (closure building included); the trace is
always recorded, since the trace is what the reference is for.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from psionic.core.errors import InvalidInput, Refusal
from psionic.core.manifest import RuntimeManifest
from psionic.tassadar.ingress import load
from psionic.tassadar.interpreter import Limits
from psionic.tassadar.run import DECODERS, run_program
from psionic.tassadar.trace import ABI
from psionic.tassadar.workloads import WORKLOADS, Workload, get


def bench_workload(w: Workload, decode: str = "reference", repeat: int = 1,
                   limits: Limits | None = None) -> dict[str, Any]:
    program = load(w.path)
    best = None
    for _ in range(max(repeat, 1)):
        try:
            report = run_program(program, w.entry, w.args, w.inputs, decode, limits)
        except Refusal as e:  # a decode mode that does not cover the program says why
            return {"workload": w.name, "language": w.language, "refused": e.to_dict()}
        if best is None or report.seconds < best.seconds:
            best = report
    assert best is not None
    return {
        "workload": w.name,
        "language": w.language,
        "steps": best.steps,
        "tokens": best.tokens,
        "tokens_per_step": round(best.tokens / best.steps, 3) if best.steps else None,
        "seconds": best.seconds,
        "steps_per_s": round(best.steps / best.seconds) if best.seconds else None,
        "tokens_per_s": round(best.tokens / best.seconds) if best.seconds else None,
        "trap": best.trap,
        # decode modes that run a model also report the prompt and the emission phase alone
        **_phases(best.outcome, best.tokens),
        "trace_digest": best.trace_digest,
    }


def _phases(outcome: Any, tokens: int) -> dict[str, Any]:
    seconds = getattr(outcome, "decode_seconds", None)
    if seconds is None:
        return {}
    return {"prompt_tokens": outcome.prompt_tokens, "prefill_seconds": outcome.prefill_seconds,
            "decode_seconds": seconds,
            "decode_tokens_per_s": round(tokens / seconds) if seconds else None}


def bench(decode: str = "reference", names: Iterable[str] | None = None,
          include_slow: bool = False, repeat: int = 1) -> dict[str, Any]:
    if decode not in DECODERS:
        raise InvalidInput(f"unknown decode mode {decode!r}; known: {sorted(DECODERS)}")
    chosen = [get(n) for n in names] if names else [
        w for w in WORKLOADS.values() if include_slow or not w.slow
    ]
    started = time.perf_counter()
    rows = [bench_workload(w, decode, repeat) for w in chosen]
    ran = [r for r in rows if "refused" not in r]
    steps = sum(r["steps"] for r in ran)
    seconds = sum(r["seconds"] for r in ran)
    return {
        "decode": decode,
        "trace_abi": ABI,
        "manifest": RuntimeManifest.current().to_dict(),
        "workloads": rows,
        "total": {
            "steps": steps,
            "tokens": sum(r["tokens"] for r in ran),
            "refused": len(rows) - len(ran),
            "seconds": round(seconds, 6),
            "steps_per_s": round(steps / seconds) if seconds else None,
            "wall_seconds": round(time.perf_counter() - started, 3),
        },
    }
