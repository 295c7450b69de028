"""JSONL records: chat (``{"messages": [...]}``) or completion (``{"prompt", "completion"}``).

Every line is checked as it is read; a bad one raises ``MalformedDataset``
naming the file and the line. Blank lines are skipped. A file holds one kind.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
>>> _ = p.write_text('{"prompt": "2+2=", "completion": "4"}\\n')
>>> [(e.kind, e.line, e.completion) for e in read_jsonl(p)]
[('completion', 1, '4')]
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psionic.core.digest import digest_json
from psionic.data.errors import MalformedDataset

ROLES = frozenset({"system", "user", "assistant", "tool"})
MESSAGE_KEYS = frozenset({"role", "content", "name"})
# Optional bookkeeping a record may carry beside its content; it takes no part in training.
EXTRA_KEYS = frozenset({"id", "meta"})
KINDS = ("chat", "completion")


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Example:
    """One validated record; ``digest`` covers its content only (not where it was read)."""

    kind: str
    source: str
    line: int
    digest: str
    messages: tuple[Message, ...] = ()
    prompt: str = ""
    completion: str = ""

    def content(self) -> dict[str, Any]:
        if self.kind == "chat":
            return {"messages": [{"role": m.role, "content": m.content} for m in self.messages]}
        return {"prompt": self.prompt, "completion": self.completion}


def _fail(source: str, line: int, problem: str) -> MalformedDataset:
    return MalformedDataset(f"{source}:{line}: {problem}", file=source, line=line)


def _chat(obj: dict[str, Any], source: str, line: int) -> tuple[Message, ...]:
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise _fail(source, line, "'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _fail(source, line, f"message {i} must be an object")
        unknown = set(m) - MESSAGE_KEYS
        if unknown:
            raise _fail(source, line, f"message {i} has unknown keys {sorted(unknown)}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise _fail(source, line, f"message {i} has role {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(content, str):
            raise _fail(source, line, f"message {i} ({role}) must have a string 'content'")
        out.append(Message(role, content))
    if not any(m.role == "assistant" and m.content for m in out):
        raise _fail(source, line, "a chat record needs an assistant message with content (the loss is on it)")
    return tuple(out)


def parse_record(text: str, source: str, line: int) -> Example:
    """One JSONL line as an ``Example``; ``MalformedDataset`` naming ``source:line`` otherwise."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise _fail(source, line, f"not JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict):
        raise _fail(source, line, f"a record must be a JSON object, got {type(obj).__name__}")
    has_chat = "messages" in obj
    has_completion = "prompt" in obj or "completion" in obj
    if has_chat == has_completion:
        raise _fail(source, line, "a record has either 'messages' (chat) or 'prompt' and 'completion'")
    allowed = ({"messages"} if has_chat else {"prompt", "completion"}) | EXTRA_KEYS
    unknown = set(obj) - allowed
    if unknown:
        raise _fail(source, line, f"unknown keys {sorted(unknown)}")
    if has_chat:
        messages = _chat(obj, source, line)
        example = Example("chat", source, line, "", messages=messages)
    else:
        prompt, completion = obj.get("prompt"), obj.get("completion")
        if not isinstance(prompt, str):
            raise _fail(source, line, "'prompt' must be a string")
        if not isinstance(completion, str) or not completion:
            raise _fail(source, line, "'completion' must be a non-empty string (the loss is on it)")
        example = Example("completion", source, line, "", prompt=prompt, completion=completion)
    digest = digest_json("dataset_record", example.content())
    return Example(example.kind, source, line, digest, example.messages, example.prompt, example.completion)


def iter_jsonl(path: str | Path, source: str | None = None) -> Iterator[Example]:
    """Validated records of one JSONL file, in order; the whole file is one kind."""
    path = Path(path)
    name = source or str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MalformedDataset(f"{name}: cannot read: {e.strerror}", file=name) from None
    kind = None
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _fail(name, number, f"not UTF-8 (byte {e.start})") from None
        if not text.strip():
            continue
        example = parse_record(text, name, number)
        if kind is None:
            kind = example.kind
        elif example.kind != kind:
            raise _fail(name, number, f"a {example.kind} record in a {kind} dataset")
        yield example


def read_jsonl(path: str | Path, source: str | None = None) -> list[Example]:
    """Every record of a JSONL file; ``MalformedDataset`` if it has none."""
    examples = list(iter_jsonl(path, source))
    if not examples:
        name = source or str(path)
        raise MalformedDataset(f"{name}: no records", file=name)
    return examples
