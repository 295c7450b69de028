"""Who answers a package: a local model in process, an OpenAI-compatible endpoint, or a Tassadar decode mode.

Chat subjects send the session's requests as OpenAI chat-completion bodies
and keep, per turn, the body sent, the body received, the server's own
receipt where it gave one (psionic servers do), and an exchange receipt
(``exchange.py``). The local subject runs psionic's serving code — the same
``CompletionService`` the HTTP server calls — on its own engine, without
HTTP. The Tassadar subject runs each program with a registered decode mode
and keeps the run's receipt.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from psionic.core.errors import InvalidInput, PsionicError, Refusal
from psionic.core.manifest import RuntimeManifest
from psionic.environments.package import EnvironmentPackage
from psionic.environments.rubrics import Answer
from psionic.environments.session import Sample, run_chat
from psionic.eval.errors import EndpointError, EndpointTimeout, EndpointUnreachable
from psionic.eval.exchange import exchange_receipt

TASSADAR_PREFIX = "tassadar:"


@dataclass(slots=True)
class Played:
    """A sample's answer and the turns that produced it (mutable: filled as turns arrive)."""

    answer: Answer
    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)


def split_psionic(body: Any) -> tuple[Any, dict[str, Any] | None, dict[str, Any] | None]:
    """(body without receipt and bundle, the server's receipt, its proof bundle): kept side by side in the turn."""
    if not isinstance(body, dict) or not isinstance(body.get("psionic"), dict):
        return body, None, None
    psionic = dict(body["psionic"])
    bundle = psionic.pop("bundle", None)
    receipt = psionic.pop("receipt", None)
    return {**body, "psionic": psionic}, receipt, bundle


