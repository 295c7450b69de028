"""/v1/responses: chat over stored conversations (``store``, ``previous_response_id``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from psionic.core.errors import InvalidInput, UnsupportedParameter
from psionic.serve.protocol import ResponsesRequest
from psionic.serve.response_store import ResponseStore
from psionic.serve.serving_completions import (
    CompletionService,
    Disconnected,
    EngineFailure,
    Prepared,
    choice_params,
    refuse_unsupported,
)
from psionic.serve.structured import constraint_from_format

_INPUT_TEXT = ("input_text", "output_text", "text")


def input_messages(value: str | list[dict[str, Any]]) -> list[dict[str, str]]:
    """Responses ``input`` (a string, or message items) as chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages = []
    for i, item in enumerate(value):
        kind = item.get("type", "message")
        if kind != "message":
            raise UnsupportedParameter(f"input item {i} of type {kind!r} is not supported yet", param="input")
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidInput(f"input item {i} has role {role!r}", param="input")
        content = item.get("content")
        if isinstance(content, list):
            texts = []
            for part in content:
                if part.get("type") not in _INPUT_TEXT or not isinstance(part.get("text"), str):
                    raise UnsupportedParameter(
                        f"input item {i} has a content part of type {part.get('type')!r} (text only)",
                        param="input",
                    )
                texts.append(part["text"])
            content = "".join(texts)
        if not isinstance(content, str):
            raise InvalidInput(f"input item {i} needs text content", param="input")
        messages.append({"role": "system" if role == "developer" else role, "content": content})
    if not messages:
        raise InvalidInput("input is empty", param="input")
    return messages


class ResponsesService:
    def __init__(self, completions: CompletionService, store: ResponseStore) -> None:
        self.completions = completions
        self.store = store

    def prepare(self, req: ResponsesRequest) -> tuple[Prepared, list[dict[str, str]]]:
        svc = self.completions
        served = svc.registry.generator(req.model)
        refuse_unsupported(req)
        history = self.store.conversation(req.previous_response_id) if req.previous_response_id else []
        conversation = history + input_messages(req.input)
        messages = ([{"role": "system", "content": req.instructions}] if req.instructions else []) + conversation
        tokens = served.loaded.tokenizer.encode(served.loaded.render_chat(messages), add_special=True)
        fmt = (req.text or {}).get("format")
        base = {
            "temperature": 1.0 if req.temperature is None else req.temperature,
            "top_p": 1.0 if req.top_p is None else req.top_p,
            "constraint": constraint_from_format(fmt, "text.format"),
        }
        prepared = Prepared(
            kind="chat",
            served=served,
            prompt_tokens=tokens,
            params=choice_params(base, 1, req.seed, svc._max_tokens(served, tokens, req.max_output_tokens)),
            top_logprobs=None,
            want_logprobs=False,
            include_usage=True,
            response_id=f"resp_{secrets.token_hex(16)}",
            created=int(time.time()),
        )
        return prepared, conversation

    def _body(self, req: ResponsesRequest, prepared: Prepared, text: str, status: str,
              usage: dict[str, Any] | None, psionic: dict[str, Any] | None, message_id: str,
              incomplete: str | None = None) -> dict[str, Any]:
        return {
            "id": prepared.response_id,
            "object": "response",
            "created_at": prepared.created,
            "status": status,
            "model": prepared.served.name,
            "output": [
                {
                    "type": "message",
                    "id": message_id,
                    "status": status,
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ] if status != "in_progress" else [],
            "output_text": text,
            "previous_response_id": req.previous_response_id,
            "instructions": req.instructions,
            "store": req.store,
            "max_output_tokens": req.max_output_tokens,
            "temperature": prepared.params[0].temperature,
            "top_p": prepared.params[0].top_p,
            "metadata": req.metadata or {},
            "parallel_tool_calls": False,
            "tool_choice": "none",
            "tools": [],
            "text": {"format": (req.text or {}).get("format") or {"type": "text"}},
            "error": None,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "usage": usage,
            "psionic": psionic,
        }

    @staticmethod
    def _usage(chat_usage: dict[str, Any]) -> dict[str, Any]:
        return {
            "input_tokens": chat_usage["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": chat_usage["prompt_tokens_details"]["cached_tokens"]},
            "output_tokens": chat_usage["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": chat_usage["total_tokens"],
        }

    def _save(self, req: ResponsesRequest, body: dict[str, Any], conversation: list[dict[str, str]], text: str) -> None:
        if req.store:
            self.store.put(body, conversation + [{"role": "assistant", "content": text}])

    async def create(self, req: ResponsesRequest, disconnected: Disconnected | None = None) -> dict[str, Any]:
        prepared, conversation = self.prepare(req)
        chat = await self.completions.complete([prepared], disconnected)
        choice = chat["choices"][0]
        text = choice["message"]["content"]
        incomplete = "max_output_tokens" if choice["finish_reason"] == "length" else None
        body = self._body(req, prepared, text, "incomplete" if incomplete else "completed",
                          self._usage(chat["usage"]), chat["psionic"], f"msg_{secrets.token_hex(12)}", incomplete)
        self._save(req, body, conversation, text)
        return body

    async def stream(self, req: ResponsesRequest, disconnected: Disconnected | None = None) -> AsyncIterator[dict[str, Any]]:
        prepared, conversation = self.prepare(req)
        message_id = f"msg_{secrets.token_hex(12)}"
        seq = 0

        def event(kind: str, **fields: Any) -> dict[str, Any]:
            nonlocal seq
            seq += 1
            return {"type": kind, "sequence_number": seq - 1, **fields}

        start = self._body(req, prepared, "", "in_progress", None, None, message_id)
        yield event("response.created", response=start)
        yield event("response.in_progress", response=start)
        item = {"type": "message", "id": message_id, "status": "in_progress", "role": "assistant", "content": []}
        yield event("response.output_item.added", output_index=0, item=item)
        yield event("response.content_part.added", item_id=message_id, output_index=0, content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []})
        text = ""
        final: dict[str, Any] | None = None
        finish = None
        async for chunk in self.completions.stream(prepared, disconnected):
            for choice in chunk["choices"]:
                delta = choice.get("delta", {}).get("content")
                if delta:
                    text += delta
                    yield event("response.output_text.delta", item_id=message_id, output_index=0,
                                content_index=0, delta=delta, logprobs=[])
                finish = choice.get("finish_reason") or finish
            if "psionic" in chunk:
                final = chunk
        if final is None:
            raise EngineFailure("the response ended before it finished")
        incomplete = "max_output_tokens" if finish == "length" else None
        status = "incomplete" if incomplete else "completed"
        yield event("response.output_text.done", item_id=message_id, output_index=0, content_index=0, text=text, logprobs=[])
        part = {"type": "output_text", "text": text, "annotations": []}
        yield event("response.content_part.done", item_id=message_id, output_index=0, content_index=0, part=part)
        yield event("response.output_item.done", output_index=0,
                    item={"type": "message", "id": message_id, "status": status, "role": "assistant", "content": [part]})
        body = self._body(req, prepared, text, status, self._usage(final["usage"]), final["psionic"], message_id, incomplete)
        self._save(req, body, conversation, text)
        yield event("response.completed" if status == "completed" else "response.incomplete", response=body)
