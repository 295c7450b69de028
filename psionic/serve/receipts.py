"""Receipts for served completions, and their replay on the reference path.

A served completion's receipt binds the prompt tokens, each choice's sampling
parameters (with its seed), the model digest and the runtime manifest to each
choice's tokens, text and finish reason. Facts record what the engine saw:
prefix-cache tokens reused, the batch sizes each choice ran in, TTFT and mean
inter-token latency. Replay regenerates each choice alone with single-stream
generation: it matches only because batching never changes a request's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle, register_replayer
from psionic.models.generate import (
    adapter_for_replay,
    artifacts,
    compare_outputs,
    generate,
    load_for_replay,
    model_reference,
    params_from_dict,
)
from psionic.models.loader import LoadedModel
from psionic.models.lora_bank import AdapterRef
from psionic.models.sampling import SamplingParams

RECEIPT_KIND = "completion"


@dataclass(slots=True)
class ChoiceRecord:
    """One finished choice (mutable: assembled as outputs stream in)."""

    params: SamplingParams
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    logprobs: list[tuple[int, float | None, tuple[tuple[int, float], ...]]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    shaped: Any = None  # the text split into reasoning, tool calls and content, once finished

    def output(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "text": self.text, "finish_reason": self.finish_reason}


def build_receipt(
    loaded: LoadedModel,
    endpoint: str,
    prompt_tokens: list[int],
    choices: list[ChoiceRecord],
    manifest: RuntimeManifest,
    adapter: AdapterRef | None = None,
) -> ProofBundle:
    request = {
        "endpoint": endpoint,
        "model": model_reference(loaded, adapter),
        "prompt_tokens": prompt_tokens,
        "choices": [c.params.to_dict() for c in choices],
    }
    output = {"choices": [c.output() for c in choices]}
    ttfts: list[float] = [c.facts["ttft_s"] for c in choices if c.facts.get("ttft_s") is not None]
    itls: list[float] = [c.facts["mean_itl_s"] for c in choices if c.facts.get("mean_itl_s") is not None]
    receipt = ExecutionReceipt.create(
        kind=RECEIPT_KIND,
        request=request,
        output=output,
        manifest_digest=manifest.digest,
        artifacts=artifacts(loaded, adapter),
        sampling=choices[0].params.to_dict(),
        seed=choices[0].params.seed,
        timings={
            "ttft_s": round(min(ttfts), 6) if ttfts else 0.0,
            "mean_itl_s": round(sum(itls) / len(itls), 6) if itls else 0.0,
        },
        facts={
            "prefix_cache_tokens": [c.facts.get("prefix_cache_tokens", 0) for c in choices],
            "batch_sizes": [c.facts.get("batch_sizes", []) for c in choices],
            "prompt_tokens": len(prompt_tokens),
            "completion_tokens": [len(c.tokens) for c in choices],
        },
    )
    return ProofBundle(receipt, manifest, {"request": request, "output": output})


def replay_completion(bundle: ProofBundle) -> str:
    request = bundle.replay["request"]
    loaded = load_for_replay(request["model"])
    adapter = adapter_for_replay(loaded, request["model"])
    expected = bundle.replay["output"]["choices"]
    for index, (params, want) in enumerate(zip(request["choices"], expected, strict=True)):
        if want["finish_reason"] not in ("stop", "length"):
            raise_unreplayable(index, want["finish_reason"])
        result = generate(loaded, list(request["prompt_tokens"]), params_from_dict(params), adapter)
        compare_outputs(want, result, label=f"choice {index}: ")
    total = sum(len(c["tokens"]) for c in expected)
    with_adapter = f" with adapter {adapter.name}" if adapter else ""
    return f"verified: replayed {len(expected)} choice(s), {total} tokens on {loaded.name}{with_adapter}, identical"


def raise_unreplayable(index: int, reason: str) -> None:
    from psionic.core.errors import ReplayMismatch

    raise ReplayMismatch(f"choice {index} ended with {reason!r}; only finished choices can be replayed")


register_replayer(RECEIPT_KIND, replay_completion)
