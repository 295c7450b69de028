"""A model the server serves: its loaded weights, its engine thread, its capabilities."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.core.errors import ModelNotFound
from psionic.models.loader import LoadedModel
from psionic.models.sampling import SamplingParams
from psionic.serve.engine import Engine, EngineConfig
from psionic.serve.loop import EngineLoop
from psionic.serve.request import TokenOutput

_ids = itertools.count()


class GenerationHandle:
    """The outputs of one or more engine requests (the choices of one API request)."""

    def __init__(self, served: ServedModel, count: int) -> None:
        self.served = served
        self.queue: asyncio.Queue[tuple[int, TokenOutput]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.request_ids = [f"req-{next(_ids)}" for _ in range(count)]
        self.open = set(range(count))

    def callback(self, index: int) -> Callable[[TokenOutput], None]:
        def on_output(out: TokenOutput) -> None:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (index, out))

        return on_output

    async def events(self) -> AsyncIterator[tuple[int, TokenOutput]]:
        """Each (choice index, output) until every choice has finished."""
        while self.open:
            index, out = await self.queue.get()
            if out.finish_reason is not None:
                self.open.discard(index)
            yield index, out

    def abort(self) -> None:
        """Free every unfinished choice's blocks now (the client went away)."""
        for index in list(self.open):
            self.served.loop.abort(self.request_ids[index])
        self.open.clear()


@dataclass
class ServedModel:
    """A chat/completions model on its engine (mutable: holds the running engine loop)."""

    name: str
    loaded: LoadedModel
    engine: Engine
    loop: EngineLoop
    capabilities: tuple[str, ...] = field(default=())

    @classmethod
    def start(cls, name: str, loaded: LoadedModel, config: EngineConfig) -> ServedModel:
        engine = Engine(loaded, config)
        caps = ["completions"] + (["chat"] if loaded.template is not None else [])
        return cls(name, loaded, engine, EngineLoop(engine).start(), tuple(caps))

    def submit(
        self, prompt_tokens: list[int], params: list[SamplingParams], top_logprobs: int | None
    ) -> GenerationHandle:
        """Start one engine request per choice; raises typed errors before anything runs."""
        handle = GenerationHandle(self, len(params))
        for index, choice_params in enumerate(params):
            self.loop.submit(
                handle.request_ids[index], prompt_tokens, choice_params, handle.callback(index), top_logprobs
            )
        return handle

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "object": "model",
            "created": 0,
            "owned_by": "psionic",
            "psionic": {
                "capabilities": list(self.capabilities),
                "family": self.loaded.architecture,
                "context_length": self.loaded.config.context_length,
                "model_digest": self.loaded.model_digest,
            },
        }


class ModelRegistry:
    """Served models by name; the first chat-capable one is the default."""

    def __init__(self) -> None:
        self.generators: dict[str, ServedModel] = {}
        self.embedders: dict[str, Any] = {}

    def add(self, served: ServedModel) -> None:
        self.generators[served.name] = served

    def add_embedder(self, name: str, model: Any) -> None:
        self.embedders[name] = model

    def generator(self, name: str) -> ServedModel:
        try:
            return self.generators[name]
        except KeyError:
            raise ModelNotFound(
                f"model {name!r} is not served here; serving: {sorted(self.generators)}", param="model"
            ) from None

    def embedder(self, name: str) -> Any:
        try:
            return self.embedders[name]
        except KeyError:
            raise ModelNotFound(
                f"embeddings model {name!r} is not served here; serving: {sorted(self.embedders)}",
                param="model",
            ) from None

    def stop(self) -> None:
        for served in self.generators.values():
            served.loop.stop()
