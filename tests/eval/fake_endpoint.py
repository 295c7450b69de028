"""A scripted OpenAI-compatible chat endpoint (non-streamed JSON) for error, timeout and resume tests.

``answer(body) -> str`` writes each reply; arrivals count from 1, and every
``fail_every``-th answers 500, every ``hang_every``-th never answers, every
``garbage_every``-th answers a body that is not JSON.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    """What the endpoint does (mutable: tests change it between runs)."""

    answer: Callable[[dict[str, Any]], str | dict[str, Any]] = lambda body: "42"  # text, or a whole message
    fail_every: int = 0
    hang_every: int = 0
    garbage_every: int = 0
    delay_s: float = 0.0  # before each answer
    arrivals: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


class FakeEndpoint:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                with outer.lock:
                    outer.script.arrivals += 1
                    n = outer.script.arrivals
                    outer.script.bodies.append(body)
                s = outer.script
                if s.delay_s:
                    time.sleep(s.delay_s)
                if s.hang_every and n % s.hang_every == 0:
                    outer.stopping.wait(60)
                    return
                if s.fail_every and n % s.fail_every == 0:
                    self._send(500, b'{"error": {"message": "scripted failure"}}')
                elif s.garbage_every and n % s.garbage_every == 0:
                    self._send(200, b"<html>not json</html>")
                else:
                    answer = s.answer(body)
                    message = answer if isinstance(answer, dict) else {"role": "assistant", "content": answer}
                    reply = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                    self._send(200, json.dumps(reply).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        time.sleep(0.05)
        self.server.shutdown()
        self.server.server_close()
