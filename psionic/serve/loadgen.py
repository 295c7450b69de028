"""A load generator for OpenAI-compatible servers: streamed requests at a fixed concurrency.

Each request streams ``/v1/chat/completions`` (or ``/v1/completions``) at
temperature 0 and records time to first content token, the gaps between
content chunks, output tokens (from ``usage`` when the server reports it,
otherwise one per content chunk) and any failure. A failed request is a
record with an ``error`` kind, never an exception out of the level.

>>> spec = LoadSpec(model="m", requests=4, prompt_tokens=16, max_tokens=8)
>>> request_body(spec, 0)["messages"][0]["content"].startswith("Request 0:")
True
>>> # asyncio.run(run_level("http://127.0.0.1:8080", spec, concurrency=2)).output_tok_s
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from psionic.core.errors import BackendUnavailable, InvalidInput
from psionic.serve.loadgen_stats import LevelStats, RequestResult, summarize_level

ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}

# English prose runs about four words to three tokens; prompts are sized in words.
WORDS_PER_TOKEN = 0.75

PROMPT_PASSAGE = (
    "Describe how a lighthouse keeper prepares for a long winter on a small rocky island, "
    "covering the lamp, the stores of food and fuel, the radio, the boat, the logbook, the "
    "weather signs that matter most, and the quiet routines that keep a person steady when "
    "storms cut the island off from the mainland for many days at a time."
).split()


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What every request of a run asks for."""

    model: str
    requests: int = 64
    prompt_tokens: int = 64
    max_tokens: int = 32
    endpoint: str = "chat"  # "chat" | "completions"
    ignore_eos: bool = False  # send "ignore_eos": true (llama-server and psionic accept it)
    timeout_s: float = 300.0  # per request, send to last byte
    response_format: dict[str, Any] | None = None  # sent as is, e.g. a json_schema constraint

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise InvalidInput(f"endpoint {self.endpoint!r} is not one of {sorted(ENDPOINTS)}")
        if self.requests < 1 or self.prompt_tokens < 1 or self.max_tokens < 1:
            raise InvalidInput("requests, prompt tokens and max tokens must be at least 1")
        if self.timeout_s <= 0:
            raise InvalidInput("the request timeout must be positive")

    @property
    def prompt_words(self) -> int:
        return max(1, round(self.prompt_tokens * WORDS_PER_TOKEN))


def prompt_text(index: int, words: int) -> str:
    """A deterministic prompt; the leading index keeps prompts distinct, so no prefix cache serves a whole one."""
    start = index % len(PROMPT_PASSAGE)
    body = [PROMPT_PASSAGE[(start + k) % len(PROMPT_PASSAGE)] for k in range(max(0, words - 2))]
    return " ".join([f"Request {index}:", *body])


