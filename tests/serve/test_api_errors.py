"""Bad requests get OpenAI error objects with a 4xx status that names the problem."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from .conftest import CONTEXT, start_server, tiny_config


def post(server, path: str, body: object = None, content: bytes | None = None, **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(server.base_url + path, json=body if content is None else None, content=content,
                      headers={"content-type": "application/json", **headers}, timeout=60)


def chat(model: str, **extra: object) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **extra}


def check(resp: httpx.Response, status: int, needle: str, param: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert needle in err["message"], err
    assert set(err) == {"message", "type", "param", "code"}
    if param is not None:
        assert err["param"] == param


@pytest.mark.parametrize(
    "body, needle, param",
    [
        ({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}, "not served here", "model"),
        ({"model": "M", "messages": []}, "messages", "messages"),
        ({"model": "M", "messages": "hello"}, "messages", "messages"),
        ({"model": "M"}, "missing required parameter", "messages"),
        ({"model": "M", "messages": [{"role": "wizard", "content": "x"}]}, "role", None),
        (chat("M", max_tokens=0), "max_tokens", "max_tokens"),
        (chat("M", max_tokens=-3), "max_tokens", "max_tokens"),
        (chat("M", max_tokens=CONTEXT * 4), "exceeds the limit", "max_tokens"),
        (chat("M", n=1000), "'n'", "n"),
        (chat("M", temperature="hot"), "temperature", "temperature"),
        (chat("M", top_p=0), "top_p", "top_p"),
        (chat("M", frobnicate=True), "unknown parameter 'frobnicate'", "frobnicate"),
        (chat("M", tools=[{"type": "code_interpreter"}]), "function tools only", "tools"),
        (chat("M", tools=[{"type": "function", "function": {"name": "f", "parameters": {"not": {}}}}],
              tool_choice="required"), "Unimplemented keys", "tools"),
        (chat("M", tools=[{"type": "function", "function": {"name": "f"}}], tool_choice={"type": "function",
              "function": {"name": "g"}}), "not one of the tools", "tool_choice"),
        (chat("M", tool_choice="required"), "tool_choice needs tools", "tool_choice"),
        (chat("M", response_format={"type": "xml"}), "type 'xml' is not supported", "response_format"),
        (chat("M", response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": {"not": {}}}}),
         "Unimplemented keys", "response_format"),
        (chat("M", logit_bias={"99999": 1}), "outside the vocabulary", "logit_bias"),
        (chat("M", seed=2**60), "seed", "seed"),
        (chat("M", stop=["a", "b", "c", "d", "e"]), "stop", "stop"),
        (chat("M", top_logprobs=3), "top_logprobs needs logprobs", "top_logprobs"),
    ],
)
def test_bad_chat_requests(tiny_server, body: dict, needle: str, param: str | None) -> None:  # type: ignore[no-untyped-def]
    if body.get("model") == "M":
        body = {**body, "model": tiny_server.model}
    resp = post(tiny_server, "/v1/chat/completions", body)
    check(resp, 404 if needle == "not served here" else 400, needle, param)


def test_prompt_longer_than_the_window(tiny_server) -> None:  # type: ignore[no-untyped-def]
    resp = post(tiny_server, "/v1/completions", {"model": tiny_server.model, "prompt": "x" * (CONTEXT * 2)})
    check(resp, 400, "limit", None)
    assert resp.json()["error"]["code"] == "context_overflow"


def test_malformed_json_and_bad_bytes(tiny_server) -> None:  # type: ignore[no-untyped-def]
    check(post(tiny_server, "/v1/chat/completions", content=b'{"model": '), 400, "not valid JSON")
    check(post(tiny_server, "/v1/chat/completions", content=b"[1, 2]"), 400, "")
    resp = post(tiny_server, "/v1/chat/completions", content=b'{"model": "\xff\xfe", "messages": []}')
    assert resp.status_code == 400


def test_other_endpoints(tiny_server) -> None:  # type: ignore[no-untyped-def]
    check(post(tiny_server, "/v1/embeddings", {"model": "none", "input": "x"}), 404, "not served here")
    check(post(tiny_server, "/v1/completions", {"model": tiny_server.model, "prompt": []}), 400, "prompt is empty")
    check(post(tiny_server, "/v1/completions", {"model": tiny_server.model, "prompt": [10**9]}), 400, "outside the vocabulary")
    check(post(tiny_server, "/v1/completions", {"model": tiny_server.model, "prompt": "a", "suffix": "b"}), 400, "'suffix'")
    missing = httpx.get(tiny_server.base_url + "/v1/responses/resp_missing", timeout=30)
    check(missing, 404, "no stored response")
    assert missing.json()["error"]["code"] == "response_not_found"
    gone = httpx.delete(tiny_server.base_url + "/v1/responses/resp_missing", timeout=30)
    assert gone.status_code == 404


def test_api_key(tiny_model_path: Path, tmp_path: Path) -> None:
    running = start_server(replace(tiny_config(tiny_model_path, tmp_path / "r.sqlite3"), api_key="s3cret"))
    try:
        body = chat(running.model)
        check(post(running, "/v1/chat/completions", body), 401, "API key")
        check(post(running, "/v1/chat/completions", body, authorization="Bearer wrong"), 401, "API key")
        ok = post(running, "/v1/chat/completions", body, authorization="Bearer s3cret")
        assert ok.status_code == 200
        assert httpx.get(running.base_url + "/health", timeout=30).status_code == 200
    finally:
        running.stop()


def test_stored_responses_survive_a_restart(tiny_model_path: Path, tmp_path: Path) -> None:
    store = tmp_path / "responses.sqlite3"
    first = start_server(tiny_config(tiny_model_path, store))
    try:
        made = post(first, "/v1/responses", {"model": first.model, "input": "remember me", "max_output_tokens": 3})
        assert made.status_code == 200
        rid = made.json()["id"]
    finally:
        first.stop()
    second = start_server(tiny_config(tiny_model_path, store))
    try:
        again = httpx.get(f"{second.base_url}/v1/responses/{rid}", timeout=30)
        assert again.status_code == 200 and again.json()["id"] == rid
        follow = post(second, "/v1/responses", {"model": second.model, "input": "more", "previous_response_id": rid,
                                                 "max_output_tokens": 2})
        assert follow.status_code == 200
    finally:
        second.stop()
