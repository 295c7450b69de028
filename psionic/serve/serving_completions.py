"""Chat and text completions, without any web framework: requests in, dicts out.

``prepare_*`` turns a validated wire request into prompt tokens and one
``SamplingParams`` per choice (raising typed errors for anything the server
cannot honour); ``complete`` waits for every choice and returns the response
object; ``stream`` yields chunk objects as tokens arrive. Both attach a
``psionic`` object with the receipt and a proof bundle.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from psionic.core.errors import InvalidInput, PsionicError, UnsupportedParameter
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ProofBundle
from psionic.models.constraints import Constraint
from psionic.models.sampling import MAX_SEED, SamplingParams
from psionic.serve.chat_output import ChatOutputStream, Shaped, reasoning_markers, shape
from psionic.serve.metrics import Metrics
from psionic.serve.protocol import (
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    unsupported,
)
from psionic.serve.receipts import ChoiceRecord, build_receipt
from psionic.serve.request import TokenOutput
from psionic.serve.served import GenerationHandle, ModelRegistry, ServedModel
from psionic.serve.structured import constraint_from_format, structured_value
from psionic.serve.tools import ToolPlan, conversation_for_template, plan_tools

Disconnected = Callable[[], Awaitable[bool]]


class EngineFailure(PsionicError):
    code = "engine_error"
    http_status = 500


@dataclass(slots=True)
class Prepared:
    """A request ready to run (mutable only in ``handle``, set when it starts)."""

    kind: str  # "chat" | "text"
    served: ServedModel
    prompt_tokens: list[int]
    params: list[SamplingParams]
    top_logprobs: int | None
    want_logprobs: bool
    include_usage: bool
    response_id: str
    created: int
    echo_text: str = ""
    handle: GenerationHandle | None = None
    tools: ToolPlan | None = None  # tool calls are parsed out of the output
    markers: tuple[str, str] | None = None  # the family's thinking block, split out of the output
    structured: bool = False  # response_format asked for a constraint: report the parsed value


def refuse_unsupported(request: Any) -> None:
    name = unsupported(request)
    if name is not None:
        raise UnsupportedParameter(
            f"parameter {name!r} is not supported by this server yet", param=name
        )


def message_text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise UnsupportedParameter(
                f"message content part of type {part.get('type')!r} is not supported (text only)",
                param="messages",
            )
        parts.append(part["text"])
    return "".join(parts)


def chat_message(message: ChatMessage, index: int) -> dict[str, Any]:
    """A wire message as the template sees it: role, text, and any tool calls or tool result id."""
    out: dict[str, Any] = {"role": "system" if message.role == "developer" else message.role,
                           "content": message_text(message)}
    if message.tool_calls:
        if message.role != "assistant":
            raise InvalidInput(f"message {index}: only assistant messages carry tool_calls", param="messages")
        for call in message.tool_calls:
            fn = call.get("function")
            if call.get("type", "function") != "function" or not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise InvalidInput(f"message {index}: each tool call needs a function with a name", param="messages")
        out["tool_calls"] = message.tool_calls
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidInput(f"message {index}: a tool message needs tool_call_id", param="messages")
        out["tool_call_id"] = message.tool_call_id
    return out


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """A chat request's prompt and what shapes its output."""

    tokens: list[int]
    constraint: Constraint | None
    plan: ToolPlan | None
    markers: tuple[str, str] | None
    structured: bool  # the constraint came from a response format


def chat_turn(served: ServedModel, messages: list[dict[str, Any]], tools: list[Any] | None, tool_choice: Any,
              parallel: bool | None, constraint: Constraint | None, param: str = "response_format") -> ChatTurn:
    """Render the conversation (with tools the model may call) and settle the output constraint."""
    source = served.loaded.template.source if served.loaded.template else None
    offered = plan_tools(tools, tool_choice, parallel, source)
    plan = offered if offered is not None and offered.callable else None
    if plan is not None and constraint is not None:
        raise UnsupportedParameter(
            f"{param} cannot be combined with tools the model may call (use tool_choice none)", param=param
        )
    structured = constraint is not None
    markers = reasoning_markers(source)
    if plan is not None:
        constraint = plan.constraint()
    if constraint is not None and markers is not None:
        constraint = constraint.with_reasoning(markers)
    messages, specs = conversation_for_template(messages, offered, source)
    prompt = served.loaded.render_chat(messages, tools=specs) if specs else served.loaded.render_chat(messages)
    tokens = served.loaded.tokenizer.encode(prompt, add_special=True)
    return ChatTurn(tokens, constraint, plan, markers, structured)


