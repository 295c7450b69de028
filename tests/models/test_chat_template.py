from __future__ import annotations

import doctest
from datetime import datetime
from pathlib import Path

import gguf
import pytest

from psionic.core.errors import ChatTemplateError, ChatTemplateMissing, InvalidInput
from psionic.models import chat_template
from psionic.models.chat_template import ChatTemplate
from psionic.models.gguf_file import GGUFModelFile
from psionic.models.tokenizer import Tokenizer

SMOLLM_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def test_smollm2_system_and_user(smollm_gguf: GGUFModelFile) -> None:
    t = ChatTemplate.from_gguf(smollm_gguf)
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert t.render(messages, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert t.render(messages) == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
    )


def test_smollm2_without_system_gets_the_default_one(smollm_gguf: GGUFModelFile) -> None:
    t = ChatTemplate.from_gguf(smollm_gguf)
    messages = [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye."},
    ]
    assert t.render(messages, add_generation_prompt=True) == (
        f"<|im_start|>system\n{SMOLLM_DEFAULT_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\nBye.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_smollm2_prompt_tokenizes_into_whole_special_tokens(
    smollm_gguf: GGUFModelFile, smollm_tokenizer: Tokenizer
) -> None:
    t = ChatTemplate.from_gguf(smollm_gguf, smollm_tokenizer)
    assert (t.bos_token, t.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert ChatTemplate.from_gguf(smollm_gguf).bos_token == "<|im_start|>"  # from metadata alone
    ids = smollm_tokenizer.encode(t.render([{"role": "user", "content": "Hi"}], True))
    assert ids.count(1) == 3 and ids.count(2) == 2  # <|im_start|> x3, <|im_end|> x2


def test_a_model_without_a_template(gemma_gguf: GGUFModelFile) -> None:
    with pytest.raises(ChatTemplateMissing, match="has no chat template") as e:
        ChatTemplate.from_gguf(gemma_gguf)
    assert e.value.code == "chat_template_missing"


def test_named_variants_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "t.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_string("tokenizer.chat_template", "{{ messages[0].content }}")
    w.add_string("tokenizer.chat_template.tool_use", "tools: {{ tools | length }}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    f = GGUFModelFile.open(path)
    assert ChatTemplate.from_gguf(f).render([{"role": "user", "content": "x"}]) == "x"
    tool_use = ChatTemplate.from_gguf(f, name="tool_use")
    assert tool_use.render([], tools=[{"type": "function"}]) == "tools: 1"
    with pytest.raises(ChatTemplateMissing, match="'rag'"):
        ChatTemplate.from_gguf(f, name="rag")
    assert ChatTemplate.from_gguf(f).bos_token == ""  # no vocabulary, no BOS text


# A tool-calling template in the style of current chat models (written for this test).
TOOL_TEMPLATE = """\
{% if tools %}
<|system|>You may call these tools:
{% for tool in tools %}
{{ tool | tojson }}
{% endfor %}
<|end|>
{% endif %}
{% for message in messages %}
{% if message.role == 'tool' %}
<|tool|>{{ message.name }}: {{ message.content }}<|end|>
{% elif message.role == 'assistant' and message.tool_calls %}
<|assistant|>{% for call in message.tool_calls %}\
<call>{{ call.function | tojson(sort_keys=True) }}</call>{% endfor %}<|end|>
{% else %}
<|{{ message.role }}|>{{ message.content }}<|end|>
{% endif %}
{% endfor %}
{% if add_generation_prompt %}<|assistant|>{% endif %}"""


def test_tools_tool_calls_and_the_tool_role() -> None:
    t = ChatTemplate.from_string(TOOL_TEMPLATE)
    tools = [{"type": "function", "function": {"name": "add", "description": "a < b & c"}}]
    messages = [
        {"role": "user", "content": "2+3?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"type": "function",
                            "function": {"name": "add", "arguments": {"b": 3, "a": 2}}}],
        },
        {"role": "tool", "name": "add", "content": "5"},
    ]
    assert t.render(messages, add_generation_prompt=True, tools=tools) == (
        "<|system|>You may call these tools:\n"
        '{"type": "function", "function": {"name": "add", "description": "a < b & c"}}\n'
        "<|end|>\n"
        "<|user|>2+3?<|end|>\n"
        '<|assistant|><call>{"arguments": {"a": 2, "b": 3}, "name": "add"}</call><|end|>\n'
        "<|tool|>add: 5<|end|>\n"
        "<|assistant|>"
    )
    # Without tools the block disappears, and trim/lstrip leave no stray whitespace.
    assert t.render([{"role": "user", "content": "hi"}]) == "<|user|>hi<|end|>\n"


