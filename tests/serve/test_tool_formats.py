"""Each family's tool-call format: parse, render back, force by grammar, validate, stream."""

from __future__ import annotations

import json

import numpy as np
import pytest

from psionic.models.constraints import Constraint
from psionic.models.guide import guide_for
from psionic.models.loader import load_model
from psionic.serve.tool_formats import FORMATS, format_for_template
from psionic.serve.tool_stream import ToolStream
from psionic.serve.tools import ToolPlan, conversation_for_template, plan_tools

CITY = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}},
         {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}]
CALLS = [("get_weather", {"city": "Zürich"}), ("ping", {})]
TEMPLATES = {"hermes": "{{ '<tool_call>' }}", "mistral": "[TOOL_CALLS]", "llama3": "<|python_tag|>"}


def plan(name: str, choice: object = "auto", parallel: bool | None = None) -> ToolPlan:
    made = plan_tools(TOOLS, choice, parallel, TEMPLATES[name])
    assert made is not None and made.fmt.name == name
    return made


@pytest.fixture(scope="module")
def smollm():  # type: ignore[no-untyped-def]
    return load_model("smollm2-135m-instruct")


def test_templates_pick_their_format() -> None:
    assert format_for_template("...<tool_call>...").name == "hermes"
    assert format_for_template("...[TOOL_CALLS]...").name == "mistral"
    assert format_for_template("<|start_header_id|>ipython").name == "llama3"
    assert format_for_template(None).name == "hermes"  # a template without tools: taught in the prompt


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_render_then_parse_round_trips(name: str) -> None:
    fmt = FORMATS[name]
    text = fmt.render_calls(CALLS)
    assert fmt.parse(text) == ("", CALLS, [])
    outcome = plan(name).outcome(text)
    assert [(c.name, json.loads(c.arguments)) for c in outcome.calls] == CALLS and outcome.content is None


def test_native_variants_parse() -> None:
    hermes = FORMATS["hermes"]
    # SmolLM2's own style: a JSON list inside one block; and a call without its closing tag at the end.
    assert hermes.parse('<tool_call>[{"name": "ping", "arguments": {}}]</tool_call>')[1] == [("ping", {})]
    assert hermes.parse('Let me look. <tool_call>{"name": "ping", "arguments": {}}')[:2] == ("Let me look.", [("ping", {})])
    assert FORMATS["llama3"].parse('<|python_tag|>{"name": "ping", "parameters": {}}')[1] == [("ping", {})]
    assert FORMATS["llama3"].parse("The answer is 4.") == ("The answer is 4.", [], [])
    assert FORMATS["mistral"].parse('[TOOL_CALLS][{"name": "ping", "arguments": {}}]')[1] == [("ping", {})]


def test_bad_calls_never_come_back_as_calls() -> None:
    p = plan("hermes")
    for text in ('<tool_call>\n{"name": "get_weather", "arguments": {"town": "x"}}\n</tool_call>',  # schema
                 '<tool_call>\n{"name": "launch", "arguments": {}}\n</tool_call>',  # unknown tool
                 '<tool_call>\n{"name": "ping", "arguments": {</tool_call>'):  # not JSON
        outcome = p.outcome(text)
        assert outcome.calls == [] and outcome.problems and text.startswith(outcome.content or "<")


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_forced_grammar_accepts_the_native_text_and_nothing_else(smollm, name: str, choice: object) -> None:  # type: ignore[no-untyped-def]
    p = plan(name, choice, parallel=False)
    constraint = p.constraint()
    assert constraint is not None
    tok, vocab = smollm.tokenizer, smollm.config.vocab_size
    guide = guide_for(tok, vocab, constraint)
    text = p.fmt.render_calls(CALLS[:1])
    for token in tok.encode(text, add_special=False, parse_special=False):
        assert guide.allowed()[token], (text, tok.token_bytes(token))
        guide.accept(token)
    assert guide.accepting
    # Plain prose is not a call: its first token is masked out.
    fresh = guide_for(tok, vocab, constraint)
    assert not fresh.allowed()[tok.encode("Hello", add_special=False)[0]]


def test_auto_structural_tag_holds_arguments_to_the_schema(smollm) -> None:  # type: ignore[no-untyped-def]
    tok, vocab = smollm.tokenizer, smollm.config.vocab_size
    constraint = plan("hermes").constraint()
    assert constraint is not None and constraint.kind == "structural_tag"
    guide = guide_for(tok, vocab, constraint)
    for token in tok.encode('Checking. <tool_call>\n{"name": "get_weather", "arguments": ', add_special=False):
        guide.accept(token)
    allowed = [tok.token_bytes(int(i)) for i in np.flatnonzero(guide.allowed())]
    assert allowed and all(b.startswith(b"{") or b"{".startswith(b) for b in allowed)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("step", [1, 2, 5, 64])
def test_streaming_equals_the_whole_text(name: str, step: int) -> None:
    p = plan(name)
    calls = CALLS if p.fmt.open else CALLS[:1]
    text = ("I will check. " if p.fmt.open else "") + p.fmt.render_calls(calls) + (" Done." if p.fmt.close else "")
    stream = ToolStream(p)
    content, deltas = "", []
    for i in range(0, len(text), step):
        events = stream.feed(text[i : i + step])
        content, deltas = content + events.content, deltas + events.deltas
    events = stream.finish()
    content, deltas = content + events.content, deltas + events.deltas
    whole = p.outcome(text)
    assert reassemble(deltas) == [(c.name, json.loads(c.arguments)) for c in whole.calls]
    assert content.strip() == (whole.content or "")
    # Where the grammar holds the arguments (hermes), they stream in pieces; elsewhere each call leaves whole.
    pieces = [d for d in deltas if d.id is None and d.arguments]
    assert bool(pieces) == p.holds_arguments


def reassemble(deltas) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    calls: dict[int, list] = {}
    for d in deltas:
        if d.id is not None:
            calls[d.index] = [d.name, ""]
        calls[d.index][1] += d.arguments
    return [(name, json.loads(args)) for _, (name, args) in sorted(calls.items())]


def test_the_prompt_teaches_tools_a_template_cannot_render() -> None:
    p = plan("hermes")
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "ping", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "c1", "content": "pong"}]
    messages, tools = conversation_for_template(history, p, "{{ messages }}")
    assert tools is None and messages[0]["role"] == "system" and "get_weather" in messages[0]["content"]
    assert messages[2]["content"] == '<tool_call>\n{"name": "ping", "arguments": {}}\n</tool_call>'
    native_src = "{% for t in tools %}{% endfor %}{% for m in messages %}{{ m.tool_calls }}{% endfor %}<tool_call>"
    messages, tools = conversation_for_template(history, p, native_src)
    assert tools == p.specs and messages[1]["tool_calls"][0]["function"]["arguments"] == {}


def test_constraint_kind_is_lark_for_forced_calls() -> None:
    constraint = plan("mistral", "required").constraint()
    assert isinstance(constraint, Constraint) and constraint.kind == "lark"


def test_problems_are_reported_with_the_shaped_turn() -> None:
    from psionic.serve.chat_output import shape

    parts = shape('<tool_call>\n{"name": "launch", "arguments": {}}\n</tool_call>', None, plan("hermes"))
    assert parts.calls == [] and parts.deltas == [] and "launch" in parts.problems[0]
