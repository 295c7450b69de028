"""Tokenization with SmolLM2's tokenizer and chat template: the prompt part tokenizes exactly as
inference would tokenize the prompt, the loss covers the assistant turns only; packing keeps
examples whole and pads with no loss."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import ChatTemplateError, ChatTemplateMissing
from psionic.data.errors import ExampleTooLong
from psionic.data.packing import pack
from psionic.data.records import parse_record
from psionic.data.tokenize import Tokenization
from psionic.models.chat_template import ChatTemplate
from psionic.models.loader import load_model


@pytest.fixture(scope="module")
def smol():  # type: ignore[no-untyped-def]
    return load_model("smollm2-135m-instruct")


def _chat(messages: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    import json

    return parse_record(json.dumps({"messages": messages}), "t.jsonl", 1)


def test_chat_loss_covers_assistant_turns_only(smol) -> None:  # type: ignore[no-untyped-def]
    msgs = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "Capital of Peru?"},
            {"role": "assistant", "content": '{"city": "Lima"}'}, {"role": "user", "content": "And Chile?"},
            {"role": "assistant", "content": '{"city": "Santiago"}'}]
    tok = Tokenization(smol.tokenizer, smol.template)
    out = tok(_chat(msgs))
    prompt_ids = smol.tokenizer.encode(smol.render_chat(msgs[:2]))
    assert out.ids[: len(prompt_ids)].tolist() == prompt_ids and not out.mask[: len(prompt_ids)].any()
    targets = smol.tokenizer.decode(out.ids[out.mask].tolist())
    assert targets == '{"city": "Lima"}<|im_end|>\n{"city": "Santiago"}<|im_end|>\n'
    context = smol.tokenizer.decode(out.ids[~out.mask].tolist())
    assert "Lima" not in context and "And Chile?" in context
    full = smol.template.render(msgs)
    assert smol.tokenizer.decode(out.ids.tolist()) == full
    assert out.ids.dtype == np.int32 and out.mask.dtype == np.bool_


def test_completion_loss_covers_completion_and_eos(smol) -> None:  # type: ignore[no-untyped-def]
    ex = parse_record('{"prompt": "The sky is", "completion": " blue"}', "c.jsonl", 4)
    out = Tokenization(smol.tokenizer, None)(ex)
    eos = smol.tokenizer.eos_id
    assert out.ids[-1] == eos and out.mask[-1]
    assert smol.tokenizer.decode(out.ids[out.mask][:-1].tolist()) == " blue"
    assert out.source == "c.jsonl" and out.line == 4


def test_chat_without_template_and_inconsistent_template_are_typed(smol) -> None:  # type: ignore[no-untyped-def]
    ex = _chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    with pytest.raises(ChatTemplateMissing, match="t.jsonl:1"):
        Tokenization(smol.tokenizer, None)(ex)
    # A template that renders the generation prompt differently from a finished turn.
    odd = ChatTemplate.from_string(
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant-says>{% endif %}")
    with pytest.raises(ChatTemplateError, match="extension"):
        Tokenization(smol.tokenizer, odd)(ex)


def test_packing_keeps_examples_whole_and_refuses_one_too_long(smol) -> None:  # type: ignore[no-untyped-def]
    tok = Tokenization(smol.tokenizer, smol.template)
    examples = [tok(_chat([{"role": "user", "content": f"Say {i}"},
                           {"role": "assistant", "content": str(i) * (i + 1)}])) for i in range(6)]
    length = max(len(e) for e in examples) * 2
    rows = pack(examples, length, pad_id=smol.tokenizer.eos_id)
    assert all(len(r.ids) == length for r in rows)
    assert sum(len(r.records) for r in rows) == 6
    assert [d for r in rows for d in r.records] == [e.digest for e in examples]
    assert sum(r.loss_tokens for r in rows) == sum(e.loss_tokens for e in examples)
    first = rows[0]
    n = len(examples[0])
    assert first.ids[:n].tolist() == examples[0].ids.tolist()
    assert rows[0].digest != rows[1].digest
    with pytest.raises(ExampleTooLong, match="t.jsonl:1"):
        pack(examples, len(examples[-1]) - 1, pad_id=0)
