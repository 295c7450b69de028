"""Tool calling for one request: the tools, the choice, the prompt, and the calls that come back.

``plan_tools`` checks ``tools``/``tool_choice``/``parallel_tool_calls`` and
returns a ``ToolPlan``: the family's ``ToolFormat``, each tool's parameter
schema, and the constraint that applies (a forced call for ``required`` or a
named tool; for ``auto``, a structural tag that keeps a call well formed once
the model opens one). ``ToolPlan.outcome`` parses finished text into calls and
validates each call's arguments against its tool's schema: a call that fails
is never returned as a tool call (it stays in the content, and the problem is
reported).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from psionic.core.errors import InvalidInput
from psionic.models.constraints import (
    Constraint,
    UnsupportedConstraint,
    check_json_schema,
    grammar_for,
)
from psionic.serve.tool_formats import ParsedCall, ToolFormat, format_for_template, tools_prompt

MAX_TOOLS = 128


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text

    def to_chat(self, index: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        if index is not None:
            out["index"] = index
        return out


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed call: its head (id and name) first, then argument text, then ``done``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    done: bool = False

    def to_chat(self) -> dict[str, Any]:
        fn: dict[str, Any] = {"arguments": self.arguments}
        out: dict[str, Any] = {"index": self.index, "function": fn}
        if self.id is not None:
            out.update(id=self.id, type="function")
            fn["name"] = self.name
        return out

    @staticmethod
    def whole(index: int, call: ToolCall) -> ToolCallDelta:
        return ToolCallDelta(index, call.id, call.name, call.arguments, True)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    content: str | None
    calls: list[ToolCall]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ToolPlan:
    fmt: ToolFormat
    tools: dict[str, dict[str, Any]]  # name -> parameters schema
    specs: list[dict[str, Any]]  # chat-shaped tool definitions, for the template
    choice: str  # "none" (offered, never parsed) | "auto" | "required" | "named"
    named: str | None
    parallel: bool

    @property
    def callable(self) -> bool:
        return self.choice != "none"

    @property
    def holds_arguments(self) -> bool:
        """Whether the grammar holds each call's arguments to its schema as they are written."""
        if not self.fmt.open or self.fmt.listed:
            return False
        return self.choice != "auto" or self.fmt.auto_structures(self.tools) is not None

    def constraint(self) -> Constraint | None:
        if self.choice == "none":
            return None
        if self.choice == "auto":
            tag = self.fmt.auto_structures(self.tools)
            return Constraint("structural_tag", tag) if tag else None
        tools = {self.named: self.tools[self.named]} if self.named else self.tools
        return Constraint("lark", {"grammar": self.fmt.forced_grammar(tools, self.parallel)})

    def validate(self, calls: list[ParsedCall]) -> tuple[list[ToolCall], list[str]]:
        from jsonschema import Draft202012Validator

        good, problems = [], []
        for name, args in calls:
            if name not in self.tools:
                problems.append(f"the model called {name!r}, which is not one of the tools")
                continue
            if isinstance(args, str):  # some models write the arguments as a JSON string
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    problems.append(f"the arguments of {name!r} are not JSON")
                    continue
            errors = sorted(Draft202012Validator(self.tools[name]).iter_errors(args), key=lambda e: list(e.path))
            if errors:
                problems.append(f"the arguments of {name!r} do not match its schema: {errors[0].message}")
                continue
            good.append(ToolCall(f"call_{secrets.token_hex(12)}", name, json.dumps(args, ensure_ascii=False)))
        if not self.parallel and len(good) > 1:
            problems.append(f"{len(good)} calls in one turn, but parallel_tool_calls is false; the first is kept")
            good = good[:1]
        return good, problems

    def outcome(self, text: str) -> ToolOutcome:
        """Calls that parse and validate; text that does not parse (a call cut short) stays content."""
        content, calls, problems = self.fmt.parse(text)
        good, bad = self.validate(calls)
        if bad:
            return ToolOutcome(text, [], problems + bad)  # a call that breaks its schema: no calls at all
        return ToolOutcome(content or None, good, problems)


