"""Reasoning and tool calls split out of an assistant turn, whole or streamed."""

from __future__ import annotations

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
