"""The HTTP routes: FastAPI mapping requests to the serving handlers, JSON or SSE out.

Every error leaves as OpenAI's error object with a 4xx status that names the
problem; streams carry their receipt in the final chunk; non-streamed
responses also carry ``x-psionic-receipt-digest`` and ``x-psionic-model-digest``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from psionic import __version__
from psionic.core.errors import PsionicError
from psionic.serve.openai_errors import error_body, from_psionic
from psionic.serve.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ResponsesRequest,
)
from psionic.serve.served import ModelRegistry
from psionic.serve.serving_completions import CompletionService
from psionic.serve.serving_embeddings import EmbeddingService
from psionic.serve.serving_responses import ResponsesService

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def receipt_headers(body: dict[str, Any]) -> dict[str, str]:
    psionic = body.get("psionic") or {}
    if "receipts" in psionic:
        digests = [r["receipt_digest"] for r in psionic["receipts"]]
        return {"x-psionic-receipt-digest": ",".join(digests), "x-psionic-model-digest": psionic["receipts"][0]["model_digest"]}
    if "receipt_digest" in psionic:
        return {"x-psionic-receipt-digest": psionic["receipt_digest"], "x-psionic-model-digest": psionic["model_digest"]}
    return {}


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    kind = first.get("type", "")
    param = ".".join(loc) or None
    if kind == "json_invalid":
        return "the request body is not valid JSON", None
    if kind == "extra_forbidden":
        return f"unknown parameter {param!r}", param
    if kind == "missing":
        return f"missing required parameter {param!r}", param
    if not loc and kind in ("model_attributes_type", "dict_type"):
        return "the request body must be a JSON object", None
    return f"invalid value for {param!r}: {first.get('msg', 'invalid')}", param


def create_app(
    registry: ModelRegistry,
    completions: CompletionService,
    responses: ResponsesService,
    embeddings: EmbeddingService,
    api_key: str | None = None,
) -> FastAPI:
    app = FastAPI(title="Psionic", version=__version__, description="OpenAI-compatible API with execution receipts")
    metrics = completions.metrics

    @app.exception_handler(PsionicError)
    async def psionic_error(request: Request, exc: PsionicError) -> Response:
        status, body = from_psionic(exc)
        metrics.errors.labels(status=str(status)).inc()
        headers = {"Retry-After": str(exc.details.get("retry_after", 1))} if status == 429 else None
        return _json(body, status, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        message, param = _validation_message(exc)
        metrics.errors.labels(status="400").inc()
        return _json(error_body(400, message, "invalid_request", param), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _json(error_body(exc.status_code, str(exc.detail), "http_error"), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:  # pragma: no cover - a bug
        metrics.errors.labels(status="500").inc()
        return _json(error_body(500, f"internal error: {type(exc).__name__}", "internal_error"), 500)

    if api_key:
        @app.middleware("http")
        async def bearer_auth(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/v1/"):
                given = request.headers.get("authorization", "")
                if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                    return _json(error_body(401, "missing or invalid API key (Authorization: Bearer ...)", "invalid_api_key"), 401)
            return await call_next(request)

    def sse(events: AsyncIterator[dict[str, Any]], named: bool = False) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            try:
                async for event in events:
                    prefix = f"event: {event['type']}\n" if named else ""
                    yield f"{prefix}data: {json.dumps(event)}\n\n".encode()
            except PsionicError as exc:
                _, err = from_psionic(exc)
                yield f"data: {json.dumps(err)}\n\n".encode()
            if not named:
                yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def primed(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        """Start the stream before the response starts, so that admission errors stay HTTP errors."""
        first = await events.__anext__()

        async def chain() -> AsyncIterator[dict[str, Any]]:
            yield first
            async for event in events:
                yield event

        return chain()

    @app.get("/health")
    async def health() -> Response:
        failed = [name for name, s in registry.generators.items() if s.loop.error is not None]
        if failed:
            return _json({"status": "error", "failed": failed}, 503)
        return _json({"status": "ok", "models": sorted(registry.generators) + sorted(registry.embedders)})

    @app.get("/v1/models")
    async def models() -> Response:
        data = [entry for served in registry.generators.values() for entry in served.listing()]
        for name, model in registry.embedders.items():
            data.append({
                "id": name, "object": "model", "created": 0, "owned_by": "psionic",
                "psionic": {"capabilities": ["embeddings"], "family": "bert", "dimensions": model.dimensions,
                            "model_digest": model.model_digest},
            })
        return _json({"object": "list", "data": data})

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest, request: Request) -> Response:
        prepared = completions.prepare_chat(req)
        if req.stream:
            return sse(await primed(completions.stream(prepared, request.is_disconnected)))
        body = await completions.complete([prepared], request.is_disconnected)
        return _json(body, headers=receipt_headers(body))

    @app.post("/v1/completions")
    async def complete(req: CompletionRequest, request: Request) -> Response:
        group = completions.prepare_text(req)
        if req.stream:
            if len(group) != 1:
                raise_unsupported_batch_stream()
            return sse(await primed(completions.stream(group[0], request.is_disconnected)))
        body = await completions.complete(group, request.is_disconnected)
        return _json(body, headers=receipt_headers(body))

    @app.post("/v1/embeddings")
    async def embed(req: EmbeddingRequest) -> Response:
        body = await embeddings.create(req)
        return _json(body, headers=receipt_headers(body))

    @app.post("/v1/responses")
    async def create_response(req: ResponsesRequest, request: Request) -> Response:
        if req.stream:
            return sse(await primed(responses.stream(req, request.is_disconnected)), named=True)
        body = await responses.create(req, request.is_disconnected)
        return _json(body, headers=receipt_headers(body))

    @app.get("/v1/responses/{response_id}")
    async def get_response(response_id: str) -> Response:
        return _json(responses.store.get(response_id))

    @app.delete("/v1/responses/{response_id}")
    async def delete_response(response_id: str) -> Response:
        responses.store.delete(response_id)
        return _json({"id": response_id, "object": "response.deleted", "deleted": True})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def raise_unsupported_batch_stream() -> None:
    from psionic.core.errors import UnsupportedParameter

    raise UnsupportedParameter("streaming a batch of several prompts is not supported", param="prompt")