def request_body(spec: LoadSpec, index: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": spec.model,
        "max_tokens": spec.max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text = prompt_text(index, spec.prompt_words)
    if spec.endpoint == "chat":
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = text
    if spec.ignore_eos:
        body["ignore_eos"] = True
    if spec.response_format is not None:
        body["response_format"] = spec.response_format
    return body


def _chunk_text(chunk: dict[str, Any], endpoint: str) -> tuple[str, bool]:
    """The content a stream chunk carries, and whether it names a finish reason."""
    text, finished = "", False
    for choice in chunk.get("choices") or []:
        if endpoint == "chat":
            text += (choice.get("delta") or {}).get("content") or ""
        else:
            text += choice.get("text") or ""
        finished = finished or bool(choice.get("finish_reason"))
    return text, finished


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection_dropped"
    if isinstance(exc, httpx.ReadError):
        return "read_error"
    if isinstance(exc, json.JSONDecodeError):
        return "bad_chunk"
    if isinstance(exc, httpx.HTTPError):
        return "http_error"
    return f"client_error_{type(exc).__name__}"


class _Stream:
    """Mutable per-request tallies while a stream is read (not frozen: filled chunk by chunk)."""

    __slots__ = ("t0", "first", "last", "gaps", "chunks", "usage", "done", "finished")

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.first: float | None = None
        self.last: float | None = None
        self.gaps: list[float] = []
        self.chunks = 0
        self.usage: dict[str, Any] | None = None
        self.done = False
        self.finished = False

    def content(self, now: float) -> None:
        if self.first is None:
            self.first = now
        else:
            self.gaps.append(now - self.last)  # type: ignore[operator]
        self.last = now
        self.chunks += 1

    def result(self, index: int, error: str | None = None, detail: str | None = None) -> RequestResult:
        usage = self.usage or {}
        from_usage = isinstance(usage.get("completion_tokens"), int)
        prompt = usage.get("prompt_tokens")
        return RequestResult(
            index=index,
            started_s=self.t0,
            finished_s=time.perf_counter(),
            ttft_s=None if self.first is None else self.first - self.t0,
            itl_s=tuple(self.gaps),
            content_chunks=self.chunks,
            output_tokens=usage["completion_tokens"] if from_usage else self.chunks,
            output_tokens_source="usage" if from_usage else "chunks",
            prompt_tokens=prompt if isinstance(prompt, int) else None,
            error=error,
            error_detail=detail,
        )


async def _read_stream(response: httpx.Response, spec: LoadSpec, state: _Stream) -> str | None:
    """Consume one SSE stream into ``state``; an error detail, or None when it ended well."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            state.done = True
            break
        chunk = json.loads(payload)
        if not isinstance(chunk, dict):
            return "stream_error: a chunk that is not a JSON object"
        if chunk.get("error"):
            return f"stream_error: {json.dumps(chunk['error'])[:200]}"
        text, finished = _chunk_text(chunk, spec.endpoint)
        if text:
            state.content(time.perf_counter())
        state.finished = state.finished or finished
        if chunk.get("usage"):
            state.usage = chunk["usage"]
    if not (state.done or state.finished):
        return "truncated_stream: ended without a finish reason or [DONE]"
    return None


async def stream_one(client: httpx.AsyncClient, spec: LoadSpec, index: int) -> RequestResult:
    """Send request ``index`` and read its stream; failures come back as records."""
    state = _Stream(time.perf_counter())
    try:
        async with asyncio.timeout(spec.timeout_s):
            async with client.stream("POST", ENDPOINTS[spec.endpoint], json=request_body(spec, index)) as response:
                if response.status_code != 200:
                    body = (await response.aread())[:200].decode("utf-8", "replace")
                    return state.result(index, f"http_{response.status_code}", body)
                detail = await _read_stream(response, spec, state)
        if detail is not None:
            kind, _, text = detail.partition(": ")
            return state.result(index, kind, text)
        return state.result(index)
    except Exception as exc:  # a failed request is recorded; the run goes on
        return state.result(index, _error_kind(exc), str(exc)[:200] or type(exc).__name__)


def _client(base_url: str, concurrency: int, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def run_level(base_url: str, spec: LoadSpec, concurrency: int, first_index: int = 0) -> LevelStats:
    """``spec.requests`` requests, at most ``concurrency`` in flight, numbered from ``first_index``."""
    if concurrency < 1:
        raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
    pending = list(range(first_index + spec.requests - 1, first_index - 1, -1))
    results: list[RequestResult] = []
    async with _client(base_url, concurrency, spec.timeout_s) as client:

        async def worker() -> None:
            while pending:
                results.append(await stream_one(client, spec, pending.pop()))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, spec.requests))))
        wall = time.perf_counter() - t0
    results.sort(key=lambda r: r.index)
    return summarize_level(concurrency, results, wall)


async def warm_up(base_url: str, spec: LoadSpec, count: int, first_index: int) -> list[RequestResult]:
    """Untimed requests, one at a time, so compiled kernels and caches are hot before a level."""
    async with _client(base_url, 1, spec.timeout_s) as client:
        return [await stream_one(client, spec, first_index + k) for k in range(count)]


def resolve_model_name(base_url: str, timeout_s: float = 30.0) -> str:
    """The first model id that ``GET /v1/models`` lists."""
    url = base_url.rstrip("/") + "/v1/models"
    try:
        response = httpx.get(url, timeout=timeout_s)
        response.raise_for_status()
        models = response.json().get("data") or []
        return str(models[0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BackendUnavailable(
            f"cannot read a model id from {url} ({type(exc).__name__}: {exc}); pass --model-name",
            url=url,
        ) from None
