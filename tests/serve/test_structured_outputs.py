"""response_format over HTTP on the tiny model: every kind constrains, refuses closed, replays."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from psionic.core.receipts import ProofBundle
from psionic.serve.receipts import replay_completion

ENUM_SCHEMA = {
    "type": "object",
    "properties": {
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "ok": {"type": "boolean"},
        "tag": {"const": "wx"},
    },
    "required": ["unit", "ok", "tag"],
    "additionalProperties": False,
}
FORMATS: list[tuple[dict[str, Any], Any]] = [
    ({"type": "json_schema", "json_schema": {"name": "w", "schema": ENUM_SCHEMA, "strict": True}},
     lambda v, t: json.loads(t) == v and v["tag"] == "wx" and v["unit"] in ("celsius", "fahrenheit")),
    ({"type": "regex", "regex": r"[A-Z]{2}[0-9]{2}"}, lambda v, t: v == t and re.fullmatch(r"[A-Z]{2}[0-9]{2}", t)),
    ({"type": "choice", "choice": ["sunny", "rain", "snow"]}, lambda v, t: t in ("sunny", "rain", "snow")),
    ({"type": "grammar", "syntax": "lark", "grammar": 'start: "x=" /[0-9]{1,3}/ ";"'},
     lambda v, t: re.fullmatch(r"x=[0-9]{1,3};", t)),
    ({"type": "grammar", "syntax": "gbnf", "grammar": 'root ::= ("ab" | "cd") [0-9]'},
     lambda v, t: re.fullmatch(r"(ab|cd)[0-9]", t)),
]


def chat(server, **body: Any) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": server.model, "messages": [{"role": "user", "content": "weather?"}], **body}
    return httpx.post(server.base_url + "/v1/chat/completions", json=body, timeout=60)


@pytest.mark.parametrize("fmt, check", FORMATS)
def test_each_format_constrains_the_output_and_replays(tiny_server, fmt, check) -> None:  # type: ignore[no-untyped-def]
    r = chat(tiny_server, response_format=fmt, max_tokens=60, temperature=1.0, seed=7)
    assert r.status_code == 200, r.text
    body = r.json()
    text = body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert check(body["psionic"]["structured_value"], text), text
    assert body["psionic"]["sampling"]["constraint"]["kind"] in ("json_schema", "regex", "choice", "lark", "gbnf")
    # The receipt names the constraint and replay applies it: the same tokens again.
    assert replay_completion(ProofBundle.from_dict(body["psionic"]["bundle"])).startswith("verified")


def test_json_object_and_text_completions(tiny_server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(tiny_server.base_url + "/v1/completions", json={
        "model": tiny_server.model, "prompt": "data:", "max_tokens": 8, "seed": 1,
        "response_format": {"type": "json_object"}}, timeout=60)
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["text"]
    assert text.startswith("{")  # a prefix of an object (8 tokens may not close it)
    assert r.json()["psionic"]["structured_value"] is None or isinstance(r.json()["psionic"]["structured_value"], dict)


def test_streamed_constrained_output_equals_the_whole(tiny_server) -> None:  # type: ignore[no-untyped-def]
    fmt = FORMATS[0][0]
    whole = chat(tiny_server, response_format=fmt, max_tokens=60, seed=11).json()
    with httpx.stream("POST", tiny_server.base_url + "/v1/chat/completions", timeout=60, json={
        "model": tiny_server.model, "messages": [{"role": "user", "content": "weather?"}],
        "response_format": fmt, "max_tokens": 60, "seed": 11, "stream": True}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in events if c.get("choices"))
    assert text == whole["choices"][0]["message"]["content"]
    assert events[-1]["psionic"]["structured_value"] == json.loads(text)


@pytest.mark.parametrize("fmt, needle", [
    ({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array", "uniqueItems": True}}}, "uniqueItems"),
    ({"type": "json_schema", "json_schema": {"name": "n", "schema": {"not": {"const": 1}}}}, "not"),
    ({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object", "if": {}, "then": {}}}}, "if"),
    ({"type": "json_schema", "json_schema": {"name": "n"}}, "needs a 'schema'"),
    ({"type": "regex", "regex": "a{"}, "regex"),
    ({"type": "choice", "choice": []}, "non-empty"),
    ({"type": "grammar", "syntax": "ebnf", "grammar": "x"}, "ebnf"),
    ({"type": "yaml"}, "'yaml' is not supported"),
])
def test_unenforceable_formats_answer_400_naming_the_feature(tiny_server, fmt, needle: str) -> None:  # type: ignore[no-untyped-def]
    r = chat(tiny_server, response_format=fmt, max_tokens=4)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert needle in error["message"] and error["param"] == "response_format"
    assert error["code"] == "unsupported_constraint"


def test_responses_text_format(tiny_server) -> None:  # type: ignore[no-untyped-def]
    fmt = {"type": "json_schema", "name": "w", "schema": ENUM_SCHEMA, "strict": True}
    r = httpx.post(tiny_server.base_url + "/v1/responses", timeout=60, json={
        "model": tiny_server.model, "input": "weather?", "text": {"format": fmt}, "max_output_tokens": 60, "seed": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert json.loads(body["output_text"])["tag"] == "wx"
    assert body["text"]["format"] == fmt and body["psionic"]["structured_value"]["tag"] == "wx"
    bad = httpx.post(tiny_server.base_url + "/v1/responses", timeout=60, json={
        "model": tiny_server.model, "input": "x", "text": {"format": {"type": "json_schema", "name": "n", "schema": {"not": {}}}}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "text.format"


def test_ignore_eos_with_a_constraint_is_refused(tiny_server) -> None:  # type: ignore[no-untyped-def]
    r = chat(tiny_server, response_format={"type": "json_object"}, ignore_eos=True, max_tokens=4)
    assert r.status_code == 400 and "ignore_eos" in r.json()["error"]["message"]
