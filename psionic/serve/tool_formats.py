"""How each model family writes tool calls: parse them, force them, show them in history.

A ``ToolFormat`` names the text that opens a call section (``<tool_call>``
for hermes/qwen and SmolLM2, ``[TOOL_CALLS]`` for mistral, nothing for
llama 3's bare JSON), the text that closes one call, the key that holds the
arguments, and whether calls come as a JSON list. ``format_for_template``
picks the format a chat template speaks (hermes for a template that speaks
none). The same record parses output into calls, builds the grammar that
forces a call (``tool_choice`` required or named) or keeps calls well formed
once the model starts one (``auto``), and renders past calls back as text.

>>> FORMATS["hermes"].parse('Sure.<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>')
('Sure.', [('f', {'x': 1})], [])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psionic.models.constraints import JSON_OPTIONS

ParsedCall = tuple[str, Any]  # (name, arguments) as the model wrote them


@dataclass(frozen=True, slots=True)
class ToolFormat:
    name: str
    open: str  # starts a call ("" : the output itself is the call's JSON)
    close: str  # ends one call ("" : the end of the output)
    args_key: str  # "arguments" | "parameters"
    listed: bool  # the body is a JSON list of calls
    markers: tuple[str, ...]  # text in a chat template that shows the family speaks this format
    separator: str = "\n"  # between two calls in one turn

    # --- parsing ---------------------------------------------------------------

    def parse(self, text: str) -> tuple[str, list[ParsedCall], list[str]]:
        """(content outside calls, calls in order, problems); text that does not parse stays content."""
        if not self.open:
            return self._parse_bare(text)
        opener, closer = self.open.strip(), self.close.strip()  # models vary the whitespace
        content: list[str] = []
        calls: list[ParsedCall] = []
        problems: list[str] = []
        pos = 0
        while (start := text.find(opener, pos)) >= 0:
            parsed = _decode(text, start + len(opener))
            if parsed is None:
                problems.append(f"a call after {opener!r} is not valid JSON")
                break
            value, end = parsed
            rest = text[end:]
            tail = len(rest) - len(rest.lstrip())
            if closer and rest[tail:].startswith(closer):
                end += tail + len(closer)
            elif closer and rest.strip():
                problems.append(f"a call is not closed by {closer!r}")
                break
            elif not rest.strip():
                end = len(text)
            items, bad = self._items(value)
            problems += bad
            content.append(text[pos:start])
            calls += items
            pos = end
        content.append(text[pos:])
        return "".join(content).strip(), calls, problems

    def _parse_bare(self, text: str) -> tuple[str, list[ParsedCall], list[str]]:
        """The whole output is one or more call objects (optionally after <|python_tag|>), or none."""
        stripped = text.strip().removeprefix("<|python_tag|>")
        values, pos = [], 0
        while pos < len(stripped):
            parsed = _decode(stripped, pos)
            if parsed is None or not isinstance(parsed[0], dict) or "name" not in parsed[0]:
                return text, [], []
            values.append(parsed[0])
            pos = parsed[1]
            while pos < len(stripped) and (stripped[pos].isspace() or stripped[pos] == ";"):
                pos += 1
        if not values:
            return text, [], []
        items, bad = self._items(values)
        return "", items, bad

    def _items(self, value: Any) -> tuple[list[ParsedCall], list[str]]:
        values = value if isinstance(value, list) else [value]
        calls, problems = [], []
        for v in values:
            args = v.get(self.args_key, v.get("arguments", v.get("parameters"))) if isinstance(v, dict) else None
            if not isinstance(v, dict) or not isinstance(v.get("name"), str) or args is None:
                problems.append(f"a call is not an object with a name and {self.args_key}: {json.dumps(v)[:80]}")
                continue
            calls.append((v["name"], args))
        return calls, problems

    # --- forcing -----------------------------------------------------------------

    def call_schema(self, name: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"name": {"const": name}, self.args_key: parameters},
            "required": ["name", self.args_key],
            "additionalProperties": False,
        }

    def forced_grammar(self, tools: dict[str, dict[str, Any]], parallel: bool) -> str:
        """A Lark grammar whose every sentence is one call (several when ``parallel``) to ``tools``."""
        schemas = [self.call_schema(n, p) for n, p in tools.items()]
        one = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
        if self.listed:
            body = {"type": "array", "items": one, "minItems": 1, **({} if parallel else {"maxItems": 1})}
            return f"start: {_lit(self.open)} call\ncall: %json {_embed(body)}\n"
        call = f"{_lit(self.open)} body {_lit(self.close)}" if self.open else "body"
        repeat = f" ({_lit(self.separator)} call)*" if parallel else ""
        return f"start: call{repeat}\ncall: {call}\nbody: %json {_embed(one)}\n"

    def auto_structures(self, tools: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """A structural tag that holds a call to its tool's schema once the model opens one."""
        if not self.open or self.listed:
            return None  # bare JSON has no trigger; listed calls are parsed and validated instead
        structures = [
            {"begin": f"{self.open}{{\"name\": {json.dumps(n)}, \"{self.args_key}\": ", "schema": p,
             "end": "}" + self.close}
            for n, p in tools.items()
        ]
        return {"structures": structures, "triggers": [self.open]}

    # --- history -----------------------------------------------------------------

    def render_calls(self, calls: list[ParsedCall]) -> str:
        """Past calls as the model would have written them (for templates without tool_calls)."""
        objects = [{"name": n, self.args_key: a} for n, a in calls]
        if self.listed:
            return self.open + json.dumps(objects, ensure_ascii=False)
        return self.separator.join(f"{self.open}{json.dumps(o, ensure_ascii=False)}{self.close}" for o in objects)