def _function(tool: Any, i: int, param: str) -> dict[str, Any]:
    """A chat (``{"type", "function": {...}}``) or responses (flat) tool as the chat shape."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else type(tool).__name__
        raise UnsupportedConstraint(f"tool {i} of type {kind!r} is not supported (function tools only)", param=param)
    fn = tool.get("function", tool)
    name = fn.get("name")
    if not isinstance(name, str) or not name or len(name) > 64:
        raise InvalidInput(f"tool {i} needs a name of 1 to 64 characters", param=param)
    spec: dict[str, Any] = {"name": name, "parameters": fn.get("parameters") or {"type": "object", "properties": {}}}
    if fn.get("description"):
        spec["description"] = fn["description"]
    try:
        check_json_schema(spec["parameters"])
    except UnsupportedConstraint as e:
        raise UnsupportedConstraint(f"tool {name!r}: {e.message}", param=param) from None
    return {"type": "function", "function": spec}


def _named(choice: Any) -> str | None:
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or choice).get("name")
        return name if isinstance(name, str) else None
    return None


def plan_tools(tools: list[Any] | None, tool_choice: Any, parallel: bool | None,
               template_source: str | None, param: str = "tools") -> ToolPlan | None:
    """The plan for a request's tools; None without tools. With ``none`` they are offered, never called.

    Offering them either way keeps the prompt's start the same from turn to turn (the prefix cache
    serves it), as a client that answers a call with ``tool_choice: "none"`` expects.
    """
    if not tools:
        if tool_choice not in (None, "none", "auto"):
            raise InvalidInput("tool_choice needs tools", param="tool_choice")
        return None
    if len(tools) > MAX_TOOLS:
        raise InvalidInput(f"at most {MAX_TOOLS} tools are allowed", param=param)
    specs = [_function(t, i, param) for i, t in enumerate(tools)]
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in specs}
    if len(by_name) != len(specs):
        raise InvalidInput("tool names must be distinct", param=param)
    named = _named(tool_choice)
    if tool_choice == "none":
        choice = "none"
    elif tool_choice in (None, "auto"):
        choice = "auto"
    elif tool_choice == "required":
        choice = "required"
    elif named is not None:
        if named not in by_name:
            raise InvalidInput(f"tool_choice names {named!r}, which is not one of the tools", param="tool_choice")
        choice = "named"
    else:
        raise InvalidInput(f"tool_choice {tool_choice!r} is not none, auto, required or a named function",
                           param="tool_choice")
    plan = ToolPlan(format_for_template(template_source), by_name, specs, choice, named,
                    parallel is not False and choice != "named")
    constraint = plan.constraint()
    if constraint is not None:
        try:
            grammar_for(constraint)
        except UnsupportedConstraint as e:
            raise UnsupportedConstraint(f"the tools' schemas cannot be enforced: {e.message}", param=param) from None
    return plan


# --- conversation -------------------------------------------------------------------


def speaks_tools(template_source: str | None) -> bool:
    """Whether a chat template renders ``tools`` and ``tool_calls`` itself."""
    return bool(template_source) and "tools" in template_source and "tool_calls" in template_source  # type: ignore[operator]


def _parsed_calls(tool_calls: list[dict[str, Any]]) -> list[ParsedCall]:
    out = []
    for call in tool_calls:
        fn = call.get("function") or {}
        args = fn.get("arguments", "{}")
        try:
            args = json.loads(args) if isinstance(args, str) else args
        except json.JSONDecodeError:
            raise InvalidInput(f"tool call {call.get('id')!r} has arguments that are not JSON",
                               param="messages") from None
        out.append((fn.get("name", ""), args))
    return out


def conversation_for_template(messages: list[dict[str, Any]], plan: ToolPlan | None,
                              template_source: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """(messages, tools) to render: the template's own tool support, or the format taught in text."""
    fmt = plan.fmt if plan else format_for_template(template_source)
    native = speaks_tools(template_source)
    out = []
    for m in messages:
        m = dict(m)
        calls = m.pop("tool_calls", None)
        if calls:
            if native:
                m["tool_calls"] = [{**c, "function": {**c["function"], "arguments": a}}
                                   for c, (_, a) in zip(calls, _parsed_calls(calls), strict=True)]
            else:
                text = fmt.render_calls(_parsed_calls(calls))
                m["content"] = (m.get("content") or "") + text
        if not native:
            m.pop("tool_call_id", None)
        out.append(m)
    if plan is None:
        return out, None
    if native:
        return out, plan.specs
    teach = tools_prompt(fmt, [s["function"] for s in plan.specs])
    if out and out[0]["role"] == "system":
        out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{teach}"}
    else:
        out.insert(0, {"role": "system", "content": teach})
    return out, None
