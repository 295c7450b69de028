"""Assemble a server: load models, start their engines, wire services and routes."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi import FastAPI

from psionic.core.home import psionic_home
from psionic.core.manifest import RuntimeManifest
from psionic.core.signing import provider_key
from psionic.models.guide import grammar_tokenizer
from psionic.models.loader import load_model
from psionic.models.numerics import numerics_for
from psionic.models.sampling import SamplingParams
from psionic.serve.api import create_app
from psionic.serve.engine import EngineConfig
from psionic.serve.metrics import Metrics
from psionic.serve.response_store import ResponseStore
from psionic.serve.served import ADAPTER_SEPARATOR, ModelRegistry, ServedModel
from psionic.serve.serving_completions import CompletionService
from psionic.serve.serving_embeddings import EmbeddingService
from psionic.serve.serving_responses import ResponsesService


@dataclass(frozen=True, slots=True)
class ServerConfig:
    models: tuple[str, ...] = ("smollm2-135m-instruct",)
    embeddings: tuple[str, ...] = ("all-minilm-l6-v2",)
    api_key: str | None = None
    sign: bool = False
    engine: EngineConfig = field(default_factory=EngineConfig)
    warmup: bool = True
    store_path: Path | None = None  # default: $PSIONIC_HOME/responses.sqlite3
    adapters: tuple[tuple[str, str], ...] = ()  # (name, PEFT adapter directory), on the first model
    numerics: str = "f32"  # "llamacpp": llama.cpp's CPU numerics (see models/numerics.py)


def log(message: str) -> None:
    print(f"[psionic serve] {message}", file=sys.stderr, flush=True)


def warm_up(served: ServedModel) -> None:
    """Compile and touch every kernel once before the first request (not measured, not kept)."""
    done = []
    prompt = served.loaded.tokenizer.encode("Hello", add_special=True)
    served.loop.submit(
        "warmup", prompt, SamplingParams(temperature=0.0, max_tokens=2, ignore_eos=True),
        lambda out: done.append(out) if out.finish_reason else None,
    )
    deadline = time.monotonic() + 300
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
    # The grammar engine's view of the vocabulary, built once here rather than in the first constrained step.
    grammar_tokenizer(served.loaded.tokenizer, served.loaded.config.vocab_size)


def build(config: ServerConfig) -> tuple[FastAPI, ModelRegistry]:
    started = time.monotonic()
    registry = ModelRegistry()
    for index, ref in enumerate(config.models):
        loaded = load_model(ref, progress=True, numerics=config.numerics)
        served = ServedModel.start(loaded.name, loaded, config.engine)
        registry.add(served)
        for name, path in config.adapters if index == 0 else ():
            adapter = served.add_adapter(name, path)
            log(f"{served.name}{ADAPTER_SEPARATOR}{name}: LoRA adapter {adapter.digest[:19]}... from {path}")
        if config.warmup:
            warm_up(served)
        log(f"{served.name}: {', '.join(served.capabilities)}; KV pool {served.engine.kv.nbytes / 2**20:.0f} MiB")
    for name in config.embeddings:
        from psionic.models.bert import EmbeddingModel

        model = EmbeddingModel.load(name)
        if config.warmup:
            model.embed(["warm up"])
        registry.add_embedder(name, model)
        log(f"{name}: embeddings, {model.dimensions} dimensions")
    manifest = RuntimeManifest.current(determinism=numerics_for(config.numerics).determinism())
    metrics = Metrics()
    for name, served in registry.generators.items():
        metrics.watch(name, served.engine.facts)
    signer = provider_key() if config.sign else None
    completions = CompletionService(registry, manifest, metrics, signer)
    store = ResponseStore(config.store_path or psionic_home() / "responses.sqlite3")
    app = create_app(
        registry,
        completions,
        ResponsesService(completions, store),
        EmbeddingService(registry, manifest, metrics),
        config.api_key,
    )
    log(f"ready in {time.monotonic() - started:.1f} s; runtime manifest {manifest.digest[:23]}...")
    np.seterr(all="ignore")
    return app, registry