def choice_params(
    base: dict[str, Any], n: int, seed: int | None, max_tokens: int
) -> list[SamplingParams]:
    """One parameter set per choice; choice i samples with seed + i (a drawn seed when none)."""
    first = secrets.randbelow(MAX_SEED - 64) if seed is None else seed
    return [
        SamplingParams(**base, max_tokens=max_tokens, seed=(first + i) % (MAX_SEED + 1))
        for i in range(n)
    ]


def sampling_base(req: Any, vocab_size: int, constraint: Constraint | None = None) -> dict[str, Any]:
    stop = req.stop if isinstance(req.stop, list) else ([req.stop] if req.stop else [])
    if len(stop) > 4:
        raise InvalidInput("at most 4 stop sequences are allowed", param="stop")
    bias: dict[int, float] = {}
    for key, value in (req.logit_bias or {}).items():
        if not key.lstrip("-").isdigit():
            raise InvalidInput(f"logit_bias keys are token ids, got {key!r}", param="logit_bias")
        token = int(key)
        if not 0 <= token < vocab_size:
            raise InvalidInput(f"logit_bias token {token} is outside the vocabulary", param="logit_bias")
        bias[token] = value
    return {
        "temperature": 1.0 if req.temperature is None else req.temperature,
        "top_p": 1.0 if req.top_p is None else req.top_p,
        "top_k": req.top_k,
        "min_p": req.min_p,
        "repetition_penalty": req.repetition_penalty,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
        "logit_bias": bias,
        "stop": tuple(stop),
        "ignore_eos": req.ignore_eos,
        "constraint": constraint,
    }


def shaped_deltas(parts: Shaped) -> list[dict[str, Any]]:
    """Stream deltas for one step's reasoning, content and tool-call pieces."""
    deltas: list[dict[str, Any]] = []
    if parts.reasoning:
        deltas.append({"reasoning_content": parts.reasoning})
    if parts.content:
        deltas.append({"content": parts.content})
    pieces = [d.to_chat() for d in parts.deltas if d.id is not None or d.arguments]
    if pieces:
        deltas.append({"tool_calls": pieces})
    return deltas


