"""JSONL records: good chat and completion files parse; every file in the corpus of bad inputs
fails with a MalformedDataset that names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from psionic.core.errors import PsionicError
from psionic.data.errors import MalformedDataset
from psionic.data.records import read_jsonl

CHAT = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}'
COMPLETION = '{"prompt": "2+2=", "completion": "4"}'

# name -> (file bytes, the line the error must name, a phrase the message must contain)
BAD_INPUTS: dict[str, tuple[bytes, int, str]] = {
    "not_json": (b"{\"prompt\": \"a\", \"completion\": \n", 1, "not JSON"),
    "truncated_second_line": (f"{COMPLETION}\n{{\"prompt\": \"x\"".encode(), 2, "not JSON"),
    "array_record": (b"[1, 2]\n", 1, "JSON object"),
    "string_record": (b"\"hello\"\n", 1, "JSON object"),
    "neither_shape": (b"{\"text\": \"hello\"}\n", 1, "either"),
    "both_shapes": (b'{"messages": [], "prompt": "a", "completion": "b"}\n', 1, "either"),
    "typo_key": (b'{"prompt": "a", "completion": "b", "complation": "c"}\n', 1, "unknown keys"),
    "empty_messages": (b'{"messages": []}\n', 1, "non-empty list"),
    "messages_not_list": (b'{"messages": {"role": "user"}}\n', 1, "non-empty list"),
    "message_not_object": (b'{"messages": ["hi"]}\n', 1, "message 0 must be an object"),
    "bad_role": (b'{"messages": [{"role": "bot", "content": "x"}]}\n', 1, "role 'bot'"),
    "missing_content": (b'{"messages": [{"role": "user"}]}\n', 1, "string 'content'"),
    "content_not_string": (b'{"messages": [{"role": "assistant", "content": 3}]}\n', 1, "string 'content'"),
    "message_extra_key": (b'{"messages": [{"role": "assistant", "content": "x", "tool_calls": []}]}\n', 1,
                          "unknown keys"),
    "no_assistant": (b'{"messages": [{"role": "user", "content": "hi"}]}\n', 1, "assistant message"),
    "empty_assistant": (b'{"messages": [{"role": "user", "content": "hi"}, '
                        b'{"role": "assistant", "content": ""}]}\n', 1, "assistant message"),
    "prompt_not_string": (b'{"prompt": 1, "completion": "b"}\n', 1, "'prompt' must be a string"),
    "missing_completion": (b'{"prompt": "a"}\n', 1, "'completion' must be"),
    "empty_completion": (b'{"prompt": "a", "completion": ""}\n', 1, "'completion' must be"),
    "mixed_kinds": (f"{CHAT}\n\n{COMPLETION}\n".encode(), 3, "completion record in a chat dataset"),
    "not_utf8": (f"{COMPLETION}\n".encode() + b'{"prompt": "\xff", "completion": "b"}\n', 2, "not UTF-8"),
    "empty_file": (b"", 0, "no records"),
    "blank_lines_only": (b"\n  \n\n", 0, "no records"),
}


def test_good_files_parse_with_line_numbers_and_content_digests(tmp_path: Path) -> None:
    p = tmp_path / "chat.jsonl"
    p.write_text(f"{CHAT}\n\n{CHAT.replace('hello', 'hey')}\n")
    examples = read_jsonl(p)
    assert [e.line for e in examples] == [1, 3]
    assert examples[0].kind == "chat" and examples[0].messages[1].content == "hello"
    assert examples[0].digest != examples[1].digest
    q = tmp_path / "again.jsonl"
    q.write_text(f'{{"id": 7, "messages": {CHAT[13:-1]}}}\n')
    assert read_jsonl(q)[0].digest == examples[0].digest  # content only: not the id, file or line


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_corpus(tmp_path: Path, name: str) -> None:
    data, line, phrase = BAD_INPUTS[name]
    p = tmp_path / f"{name}.jsonl"
    p.write_bytes(data)
    with pytest.raises(MalformedDataset) as info:
        read_jsonl(p)
    err = info.value
    assert isinstance(err, PsionicError) and err.code == "malformed_dataset"
    assert phrase in err.message and str(p) in err.message
    if line:
        assert err.details["line"] == line and f"{p}:{line}:" in err.message


def test_a_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(MalformedDataset, match="cannot read"):
        read_jsonl(tmp_path / "nope.jsonl")
