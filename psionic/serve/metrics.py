"""Prometheus metrics: requests, TTFT and inter-token latency, KV blocks, prefix cache, queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One registry per server, so several servers (and tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("psionic_requests", "Requests received", ["endpoint", "model"], registry=r)
        self.errors = Counter("psionic_request_errors", "Requests answered with an error", ["status"], registry=r)
        self.ttft = Histogram("psionic_time_to_first_token_seconds", "Time to first token", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("psionic_inter_token_latency_seconds", "Mean inter-token latency per choice", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.generated = Counter("psionic_generated_tokens", "Tokens generated", ["model"], registry=r)
        self.prompt = Counter("psionic_prompt_tokens", "Prompt tokens processed", ["model"], registry=r)
        self.cached = Counter("psionic_prefix_cache_tokens", "Prompt tokens served from the prefix cache", ["model"], registry=r)
        self.kv_used = Gauge("psionic_kv_blocks_in_use", "KV cache blocks in use", ["model"], registry=r)
        self.kv_total = Gauge("psionic_kv_blocks_total", "KV cache blocks in the pool", ["model"], registry=r)
        self.hit_rate = Gauge("psionic_prefix_cache_hit_rate", "Prefix-cache block hit rate", ["model"], registry=r)
        self.queue = Gauge("psionic_queue_depth", "Requests waiting for admission", ["model"], registry=r)
        self.running = Gauge("psionic_running_requests", "Requests running", ["model"], registry=r)
        self._sources: list[tuple[str, Callable[[], dict[str, Any]]]] = []

    def watch(self, model: str, facts: Callable[[], dict[str, Any]]) -> None:
        """Read engine gauges from ``facts()`` at every scrape."""
        self._sources.append((model, facts))

    def observe_choice(self, model: str, facts: dict[str, Any]) -> None:
        if facts.get("ttft_s") is not None:
            self.ttft.labels(model=model).observe(facts["ttft_s"])
        if facts.get("mean_itl_s") is not None:
            self.itl.labels(model=model).observe(facts["mean_itl_s"])
        self.generated.labels(model=model).inc(facts.get("completion_tokens", 0))
        self.prompt.labels(model=model).inc(facts.get("prompt_tokens", 0))
        self.cached.labels(model=model).inc(facts.get("prefix_cache_tokens", 0))

    def render(self) -> bytes:
        for model, facts in self._sources:
            f = facts()
            self.kv_used.labels(model=model).set(f["kv_blocks_used"])
            self.kv_total.labels(model=model).set(f["kv_blocks_total"])
            self.hit_rate.labels(model=model).set(f["prefix_cache_hit_rate"])
            self.queue.labels(model=model).set(f["waiting"])
            self.running.labels(model=model).set(f["running"])
        return generate_latest(self.registry)
