"""Reasoning and tool calls split out of an assistant turn, whole or streamed."""

from __future__ import annotations

import json

import pytest

from psionic.serve.chat_output import (
    THINK,
    ChatOutputStream,
    reasoning_markers,
    shape,
    split_reasoning,
)
from psionic.serve.tools import plan_tools

TOOLS = [{"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}]
QWEN3_LIKE = "{% if enable_thinking %}<think>\n\n</think>{% endif %}<tool_call>"


def test_markers_come_from_the_template() -> None:
    assert reasoning_markers(QWEN3_LIKE) == THINK
    assert reasoning_markers("{{ messages }}") is None and reasoning_markers(None) is None


@pytest.mark.parametrize("text, reasoning, rest", [
    ("<think>plan it</think>\n\n{\"a\": 1}", "plan it", '{"a": 1}'),
    ("  <think>still thinking", "  still thinking"[2:], ""),
    ("no thinking here", "", "no thinking here"),
    ("text <think>late</think>", "", "text <think>late</think>"),
])
def test_split_reasoning(text: str, reasoning: str, rest: str) -> None:
    assert split_reasoning(text, THINK) == (reasoning, rest)


CASES = [
    "<think>Paris is in France.\nCall the tool.</think>\n<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>",
    "<think>easy</think>The answer is 4.",
    "<think>cut short by max_tokens",
    "<thi",
    "Plain answer with </think> inside.",
]


@pytest.mark.parametrize("text", CASES)
@pytest.mark.parametrize("with_tools", [False, True])
@pytest.mark.parametrize("step", [1, 3, 100])
def test_streamed_parts_add_up_to_the_whole(text: str, with_tools: bool, step: int) -> None:
    plan = plan_tools(TOOLS, "auto", None, QWEN3_LIKE) if with_tools else None
    whole = shape(text, THINK, plan)
    stream = ChatOutputStream(THINK, plan)
    reasoning, content, deltas = "", "", []
    for i in range(0, len(text), step):
        part = stream.feed(text[i : i + step])
        reasoning, content, deltas = reasoning + part.reasoning, content + part.content, deltas + part.deltas
    part = stream.finish()
    reasoning, content, deltas = reasoning + part.reasoning, content + part.content, deltas + part.deltas
    assert reasoning == whole.reasoning
    assert content.strip() == whole.content.strip()
    calls: dict[int, list[str]] = {}
    for d in deltas:
        if d.id is not None:
            calls[d.index] = [d.name or "", ""]
        calls[d.index][1] += d.arguments
    assert [tuple(c) for _, c in sorted(calls.items())] == [(c.name, c.arguments) for c in whole.calls]


def test_thinking_then_a_call() -> None:
    plan = plan_tools(TOOLS, "auto", None, QWEN3_LIKE)
    parts = shape(CASES[0], THINK, plan)
    assert parts.reasoning == "Paris is in France.\nCall the tool."
    assert [(c.name, c.arguments) for c in parts.calls] == [("ping", "{}")] and parts.content == ""


THINKING_TEMPLATE = (
    "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    "{# thinks in <think>...</think> #}"
)


@pytest.fixture(scope="module")
def thinking_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.serve.conftest import start_server, tiny_config, write_tiny_llama

    root = tmp_path_factory.mktemp("thinking")
    path = write_tiny_llama(root / "tiny-thinker.gguf", template=THINKING_TEMPLATE, control_tokens=THINK)
    running = start_server(tiny_config(path, root / "responses.sqlite3"))
    yield running
    running.stop()


def test_a_thinking_family_over_http(thinking_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    fmt = {"type": "choice", "choice": ["yes", "no"]}
    r = httpx.post(thinking_server.base_url + "/v1/chat/completions", timeout=60, json={
        "model": thinking_server.model, "messages": [{"role": "user", "content": "ok?"}], "max_tokens": 8,
        "seed": 1, "response_format": fmt})
    assert r.status_code == 200, r.text
    body = r.json()
    message = body["choices"][0]["message"]
    assert "reasoning_content" in message and message["content"] in ("yes", "no")
    assert body["psionic"]["structured_value"] == message["content"]
    assert body["psionic"]["sampling"]["constraint"]["reasoning"] == ["<think>", "</think>"]
    assert not body["choices"][0]["message"]["content"].startswith("<think>")


def test_thinking_comes_first_and_the_constraint_holds_after_it(thinking_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from tests.models.synthetic import VOCAB

    opener, closer = VOCAB, VOCAB + 1  # the two control tokens after the byte vocabulary
    # The opener wins the first draw (the closer is masked then); inside the block the closer wins.
    bias = {str(opener): 50, str(closer): 100}
    for stream in (False, True):
        body = {"model": thinking_server.model, "messages": [{"role": "user", "content": "ok?"}], "max_tokens": 8,
                "temperature": 0, "logit_bias": bias, "stream": stream,
                "response_format": {"type": "choice", "choice": ["yes", "no"]}}
        if not stream:
            r = httpx.post(thinking_server.base_url + "/v1/chat/completions", json=body, timeout=60)
            message = r.json()["choices"][0]["message"]
            reasoning, content = message["reasoning_content"], message["content"]
            tokens = r.json()["psionic"]["bundle"]["replay"]["output"]["choices"][0]["tokens"]
            assert tokens[:2] == [opener, closer]
        else:
            with httpx.stream("POST", thinking_server.base_url + "/v1/chat/completions", json=body, timeout=60) as r:
                chunks = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
            deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
            reasoning = "".join(d.get("reasoning_content") or "" for d in deltas) or None
            content = "".join(d.get("content") or "" for d in deltas)
        assert reasoning is None and content in ("yes", "no")  # an empty block, then the held answer
