"""The continuous-batching engine: schedule, run one batched forward, sample, emit.

Every step runs *one* forward pass over the new tokens of every scheduled
request (decodes and prefill chunks together, one matmul per weight), with
attention per request against its own paged KV blocks. The kernels are
batch-invariant, so a request's tokens do not depend on what it was batched
with; receipts record the batch sizes each request ran in.

Single-threaded by design; ``psionic.serve.loop.EngineLoop`` runs it on a
thread and takes requests from any thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psionic.core.errors import ContextOverflow, InvalidInput, QueueFull
from psionic.models.constraints import ConstraintDeadEnd
from psionic.models.decoder import Segment
from psionic.models.guide import guide_for
from psionic.models.loader import LoadedModel
from psionic.models.lora_bank import AdapterBank
from psionic.models.sampling import Sampler, SamplingParams, logprobs
from psionic.models.stop_strings import StopStrings
from psionic.serve.block_pool import BlockPool
from psionic.serve.paged_kv import KVPool, PagedKV
from psionic.serve.request import EngineRequest, Status, TokenOutput
from psionic.serve.scheduler import ScheduledChunk, Scheduler, SchedulerConfig


@dataclass(frozen=True, slots=True)
class EngineConfig:
    kv_tokens: int = 16384
    block_size: int = 16
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    max_tokens_per_request: int | None = None  # prompt + output; default: the context window


@dataclass(slots=True)
class StepStats:
    """Counters the metrics endpoint reads (mutable: updated every step)."""

    steps: int = 0
    tokens: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class Engine:
    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        self.loaded = loaded
        self.config = config or EngineConfig()
        cfg = loaded.config
        num_blocks = max(1, self.config.kv_tokens // self.config.block_size)
        self.pool = BlockPool(num_blocks, self.config.block_size)
        self.kv = KVPool(cfg.n_layers, num_blocks, self.config.block_size, cfg.n_kv_heads, cfg.head_dim)
        self.scheduler = Scheduler(self.pool, self.config.scheduler)
        self.requests: dict[str, EngineRequest] = {}
        self.stats = StepStats()
        window = cfg.context_length
        limit = self.config.max_tokens_per_request
        self.max_tokens_per_request = min(window, limit) if limit else window

    # --- admission -------------------------------------------------------------

    def add_request(
        self,
        request_id: str,
        prompt_tokens: list[int],
        params: SamplingParams,
        on_output: Callable[[TokenOutput], None],
        top_logprobs: int | None = None,
        adapter: str | None = None,
    ) -> EngineRequest:
        """Validate and queue a request; raises a typed error instead of queueing a bad one.

        ``adapter`` is the key (digest) of a LoRA adapter installed in the model's
        ``AdapterBank``; the request runs with it, batched with requests of any other.
        """
        if request_id in self.requests:
            raise InvalidInput(f"request id {request_id!r} is already in flight")
        if adapter is not None:
            AdapterBank.of(self.loaded.model).require(adapter)
        self.validate(prompt_tokens, params)
        tok = self.loaded.tokenizer
        vocab = self.loaded.config.vocab_size
        guide = guide_for(tok, vocab, params.constraint) if params.constraint else None
        sampler = Sampler(params, vocab, prompt_tokens, guide)
        request = EngineRequest(
            request_id=request_id,
            prompt_tokens=list(prompt_tokens),
            params=sampler.params,
            sampler=sampler,
            budget=params.max_tokens,
            namespace=self.namespace(adapter),
            adapter=adapter,
            on_output=on_output,
            top_logprobs=top_logprobs,
            detok=tok.incremental_decoder(),
            stops=StopStrings(params.stop),
        )
        self.requests[request_id] = request
        self.scheduler.add(request)
        return request

    def namespace(self, adapter: str | None) -> bytes:
        """The prefix-cache namespace: cached blocks are shared only under one model and adapter."""
        return f"{self.loaded.model_digest}|{adapter or ''}".encode()

    def validate(self, prompt_tokens: list[int], params: SamplingParams, pending: int = 0) -> None:
        """Raise the typed error a request would meet, without changing any state."""
        if not prompt_tokens:
            raise InvalidInput("the prompt is empty", param="prompt")
        limit = self.max_tokens_per_request
        if len(prompt_tokens) >= limit:
            raise ContextOverflow(
                f"the prompt has {len(prompt_tokens)} tokens; this model's limit is {limit} "
                "tokens for prompt and completion together",
                tokens=len(prompt_tokens),
                limit=limit,
            )
        if len(prompt_tokens) + params.max_tokens > limit:
            raise ContextOverflow(
                f"max_tokens {params.max_tokens} plus the prompt's {len(prompt_tokens)} tokens "
                f"exceeds the limit of {limit}",
                param="max_tokens",
                limit=limit,
            )
        if -(-(len(prompt_tokens) + params.max_tokens) // self.pool.block_size) > self.pool.num_blocks:
            raise ContextOverflow(
                f"the request needs more KV cache than the server holds ({self.config.kv_tokens} tokens)",
                param="max_tokens",
            )
        queued = len(self.scheduler.waiting) + pending
        if queued >= self.config.scheduler.max_queued:
            raise QueueFull(
                f"the queue holds {queued} requests, its limit; retry shortly",
                retry_after=1,
            )
        vocab = self.loaded.config.vocab_size
        bad = [t for t in prompt_tokens if not 0 <= t < vocab]
        if bad:
            raise InvalidInput(f"prompt token ids outside the vocabulary: {bad[:5]}", param="prompt")

    def abort(self, request_id: str) -> None:
        """Stop a request now (a client went away): its blocks go back to the pool."""
        request = self.requests.get(request_id)
        if request is not None:
            self._finish(request, "abort")

    # --- the step --------------------------------------------------------------

    @property
    def has_work(self) -> bool:
        return self.scheduler.has_work

    def step(self) -> int:
        """Run one scheduled forward step; returns the number of tokens it computed."""
        plan = self.scheduler.schedule()
        if not plan:
            return 0
        ids = np.concatenate([np.asarray(c.request.token_at(c.start, c.length)) for c in plan])
        segments = [Segment(PagedKV(self.kv, c.request.block_ids), c.start, c.length, c.request.adapter)
                    for c in plan]
        ends = np.cumsum([c.length for c in plan]) - 1
        sampling = [i for i, c in enumerate(plan) if c.samples]
        logits = self.loaded.model(ids, segments, logit_rows=ends[sampling]) if sampling else None
        for chunk in plan:
            self.scheduler.complete(chunk)
            chunk.request.batch_sizes.append(len(plan))
        self.stats.steps += 1
        self.stats.tokens += len(ids)
        self.stats.batch_sizes.append(len(plan))
        for row, index in enumerate(sampling):
            assert logits is not None
            self._emit(plan[index], logits[row])
        return len(ids)

    def _emit(self, chunk: ScheduledChunk, logits: np.ndarray) -> None:
        request = chunk.request
        try:
            # A constrained request's row is masked here; other rows are untouched.
            token = request.sampler.sample(logits)
        except ConstraintDeadEnd as exc:
            self._fail(request, exc)
            return
        now = time.perf_counter()
        if request.first_token_at is None:
            request.first_token_at = now
        else:
            assert request.last_token_at is not None
            request.token_gaps.append(now - request.last_token_at)
        request.last_token_at = now
        eos = self.loaded.tokenizer.eos_ids
        if token in eos and not request.params.ignore_eos:
            self._finish(request, "stop")
            return
        lp: float | None = None
        top: tuple[tuple[int, float], ...] = ()
        if request.top_logprobs is not None:
            all_lp, top_list = logprobs(logits, request.top_logprobs)
            lp, top = float(all_lp[token]), tuple(top_list)
        request.output_tokens.append(token)
        text, hit = request.stops.feed(request.detok.push(token))
        request.text += text
        request.on_output(TokenOutput(request.request_id, token, text, lp, top))
        if hit:
            self._finish(request, "stop", flush=False)
        elif len(request.output_tokens) >= request.budget:
            self._finish(request, "length")

    def _finish(self, request: EngineRequest, reason: str, flush: bool = True) -> None:
        if request.status is Status.FINISHED:
            return
        self.scheduler.finish(request)
        self.requests.pop(request.request_id, None)
        request.finish_reason = reason
        tail = ""
        if flush and reason != "abort":
            tail = request.stops.feed(request.detok.flush())[0] + request.stops.flush()
            request.text += tail
        request.on_output(
            TokenOutput(request.request_id, None, tail, finish_reason=reason, facts=self.request_facts(request))
        )

    def _fail(self, request: EngineRequest, error: BaseException) -> None:
        """End one request with an error; the rest of the batch goes on."""
        if request.status is Status.FINISHED:
            return
        self.scheduler.finish(request)
        self.requests.pop(request.request_id, None)
        request.finish_reason = "error"
        request.on_output(TokenOutput(request.request_id, None, "", finish_reason="error", error=error))

    @staticmethod
    def request_facts(request: EngineRequest) -> dict[str, Any]:
        ttft = request.first_token_at - request.arrival if request.first_token_at else None
        gaps = request.token_gaps
        return {
            "prompt_tokens": len(request.prompt_tokens),
            "completion_tokens": len(request.output_tokens),
            "prefix_cache_tokens": request.cached_tokens,
            "batch_sizes": list(request.batch_sizes),
            "ttft_s": ttft,
            "mean_itl_s": sum(gaps) / len(gaps) if gaps else None,
        }

    def fail_all(self, error: BaseException) -> None:
        """End every request with an error (the engine cannot go on)."""
        for request in list(self.requests.values()):
            if request.status is not Status.FINISHED:
                self.scheduler.finish(request)
            request.on_output(
                TokenOutput(request.request_id, None, "", finish_reason="error", error=error)
            )
        self.requests.clear()

    def facts(self) -> dict[str, Any]:
        return {
            "kv_blocks_total": self.pool.num_blocks,
            "kv_blocks_used": self.pool.num_used,
            "prefix_cache_hit_rate": self.pool.hit_rate(),
            "running": len(self.scheduler.running),
            "waiting": len(self.scheduler.waiting),
            "preemptions": self.scheduler.preemptions,
        }
