"""The serving load generator against a fake streaming server with known delays and failures.

Latency bounds are one-sided where the fake guarantees them (a gap is never
shorter than the fake's sleep) and generous on the other side; no test
asserts speed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from psionic.cli.main import main
from psionic.core.errors import BackendUnavailable, InvalidInput, ToolMissing
from psionic.serve import loadgen_bench
from psionic.serve.loadgen import LoadSpec, prompt_text, request_body, resolve_model_name, run_level
from psionic.serve.loadgen_bench import ServeBenchOptions, run_serve_benchmark
from psionic.serve.loadgen_server import ManagedServer, free_port
from psionic.serve.loadgen_stats import RequestResult, percentile, summarize_level
from psionic.serve.peer_llama_server import (
    find_llama_server,
    llama_server_context,
    server_command_llama,
)
from tests.serve.fake_openai import Behaviour, FakeOpenAIServer

REPO = Path(__file__).resolve().parents[2]
FAKE_COMMAND = [sys.executable, "-m", "tests.serve.fake_openai"]


def level(server: FakeOpenAIServer, concurrency: int, **spec: object):
    spec = {"model": "fake-model", "requests": 8, "max_tokens": 8, "timeout_s": 10.0, **spec}
    return asyncio.run(run_level(server.base_url, LoadSpec(**spec), concurrency))  # type: ignore[arg-type]


def result(index: int, tokens: int, ttft: float | None, itl: tuple[float, ...], error: str | None = None,
           source: str = "usage") -> RequestResult:
    return RequestResult(index, 0.0, 1.0, ttft, itl, len(itl) + 1, tokens, source, 20, error)


# --- statistics ----------------------------------------------------------------


def test_percentile_matches_linear_interpolation() -> None:
    values = list(np.random.default_rng(3).exponential(size=37))
    for q in (0, 5, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarize_level_counts_only_successes() -> None:
    results = [
        result(0, 10, 0.1, (0.01, 0.03)),
        result(1, 6, 0.3, (0.02,)),
        result(2, 99, None, (), error="http_500"),
        result(3, 4, 0.2, (), error="timeout"),
    ]
    stats = summarize_level(4, results, wall_s=2.0)
    assert (stats.requests, stats.ok, stats.errors) == (4, 2, 2)
    assert stats.error_kinds == {"http_500": 1, "timeout": 1}
    assert stats.output_tokens == 16
    assert stats.output_tok_s == pytest.approx(8.0)
    assert stats.requests_s == pytest.approx(1.0)
    assert stats.ttft_ms["p50"] == pytest.approx(200.0)
    assert stats.ttft_ms["mean"] == pytest.approx(200.0)
    assert stats.itl_ms["p50"] == pytest.approx(20.0)  # pooled over both requests
    assert stats.itl_ms["p95"] == pytest.approx(29.0)
    assert stats.prompt_tokens_mean == 20
    assert stats.output_tokens_source == "usage"
    mixed = summarize_level(1, [result(0, 1, 0.1, ()), result(1, 1, 0.1, (), source="chunks")], 1.0)
    assert mixed.output_tokens_source == "mixed"
    none = summarize_level(1, [result(0, 1, None, (), error="connect_error")], 1.0)
    assert none.output_tok_s == 0.0 and none.ttft_ms["p50"] is None and none.output_tokens_source == "none"


# --- requests ------------------------------------------------------------------


def test_request_bodies_are_deterministic_and_distinct() -> None:
    spec = LoadSpec(model="m", prompt_tokens=40, max_tokens=5)
    body = request_body(spec, 3)
    assert body == request_body(spec, 3)
    assert body["messages"][0]["content"] != request_body(spec, 4)["messages"][0]["content"]
    assert len(body["messages"][0]["content"].split()) == spec.prompt_words == 30
    assert body["temperature"] == 0 and body["stream"] and body["max_tokens"] == 5
    assert body["stream_options"] == {"include_usage": True}
    assert "ignore_eos" not in body
    completions = LoadSpec(model="m", endpoint="completions", ignore_eos=True)
    other = request_body(completions, 0)
    assert other["prompt"] == prompt_text(0, completions.prompt_words) and other["ignore_eos"] is True
    with pytest.raises(InvalidInput):
        LoadSpec(model="m", endpoint="embeddings")
    constrained = LoadSpec(model="m", response_format={"type": "json_object"})
    assert request_body(constrained, 0)["response_format"] == {"type": "json_object"}
    assert "response_format" not in body


def test_level_measures_known_delays_and_respects_concurrency() -> None:
    with FakeOpenAIServer(Behaviour(chunks=6, ttft_s=0.05, itl_s=0.03)) as server:
        stats = level(server, 2)
        tally = server.tally
    assert (stats.ok, stats.errors) == (8, 0)
    assert stats.output_tokens == 48 and stats.output_tokens_source == "usage"
    assert stats.output_tok_s == pytest.approx(48 / stats.wall_s)
    assert stats.requests_s == pytest.approx(8 / stats.wall_s)
    assert stats.prompt_tokens_mean == 17
    assert 45 <= stats.ttft_ms["p50"] < 3000
    assert 25 <= stats.itl_ms["p50"] < 3000
    # Four rounds of two, each at least 0.05 + 5 * 0.03 s.
    assert stats.wall_s >= 4 * 0.2 * 0.95
    assert 1 <= tally.max_in_flight <= 2 and tally.arrivals == 8
    assert all(body["model"] == "fake-model" for body in tally.bodies)


def test_output_tokens_come_from_usage_else_from_chunks() -> None:
    with FakeOpenAIServer(Behaviour(chunks=4, tokens_per_chunk=3, ttft_s=0.0, itl_s=0.0)) as server:
        assert level(server, 4).output_tokens == 8 * 12
    with FakeOpenAIServer(Behaviour(chunks=4, tokens_per_chunk=3, usage=False, ttft_s=0.0, itl_s=0.0)) as server:
        stats = level(server, 4)
    assert stats.output_tokens == 8 * 4 and stats.output_tokens_source == "chunks"
    assert stats.prompt_tokens_mean is None


def test_completions_endpoint() -> None:
    with FakeOpenAIServer(Behaviour(chunks=5, ttft_s=0.0, itl_s=0.0)) as server:
        stats = level(server, 3, endpoint="completions")
        assert all("prompt" in body for body in server.tally.bodies)
    assert stats.ok == 8 and stats.output_tokens == 40


def test_failures_are_recorded_not_raised() -> None:
    # Arrivals 3, 6, 9, 12 answer 500; 4 and 8 lose their connection mid-stream.
    with FakeOpenAIServer(Behaviour(chunks=4, ttft_s=0.0, itl_s=0.005, fail_every=3, drop_every=4)) as server:
        stats = level(server, 3, requests=12)
    assert stats.error_kinds == {"connection_dropped": 2, "http_500": 4}
    assert (stats.ok, stats.errors, stats.output_tokens) == (6, 6, 24)
    assert any("scripted failure" in sample for sample in stats.error_samples)


def test_timeouts_and_unreachable_servers_are_recorded() -> None:
    with FakeOpenAIServer(Behaviour(chunks=2, ttft_s=0.0, itl_s=0.0, hang_every=2)) as server:
        stats = level(server, 4, requests=4, timeout_s=0.5)
    assert stats.error_kinds == {"timeout": 2} and stats.ok == 2
    dead = asyncio.run(run_level(f"http://127.0.0.1:{free_port()}", LoadSpec(model="m", requests=3), 2))
    assert dead.error_kinds == {"connect_error": 3} and dead.output_tok_s == 0.0


def test_resolve_model_name() -> None:
    with FakeOpenAIServer(Behaviour(model_id="tiny-one")) as server:
        assert resolve_model_name(server.base_url + "/") == "tiny-one"
    with pytest.raises(BackendUnavailable):
        resolve_model_name(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)


# --- managed servers and the peer ------------------------------------------------


@pytest.fixture
def fake_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable named llama-server that runs the fake (it ignores llama-server's flags)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    script = tmp_path / "bin" / "llama-server"
    script.parent.mkdir()
    script.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "version: 0 (fake)" >&2; exit 0; fi\n'
        f'exec {" ".join(FAKE_COMMAND)} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_managed_server_starts_answers_and_stops(fake_on_path: Path) -> None:
    port = free_port()
    with ManagedServer("fake", [*FAKE_COMMAND, "--port", str(port), "--startup-delay", "0.3"], port).start(20) as server:
        assert httpx.get(server.base_url + "/v1/models").json()["data"][0]["id"] == "fake-model"
    assert server.proc is not None and server.proc.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/health")


def test_managed_server_that_dies_or_never_answers_is_backend_unavailable() -> None:
    crash = [sys.executable, "-c", "import sys; print('no such verb'); sys.exit(3)"]
    with pytest.raises(BackendUnavailable, match="code 3") as info:
        ManagedServer("crash", crash, free_port()).start(20)
    assert "no such verb" in info.value.message
    silent = ManagedServer("silent", [sys.executable, "-c", "import time; time.sleep(60)"], free_port())
    with pytest.raises(BackendUnavailable, match="within 1 s"):
        silent.start(1.0)
    assert silent.proc is not None and silent.proc.poll() is not None


def test_find_llama_server(fake_on_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_llama_server(str(fake_on_path)) == fake_on_path
    with pytest.raises(ToolMissing):
        find_llama_server(str(tmp_path / "absent"))
    monkeypatch.setenv("PATH", f"{fake_on_path.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_llama_server() == fake_on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing, match="llama-server.sh"):
        find_llama_server()


def test_llama_server_command_fits_every_slot() -> None:
    ctx = llama_server_context(prompt_tokens=300, max_tokens=100, parallel=16)
    assert ctx % 16 == 0 and ctx // 16 >= 300 * 1.5 + 100
    command = server_command_llama(Path("/x/llama-server"), Path("/m.gguf"), 8081, 2, ctx, 16)
    assert command[-1] == "--no-repack"
    flags = dict(zip(command[1:-1:2], command[2:-1:2], strict=True))
    assert flags == {"-m": "/m.gguf", "--host": "127.0.0.1", "--port": "8081", "--parallel": "16",
                     "-t": "2", "-tb": "2", "-c": str(ctx)}
    assert "--no-repack" not in server_command_llama(Path("/x"), Path("/m"), 1, 2, ctx, repack=True)


# --- the benchmark and its command -----------------------------------------------------


def test_benchmark_alternates_with_the_peer_and_reports_ratios(fake_on_path: Path, tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    heard: list[tuple[str, int]] = []
    spec = LoadSpec(model="", requests=4, max_tokens=8, timeout_s=10)
    with FakeOpenAIServer(Behaviour(chunks=3, ttft_s=0.01, itl_s=0.005)) as server:
        options = ServeBenchOptions(spec=spec, levels=(1, 2), base_url=server.base_url, warmup=1,
                                    llama_server=fake_on_path, gguf=gguf, startup_timeout_s=20)
        report = run_serve_benchmark(options, lambda label, stats: heard.append((label, stats.concurrency)))
        assert server.tally.arrivals == 1 + 4 + 4
    assert heard == [("target", 1), ("llama.cpp", 1), ("target", 2), ("llama.cpp", 2)]
    assert set(report["targets"]) == {"target", "llama.cpp"}
    peer = report["targets"]["llama.cpp"]
    assert peer["started_here"] and peer["version"] == "version: 0 (fake)" and "--parallel" in peer["command"]
    assert report["targets"]["target"]["model_name"] == "fake-model"
    for row in report["levels"]:
        ours, theirs = row["target"]["output_tok_s"], row["llama.cpp"]["output_tok_s"]
        assert row["ratio"] == pytest.approx(ours / theirs, rel=1e-3)
        assert row["target"]["ok"] == row["llama.cpp"]["ok"] == 4
    assert report["ratio_of"].startswith("target/llama.cpp")
    assert report["manifest"]["versions"]["python"] and report["parameters"]["concurrency"] == [1, 2]
    assert report["warmup_errors"] == {"target": 0, "llama.cpp": 0}
    json.dumps(report)


def test_benchmark_starts_and_stops_its_own_server(fake_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []

    def command(model: str, port: int, threads: int) -> list[str]:
        started.append([model, str(threads)])
        return [*FAKE_COMMAND, "--port", str(port)]

    monkeypatch.setattr(loadgen_bench, "server_command_psionic", command)
    spec = LoadSpec(model="", requests=2, max_tokens=4)
    report = run_serve_benchmark(ServeBenchOptions(spec=spec, levels=(1,), warmup=0, threads=3, startup_timeout_s=20))
    assert started == [["smollm2-135m-instruct", "3"]]
    target = report["targets"]["psionic"]
    assert target["started_here"] and report["levels"][0]["psionic"]["ok"] == 2
    with pytest.raises(httpx.ConnectError):
        httpx.get(target["base_url"] + "/health")


def test_servers_stop_when_the_run_is_interrupted(fake_on_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ports: list[int] = []

    def command(model: str, port: int, threads: int) -> list[str]:
        ports.append(port)
        return [*FAKE_COMMAND, "--port", str(port)]

    async def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loadgen_bench, "server_command_psionic", command)
    monkeypatch.setattr(loadgen_bench, "run_level", interrupted)
    options = ServeBenchOptions(spec=LoadSpec(model=""), levels=(1,), warmup=0, startup_timeout_s=20)
    with pytest.raises(KeyboardInterrupt):
        run_serve_benchmark(options)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{ports[0]}/health")


def test_cli_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(Behaviour(chunks=2, ttft_s=0.0, itl_s=0.0)) as server:
        code = main(["bench", "serve", "--base-url", server.base_url, "--concurrency", "1,3",
                     "--requests", "3", "--warmup", "0", "--label", "fake", "--ignore-eos"])
        assert all(body["ignore_eos"] is True for body in server.tally.bodies)
    assert code == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert [row["concurrency"] for row in report["levels"]] == [1, 3]
    assert report["levels"][1]["fake"]["output_tokens"] == 6 and "ratio" not in report["levels"][0]
    assert "serve: fake c=3" in out.err


def test_cli_errors_are_typed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["bench", "serve", "--vs", "llama.cpp", "--llama-server", str(tmp_path / "none")]) == 2
    assert "tool_missing" in capsys.readouterr().err
    assert main(["bench", "serve", "--base-url", "http://127.0.0.1:1", "--concurrency", "1,x"]) == 2
    assert "invalid_input" in capsys.readouterr().err


@pytest.mark.peer
def test_real_llama_server_answers_the_load() -> None:
    """llama-server itself ($PSIONIC_LLAMA_SERVER or PATH) on SmolLM2: its streams, usage and ignore_eos parse."""
    from psionic.models.catalog import CatalogEntry

    try:
        binary = find_llama_server(os.environ.get("PSIONIC_LLAMA_SERVER"))
        gguf = CatalogEntry.get("smollm2-135m-instruct").path()
    except (ToolMissing, BackendUnavailable) as exc:
        pytest.skip(str(exc))
    port = free_port()
    with ManagedServer("llama.cpp", server_command_llama(binary, gguf, port, 2, 4096, 4), port).start(120) as server:
        name = resolve_model_name(server.base_url)
        spec = LoadSpec(model=name, requests=4, prompt_tokens=32, max_tokens=8, ignore_eos=True, timeout_s=120)
        chat = asyncio.run(run_level(server.base_url, spec, 2))
        plain = asyncio.run(run_level(server.base_url, dataclasses.replace(spec, endpoint="completions"), 2, 10))
    for stats in (chat, plain):
        assert (stats.ok, stats.errors) == (4, 0), stats.error_samples
        assert stats.output_tokens == 32 and stats.output_tokens_source == "usage"
        assert stats.prompt_tokens_mean is not None and stats.prompt_tokens_mean >= 20
        assert stats.ttft_ms["p50"] is not None and stats.itl_ms["p50"] is not None
