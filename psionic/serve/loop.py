"""Run an Engine on its own thread; take requests and aborts from any thread.

Submissions are validated at once on the caller's thread (so a bad request or
a full queue answers immediately), then handed to the engine thread through
an inbox that it drains before every step. Outputs are delivered through each
request's callback, on the engine thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from psionic.models.sampling import SamplingParams
from psionic.serve.engine import Engine
from psionic.serve.request import TokenOutput


class EngineLoop:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.inbox: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self.wake = threading.Event()
        self.stopping = False
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.pending = 0  # submitted, not yet handed to the engine
        self.thread = threading.Thread(target=self._run, name="psionic-engine", daemon=True)

    def start(self) -> EngineLoop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=30)

    def submit(
        self,
        request_id: str,
        prompt_tokens: list[int],
        params: SamplingParams,
        on_output: Callable[[TokenOutput], None],
        top_logprobs: int | None = None,
        adapter: str | None = None,
    ) -> None:
        """Validate now (raises typed errors), then queue for the engine thread."""
        with self.lock:
            # Submissions not yet drained count against the queue limit too.
            self.engine.validate(prompt_tokens, params, pending=self.pending)
            self.pending += 1

        def add() -> None:
            with self.lock:
                self.pending -= 1
            try:
                self.engine.add_request(request_id, prompt_tokens, params, on_output, top_logprobs, adapter)
            except Exception as exc:  # noqa: BLE001 - delivered to the request, not lost
                on_output(TokenOutput(request_id, None, "", finish_reason="error", error=exc))

        self.inbox.put(add)
        self.wake.set()

    def abort(self, request_id: str) -> None:
        self.inbox.put(lambda: self.engine.abort(request_id))
        self.wake.set()

    def call(self, fn: Callable[[Engine], Any]) -> None:
        """Run ``fn(engine)`` on the engine thread between steps."""
        self.inbox.put(lambda: fn(self.engine))
        self.wake.set()

    def _drain(self) -> None:
        while True:
            try:
                task = self.inbox.get_nowait()
            except queue.Empty:
                return
            task()

    def _run(self) -> None:
        try:
            while not self.stopping:
                self._drain()
                if self.engine.has_work:
                    self.engine.step()
                    continue
                self.wake.wait(timeout=0.5)
                self.wake.clear()
        except BaseException as exc:  # the server reports it on /health
            self.error = exc
            self.engine.fail_all(exc)
            raise
