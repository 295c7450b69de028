"""One task of an environment package: what the model is asked, what it may use, what is expected.

A chat task carries ``messages`` (or a ``prompt``, one user message), and
optionally the names of tools it may call, a ``tool_choice`` and a
``response_format`` in OpenAI's wire shapes. A Tassadar task carries a
``program`` (WebAssembly text, entry, arguments, inputs). ``expected`` holds
the artifacts the rubric compares the answer with.

>>> t = task_from_dict({"id": "a1", "prompt": "2+2?", "expected": 4}, "chat", 0)
>>> t.messages, t.expected
(({'role': 'user', 'content': '2+2?'},), 4)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psionic.environments.errors import MalformedPackage

KINDS = ("chat", "tassadar")
ROLES = ("system", "developer", "user", "assistant")
_CHAT_FIELDS = {"id", "prompt", "messages", "expected", "tools", "tool_choice", "response_format", "meta"}
_TASSADAR_FIELDS = {"id", "program", "expected", "meta"}
_PROGRAM_FIELDS = {"wat", "entry", "args", "inputs"}


@dataclass(frozen=True, slots=True)
class Program:
    """A WebAssembly program to run exactly (text format; values as Python ints)."""

    wat: str
    entry: str | None = None
    args: tuple[int, ...] = ()
    inputs: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    expected: Any
    messages: tuple[dict[str, Any], ...] = ()
    tools: tuple[str, ...] | None = None  # None: the package's tools
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    program: Program | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "expected": self.expected}
        if self.messages:
            out["messages"] = [dict(m) for m in self.messages]
        if self.tools is not None:
            out["tools"] = list(self.tools)
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        if self.response_format is not None:
            out["response_format"] = self.response_format
        if self.program is not None:
            p = self.program
            out["program"] = {"wat": p.wat, "entry": p.entry, "args": list(p.args), "inputs": list(p.inputs)}
        if self.meta:
            out["meta"] = dict(self.meta)
        return out


def _fail(where: str, message: str) -> MalformedPackage:
    return MalformedPackage(f"{where}: {message}", where=where)


def _messages(data: dict[str, Any], where: str) -> tuple[dict[str, Any], ...]:
    if "prompt" in data and "messages" in data:
        raise _fail(where, "give either 'prompt' or 'messages', not both")
    if "prompt" in data:
        if not isinstance(data["prompt"], str) or not data["prompt"]:
            raise _fail(where, "'prompt' must be a non-empty string")
        return ({"role": "user", "content": data["prompt"]},)
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail(where, "a chat task needs 'prompt' or a non-empty 'messages' list")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            raise _fail(where, f"message {i} must be an object with exactly 'role' and 'content'")
        if m["role"] not in ROLES:
            raise _fail(where, f"message {i} has role {m['role']!r}; expected one of {list(ROLES)}")
        if not isinstance(m["content"], str):
            raise _fail(where, f"message {i} content must be a string")
        out.append({"role": m["role"], "content": m["content"]})
    if out[-1]["role"] != "user":
        raise _fail(where, "the last message must be the user's")
    return tuple(out)


def _ints(value: Any, where: str, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _fail(where, f"program '{name}' must be a list of integers")
    return tuple(value)


def _program(data: Any, where: str) -> Program:
    if not isinstance(data, dict):
        raise _fail(where, "a tassadar task needs a 'program' object")
    unknown = set(data) - _PROGRAM_FIELDS
    if unknown:
        raise _fail(where, f"program has unknown fields {sorted(unknown)}")
    if not isinstance(data.get("wat"), str) or not data["wat"].strip():
        raise _fail(where, "program 'wat' must be non-empty WebAssembly text")
    entry = data.get("entry")
    if entry is not None and not isinstance(entry, str):
        raise _fail(where, "program 'entry' must be a string")
    return Program(data["wat"], entry, _ints(data.get("args", []), where, "args"),
                   _ints(data.get("inputs", []), where, "inputs"))


def task_from_dict(data: Any, kind: str, line: int) -> Task:
    """Parse one task of a package of ``kind``; ``line`` (0-based) names it in errors."""
    where = f"tasks.jsonl line {line + 1}"
    if not isinstance(data, dict):
        raise _fail(where, "a task must be a JSON object")
    allowed = _CHAT_FIELDS if kind == "chat" else _TASSADAR_FIELDS
    unknown = set(data) - allowed
    if unknown:
        raise _fail(where, f"unknown fields {sorted(unknown)} for a {kind} task")
    task_id = data.get("id")
    if not isinstance(task_id, str) or not task_id or len(task_id) > 128:
        raise _fail(where, "'id' must be a string of 1 to 128 characters")
    if "expected" not in data:
        raise _fail(where, f"task {task_id!r} has no 'expected' artifacts")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise _fail(where, "'meta' must be an object")
    if kind == "tassadar":
        return Task(task_id, data["expected"], program=_program(data.get("program"), where), meta=meta)
    tools = data.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, str) for t in tools)):
        raise _fail(where, "'tools' must be a list of tool names")
    fmt = data.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or not isinstance(fmt.get("type"), str)):
        raise _fail(where, "'response_format' must be an object with a 'type'")
    return Task(task_id, data["expected"], _messages(data, where), tuple(tools) if tools is not None else None,
                data.get("tool_choice"), fmt, meta=meta)


def _expected_text(text: str) -> Any:
    """A record's answer as the rubric reads it: JSON where it parses (``"7"`` is 7), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def dataset_tasks(root: Path, dataset: dict[str, str], kind: str) -> tuple[Task, ...]:
    """Tasks from a dataset with a manifest (``psionic.data``): verified against its digests first.

    A completion record asks its ``prompt`` and expects its ``completion``; a chat record asks its
    messages up to the last assistant message and expects that message's content.
    """
    from psionic.data.errors import DatasetDigestMismatch
    from psionic.data.manifest import DatasetManifest
    from psionic.data.records import read_jsonl

    if kind != "chat":
        raise MalformedPackage("only chat packages take their tasks from a dataset")
    path = root / dataset["manifest"]
    manifest = DatasetManifest.load(path)
    if manifest.digest != dataset["digest"]:
        raise DatasetDigestMismatch(f"{dataset['manifest']}: the manifest's digest {manifest.digest} is not the "
                                    f"{dataset['digest']} the package declares", file=dataset["manifest"],
                                    expected=dataset["digest"], actual=manifest.digest)
    manifest.verify(path.parent)
    tasks = []
    for f in manifest.files:
        if f.records is None:
            continue
        for example in read_jsonl(path.parent / f.path, source=f.path):
            task_id = f"{Path(f.path).stem}-{example.line}"
            if example.kind == "completion":
                messages: tuple[dict[str, Any], ...] = ({"role": "user", "content": example.prompt},)
                tasks.append(Task(task_id, _expected_text(example.completion), messages))
                continue
            last = max(i for i, m in enumerate(example.messages) if m.role == "assistant")
            asked = tuple({"role": m.role, "content": m.content} for m in example.messages[:last])
            if not asked or asked[-1]["role"] != "user":
                raise MalformedPackage(f"{f.path}:{example.line}: the answer must follow a user message")
            tasks.append(Task(task_id, _expected_text(example.messages[last].content), asked))
    return tuple(tasks)
