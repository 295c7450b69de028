"""``psionic serve``: the OpenAI-compatible server (the project's main job)."""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the OpenAI-compatible server")
    p.add_argument("-m", "--model", action="append", help="catalog name or .gguf path (repeatable); default: smollm2-135m-instruct")
    p.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                   help="serve a PEFT-layout LoRA adapter on the first model as '<model>:NAME' (repeatable)")
    p.add_argument("--embeddings", action="append", help="embeddings model (repeatable); 'none' to serve none; default: all-minilm-l6-v2")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=os.environ.get("PSIONIC_API_KEY"), help="require 'Authorization: Bearer KEY' on /v1/*")
    p.add_argument("--sign", action="store_true", help="sign every receipt with the provider key")
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all available CPUs)")
    p.add_argument("--numerics", choices=["f32", "llamacpp"], default="f32",
                   help="f32: psionic's batch-invariant kernels; llamacpp: llama.cpp's CPU numerics, bit for bit")
    p.add_argument("--kv-tokens", type=int, default=16384, help="KV cache size in tokens, per model")
    p.add_argument("--max-num-seqs", type=int, default=16, help="requests running at once")
    p.add_argument("--max-batched-tokens", type=int, default=512, help="tokens per engine step")
    p.add_argument("--max-queued", type=int, default=64, help="requests waiting before 429")
    p.add_argument("--no-warmup", action="store_true", help="skip compiling kernels before answering")
    p.set_defaults(func=run)


def parse_adapter(spec: str) -> tuple[str, str]:
    """``NAME=PATH`` -> (name, path), or a typed error naming what is wrong."""
    from psionic.core.errors import InvalidInput

    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip() or ":" in name:
        raise InvalidInput(f"--adapter takes NAME=PATH with a name without ':', got {spec!r}", param="adapter")
    return name.strip(), path.strip()


def run(args: argparse.Namespace) -> int:
    if args.threads:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
        os.environ["PSIONIC_NUM_THREADS"] = str(args.threads)
    import uvicorn

    from psionic.serve.engine import EngineConfig
    from psionic.serve.scheduler import SchedulerConfig
    from psionic.serve.server import ServerConfig, build

    adapters = tuple(parse_adapter(spec) for spec in args.adapter)
    embeddings = tuple(e for e in (args.embeddings or ["all-minilm-l6-v2"]) if e != "none")
    config = ServerConfig(
        models=tuple(args.model or ["smollm2-135m-instruct"]),
        embeddings=embeddings,
        api_key=args.api_key,
        sign=args.sign,
        engine=EngineConfig(
            kv_tokens=args.kv_tokens,
            scheduler=SchedulerConfig(
                max_num_seqs=args.max_num_seqs,
                max_num_batched_tokens=args.max_batched_tokens,
                max_queued=args.max_queued,
            ),
        ),
        warmup=not args.no_warmup,
        adapters=adapters,
        numerics=args.numerics,
    )
    app, registry = build(config)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    finally:
        registry.stop()
    return 0
