"""The serving benchmark: a concurrency ladder against one target, optionally beside llama-server.

The primary target is a base URL the caller names, or psionic's own server
started here. With a peer, both targets run every level, alternating level
by level (target at 1, peer at 1, target at 4, ...), on the same prompts, and
the report gives the ratio target / peer of aggregate output tok/s per level.
Every server started here is stopped on the way out, errors included.

>>> options = ServeBenchOptions(spec=LoadSpec(model=""), base_url="http://127.0.0.1:8080")
>>> options.primary_label
'target'
>>> # report = run_serve_benchmark(options)  # the JSON-ready dict
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psionic import __version__
from psionic.core.errors import InvalidInput
from psionic.core.manifest import RuntimeManifest, available_cpus
from psionic.serve.loadgen import LoadSpec, resolve_model_name, run_level, warm_up
from psionic.serve.loadgen_server import ManagedServer, free_port, server_command_psionic
from psionic.serve.loadgen_stats import LevelStats
from psionic.serve.peer_llama_server import (
    llama_server_context,
    llama_server_version,
    server_command_llama,
)

PEER_LABEL = "llama.cpp"
DEFAULT_LEVELS = (1, 4, 16, 32)


@dataclass(frozen=True, slots=True)
class ServeBenchOptions:
    """Everything a serving benchmark run needs; ``spec.model`` is filled per target."""

    spec: LoadSpec
    levels: tuple[int, ...] = DEFAULT_LEVELS
    threads: int = 2
    warmup: int = 1
    startup_timeout_s: float = 180.0
    model: str = "smollm2-135m-instruct"  # catalog name, for psionic's own server
    base_url: str | None = None  # None: start psionic's server
    model_name: str | None = None  # None: the first id from GET /v1/models
    label: str | None = None
    llama_server: Path | None = None  # set: also run the peer
    gguf: Path | None = None  # the file the peer serves
    parallel: int = 16
    peer_repack: bool = False  # llama-server's weight repacking (AMX); see server_command_llama

    def __post_init__(self) -> None:
        if not self.levels or min(self.levels) < 1:
            raise InvalidInput(f"concurrency levels must be positive integers, not {self.levels}")
        if self.llama_server is not None and self.gguf is None:
            raise InvalidInput("the llama-server peer needs the GGUF file to serve")
        if self.warmup < 0 or self.threads < 1 or self.parallel < 1:
            raise InvalidInput("warm-up must be >= 0, threads and parallel slots >= 1")

    @property
    def primary_label(self) -> str:
        return self.label or ("target" if self.base_url else "psionic")


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    base_url: str
    spec: LoadSpec  # with this target's model name
    started: bool
    command: list[str] | None
    version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "model_name": self.spec.model,
            "started_here": self.started,
            "command": self.command,
            "version": self.version,
        }


def _thread_env(threads: int) -> dict[str, str]:
    return {"PSIONIC_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}


def _primary(options: ServeBenchOptions, stack: ExitStack) -> Target:
    if options.base_url:
        url, command, version = options.base_url.rstrip("/"), None, None
    else:
        port = free_port()
        command = server_command_psionic(options.model, port, options.threads)
        server = ManagedServer("psionic", command, port, env=_thread_env(options.threads))
        stack.enter_context(server.start(options.startup_timeout_s))
        url, version = server.base_url, __version__
    name = options.model_name or resolve_model_name(url)
    return Target(options.primary_label, url, dataclasses.replace(options.spec, model=name), not options.base_url, command, version)


def _peer(options: ServeBenchOptions, stack: ExitStack) -> Target:
    assert options.llama_server is not None and options.gguf is not None
    port = free_port()
    ctx = llama_server_context(options.spec.prompt_tokens, options.spec.max_tokens, options.parallel)
    command = server_command_llama(
        options.llama_server, options.gguf, port, options.threads, ctx, options.parallel,
        repack=options.peer_repack,
    )
    server = ManagedServer(PEER_LABEL, command, port)
    stack.enter_context(server.start(options.startup_timeout_s))
    name = resolve_model_name(server.base_url)
    spec = dataclasses.replace(options.spec, model=name)
    return Target(PEER_LABEL, server.base_url, spec, True, command, llama_server_version(options.llama_server))


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": available_cpus(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def run_serve_benchmark(
    options: ServeBenchOptions, progress: Callable[[str, LevelStats], None] | None = None
) -> dict[str, Any]:
    """Run the ladder and return the report; ``progress`` hears each (label, level) as it ends."""
    machine = _machine()
    levels: list[dict[str, Any]] = []
    with ExitStack() as stack:
        targets = [_primary(options, stack)]
        if options.llama_server is not None:
            targets.append(_peer(options, stack))
        warm = {t.label: asyncio.run(warm_up(t.base_url, t.spec, options.warmup, -options.warmup)) for t in targets}
        for number, concurrency in enumerate(options.levels):
            row: dict[str, Any] = {"concurrency": concurrency}
            for target in targets:
                stats = asyncio.run(
                    run_level(target.base_url, target.spec, concurrency, first_index=number * options.spec.requests)
                )
                row[target.label] = stats.to_dict()
                if progress is not None:
                    progress(target.label, stats)
            if len(targets) == 2:
                ours, peer = (row[t.label]["output_tok_s"] for t in targets)
                row["ratio"] = round(ours / peer, 4) if peer else None
            levels.append(row)
    machine["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    spec = options.spec
    report: dict[str, Any] = {
        "benchmark": "serve",
        "machine": machine,
        "manifest": RuntimeManifest.current().to_dict(),
        "parameters": {
            "endpoint": spec.endpoint,
            "requests_per_level": spec.requests,
            "concurrency": list(options.levels),
            "prompt_tokens_target": spec.prompt_tokens,
            "prompt_words": spec.prompt_words,
            "max_tokens": spec.max_tokens,
            "ignore_eos": spec.ignore_eos,
            "temperature": 0,
            "threads": options.threads,
            "request_timeout_s": spec.timeout_s,
            "warmup_requests": options.warmup,
            # The catalog model matters only where a server is started here.
            "model": options.model if options.base_url is None or options.llama_server else None,
            "peer_parallel": options.parallel if options.llama_server is not None else None,
            "peer_repack": options.peer_repack if options.llama_server is not None else None,
        },
        "targets": {t.label: t.to_dict() for t in targets},
        "warmup_errors": {label: sum(not r.ok for r in rs) for label, rs in warm.items()},
        "levels": levels,
    }
    if len(targets) == 2:
        report["ratio_of"] = f"{targets[0].label}/{PEER_LABEL} output tok/s"
    return report
