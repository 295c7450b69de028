"""Single-stream generation: chunked prefill, token-by-token decode, receipts, replay.

``Generation`` is an iterator of ``TokenEvent``s (one per sampled token, with
the text that token releases, UTF-8-safe and with stop strings held back);
after it is exhausted ``result`` holds the whole ``GenerationResult``.

>>> loaded = load_model("smollm2-135m-instruct")  # doctest: +SKIP
>>> gen = Generation(loaded, loaded.tokenizer.encode("The capital of France is"),
...                  SamplingParams(temperature=0, max_tokens=3))  # doctest: +SKIP
>>> "".join(e.text for e in gen), gen.result.finish_reason  # doctest: +SKIP
(' Paris.\\n', 'length')
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psionic.core.errors import ContextOverflow, InvalidInput, PsionicError, ReplayMismatch
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle, register_replayer
from psionic.models.constraints import Constraint
from psionic.models.decoder import Segment
from psionic.models.guide import guide_for
from psionic.models.kv_cache import KVCache
from psionic.models.loader import LoadedModel, load_model
from psionic.models.lora_bank import AdapterBank, AdapterRef, install_adapter
from psionic.models.sampling import Sampler, SamplingParams, logprobs
from psionic.models.stop_strings import StopStrings

PREFILL_CHUNK = 512
RECEIPT_KIND = "generation"


@dataclass(frozen=True, slots=True)
class TokenEvent:
    token: int
    text: str
    logprob: float | None = None
    top_logprobs: tuple[tuple[int, float], ...] = ()


@dataclass(slots=True)
class GenerationResult:
    """What a finished generation produced (mutable: filled as it runs)."""

    prompt_tokens: list[int]
    params: SamplingParams
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    adapter: AdapterRef | None = None  # the LoRA adapter it ran with

    def output_record(self) -> dict[str, Any]:
        """The part of the result that the receipt's output digest covers."""
        return {"tokens": self.tokens, "text": self.text, "finish_reason": self.finish_reason}