def test_transformers_conventions() -> None:
    def render(src: str, **kw: object) -> str:
        return ChatTemplate.from_string(src, bos_token="<s>", eos_token="</s>", **kw).render(
            [{"role": "user", "content": "u"}, {"role": "x"}, {"role": "y"}]
        )

    assert render("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}") == "<s>u</s>"
    assert render("{{ '<&>' | tojson }}") == '"<&>"'
    assert render("{{ {'b': [1], 'a': 'é'} | tojson(indent=2, sort_keys=True) }}") == (
        '{\n  "a": "é",\n  "b": [\n    1\n  ]\n}'
    )
    fixed = datetime(2026, 1, 2, 3, 4, 5)
    assert render("{{ strftime_now('%d %b %Y') }}", now=lambda: fixed) == "02 Jan 2026"
    assert render("{% for m in messages %}{% if m.role == 'x' %}{% break %}{% endif %}"
                  "{{ m.role }}{% endfor %}") == "user"
    assert render("{% for m in messages %}{% if loop.first %}{% continue %}{% endif %}"
                  "{{ m.role }}{% endfor %}") == "xy"
    assert render("{% generation %}kept{% endgeneration %}") == "kept"
    assert render("  {% if true %}\nA\n  {% endif %}\nB") == "A\nB"  # lstrip + trim
    assert render("{{ extra }}") == ""
    t = ChatTemplate.from_string("{{ extra }}")
    assert t.render([], extra="passed through") == "passed through"


BROKEN = [
    ("does not compile", "{% for %}", "syntax"),
    ("unclosed block", "{% if messages %}", "syntax"),
    ("unknown tag", "{% frobnicate %}", "syntax"),
    ("raises", "{{ raise_exception('Conversation roles must alternate') }}", "raised"),
    ("dunder attribute", "{{ messages[0].__class__.__mro__ }}", "security"),
    ("mutates input", "{% set _ = messages.append(1) %}", "security"),
    ("nested ranges", "{% for i in range(100000) %}{% for j in range(100000) %}"
                      "{% endfor %}{% endfor %}", "budget"),
    ("huge string", "{{ 'x' * 10**9 }}", "budget"),
    ("huge power", "{{ 7 ** 10000000 }}", "budget"),
    ("huge output", "{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}", "budget"),
    ("undefined", "{{ nothing.here }}", "render"),
    ("type error", "{{ messages[0].content + 1 }}", "render"),
]


@pytest.mark.parametrize(("case", "src", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_templates_get_typed_errors(case: str, src: str, reason: str) -> None:
    with pytest.raises(ChatTemplateError) as e:
        ChatTemplate.from_string(src).render([{"role": "user", "content": "u"}])
    assert e.value.code == "chat_template_error"
    assert e.value.details["reason"] == reason, e.value.message


def test_raise_exception_message_is_kept() -> None:
    t = ChatTemplate.from_string("{{ raise_exception('Only user and assistant roles') }}")
    with pytest.raises(ChatTemplateError, match="Only user and assistant roles") as e:
        t.render([])
    assert e.value.details["template_message"] == "Only user and assistant roles"


def test_messages_must_be_role_objects() -> None:
    t = ChatTemplate.from_string("x")
    for bad in ("hello", [{"content": "no role"}], ["str"], None):
        with pytest.raises(InvalidInput):
            t.render(bad)  # type: ignore[arg-type]


def test_digest_covers_source_and_tokens() -> None:
    a = ChatTemplate.from_string("{{ bos_token }}", bos_token="<s>")
    assert a.digest == ChatTemplate.from_string("{{ bos_token }}", bos_token="<s>").digest
    assert a.digest != ChatTemplate.from_string("{{ bos_token }}", bos_token="<bos>").digest
    assert a.digest != ChatTemplate.from_string("{{bos_token}}", bos_token="<s>").digest


def test_doctests_run() -> None:
    assert doctest.testmod(chat_template).failed == 0
