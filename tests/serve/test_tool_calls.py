"""Tool calling over HTTP on the tiny model: forced calls, streaming, tool results, /v1/responses."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from psionic.core.receipts import ProofBundle
from psionic.models.loader import load_model
from psionic.serve.receipts import replay_completion

WEATHER = {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome", "Oslo"]},
                                            "unit": {"enum": ["c", "f"]}},
           "required": ["city", "unit"], "additionalProperties": False}
TIME = {"type": "object", "properties": {"tz": {"enum": ["UTC", "CET"]}}, "required": ["tz"],
        "additionalProperties": False}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "get_time", "parameters": TIME}},
]
SCHEMAS = {"get_weather": WEATHER, "get_time": TIME}
USER = [{"role": "user", "content": "What is the weather in Paris?"}]


def post(server, path: str, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.post(server.base_url + path, json={"model": server.model, **body}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def calls_of(message: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message.get("tool_calls") or []]


@pytest.mark.parametrize("parallel", [False, True])
def test_required_choice_forces_valid_calls(tiny_long_server, parallel: bool) -> None:  # type: ignore[no-untyped-def]
    body = post(tiny_long_server, "/v1/chat/completions", messages=USER, tools=TOOLS, tool_choice="required",
                parallel_tool_calls=parallel, max_tokens=120, seed=4)
    choice = body["choices"][0]
    # Random weights may go on calling in parallel until max_tokens; every finished call is valid.
    assert choice["finish_reason"] == "tool_calls" or (parallel and choice["finish_reason"] == "length"), choice
    calls = calls_of(choice["message"])
    assert calls and (parallel or len(calls) == 1)
    for name, args in calls:
        jsonschema.validate(args, SCHEMAS[name])
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in choice["message"]["tool_calls"])
    assert body["psionic"]["sampling"]["constraint"]["kind"] == "lark"
    assert replay_completion(ProofBundle.from_dict(body["psionic"]["bundle"])).startswith("verified")


def test_named_choice_calls_that_tool(tiny_long_server) -> None:  # type: ignore[no-untyped-def]
    for seed in range(3):
        body = post(tiny_long_server, "/v1/chat/completions", messages=USER, tools=TOOLS, max_tokens=60, seed=seed,
                    tool_choice={"type": "function", "function": {"name": "get_time"}})
        calls = calls_of(body["choices"][0]["message"])
        assert [n for n, _ in calls] == ["get_time"] and calls[0][1]["tz"] in ("UTC", "CET")


@pytest.mark.parametrize("parallel", [False, True])
def test_streamed_tool_calls_reassemble_to_the_non_streamed(tiny_long_server, parallel: bool) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(messages=USER, tools=TOOLS, tool_choice="required", max_tokens=120, seed=9, temperature=0.8,
                  parallel_tool_calls=parallel)
    whole = post(tiny_long_server, "/v1/chat/completions", **kwargs)["choices"][0]
    with httpx.stream("POST", tiny_long_server.base_url + "/v1/chat/completions", timeout=60,
                      json={"model": tiny_long_server.model, **kwargs, "stream": True}) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    deltas = [c["choices"][0] for c in chunks if c.get("choices")]
    calls: dict[int, dict[str, Any]] = {}
    for d in deltas:
        for call in d["delta"].get("tool_calls") or []:
            slot = calls.setdefault(call["index"], {"name": "", "arguments": ""})
            slot["name"] += call["function"].get("name") or ""
            slot["arguments"] += call["function"].get("arguments") or ""
    streamed = [c for _, c in sorted(calls.items())]
    expected = calls_of(whole["message"])
    if whole["finish_reason"] == "length":  # a call cut short streams in part, and is no call in the whole
        assert len(streamed) - len(expected) in (0, 1)
        streamed = streamed[: len(expected)]
    else:
        content = "".join(d["delta"].get("content") or "" for d in deltas)
        assert content.strip() == (whole["message"]["content"] or "")
    assert [(c["name"], json.loads(c["arguments"])) for c in streamed] == expected
    assert calls and deltas[-1]["finish_reason"] == whole["finish_reason"]
    assert parallel or whole["finish_reason"] == "tool_calls"


def test_a_tool_result_continues_the_conversation(tiny_long_server) -> None:  # type: ignore[no-untyped-def]
    first = post(tiny_long_server, "/v1/chat/completions", messages=USER, tools=TOOLS, tool_choice="required",
                 parallel_tool_calls=False, max_tokens=120, seed=1)["choices"][0]["message"]
    messages = USER + [first, {"role": "tool", "tool_call_id": first["tool_calls"][0]["id"], "content": "18C, sunny"}]
    body = post(tiny_long_server, "/v1/chat/completions", messages=messages, tools=TOOLS, tool_choice="none",
                max_tokens=5, seed=2, ignore_eos=True)
    assert body["choices"][0]["finish_reason"] == "length" and "tool_calls" not in body["choices"][0]["message"]
    prompt = body["psionic"]["bundle"]["replay"]["request"]["prompt_tokens"]
    text = load_model(tiny_long_server.registry.generators[tiny_long_server.model].loaded.path.as_posix()).tokenizer.decode(prompt)
    name = first["tool_calls"][0]["function"]["name"]
    assert f'<tool_call>\n{{"name": "{name}", "arguments": ' in text  # the past call, as the model writes calls
    assert "<|im_start|>tool\n18C, sunny<|im_end|>" in text
    assert "get_weather" in text.split("<|im_start|>user")[0]  # tool_choice none: offered, not called
    assert body["psionic"]["sampling"].get("constraint") is None


def test_tool_requests_that_cannot_be_honoured(tiny_long_server) -> None:  # type: ignore[no-untyped-def]
    def bad(**body: Any) -> dict[str, Any]:
        r = httpx.post(tiny_long_server.base_url + "/v1/chat/completions", timeout=60,
                       json={"model": tiny_long_server.model, "messages": USER, "max_tokens": 4, **body})
        assert r.status_code == 400, r.text
        return r.json()["error"]  # type: ignore[no-any-return]

    assert "combined" in bad(tools=TOOLS, response_format={"type": "json_object"})["message"]
    assert "distinct" in bad(tools=TOOLS + TOOLS[:1])["message"]
    assert "tool_call_id" in bad(messages=USER + [{"role": "tool", "content": "x"}])["message"]
    assert "only assistant" in bad(messages=[{"role": "user", "content": "x", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}])["message"]


def test_responses_function_tools_and_outputs(tiny_long_server) -> None:  # type: ignore[no-untyped-def]
    tools = [{"type": "function", "name": t["function"]["name"], "parameters": t["function"]["parameters"]}
             for t in TOOLS]
    first = post(tiny_long_server, "/v1/responses", input="Weather in Oslo?", tools=tools, tool_choice="required",
                 parallel_tool_calls=False, max_output_tokens=120, seed=3)
    calls = [item for item in first["output"] if item["type"] == "function_call"]
    assert calls and first["status"] == "completed"
    for call in calls:
        jsonschema.validate(json.loads(call["arguments"]), SCHEMAS[call["name"]])
    outputs = [{"type": "function_call_output", "call_id": c["call_id"], "output": "cold"} for c in calls]
    follow = post(tiny_long_server, "/v1/responses", input=outputs, previous_response_id=first["id"], tools=tools,
                  tool_choice="none", max_output_tokens=4, seed=3)
    assert [item["type"] for item in follow["output"]] == ["message"]
    assert follow["usage"]["input_tokens_details"]["cached_tokens"] > 0
    # Streamed, the same request gives the same function_call items.
    with httpx.stream("POST", tiny_long_server.base_url + "/v1/responses", timeout=60, json={
            "model": tiny_long_server.model, "input": "Weather in Oslo?", "tools": tools, "tool_choice": "required",
            "parallel_tool_calls": False, "max_output_tokens": 120, "seed": 3, "stream": True}) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call"]
    assert [(c["name"], c["arguments"]) for c in done] == [(c["name"], c["arguments"]) for c in calls]
    assert events[-1]["type"] == "response.completed"


def test_streamed_logprobs_survive_tool_parsing(tiny_long_server) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(messages=USER, tools=TOOLS, tool_choice="required", parallel_tool_calls=False, max_tokens=60,
                  seed=5, logprobs=True, top_logprobs=2)
    whole = post(tiny_long_server, "/v1/chat/completions", **kwargs)["choices"][0]
    with httpx.stream("POST", tiny_long_server.base_url + "/v1/chat/completions", timeout=60,
                      json={"model": tiny_long_server.model, **kwargs, "stream": True}) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    streamed = [e for c in chunks if c.get("choices") for e in (c["choices"][0]["logprobs"] or {}).get("content", [])]
    assert [e["token"] for e in streamed] == [e["token"] for e in whole["logprobs"]["content"]]
