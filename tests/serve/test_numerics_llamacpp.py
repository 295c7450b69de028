"""`psionic serve --numerics llamacpp`: completions through the paged engine in llama.cpp's numerics."""

from __future__ import annotations

from pathlib import Path

import httpx

from psionic.serve.server import ServerConfig

from .conftest import start_server


def test_served_completion_in_llamacpp_numerics(tmp_path: Path) -> None:
    config = ServerConfig(models=("smollm2-135m-instruct",), embeddings=(), warmup=False,
                          store_path=tmp_path / "r.sqlite3", numerics="llamacpp")
    running = start_server(config)
    try:
        r = httpx.post(running.base_url + "/v1/completions", timeout=300,
                       json={"model": running.model, "prompt": "The capital of France is", "max_tokens": 3,
                             "temperature": 0})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["choices"][0]["text"].startswith(" Paris.")  # llama.cpp's greedy continuation
        bundle = body["psionic"]["bundle"]
        assert bundle["manifest"]["determinism"]["numerics"] == "llamacpp"
        assert bundle["replay"]["request"]["model"]["numerics"] == "llamacpp"
    finally:
        running.stop()