class Generation:
    """Iterate to generate; ``result`` is complete once iteration ends."""

    def __init__(
        self,
        loaded: LoadedModel,
        prompt_tokens: list[int],
        params: SamplingParams,
        top_logprobs: int | None = None,
        adapter: AdapterRef | None = None,
    ) -> None:
        if adapter is not None:
            AdapterBank.of(loaded.model).require(adapter.digest)
        if not prompt_tokens:
            raise InvalidInput("the prompt is empty: at least one token is needed", param="prompt")
        window = loaded.config.context_length
        if len(prompt_tokens) >= window:
            raise ContextOverflow(
                f"prompt of {len(prompt_tokens)} tokens leaves no room in the context window of {window}",
                tokens=len(prompt_tokens),
                context_length=window,
            )
        self.loaded = loaded
        vocab = loaded.config.vocab_size
        guide = guide_for(loaded.tokenizer, vocab, params.constraint) if params.constraint else None
        self.sampler = Sampler(params, vocab, prompt_tokens, guide)
        self.params = self.sampler.params  # with its seed fixed
        self.top_logprobs = top_logprobs
        self.budget = min(self.params.max_tokens, window - len(prompt_tokens))
        self.result = GenerationResult(list(prompt_tokens), self.params, adapter=adapter)
        self.adapter_key = adapter.digest if adapter is not None else None
        cfg = loaded.config
        self.kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(prompt_tokens) + self.budget)

    def _forward(self, ids: list[int], start: int) -> np.ndarray:
        segment = Segment(self.kv, start, len(ids), self.adapter_key)
        return self.loaded.model(np.asarray(ids), [segment])[0]

    def prefill(self) -> np.ndarray:
        """Run the prompt in chunks; the logits after its last token."""
        prompt = self.result.prompt_tokens
        logits = None
        for start in range(0, len(prompt), PREFILL_CHUNK):
            logits = self._forward(prompt[start : start + PREFILL_CHUNK], start)
        assert logits is not None
        return logits

    def __iter__(self) -> Iterator[TokenEvent]:
        tok = self.loaded.tokenizer
        decoder = tok.incremental_decoder()
        stops = StopStrings(self.params.stop)
        eos = set() if self.params.ignore_eos else set(tok.eos_ids)
        res = self.result
        hit = False
        t0 = time.perf_counter()
        logits = self.prefill()
        res.timings["prefill_s"] = time.perf_counter() - t0
        position = len(res.prompt_tokens)
        while True:
            token = self.sampler.sample(logits)
            lp: float | None = None
            top: list[tuple[int, float]] = []
            if self.top_logprobs is not None:
                all_lp, top = logprobs(logits, self.top_logprobs)
                lp = float(all_lp[token])
            if not res.tokens:
                res.timings["ttft_s"] = time.perf_counter() - t0
            if token in eos:
                res.finish_reason = "stop"
                break
            res.tokens.append(token)
            text, hit = stops.feed(decoder.push(token))
            res.text += text
            yield TokenEvent(token, text, lp, tuple(top))
            if hit:
                res.finish_reason = "stop"
                break
            if len(res.tokens) >= self.budget:
                res.finish_reason = "length"
                break
            logits = self._forward([token], position)
            position += 1
        if not hit:
            tail = stops.feed(decoder.flush())[0] + stops.flush()
            if tail:
                res.text += tail
                yield TokenEvent(-1, tail)
        total = time.perf_counter() - t0
        decode_s = total - res.timings["prefill_s"]
        res.timings.update(
            total_s=total,
            decode_s=decode_s,
            prefill_tok_s=len(res.prompt_tokens) / max(res.timings["prefill_s"], 1e-9),
            decode_tok_s=max(len(res.tokens) - 1, 0) / max(decode_s, 1e-9),
        )

    def run(self) -> GenerationResult:
        for _ in self:
            pass
        return self.result


def generate(loaded: LoadedModel, prompt_tokens: list[int], params: SamplingParams,
             adapter: AdapterRef | None = None) -> GenerationResult:
    return Generation(loaded, prompt_tokens, params, adapter=adapter).run()


# --- receipts and replay --------------------------------------------------------


def replay_request(loaded: LoadedModel, result: GenerationResult) -> dict[str, Any]:
    """What a verifier needs to run the same generation again."""
    return {
        "model": model_reference(loaded, result.adapter),
        "prompt_tokens": result.prompt_tokens,
        "sampling": result.params.to_dict(),
    }


def receipt_for(
    loaded: LoadedModel, result: GenerationResult, manifest: RuntimeManifest
) -> ExecutionReceipt:
    return ExecutionReceipt.create(
        kind=RECEIPT_KIND,
        request=replay_request(loaded, result),
        output=result.output_record(),
        manifest_digest=manifest.digest,
        artifacts=artifacts(loaded, result.adapter),
        sampling=result.params.to_dict(),
        seed=result.params.seed,
        timings={k: round(v, 6) for k, v in result.timings.items()},
        facts={"prompt_tokens": len(result.prompt_tokens), "completion_tokens": len(result.tokens)},
    )


def bundle_for(loaded: LoadedModel, result: GenerationResult, receipt: ExecutionReceipt,
               manifest: RuntimeManifest) -> ProofBundle:
    return ProofBundle(
        receipt, manifest, {"request": replay_request(loaded, result), "output": result.output_record()}
    )


def params_from_dict(data: dict[str, Any]) -> SamplingParams:
    fields = dict(data)
    fields["logit_bias"] = {int(k): float(v) for k, v in fields.get("logit_bias", {}).items()}
    fields["stop"] = tuple(fields.get("stop", ()))
    if fields.get("constraint") is not None:
        fields["constraint"] = Constraint.from_dict(fields["constraint"])
    return SamplingParams(**fields)


