"""Deterministic sessions: which samples a seed picks, with which sampling seeds, and the turn loop.

``plan_session`` orders a package's tasks by a digest of (seed, task id),
takes the first ``samples`` and repeats each ``repeats`` times; every
(task, repeat) gets its own sampling seed from the same digest. The same
package, seed and counts always give the same samples, in the same order,
with the same seeds.

``run_chat`` plays one chat task: it sends the conversation (OpenAI wire
shapes: ``tools``, ``tool_choice``, ``response_format``), runs each tool
call the model makes with the environment's tools, sends the results back
as ``tool`` messages, and stops at a reply without calls or at the turn
limit. The caller's ``send`` talks to a model; the session knows no server.

>>> from psionic.environments.package import build_package
>>> from psionic.environments.task import Task
>>> pkg = build_package("d", "1.0.0", "chat", "exact_number", [Task(f"t{i}", i, ({"role": "user", "content": "?"},)) for i in range(5)])
>>> [s.key for s in plan_session(pkg, seed=3, samples=2, repeats=2)] == [s.key for s in plan_session(pkg, seed=3, samples=2, repeats=2)]
True
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.core.digest import digest_json
from psionic.environments.errors import MalformedPackage, ToolFailed
from psionic.environments.package import EnvironmentPackage
from psionic.environments.rubrics import Answer
from psionic.environments.task import Task
from psionic.environments.tools import TOOLS

SEED_LIMIT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Sample:
    task: Task
    repeat: int
    seed: int  # the sampling seed of every request this sample sends

    @property
    def key(self) -> str:
        return f"{self.task.id}#{self.repeat}"


def _draw(kind: str, **fields: Any) -> int:
    return int(digest_json(kind, fields)[7:23], 16)


def plan_session(pkg: EnvironmentPackage, seed: int, samples: int | None = None, repeats: int = 1) -> list[Sample]:
    """The session's samples: ``samples`` tasks (all when None) times ``repeats``, repeat-major."""
    if samples is not None and samples < 1:
        raise MalformedPackage(f"samples must be at least 1, got {samples}")
    if repeats < 1:
        raise MalformedPackage(f"repeats must be at least 1, got {repeats}")
    order = sorted(pkg.tasks, key=lambda t: _draw("session_order", seed=seed, task=t.id))
    chosen = order[:samples] if samples is not None else order
    return [Sample(t, r, _draw("session_seed", seed=seed, task=t.id, repeat=r) % SEED_LIMIT)
            for r in range(repeats) for t in chosen]


# --- the chat turn loop --------------------------------------------------------------

Send = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # request fields -> turn record with "message"


@dataclass(slots=True)
class Transcript:
    """A played task (mutable: turns are appended as they happen)."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> Answer:
        calls = []
        for turn in self.turns:
            for call in turn["message"].get("tool_calls") or []:
                fn = call.get("function") or {}
                calls.append({"name": fn.get("name"), "arguments": _arguments(fn.get("arguments"))})
        text = ""
        if self.turns:
            text = self.turns[-1]["message"].get("content") or ""
        return Answer(text=text, tool_calls=tuple(calls))


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def run_tool(name: str, arguments: Any) -> tuple[str, str | None]:
    """(text for the model, problem or None): a failed call answers the model with its problem."""
    tool = TOOLS.get(name)
    if tool is None:
        return f"error: there is no tool {name!r}", f"unknown tool {name!r}"
    try:
        return tool.call(_arguments(arguments)), None
    except ToolFailed as e:
        return f"error: {e.message}", e.message


def chat_request(pkg: EnvironmentPackage, task: Task, messages: list[dict[str, Any]], first: bool) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": [dict(m) for m in messages]}  # a snapshot: the loop appends to its list
    tools = pkg.task_tools(task)
    if tools:
        request["tools"] = [TOOLS[t].spec() for t in tools]
        choice = task.tool_choice if task.tool_choice is not None else "auto"
        forced = choice == "required" or isinstance(choice, dict)
        request["tool_choice"] = choice if first or not forced else "none"
    if task.response_format is not None:
        request["response_format"] = task.response_format
    return request


async def run_chat(pkg: EnvironmentPackage, task: Task, send: Send) -> Transcript:
    """Play ``task`` through ``send`` for at most the package's ``max_turns`` model replies."""
    transcript = Transcript()
    messages = [dict(m) for m in task.messages]
    for turn in range(pkg.max_turns):
        record = await send(chat_request(pkg, task, messages, first=turn == 0))
        transcript.turns.append(record)
        message = record["message"]
        calls = message.get("tool_calls") or []
        if not calls or turn == pkg.max_turns - 1:
            break
        messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
        for call in calls:
            fn = call.get("function") or {}
            text, problem = run_tool(str(fn.get("name")), fn.get("arguments"))
            transcript.tool_results.append({"call_id": call.get("id"), "name": fn.get("name"), "output": text,
                                            "problem": problem})
            messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": text})
    return transcript