class ChatSubject(ABC):
    """Plays chat tasks through ``post``; subclasses say where the body goes."""

    kind = "chat"
    endpoint = "in-process"

    def __init__(self, model: str) -> None:
        self.model = model
        self.manifest_digest = RuntimeManifest.current().digest

    @abstractmethod
    async def post(self, body: dict[str, Any]) -> tuple[int, Any]:
        """(HTTP status, response body) for one chat-completion request body."""

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "endpoint": self.endpoint}

    def body(self, request: dict[str, Any], sample: Sample, sampling: dict[str, Any]) -> dict[str, Any]:
        return {"model": self.model, **request, **sampling, "seed": sample.seed}

    async def turn(self, body: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        status, received = await self.post(body)
        seconds = time.perf_counter() - started
        kept, served_receipt, bundle = split_psionic(received)
        model_digest = (received.get("psionic") or {}).get("model_digest") if isinstance(received, dict) else None
        exchange = exchange_receipt(self.endpoint, body, status, kept, seconds, self.manifest_digest, model_digest,
                                    served_receipt["digest"] if served_receipt else None)
        try:
            choice = received["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"{self.endpoint} answered a body that is not a chat completion",
                                body=str(received)[:200]) from None
        return {"request": body, "response": kept, "message": message, "finish_reason": choice.get("finish_reason"),
                "receipt": served_receipt, "bundle": bundle, "exchange": exchange, "seconds": round(seconds, 6)}

    async def play(self, pkg: EnvironmentPackage, sample: Sample, sampling: dict[str, Any]) -> Played:
        async def send(request: dict[str, Any]) -> dict[str, Any]:
            return await self.turn(self.body(request, sample, sampling))

        transcript = await run_chat(pkg, sample.task, send)
        return Played(transcript.answer(), transcript.turns, transcript.tool_results)

    async def aclose(self) -> None:
        return None


class LocalChat(ChatSubject):
    """A model loaded here, served by psionic's engine and completion handler, without HTTP."""

    def __init__(self, ref: str, kv_tokens: int = 16384, max_num_seqs: int = 16,
                 adapter: tuple[str, str] | None = None) -> None:
        """``adapter`` = (name, PEFT directory): the requests go to ``<model>:<name>``, as a server's would."""
        from psionic.models.loader import load_model
        from psionic.serve.engine import EngineConfig
        from psionic.serve.metrics import Metrics
        from psionic.serve.scheduler import SchedulerConfig
        from psionic.serve.served import ADAPTER_SEPARATOR, ModelRegistry, ServedModel
        from psionic.serve.serving_completions import CompletionService

        loaded = load_model(ref)
        config = EngineConfig(kv_tokens=kv_tokens, scheduler=SchedulerConfig(max_num_seqs=max_num_seqs))
        served = ServedModel.start(loaded.name, loaded, config)
        self.registry = ModelRegistry()
        self.registry.add(served)
        self.model_digest = loaded.model_digest
        self.adapter_digest: str | None = None
        name = loaded.name
        if adapter is not None:
            try:
                self.adapter_digest = served.add_adapter(*adapter).digest
            except BaseException:
                self.registry.stop()
                raise
            name = f"{loaded.name}{ADAPTER_SEPARATOR}{adapter[0]}"
        super().__init__(name)
        self.service = CompletionService(self.registry, RuntimeManifest.current(), Metrics())

    def identity(self) -> dict[str, Any]:
        facts = {**super().identity(), "model_digest": self.model_digest}
        return facts | ({"adapter_digest": self.adapter_digest} if self.adapter_digest else {})

    async def post(self, body: dict[str, Any]) -> tuple[int, Any]:
        from pydantic import ValidationError

        from psionic.serve.protocol import ChatCompletionRequest

        try:
            request = ChatCompletionRequest.model_validate(body)
        except ValidationError as e:
            raise InvalidInput(f"the request is not a valid chat completion: {e.errors()[0]['msg']}") from None
        return 200, await self.service.complete([self.service.prepare_chat(request)])

    async def aclose(self) -> None:
        self.registry.stop()


class EndpointChat(ChatSubject):
    """Any OpenAI-compatible server: ``POST {url}/v1/chat/completions``."""

    def __init__(self, url: str, model: str, timeout_s: float = 120.0, api_key: str | None = None) -> None:
        import httpx

        super().__init__(model)
        base = url.rstrip("/").removesuffix("/v1")
        if not base.startswith(("http://", "https://")):
            raise InvalidInput(f"endpoint {url!r} is not an http(s) URL", param="endpoint")
        self.endpoint = base
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(base_url=base, timeout=timeout_s, headers=headers)

    async def post(self, body: dict[str, Any]) -> tuple[int, Any]:
        import httpx

        try:
            response = await self.client.post("/v1/chat/completions", json=body)
        except httpx.TimeoutException:
            raise EndpointTimeout(f"{self.endpoint} did not answer in time") from None
        except httpx.TransportError as e:
            raise EndpointUnreachable(f"{self.endpoint}: {type(e).__name__}: {e}") from None
        try:
            received = response.json()
        except ValueError:
            raise EndpointError(f"{self.endpoint} answered {response.status_code} with a body that is not JSON",
                                status=response.status_code) from None
        if response.status_code != 200:
            error = received.get("error") if isinstance(received, dict) else None
            message = error.get("message") if isinstance(error, dict) else str(received)[:200]
            raise EndpointError(f"{self.endpoint} answered {response.status_code}: {message}",
                                status=response.status_code)
        return response.status_code, received

    async def aclose(self) -> None:
        await self.client.aclose()


class TassadarSubject:
    """A Tassadar decode mode (``tassadar:reference``, ``tassadar:linear``) running each task's program."""

    kind = "tassadar"

    def __init__(self, model: str) -> None:
        from psionic.tassadar.run import DECODERS

        self.decode = model.removeprefix(TASSADAR_PREFIX)
        if self.decode not in DECODERS:
            raise InvalidInput(f"unknown Tassadar decode mode {self.decode!r}; known: {sorted(DECODERS)}",
                               param="model")
        self.model = f"{TASSADAR_PREFIX}{self.decode}"

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "endpoint": "in-process"}

    def _run(self, sample: Sample) -> Played:
        from psionic.tassadar.ingress import load_wat
        from psionic.tassadar.run import run_program

        program = sample.task.program
        assert program is not None  # a tassadar package's tasks all carry one (checked at load)
        loaded = load_wat(program.wat)
        turn: dict[str, Any] = {"request": {"program": loaded.digest, "entry": program.entry,
                                            "args": [str(a) for a in program.args], "decode": self.decode}}
        try:
            report = run_program(loaded, program.entry, program.args, program.inputs, self.decode)
        except Refusal as e:
            turn.update(refusal=e.to_dict(), receipt=None)
            return Played(Answer(text=f"refused: {e.code}: {e.message}"), [turn])
        turn.update(response=report.to_dict() | {"receipt": None}, receipt=report.receipt.to_dict())
        return Played(Answer(result=report.result, trap=report.trap), [turn])

    async def play(self, pkg: EnvironmentPackage, sample: Sample, sampling: dict[str, Any]) -> Played:
        return await asyncio.to_thread(self._run, sample)

    async def aclose(self) -> None:
        return None


Subject = ChatSubject | TassadarSubject


def open_subject(pkg: EnvironmentPackage, model: str, endpoint: str | None = None, timeout_s: float = 120.0,
                 api_key: str | None = None, adapter: tuple[str, str] | None = None) -> Subject:
    """The subject a package runs against; a Tassadar package needs a decode mode, a chat package a model.

    ``adapter`` (name, PEFT directory) applies to a local model; a server's adapters are chosen by
    naming them in ``model`` (``base:NAME``)."""
    if adapter is not None and (endpoint or pkg.kind == "tassadar"):
        raise InvalidInput("--adapter applies to a local model; at an endpoint name it in --model as BASE:NAME",
                           param="adapter")
    if pkg.kind == "tassadar":
        if endpoint:
            raise InvalidInput("a Tassadar package runs in process; --endpoint does not apply", param="endpoint")
        return TassadarSubject(model)
    if model.startswith(TASSADAR_PREFIX):
        raise InvalidInput(f"{pkg.ref} is a chat package; {model!r} runs Wasm programs", param="model")
    if endpoint:
        return EndpointChat(endpoint, model, timeout_s, api_key)
    return LocalChat(model, adapter=adapter)


def error_record(error: BaseException) -> dict[str, Any]:
    if isinstance(error, PsionicError):
        return error.to_dict()
    return {"code": "unexpected_error", "message": f"{type(error).__name__}: {error}", "details": {}}
