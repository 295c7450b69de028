"""A tiny OpenAI-compatible streaming server on 127.0.0.1 with known delays and scripted failures.

It speaks just enough HTTP/1.1 for the load generator: ``GET /health``,
``GET /v1/models`` and streamed ``POST /v1/chat/completions`` and
``/v1/completions`` (chunked SSE, one connection per request). Run it in a
thread (``FakeOpenAIServer``) or as a process: ``python -m tests.serve.fake_openai
--port P`` (other arguments are ignored, so it can stand in for llama-server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Behaviour:
    """What the fake does; arrival numbers count streamed requests from 1 (mutable: tests tune it)."""

    chunks: int = 8  # content chunks per response
    tokens_per_chunk: int = 1
    ttft_s: float = 0.05
    itl_s: float = 0.02
    usage: bool = True
    prompt_tokens: int = 17
    fail_every: int = 0  # every k-th arrival answers 500
    drop_every: int = 0  # every k-th arrival loses its connection after two content chunks
    hang_every: int = 0  # every k-th arrival never answers
    model_id: str = "fake-model"


@dataclass
class Tally:
    """What the fake saw (mutable: updated as requests arrive)."""

    arrivals: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _sse(obj: Any) -> bytes:
    return _chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")


def _head(status: str, content_type: str, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n{extra}\r\n").encode()


class FakeOpenAIServer:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.tally = Tally()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, port: int = 0) -> asyncio.AbstractServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self._server

    def start(self) -> FakeOpenAIServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        loop.close()
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            await self._route(method, path, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        if method == "GET" and path == "/health":
            payload = b'{"status":"ok"}'
            writer.write(_head("200 OK", "application/json", f"Content-Length: {len(payload)}\r\n") + payload)
        elif method == "GET" and path == "/v1/models":
            payload = json.dumps({"object": "list", "data": [{"id": self.behaviour.model_id, "object": "model"}]}).encode()
            writer.write(_head("200 OK", "application/json", f"Content-Length: {len(payload)}\r\n") + payload)
        elif method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            self.tally.in_flight += 1
            self.tally.max_in_flight = max(self.tally.max_in_flight, self.tally.in_flight)
            try:
                await self._stream(json.loads(body), path.endswith("chat/completions"), writer)
            finally:
                self.tally.in_flight -= 1
        else:
            writer.write(_head("404 Not Found", "text/plain", "Content-Length: 0\r\n"))
        await writer.drain()

    async def _stream(self, request: dict[str, Any], chat: bool, writer: asyncio.StreamWriter) -> None:
        b, tally = self.behaviour, self.tally
        tally.arrivals += 1
        tally.bodies.append(request)
        n = tally.arrivals
        if b.fail_every and n % b.fail_every == 0:
            payload = b'{"error":{"message":"scripted failure"}}'
            writer.write(_head("500 Internal Server Error", "application/json", f"Content-Length: {len(payload)}\r\n") + payload)
            return
        if b.hang_every and n % b.hang_every == 0:
            await asyncio.sleep(3600)
        writer.write(_head("200 OK", "text/event-stream", "Transfer-Encoding: chunked\r\n"))
        if chat:
            writer.write(_sse({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}))
        await writer.drain()
        for k in range(b.chunks):
            await asyncio.sleep(b.ttft_s if k == 0 else b.itl_s)
            text = "".join(f"t{k}.{j} " for j in range(b.tokens_per_chunk))
            choice = {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
            writer.write(_sse({"choices": [{**choice, "finish_reason": None}]}))
            await writer.drain()
            if b.drop_every and n % b.drop_every == 0 and k == 1:
                writer.transport.abort()
                return
        last = {"index": 0, "delta": {}} if chat else {"index": 0, "text": ""}
        writer.write(_sse({"choices": [{**last, "finish_reason": "length"}]}))
        if b.usage and (request.get("stream_options") or {}).get("include_usage"):
            completion = b.chunks * b.tokens_per_chunk
            usage = {"prompt_tokens": b.prompt_tokens, "completion_tokens": completion,
                     "total_tokens": b.prompt_tokens + completion}
            writer.write(_sse({"choices": [], "usage": usage}))
        writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


async def _main(port: int, startup_delay_s: float) -> None:
    await asyncio.sleep(startup_delay_s)
    server = await FakeOpenAIServer().serve(port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    known, _ = parser.parse_known_args()
    asyncio.run(_main(known.port, known.startup_delay))
