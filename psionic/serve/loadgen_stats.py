"""Per-request records of a serving load test and their per-level aggregate.

A level is one concurrency setting: N requests, at most ``concurrency`` in
flight. Its throughput is the output tokens of the requests that succeeded
divided by the level's wall time; latencies are pooled over those requests.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile by linear interpolation between order statistics; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside [0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class RequestResult:
    """What one streamed request did; ``error`` is None when it completed."""

    index: int
    started_s: float  # on the level's clock (perf_counter)
    finished_s: float
    ttft_s: float | None  # send to first content chunk
    itl_s: tuple[float, ...]  # between consecutive content chunks
    content_chunks: int
    output_tokens: int
    output_tokens_source: str  # "usage" | "chunks"
    prompt_tokens: int | None  # as the server reported it in `usage`
    error: str | None = None  # "http_500", "timeout", "connect_error", ...
    error_detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _ms_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    mean = sum(seconds) / len(seconds) if seconds else None
    return {"p50": ms(percentile(seconds, 50)), "p95": ms(percentile(seconds, 95)), "mean": ms(mean)}


@dataclass(frozen=True, slots=True)
class LevelStats:
    """The aggregate of one concurrency level against one target."""

    concurrency: int
    requests: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    wall_s: float
    output_tokens: int
    output_tok_s: float
    requests_s: float
    prompt_tokens_mean: float | None
    output_tokens_source: str  # "usage", "chunks" or "mixed"
    ttft_ms: dict[str, float | None]
    itl_ms: dict[str, float | None]
    error_samples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "wall_s": round(self.wall_s, 4),
            "output_tokens": self.output_tokens,
            "output_tok_s": round(self.output_tok_s, 3),
            "requests_s": round(self.requests_s, 4),
            "prompt_tokens_mean": self.prompt_tokens_mean,
            "output_tokens_source": self.output_tokens_source,
            "ttft_ms": dict(self.ttft_ms),
            "itl_ms": dict(self.itl_ms),
            "error_samples": list(self.error_samples),
        }


def summarize_level(concurrency: int, results: Sequence[RequestResult], wall_s: float) -> LevelStats:
    """Aggregate one level; failed requests count as errors and add no tokens or latencies."""
    good = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    tokens = sum(r.output_tokens for r in good)
    sources = {r.output_tokens_source for r in good}
    prompt = [r.prompt_tokens for r in good if r.prompt_tokens is not None]
    ttft = [r.ttft_s for r in good if r.ttft_s is not None]
    itl = [gap for r in good for gap in r.itl_s]
    samples = sorted({f"{r.error}: {r.error_detail}" if r.error_detail else str(r.error) for r in failed})
    return LevelStats(
        concurrency=concurrency,
        requests=len(results),
        ok=len(good),
        errors=len(failed),
        error_kinds=dict(sorted(Counter(str(r.error) for r in failed).items())),
        wall_s=wall_s,
        output_tokens=tokens,
        output_tok_s=tokens / wall_s if wall_s > 0 else 0.0,
        requests_s=len(good) / wall_s if wall_s > 0 else 0.0,
        prompt_tokens_mean=round(sum(prompt) / len(prompt), 2) if prompt else None,
        output_tokens_source=sources.pop() if len(sources) == 1 else ("mixed" if sources else "none"),
        ttft_ms=_ms_summary(ttft),
        itl_ms=_ms_summary(itl),
        error_samples=samples[:5],
    )
