"""A model the server serves: its loaded weights, its engine thread, its capabilities."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.core.errors import InvalidInput, ModelNotFound
from psionic.models.loader import LoadedModel
from psionic.models.lora_bank import AdapterRef, install_adapter
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


ADAPTER_SEPARATOR = ":"


@dataclass
class ServedModel:
    """A chat/completions model on its engine (mutable: holds the running engine loop).

    ``adapters`` are the LoRA adapters served on it, by name; a request for
    ``"<name>:<adapter>"`` gets a view of this model (the same engine) whose
    ``adapter`` is set, so its requests batch with every other on the engine.
    """

    name: str
    loaded: LoadedModel
    engine: Engine
    loop: EngineLoop
    capabilities: tuple[str, ...] = field(default=())
    adapters: dict[str, AdapterRef] = field(default_factory=dict)
    adapter: AdapterRef | None = None

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
                handle.request_ids[index], prompt_tokens, choice_params, handle.callback(index), top_logprobs,
                self.adapter.digest if self.adapter is not None else None,
            )
        return handle

    def add_adapter(self, name: str, path: str) -> AdapterRef:
        """Load a PEFT-layout adapter from ``path`` and serve it as ``<model>:<name>``."""
        if not name or ADAPTER_SEPARATOR in name or name in self.adapters:
            raise InvalidInput(
                f"adapter name {name!r} must be non-empty, unique and without {ADAPTER_SEPARATOR!r}",
                param="adapter",
            )
        ref = install_adapter(self.loaded, path, name)
        self.adapters[name] = ref
        return ref

    def with_adapter(self, name: str) -> ServedModel:
        """This model as seen by requests for ``<model>:<name>``."""
        ref = self.adapters.get(name)
        if ref is None:
            raise ModelNotFound(
                f"model {self.name + ADAPTER_SEPARATOR + name!r} is not served here: no adapter {name!r} on "
                f"{self.name!r}; adapters: {sorted(self.adapters)}",
                param="model",
            )
        return dataclasses.replace(self, name=f"{self.name}{ADAPTER_SEPARATOR}{name}", adapter=ref)

    def listing(self) -> list[dict[str, Any]]:
        """The /v1/models entries: the model, then one per adapter."""
        entries = [self.describe()]
        for name in sorted(self.adapters):
            view = self.with_adapter(name)
            entry = view.describe()
            entry["parent"] = self.name
            entries.append(entry)
        return entries

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
                **({"adapter": self.adapter.to_dict(), "adapter_digest": self.adapter.digest}
                   if self.adapter is not None else {"adapters": sorted(self.adapters)}),
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
        """The served model ``name``, or ``"<model>:<adapter>"``: that model with one of its adapters."""
        base, sep, adapter = name.partition(ADAPTER_SEPARATOR)
        if sep and base in self.generators and name not in self.generators:
            return self.generators[base].with_adapter(adapter)
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
