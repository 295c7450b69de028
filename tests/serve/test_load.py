"""Bounded load and fault tests on loopback: throughput, disconnects, queue floods."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import httpx

from .conftest import start_server, tiny_config


def wait_idle(running, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    engine = running.registry.generators[running.model].engine
    deadline = time.monotonic() + timeout
    while engine.has_work and time.monotonic() < deadline:
        time.sleep(0.05)


def test_200_requests_at_concurrency_16_complete_with_correct_usage(tiny_server) -> None:  # type: ignore[no-untyped-def]
    tok = tiny_server.registry.generators[tiny_server.model].loaded.tokenizer

    async def main() -> list[tuple[int, dict, int]]:
        sem = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=tiny_server.base_url, timeout=120) as client:
            async def one(i: int) -> tuple[int, dict, int]:
                prompt = f"request number {i}"
                want = 1 + i % 7
                async with sem:
                    r = await client.post("/v1/completions", json={
                        "model": tiny_server.model, "prompt": prompt, "max_tokens": want,
                        "temperature": 0.7, "seed": i, "ignore_eos": True})
                return r.status_code, r.json(), want

            return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(main())
    for i, (status, body, want) in enumerate(results):
        assert status == 200, body
        usage = body["usage"]
        assert usage["completion_tokens"] == want
        assert usage["prompt_tokens"] == len(tok.encode(f"request number {i}"))
        assert usage["total_tokens"] == usage["prompt_tokens"] + want
    sizes = [max(s) for s in (b["psionic"]["batch_sizes"][0] for _, b, _ in results)]
    assert max(sizes) > 1, "requests should have shared forward steps"


def test_disconnects_mid_stream_free_every_kv_block(tiny_server) -> None:  # type: ignore[no-untyped-def]
    engine = tiny_server.registry.generators[tiny_server.model].engine

    async def one(i: int) -> int:
        chunks = 0
        async with httpx.AsyncClient(base_url=tiny_server.base_url, timeout=60) as client:
            body = {"model": tiny_server.model, "prompt": f"stream {i}", "max_tokens": 200,
                    "stream": True, "ignore_eos": True, "temperature": 0}
            async with client.stream("POST", "/v1/completions", json=body) as resp:
                async for line in resp.aiter_lines():
                    if line.startswith("data: {"):
                        chunks += 1
                        if chunks == 3:
                            break  # leave mid-stream: the connection closes here
        return chunks

    async def main() -> list[int]:
        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(50))), 120)

    counts = asyncio.run(main())
    assert all(c == 3 for c in counts)
    wait_idle(tiny_server)
    assert not engine.has_work
    assert engine.pool.num_used == 0
    assert not engine.requests


def test_queue_flood_gets_429_while_serving_continues(tiny_model_path: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_model_path, tmp_path / "r.sqlite3", max_num_seqs=2, max_queued=4)
    running = start_server(replace(config))
    try:
        async def main() -> tuple[list[httpx.Response], httpx.Response]:
            async with httpx.AsyncClient(base_url=running.base_url, timeout=120) as client:
                body = {"model": running.model, "prompt": "flood", "max_tokens": 60, "ignore_eos": True}
                flood = [client.post("/v1/completions", json=body) for _ in range(40)]
                tasks = [asyncio.ensure_future(f) for f in flood]
                await asyncio.sleep(0.05)
                health = await client.get("/health")
                return await asyncio.gather(*tasks), health

        responses, health = asyncio.run(main())
        codes = [r.status_code for r in responses]
        assert health.status_code == 200
        assert codes.count(429) > 0 and codes.count(200) >= 6
        assert set(codes) <= {200, 429}
        limited = next(r for r in responses if r.status_code == 429)
        assert limited.headers["retry-after"] == "1"
        assert limited.json()["error"]["code"] == "queue_full"
        wait_idle(running)
        after = httpx.post(running.base_url + "/v1/completions", json={"model": running.model, "prompt": "x", "max_tokens": 2}, timeout=60)
        assert after.status_code == 200
    finally:
        running.stop()


def test_metrics_expose_the_engine(tiny_server) -> None:  # type: ignore[no-untyped-def]
    httpx.post(tiny_server.base_url + "/v1/completions", json={"model": tiny_server.model, "prompt": "m", "max_tokens": 3}, timeout=60)
    text = httpx.get(tiny_server.base_url + "/metrics", timeout=30).text
    for name in ("psionic_requests_total", "psionic_time_to_first_token_seconds_bucket",
                 "psionic_inter_token_latency_seconds_bucket", "psionic_kv_blocks_in_use",
                 "psionic_prefix_cache_hit_rate", "psionic_queue_depth"):
        assert name in text, name
