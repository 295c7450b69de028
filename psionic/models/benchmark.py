"""Decode and prefill benchmarks on one model, optionally side by side with llama.cpp.

Each figure is the median of ``runs`` measurements; with a peer, psionic and
the peer alternate run by run in the same process tree, on the same file,
prompt and thread count, and the report gives the ratio psionic / peer.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.core.manifest import RuntimeManifest
from psionic.core.resources import peak_rss_mib
from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import LoadedModel
from psionic.models.peers.llamacpp import LlamaCppPeer

DECODE_PROMPT = "The capital of France is"
PREFILL_SEED_TEXT = (
    "Psionic measures how fast a model reads a long prompt. The quick brown fox jumps over the "
    "lazy dog while seven wizards quietly judge the boxing match. "
)


def prefill_tokens(loaded: LoadedModel, n: int) -> list[int]:
    """A deterministic prompt of exactly ``n`` tokens."""
    ids: list[int] = []
    while len(ids) < n:
        ids += loaded.tokenizer.encode(PREFILL_SEED_TEXT, add_special=False)
    return ids[:n]


def psionic_prefill(loaded: LoadedModel, tokens: list[int]) -> float:
    cfg = loaded.config
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(tokens))
    t0 = time.perf_counter()
    loaded.model(np.asarray(tokens), [Segment(kv, 0, len(tokens))])
    return time.perf_counter() - t0


def psionic_decode(loaded: LoadedModel, prompt: list[int], n: int) -> tuple[float, list[int]]:
    """Seconds for ``n`` greedy decode steps after the prompt, and the tokens."""
    cfg = loaded.config
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(prompt) + n + 1)
    logits = loaded.model(np.asarray(prompt), [Segment(kv, 0, len(prompt))])[0]
    out: list[int] = []
    position = len(prompt)
    t0 = time.perf_counter()
    for _ in range(n):
        token = int(np.argmax(logits))
        out.append(token)
        logits = loaded.model(np.asarray([token]), [Segment(kv, position, 1)])[0]
        position += 1
    return time.perf_counter() - t0, out


def _median_rate(tokens: int, seconds: list[float]) -> dict[str, Any]:
    med = statistics.median(seconds)
    return {"tok_s": tokens / med, "median_s": med, "runs_s": [round(s, 4) for s in seconds]}


def run_benchmark(
    kind: str,
    loaded: LoadedModel,
    threads: int,
    runs: int,
    tokens: int,
    peer_python: str | None = None,
) -> dict[str, Any]:
    """``kind`` is "decode" (``tokens`` generated) or "prefill" (a ``tokens``-long prompt)."""
    if kind == "decode":
        prompt = loaded.tokenizer.encode(DECODE_PROMPT)
        ours: Callable[[], float] = lambda: psionic_decode(loaded, prompt, tokens)[0]  # noqa: E731
    else:
        prompt = prefill_tokens(loaded, tokens)
        ours = lambda: psionic_prefill(loaded, prompt)  # noqa: E731
    ours()  # warm-up: kernels compiled and caches hot before timing
    peer = LlamaCppPeer(peer_python, loaded.path, threads, n_ctx=max(2048, len(prompt) + tokens + 8)) if peer_python else None
    psionic_s: list[float] = []
    peer_s: list[float] = []
    try:
        if peer is not None:
            peer.call(op=kind, tokens=prompt, n=tokens)  # warm-up
        for _ in range(runs):
            psionic_s.append(ours())
            if peer is not None:
                peer_s.append(peer.call(op=kind, tokens=prompt, n=tokens)["seconds"])
    finally:
        if peer is not None:
            peer.close()
    report: dict[str, Any] = {
        "benchmark": kind,
        "model": loaded.name,
        "model_digest": loaded.model_digest,
        "tokens": tokens,
        "prompt_tokens": len(prompt),
        "threads": threads,
        "runs": runs,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "manifest": RuntimeManifest.current().to_dict(),
        "psionic": {**_median_rate(tokens, psionic_s), "peak_rss_mib": round(peak_rss_mib(), 1)},
        "model_file_mib": round(loaded.path.stat().st_size / 2**20, 1),
    }
    report["psionic"]["peak_rss_over_file"] = round(
        report["psionic"]["peak_rss_mib"] / report["model_file_mib"], 2
    )
    if peer is not None:
        report["llama.cpp"] = {**_median_rate(tokens, peer_s), "version": peer.version}
        report["ratio"] = report["psionic"]["tok_s"] / report["llama.cpp"]["tok_s"]
    return report
