"""One server, both shipped GGUF models plus the embeddings model."""

from __future__ import annotations

from pathlib import Path

import httpx

from psionic.serve.server import ServerConfig

from .conftest import start_server


def test_two_chat_models_and_embeddings(tmp_path: Path) -> None:
    config = ServerConfig(models=("smollm2-135m-instruct", "gemma3-270m"), embeddings=("all-minilm-l6-v2",),
                          warmup=False, store_path=tmp_path / "r.sqlite3")
    running = start_server(config)
    try:
        models = httpx.get(running.base_url + "/v1/models", timeout=30).json()["data"]
        caps = {m["id"]: set(m["psionic"]["capabilities"]) for m in models}
        assert caps == {
            "smollm2-135m-instruct": {"chat", "completions"},
            "gemma3-270m": {"completions"},
            "all-minilm-l6-v2": {"embeddings"},
        }
        # Greedy continuations as llama.cpp gives them (shared/fixtures/llamacpp).
        for name, expected in (("smollm2-135m-instruct", " Paris."), ("gemma3-270m", " the capital of")):
            r = httpx.post(running.base_url + "/v1/completions", timeout=120,
                           json={"model": name, "prompt": "The capital of France is", "max_tokens": 3, "temperature": 0})
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["text"].startswith(expected)
        refused = httpx.post(running.base_url + "/v1/chat/completions", timeout=30,
                             json={"model": "gemma3-270m", "messages": [{"role": "user", "content": "hi"}]})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "chat_template_missing"
    finally:
        running.stop()
