"""/v1/embeddings on a sentence-embedding model, with a receipt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import numpy as np

from psionic.core.errors import InvalidInput, UnsupportedParameter
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt
from psionic.serve.metrics import Metrics
from psionic.serve.protocol import EmbeddingRequest
from psionic.serve.served import ModelRegistry

MAX_INPUTS = 256


class EmbeddingService:
    def __init__(self, registry: ModelRegistry, manifest: RuntimeManifest, metrics: Metrics) -> None:
        self.registry = registry
        self.manifest = manifest
        self.metrics = metrics
        self.lock = asyncio.Lock()  # one batch at a time on the CPU

    @staticmethod
    def texts(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not value:
            raise InvalidInput("input is empty", param="input")
        if not all(isinstance(v, str) for v in value):
            raise UnsupportedParameter(
                "token-id input is not supported for embeddings; send text", param="input"
            )
        if len(value) > MAX_INPUTS:
            raise InvalidInput(f"at most {MAX_INPUTS} inputs per request", param="input")
        return list(value)

    async def create(self, req: EmbeddingRequest) -> dict[str, Any]:
        model = self.registry.embedder(req.model)
        if req.dimensions is not None and req.dimensions != model.dimensions:
            raise UnsupportedParameter(
                f"dimensions must be {model.dimensions} for {req.model} (no truncation)", param="dimensions"
            )
        texts = self.texts(req.input)
        self.metrics.requests.labels(endpoint="embeddings", model=req.model).inc()
        async with self.lock:
            vectors = await asyncio.to_thread(model.embed, texts)
        vectors = np.asarray(vectors, dtype=np.float32)
        tokens = int(sum(model.count_tokens(texts)))
        data = []
        for i, vec in enumerate(vectors):
            if req.encoding_format == "base64":
                value: Any = base64.b64encode(vec.astype("<f4").tobytes()).decode()
            else:
                value = vec.tolist()
            data.append({"object": "embedding", "index": i, "embedding": value})
        receipt = ExecutionReceipt.create(
            kind="embedding",
            request={"model": req.model, "input": texts},
            output={"sha256_f32le": [hashlib.sha256(v.astype("<f4").tobytes()).hexdigest() for v in vectors]},
            manifest_digest=self.manifest.digest,
            artifacts={"model": model.model_digest, "tokenizer": model.tokenizer_digest},
            facts={"inputs": len(texts), "tokens": tokens},
        )
        return {
            "object": "list",
            "data": data,
            "model": req.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "psionic": {"receipt_digest": receipt.digest, "model_digest": model.model_digest, "receipt": receipt.to_dict()},
        }