class CompletionService:
    def __init__(
        self,
        registry: ModelRegistry,
        manifest: RuntimeManifest,
        metrics: Metrics,
        signer: Ed25519PrivateKey | None = None,
    ) -> None:
        self.registry = registry
        self.manifest = manifest
        self.metrics = metrics
        self.signer = signer

    # --- preparation -------------------------------------------------------------

    def _max_tokens(self, served: ServedModel, prompt: list[int], requested: int | None) -> int:
        room = served.engine.max_tokens_per_request - len(prompt)
        if requested is None:
            return max(room, 1)
        return requested

    def prepare_chat(self, req: ChatCompletionRequest) -> Prepared:
        served = self.registry.generator(req.model)
        refuse_unsupported(req)
        if req.max_tokens is not None and req.max_completion_tokens is not None and req.max_tokens != req.max_completion_tokens:
            raise InvalidInput("max_tokens and max_completion_tokens disagree", param="max_tokens")
        turn = chat_turn(served, [chat_message(m, i) for i, m in enumerate(req.messages)], req.tools,
                         req.tool_choice, req.parallel_tool_calls, constraint_from_format(req.response_format))
        tokens, constraint, plan, markers = turn.tokens, turn.constraint, turn.plan, turn.markers
        requested = req.max_completion_tokens or req.max_tokens
        top = req.top_logprobs if req.logprobs else None
        if req.top_logprobs is not None and not req.logprobs:
            raise InvalidInput("top_logprobs needs logprobs: true", param="top_logprobs")
        base = sampling_base(req, served.loaded.config.vocab_size, constraint)
        return Prepared(
            kind="chat",
            served=served,
            prompt_tokens=tokens,
            params=choice_params(base, req.n, req.seed, self._max_tokens(served, tokens, requested)),
            top_logprobs=(top or 0) if req.logprobs else None,
            want_logprobs=req.logprobs,
            include_usage=bool(req.stream_options and req.stream_options.include_usage),
            response_id=f"chatcmpl-{secrets.token_hex(12)}",
            created=int(time.time()),
            tools=plan,
            markers=markers,
            structured=turn.structured,
        )

    def prepare_text(self, req: CompletionRequest) -> list[Prepared]:
        served = self.registry.generator(req.model)
        refuse_unsupported(req)
        if req.echo and req.logprobs is not None:
            raise UnsupportedParameter("echo with logprobs (prompt logprobs) is not supported", param="echo")
        prompts = self._prompts(req.prompt, served)
        constraint = constraint_from_format(req.response_format)
        base = sampling_base(req, served.loaded.config.vocab_size, constraint)
        out = []
        for tokens, text in prompts:
            out.append(
                Prepared(
                    kind="text",
                    served=served,
                    prompt_tokens=tokens,
                    params=choice_params(base, req.n, req.seed, self._max_tokens(served, tokens, req.max_tokens)),
                    top_logprobs=req.logprobs,
                    want_logprobs=req.logprobs is not None,
                    include_usage=bool(req.stream_options and req.stream_options.include_usage),
                    response_id=f"cmpl-{secrets.token_hex(12)}",
                    created=int(time.time()),
                    echo_text=text if req.echo else "",
                    structured=constraint is not None,
                )
            )
        return out

    @staticmethod
    def _prompts(prompt: Any, served: ServedModel) -> list[tuple[list[int], str]]:
        tok = served.loaded.tokenizer
        if isinstance(prompt, str):
            return [(tok.encode(prompt, add_special=True), prompt)]
        if not prompt:
            raise InvalidInput("prompt is empty", param="prompt")
        if all(isinstance(p, int) for p in prompt):
            return [(list(prompt), tok.decode(prompt))]
        if all(isinstance(p, str) for p in prompt):
            return [(tok.encode(p, add_special=True), p) for p in prompt]
        return [(list(p), tok.decode(p)) for p in prompt]

    # --- running -----------------------------------------------------------------

    def start(self, prepared: Prepared) -> None:
        prepared.handle = prepared.served.submit(prepared.prompt_tokens, prepared.params, prepared.top_logprobs)
        self.metrics.requests.labels(endpoint=prepared.kind, model=prepared.served.name).inc()

    async def _collect(
        self, prepared: Prepared, disconnected: Disconnected | None
    ) -> AsyncIterator[tuple[int, TokenOutput, ChoiceRecord]]:
        assert prepared.handle is not None
        records = [ChoiceRecord(p) for p in prepared.params]
        last_check = time.monotonic()
        try:
            async for index, out in prepared.handle.events():
                record = records[index]
                if out.error is not None:
                    if isinstance(out.error, PsionicError):
                        raise out.error
                    raise EngineFailure(f"the engine failed: {out.error}")
                if out.token is not None:
                    record.tokens.append(out.token)
                    record.logprobs.append((out.token, out.logprob, out.top_logprobs))
                record.text += out.text
                if out.finish_reason is not None:
                    record.finish_reason = out.finish_reason
                    record.facts = out.facts or {}
                    self.metrics.observe_choice(prepared.served.name, record.facts)
                yield index, out, record
                if disconnected is not None and time.monotonic() - last_check > 0.25:
                    last_check = time.monotonic()
                    if await disconnected():
                        prepared.handle.abort()
                        return
        finally:
            if prepared.handle.open:
                prepared.handle.abort()

    def finish(self, prepared: Prepared, records: list[ChoiceRecord]) -> dict[str, Any]:
        """The ``psionic`` object: receipt summary and proof bundle."""
        bundle = build_receipt(
            prepared.served.loaded, prepared.kind, prepared.prompt_tokens, records, self.manifest,
            prepared.served.adapter,
        )
        receipt = bundle.receipt.sign(self.signer) if self.signer else bundle.receipt
        bundle = ProofBundle(receipt, bundle.manifest, bundle.replay)
        extra: dict[str, Any] = {}
        if prepared.structured:
            texts = [self.shaped(prepared, r).content if prepared.kind == "chat" else r.text for r in records]
            values = [structured_value(r.params.constraint, t, r.finish_reason) for r, t in zip(records, texts, strict=True)]
            extra = {"structured_value": values[0], "structured_values": values}
        if prepared.tools is not None:
            extra["tool_call_problems"] = [self.shaped(prepared, r).problems for r in records]
        return {
            **extra,
            "receipt_digest": receipt.digest,
            "model_digest": prepared.served.loaded.model_digest,
            **({"adapter_digest": prepared.served.adapter.digest} if prepared.served.adapter else {}),
            "request_digest": receipt.request_digest,
            "manifest_digest": receipt.manifest_digest,
            "output_digest": receipt.output_digest,
            "sampling": receipt.sampling,
            "seed": receipt.seed,
            "prefix_cache_tokens": receipt.facts["prefix_cache_tokens"],
            "batch_sizes": receipt.facts["batch_sizes"],
            "ttft_s": receipt.timings["ttft_s"],
            "mean_itl_s": receipt.timings["mean_itl_s"],
            "receipt": receipt.to_dict(),
            "bundle": bundle.to_dict(),
        }

    def usage(self, prepared: list[Prepared], records: list[list[ChoiceRecord]]) -> dict[str, Any]:
        prompt = sum(len(p.prompt_tokens) for p in prepared)
        completion = sum(len(r.tokens) for group in records for r in group)
        cached = sum(max(r.facts.get("prefix_cache_tokens", 0) for r in group) for group in records)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    def _logprobs(self, prepared: Prepared, record: ChoiceRecord, start: int = 0) -> Any:
        if not prepared.want_logprobs:
            return None
        tok = prepared.served.loaded.tokenizer
        entries = record.logprobs[start:]
        if prepared.kind == "chat":
            return {
                "content": [
                    {
                        "token": tok.token_text(token),
                        "logprob": lp,
                        "bytes": list(tok.token_bytes(token)),
                        "top_logprobs": [
                            {"token": tok.token_text(t), "logprob": v, "bytes": list(tok.token_bytes(t))}
                            for t, v in top
                        ],
                    }
                    for token, lp, top in entries
                ]
            }
        return {
            "tokens": [tok.token_text(t) for t, _, _ in entries],
            "token_logprobs": [lp for _, lp, _ in entries],
            "top_logprobs": [{tok.token_text(t): v for t, v in top} for _, _, top in entries],
            "text_offset": [],
        }

    @staticmethod
    def shaped(prepared: Prepared, record: ChoiceRecord) -> Shaped:
        """The choice's text split into reasoning, tool calls and content (once per record)."""
        if record.shaped is None:
            record.shaped = shape(record.text, prepared.markers, prepared.tools)
        return record.shaped  # type: ignore[no-any-return,unused-ignore]

    def _choice(self, prepared: Prepared, index: int, record: ChoiceRecord, offset: int = 0) -> dict[str, Any]:
        reason = record.finish_reason if record.finish_reason in ("stop", "length") else "stop"
        if prepared.kind == "chat":
            parts = self.shaped(prepared, record)
            message: dict[str, Any] = {"role": "assistant", "content": parts.content, "refusal": None}
            if prepared.markers is not None:
                message["reasoning_content"] = parts.reasoning or None
            if parts.calls:
                message["content"] = parts.content or None
                message["tool_calls"] = [c.to_chat() for c in parts.calls]
                reason = "tool_calls" if reason == "stop" else reason
            return {
                "index": index,
                "message": message,
                "logprobs": self._logprobs(prepared, record),
                "finish_reason": reason,
            }
        return {
            "index": offset + index,
            "text": prepared.echo_text + record.text,
            "logprobs": self._logprobs(prepared, record),
            "finish_reason": reason,
        }

    async def complete(self, group: list[Prepared], disconnected: Disconnected | None = None) -> dict[str, Any]:
        for prepared in group:
            self.start(prepared)
        all_records: list[list[ChoiceRecord]] = []
        choices: list[dict[str, Any]] = []
        bundles = []
        for prepared in group:
            records = [ChoiceRecord(p) for p in prepared.params]
            async for index, _, record in self._collect(prepared, disconnected):
                records[index] = record
            if any(r.finish_reason is None or r.finish_reason == "abort" for r in records):
                raise EngineFailure("the request was aborted before it finished")
            all_records.append(records)
            offset = len(choices)
            choices += [self._choice(prepared, i, r, offset) for i, r in enumerate(records)]
            bundles.append(self.finish(prepared, records))
        first = group[0]
        body: dict[str, Any] = {
            "id": first.response_id,
            "object": "chat.completion" if first.kind == "chat" else "text_completion",
            "created": first.created,
            "model": first.served.name,
            "system_fingerprint": self.manifest.digest[7:23],
            "choices": choices,
            "usage": self.usage(group, all_records),
        }
        body["psionic"] = bundles[0] if len(bundles) == 1 else {"receipts": bundles}
        return body

    async def stream(self, prepared: Prepared, disconnected: Disconnected | None = None) -> AsyncIterator[dict[str, Any]]:
        """Chunk objects; the last one carries usage (when asked for) and the psionic object."""
        self.start(prepared)
        chat = prepared.kind == "chat"
        head = {
            "id": prepared.response_id,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": prepared.created,
            "model": prepared.served.name,
            "system_fingerprint": self.manifest.digest[7:23],
        }
        records = [ChoiceRecord(p) for p in prepared.params]
        if chat:
            for i in range(len(records)):
                yield {**head, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]}
        elif prepared.echo_text:
            for i in range(len(records)):
                yield {**head, "choices": [{"index": i, "text": prepared.echo_text, "logprobs": None, "finish_reason": None}]}
        seen = [0] * len(records)
        shaping = chat and (prepared.tools is not None or prepared.markers is not None)
        streams = [ChatOutputStream(prepared.markers, prepared.tools) for _ in records] if shaping else []
        called = [0] * len(records)
        held_lp: list[list[Any]] = [[] for _ in records]
        async for index, out, record in self._collect(prepared, disconnected):
            records[index] = record
            if out.finish_reason == "abort":
                return
            delta_lp = self._logprobs(prepared, record, seen[index])
            seen[index] = len(record.logprobs)
            finish = out.finish_reason if out.finish_reason in ("stop", "length") else None
            if shaping:
                parts = streams[index].feed(out.text)
                if out.finish_reason is not None:
                    rest = streams[index].finish()
                    parts.reasoning += rest.reasoning
                    parts.content += rest.content
                    parts.deltas += rest.deltas
                if delta_lp is not None:  # held text still has its logprobs: they ride the next chunk
                    held_lp[index] += delta_lp["content"]
                for delta in shaped_deltas(parts):
                    lp, held_lp[index] = ({"content": held_lp[index]} if prepared.want_logprobs else None), []
                    yield {**head, "choices": [{"index": index, "delta": delta, "logprobs": lp, "finish_reason": None}]}
                called[index] += sum(d.id is not None for d in parts.deltas)
                if finish is not None:
                    reason = "tool_calls" if called[index] and finish == "stop" else finish
                    lp = {"content": held_lp[index]} if prepared.want_logprobs and held_lp[index] else None
                    yield {**head, "choices": [{"index": index, "delta": {}, "logprobs": lp, "finish_reason": reason}]}
                continue
            if not out.text and finish is None and (out.token is None or not prepared.want_logprobs):
                continue
            if chat:
                choice = {"index": index, "delta": {"content": out.text} if out.text or finish is None else {}, "logprobs": delta_lp, "finish_reason": finish}
            else:
                choice = {"index": index, "text": out.text, "logprobs": delta_lp, "finish_reason": finish}
            yield {**head, "choices": [choice]}
        final: dict[str, Any] = {**head, "choices": []}
        if prepared.include_usage:
            final["usage"] = self.usage([prepared], [records])
        final["psionic"] = self.finish(prepared, records)
        yield final