def model_reference(loaded: LoadedModel, adapter: AdapterRef | None = None) -> dict[str, Any]:
    """How a verifier finds the model again: catalog name, the path it was read from, its digest,
    and the LoRA adapter it ran with (name, path, digest), if any."""
    reference: dict[str, Any] = {"name": loaded.name, "path": str(loaded.path), "digest": loaded.model_digest}
    if loaded.numerics != "f32":  # the default path's receipts stay as they were
        reference["numerics"] = loaded.numerics
    if adapter is not None:
        reference["adapter"] = adapter.to_dict()
    return reference


def artifacts(loaded: LoadedModel, adapter: AdapterRef | None = None) -> dict[str, str]:
    """The artifact digests a receipt binds: model, tokenizer and adapter."""
    found = loaded.artifacts()
    if adapter is not None:
        found["adapter"] = adapter.digest
    return found


def adapter_for_replay(loaded: LoadedModel, reference: dict[str, Any]) -> AdapterRef | None:
    """Install the adapter a receipt names (from its recorded path), checked by digest."""
    spec = reference.get("adapter")
    if spec is None:
        return None
    try:
        ref = install_adapter(loaded, spec["path"], spec.get("name"))
    except PsionicError as exc:
        raise ReplayMismatch(f"the receipt's adapter {spec.get('name')!r} cannot be loaded: {exc.message}",
                             field="adapter") from None
    if ref.digest != spec["digest"]:
        raise ReplayMismatch(
            f"adapter at {spec['path']} has digest {ref.digest}; the receipt names {spec['digest']}",
            field="adapter",
        )
    return AdapterRef(spec.get("name", ref.name), spec["path"], ref.digest)


_replay_models: dict[tuple[str, str], LoadedModel] = {}


def load_for_replay(reference: dict[str, Any]) -> LoadedModel:
    """The model a receipt names, found by catalog name or path, checked by digest."""
    digest = reference["digest"]
    numerics = reference.get("numerics", "f32")
    if (digest, numerics) in _replay_models:
        return _replay_models[digest, numerics]
    try:
        loaded = load_model(reference["name"], numerics=numerics)
    except PsionicError:
        loaded = load_model(reference.get("path", reference["name"]), numerics=numerics)
    if loaded.model_digest != digest:
        raise ReplayMismatch(
            f"model {reference['name']!r} here has digest {loaded.model_digest}; the receipt names {digest}",
            field="model",
        )
    _replay_models[digest, numerics] = loaded
    return loaded


def compare_outputs(expected: dict[str, Any], result: GenerationResult, label: str = "") -> None:
    """Raise ``ReplayMismatch`` naming the first differing token, or any other difference."""
    for i, (want, got) in enumerate(zip(expected["tokens"], result.tokens, strict=False)):
        if want != got:
            raise ReplayMismatch(
                f"{label}replay differs at generated token {i}: receipt has {want}, replay gave {got}",
                index=i,
            )
    if result.output_record() != {k: expected.get(k) for k in ("tokens", "text", "finish_reason")}:
        raise ReplayMismatch(
            f"{label}replay produced {len(result.tokens)} tokens ({result.finish_reason}); the receipt "
            f"has {len(expected['tokens'])} ({expected['finish_reason']})"
        )


def replay_generation(bundle: ProofBundle) -> str:
    request = bundle.replay["request"]
    loaded = load_for_replay(request["model"])
    adapter = adapter_for_replay(loaded, request["model"])
    result = generate(loaded, list(request["prompt_tokens"]), params_from_dict(request["sampling"]), adapter)
    compare_outputs(bundle.replay["output"], result)
    with_adapter = f" with adapter {adapter.name}" if adapter else ""
    return f"verified: replayed {len(result.tokens)} tokens on {loaded.name}{with_adapter}, identical"


register_replayer(RECEIPT_KIND, replay_generation)
