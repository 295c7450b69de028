"""``response_format`` (chat, completions) and ``text.format`` (responses) as constraints.

OpenAI's formats are ``text``, ``json_object`` and ``json_schema``; the
extensions are ``regex`` (``{"type": "regex", "regex": R}``), ``choice``
(``{"type": "choice", "choice": [A, B]}``), ``grammar`` (``{"type": "grammar",
"grammar": G, "syntax": "lark" | "gbnf"}``) and ``structural_tag``
(``{"type": "structural_tag", "structures": [{"begin", "schema", "end"}],
"triggers": [...]}``). Each maps to a ``Constraint`` that is compiled (and
refused with a 400 if it cannot be enforced) before the request runs. A
schema is enforced whether ``strict`` is true or false; ``strict`` is kept in
the receipt as the client sent it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from psionic.models.constraints import Constraint, UnsupportedConstraint, grammar_for

Mapper = Callable[[dict[str, Any]], Constraint | None]
_FORMATS: dict[str, Mapper] = {}


def _format(name: str) -> Callable[[Mapper], Mapper]:
    def add(fn: Mapper) -> Mapper:
        if name in _FORMATS:
            raise ValueError(f"response format {name!r} is already registered")
        _FORMATS[name] = fn
        return fn

    return add


def _refuse(message: str, param: str = "response_format") -> UnsupportedConstraint:
    return UnsupportedConstraint(message, param=param)


@_format("text")
def _text(fmt: dict[str, Any]) -> Constraint | None:
    return None


@_format("json_object")
def _json_object(fmt: dict[str, Any]) -> Constraint | None:
    return Constraint("json_object", {})


@_format("json_schema")
def _json_schema(fmt: dict[str, Any]) -> Constraint | None:
    # Chat nests the schema under "json_schema"; responses' text.format holds it flat.
    body = fmt.get("json_schema", fmt)
    if not isinstance(body, dict) or "schema" not in body:
        raise _refuse("json_schema needs a 'schema'")
    spec = {"schema": body["schema"], "strict": bool(body.get("strict", False))}
    if isinstance(body.get("name"), str):
        spec["name"] = body["name"]
    return Constraint("json_schema", spec)


@_format("regex")
def _regex(fmt: dict[str, Any]) -> Constraint | None:
    return Constraint("regex", {"pattern": fmt.get("regex")})


@_format("choice")
def _choice(fmt: dict[str, Any]) -> Constraint | None:
    return Constraint("choice", {"choices": fmt.get("choice")})


@_format("grammar")
def _grammar(fmt: dict[str, Any]) -> Constraint | None:
    syntax = fmt.get("syntax", "lark")
    if syntax not in ("lark", "gbnf"):
        raise _refuse(f"grammar syntax {syntax!r} is not supported (lark or gbnf)")
    return Constraint(syntax, {"grammar": fmt.get("grammar")})


@_format("structural_tag")
def _structural_tag(fmt: dict[str, Any]) -> Constraint | None:
    return Constraint("structural_tag", {"structures": fmt.get("structures"), "triggers": fmt.get("triggers")})


def constraint_from_format(fmt: dict[str, Any] | None, param: str = "response_format") -> Constraint | None:
    """The constraint a format asks for (None for plain text); compiled now so errors are 400s."""
    if fmt is None:
        return None
    kind = fmt.get("type")
    mapper = _FORMATS.get(kind) if isinstance(kind, str) else None
    if mapper is None:
        raise _refuse(f"{param} type {kind!r} is not supported (known: {', '.join(sorted(_FORMATS))})", param)
    try:
        constraint = mapper(fmt)
        if constraint is not None:
            grammar_for(constraint)
    except UnsupportedConstraint as e:
        raise _refuse(e.message, param) from None
    return constraint


def structured_value(constraint: Constraint | None, text: str, finish_reason: str | None) -> Any:
    """The parsed output: JSON for JSON constraints, the text otherwise; None if unfinished."""
    if constraint is None or finish_reason != "stop":
        return None
    if constraint.kind in ("json_object", "json_schema"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return None
    return text