def _decode(text: str, start: int) -> tuple[Any, int] | None:
    """The JSON value that starts at ``start`` (after whitespace) and where it ends."""
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    try:
        return json.JSONDecoder().raw_decode(text, i)
    except json.JSONDecodeError:
        return None


def _lit(text: str) -> str:
    return json.dumps(text)


def _embed(schema: dict[str, Any]) -> str:
    return json.dumps({**schema, "x-guidance": JSON_OPTIONS})


FORMATS: dict[str, ToolFormat] = {}


def register_format(fmt: ToolFormat) -> ToolFormat:
    if fmt.name in FORMATS:
        raise ValueError(f"tool format {fmt.name!r} is already registered")
    FORMATS[fmt.name] = fmt
    return fmt


register_format(ToolFormat("hermes", "<tool_call>\n", "\n</tool_call>", "arguments", False, ("<tool_call>",)))
register_format(ToolFormat("mistral", "[TOOL_CALLS]", "", "arguments", True, ("[TOOL_CALLS]",)))
register_format(ToolFormat("llama3", "", "", "parameters", False, ("<|python_tag|>", "ipython")))

DEFAULT_FORMAT = "hermes"


def format_for_template(source: str | None) -> ToolFormat:
    """The format a chat template speaks; hermes for one that speaks none."""
    for fmt in FORMATS.values():
        if source and any(m in source for m in fmt.markers):
            return fmt
    return FORMATS[DEFAULT_FORMAT]


def _prompt_hermes(fmt: ToolFormat, tools: list[dict[str, Any]]) -> str:
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    example = fmt.render_calls([("<function-name>", {"<arg>": "<value>"})])
    return (
        "You may call functions to answer. The available functions, one JSON object per line:\n"
        f"<tools>\n{lines}\n</tools>\n"
        f"To call a function, reply with exactly:\n{example}"
    )


PromptWriter = Callable[[ToolFormat, list[dict[str, Any]]], str]
_PROMPTS: dict[str, PromptWriter] = {"hermes": _prompt_hermes, "mistral": _prompt_hermes, "llama3": _prompt_hermes}


def tools_prompt(fmt: ToolFormat, tools: list[dict[str, Any]]) -> str:
    """System text that teaches the format, for a template that cannot render ``tools`` itself."""
    return _PROMPTS[fmt.name](fmt, tools)
