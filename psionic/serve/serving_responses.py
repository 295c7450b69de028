"""/v1/responses: chat over stored conversations (``store``, ``previous_response_id``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from psionic.core.errors import InvalidInput, UnsupportedParameter
from psionic.serve.chat_output import Shaped
from psionic.serve.protocol import ResponsesRequest
from psionic.serve.response_store import ResponseStore
from psionic.serve.serving_completions import (
    CompletionService,
    Disconnected,
    EngineFailure,
    Prepared,
    chat_turn,
    choice_params,
    refuse_unsupported,
)
from psionic.serve.structured import constraint_from_format
from psionic.serve.tools import ToolCall

_INPUT_TEXT = ("input_text", "output_text", "text")


def _text_content(i: int, content: Any) -> str:
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
    return content


def _function_call(i: int, item: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """A past call joins the assistant turn it belongs to (a new one if the last turn is not the assistant's)."""
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments")
    if not all(isinstance(v, str) and v for v in (call_id, name)) or not isinstance(arguments, str):
        raise InvalidInput(f"input item {i}: a function_call needs call_id, name and arguments strings", param="input")
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
    else:
        messages.append({"role": "assistant", "content": "", "tool_calls": [call]})


def input_messages(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses ``input`` (a string, or message / function_call / function_call_output items) as chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        kind = item.get("type", "message")
        if kind == "function_call":
            _function_call(i, item, messages)
            continue
        if kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str) or not isinstance(output, str):
                raise InvalidInput(f"input item {i}: a function_call_output needs call_id and output strings",
                                   param="input")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
            continue
        if kind == "reasoning":
            continue  # past thinking is not shown to the model again, as chat templates drop it
        if kind != "message":
            raise UnsupportedParameter(f"input item {i} of type {kind!r} is not supported yet", param="input")
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidInput(f"input item {i} has role {role!r}", param="input")
        content = _text_content(i, item.get("content"))
        messages.append({"role": "system" if role == "developer" else role, "content": content})
    if not messages:
        raise InvalidInput("input is empty", param="input")
    return messages


class ResponsesService:
    def __init__(self, completions: CompletionService, store: ResponseStore) -> None:
        self.completions = completions
        self.store = store

    def prepare(self, req: ResponsesRequest) -> tuple[Prepared, list[dict[str, Any]]]:
        svc = self.completions
        served = svc.registry.generator(req.model)
        refuse_unsupported(req)
        history = self.store.conversation(req.previous_response_id) if req.previous_response_id else []
        conversation = history + input_messages(req.input)
        messages = ([{"role": "system", "content": req.instructions}] if req.instructions else []) + conversation
        fmt = (req.text or {}).get("format")
        turn = chat_turn(served, messages, req.tools, req.tool_choice, req.parallel_tool_calls,
                         constraint_from_format(fmt, "text.format"), "text.format")
        base = {
            "temperature": 1.0 if req.temperature is None else req.temperature,
            "top_p": 1.0 if req.top_p is None else req.top_p,
            "constraint": turn.constraint,
        }
        prepared = Prepared(
            kind="chat",
            served=served,
            prompt_tokens=turn.tokens,
            params=choice_params(base, 1, req.seed, svc._max_tokens(served, turn.tokens, req.max_output_tokens)),
            top_logprobs=None,
            want_logprobs=False,
            include_usage=True,
            response_id=f"resp_{secrets.token_hex(16)}",
            created=int(time.time()),
            tools=turn.plan,
            markers=turn.markers,
            structured=turn.structured,
        )
        return prepared, conversation

    @staticmethod
    def output_items(parts: Shaped, status: str, message_id: str) -> list[dict[str, Any]]:
        """Reasoning, message and function_call items, in the order the model wrote them."""
        items: list[dict[str, Any]] = []
        if parts.reasoning:
            items.append({"type": "reasoning", "id": f"rs_{message_id[4:]}", "summary": [],
                          "content": [{"type": "reasoning_text", "text": parts.reasoning}]})
        if parts.content or not parts.calls:
            items.append({"type": "message", "id": message_id, "status": status, "role": "assistant",
                          "content": [{"type": "output_text", "text": parts.content, "annotations": []}]})
        for call in parts.calls:
            items.append({"type": "function_call", "id": f"fc_{call.id[5:]}", "call_id": call.id, "name": call.name,
                          "arguments": call.arguments, "status": "completed"})
        return items

    def _body(self, req: ResponsesRequest, prepared: Prepared, parts: Shaped, status: str,
              usage: dict[str, Any] | None, psionic: dict[str, Any] | None, message_id: str,
              incomplete: str | None = None) -> dict[str, Any]:
        return {
            "id": prepared.response_id,
            "object": "response",
            "created_at": prepared.created,
            "status": status,
            "model": prepared.served.name,
            "output": self.output_items(parts, status, message_id) if status != "in_progress" else [],
            "output_text": parts.content,
            "previous_response_id": req.previous_response_id,
            "instructions": req.instructions,
            "store": req.store,
            "max_output_tokens": req.max_output_tokens,
            "temperature": prepared.params[0].temperature,
            "top_p": prepared.params[0].top_p,
            "metadata": req.metadata or {},
            "parallel_tool_calls": prepared.tools.parallel if prepared.tools else False,
            "tool_choice": req.tool_choice if req.tool_choice is not None else ("auto" if req.tools else "none"),
            "tools": req.tools or [],
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

    def _save(self, req: ResponsesRequest, body: dict[str, Any], conversation: list[dict[str, Any]],
              parts: Shaped) -> None:
        if req.store:
            turn: dict[str, Any] = {"role": "assistant", "content": parts.content}
            if parts.calls:
                turn["tool_calls"] = [c.to_chat() for c in parts.calls]
            self.store.put(body, conversation + [turn])

    async def create(self, req: ResponsesRequest, disconnected: Disconnected | None = None) -> dict[str, Any]:
        prepared, conversation = self.prepare(req)
        chat = await self.completions.complete([prepared], disconnected)
        choice = chat["choices"][0]
        message = choice["message"]
        parts = Shaped(message["content"] or "", message.get("reasoning_content") or "")
        if message.get("tool_calls"):
            parts.calls = [ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
                           for c in message["tool_calls"]]
        incomplete = "max_output_tokens" if choice["finish_reason"] == "length" else None
        body = self._body(req, prepared, parts, "incomplete" if incomplete else "completed",
                          self._usage(chat["usage"]), chat["psionic"], f"msg_{secrets.token_hex(12)}", incomplete)
        self._save(req, body, conversation, parts)
        return body

    async def stream(self, req: ResponsesRequest, disconnected: Disconnected | None = None) -> AsyncIterator[dict[str, Any]]:
        prepared, conversation = self.prepare(req)
        message_id = f"msg_{secrets.token_hex(12)}"
        seq = 0

        def event(kind: str, **fields: Any) -> dict[str, Any]:
            nonlocal seq
            seq += 1
            return {"type": kind, "sequence_number": seq - 1, **fields}

        start = self._body(req, prepared, Shaped(), "in_progress", None, None, message_id)
        yield event("response.created", response=start)
        yield event("response.in_progress", response=start)
        items = _ItemStream(message_id, event)
        if prepared.tools is None and prepared.markers is None:
            for e in items.open_message():  # plain text: the message item opens at once, as before
                yield e
        parts = Shaped()
        pending: list[list[str]] = []  # [call id, name, arguments] of each streamed call
        final: dict[str, Any] | None = None
        finish = None
        async for chunk in self.completions.stream(prepared, disconnected):
            for choice in chunk["choices"]:
                delta = choice.get("delta", {})
                if delta.get("reasoning_content"):
                    parts.reasoning += delta["reasoning_content"]
                    for e in items.reasoning(delta["reasoning_content"]):
                        yield e
                if delta.get("content"):
                    parts.content += delta["content"]
                    for e in items.text(delta["content"]):
                        yield e
                for piece in delta.get("tool_calls") or []:
                    fn = piece.get("function") or {}
                    if piece.get("id"):
                        pending.append([piece["id"], fn.get("name", ""), ""])
                        for e in items.call_start(piece["id"], fn.get("name", "")):
                            yield e
                    if fn.get("arguments") and pending:
                        pending[-1][2] += fn["arguments"]
                        for e in items.call_arguments(fn["arguments"]):
                            yield e
                finish = choice.get("finish_reason") or finish
            if "psionic" in chunk:
                final = chunk
        if final is None:
            raise EngineFailure("the response ended before it finished")
        parts.calls = [ToolCall(call_id, name, arguments) for call_id, name, arguments in pending]
        incomplete = "max_output_tokens" if finish == "length" else None
        status = "incomplete" if incomplete else "completed"
        if not parts.calls and not items.message_open and not items.message_done:
            for e in items.open_message():
                yield e
        for e in items.close(status):
            yield e
        body = self._body(req, prepared, parts, status, self._usage(final["usage"]), final["psionic"], message_id,
                          incomplete)
        self._save(req, body, conversation, parts)
        yield event("response.completed" if status == "completed" else "response.incomplete", response=body)


class _ItemStream:
    """Output items opened and closed as a streamed response's parts arrive (mutable)."""

    def __init__(self, message_id: str, event: Any) -> None:
        self.message_id = message_id
        self.event = event
        self.index = -1
        self.reasoning_open = False
        self.reasoning_text = ""
        self.message_open = False
        self.message_done = False
        self.text_so_far = ""
        self.call: dict[str, Any] | None = None  # the function_call item now streaming

    def _close_reasoning(self) -> list[dict[str, Any]]:
        if not self.reasoning_open:
            return []
        self.reasoning_open = False
        item = {"type": "reasoning", "id": f"rs_{self.message_id[4:]}", "summary": [],
                "content": [{"type": "reasoning_text", "text": self.reasoning_text}]}
        return [self.event("response.reasoning_text.done", item_id=item["id"], output_index=self.index,
                           content_index=0, text=self.reasoning_text),
                self.event("response.output_item.done", output_index=self.index, item=item)]

    def reasoning(self, text: str) -> list[dict[str, Any]]:
        out = []
        if not self.reasoning_open:
            self.index += 1
            self.reasoning_open = True
            out.append(self.event("response.output_item.added", output_index=self.index,
                                  item={"type": "reasoning", "id": f"rs_{self.message_id[4:]}", "summary": []}))
        self.reasoning_text += text
        out.append(self.event("response.reasoning_text.delta", item_id=f"rs_{self.message_id[4:]}",
                              output_index=self.index, content_index=0, delta=text))
        return out

    def open_message(self) -> list[dict[str, Any]]:
        out = self._close_reasoning() + self._close_call()
        self.index += 1
        self.message_open = True
        item = {"type": "message", "id": self.message_id, "status": "in_progress", "role": "assistant", "content": []}
        out.append(self.event("response.output_item.added", output_index=self.index, item=item))
        out.append(self.event("response.content_part.added", item_id=self.message_id, output_index=self.index,
                              content_index=0, part={"type": "output_text", "text": "", "annotations": []}))
        return out

    def text(self, text: str) -> list[dict[str, Any]]:
        out = [] if self.message_open else self.open_message()
        self.text_so_far += text
        out.append(self.event("response.output_text.delta", item_id=self.message_id, output_index=self.index,
                              content_index=0, delta=text, logprobs=[]))
        return out

    def _close_message(self, status: str) -> list[dict[str, Any]]:
        if not self.message_open:
            return []
        self.message_open, self.message_done = False, True
        part = {"type": "output_text", "text": self.text_so_far, "annotations": []}
        return [
            self.event("response.output_text.done", item_id=self.message_id, output_index=self.index,
                       content_index=0, text=self.text_so_far, logprobs=[]),
            self.event("response.content_part.done", item_id=self.message_id, output_index=self.index,
                       content_index=0, part=part),
            self.event("response.output_item.done", output_index=self.index,
                       item={"type": "message", "id": self.message_id, "status": status, "role": "assistant",
                             "content": [part]}),
        ]

    def call_start(self, call_id: str, name: str) -> list[dict[str, Any]]:
        out = self._close_reasoning() + self._close_message("completed") + self._close_call()
        self.index += 1
        self.call = {"type": "function_call", "id": f"fc_{call_id[5:]}", "call_id": call_id, "name": name,
                     "arguments": "", "status": "in_progress"}
        out.append(self.event("response.output_item.added", output_index=self.index, item=dict(self.call)))
        return out

    def call_arguments(self, text: str) -> list[dict[str, Any]]:
        assert self.call is not None
        self.call["arguments"] += text
        return [self.event("response.function_call_arguments.delta", item_id=self.call["id"],
                           output_index=self.index, delta=text)]

    def _close_call(self) -> list[dict[str, Any]]:
        if self.call is None:
            return []
        item, self.call = {**self.call, "status": "completed"}, None
        return [self.event("response.function_call_arguments.done", item_id=item["id"], output_index=self.index,
                           arguments=item["arguments"]),
                self.event("response.output_item.done", output_index=self.index, item=item)]

    def close(self, status: str) -> list[dict[str, Any]]:
        return self._close_reasoning() + self._close_message(status) + self._close_call()
