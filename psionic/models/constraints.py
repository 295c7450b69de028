"""Output constraints: what a request asks its output to match, as a grammar.

A ``Constraint`` is a kind (``json_object``, ``json_schema``, ``regex``,
``choice``, ``lark``, ``gbnf``, ``structural_tag``) and a JSON spec; its
``to_dict`` form is canonical, goes into receipts, and ``from_dict`` brings it
back for replay. ``grammar_for`` compiles it to an llguidance grammar and
refuses, naming the feature, anything the grammar engine cannot enforce: a
constraint is either applied in full or the request is refused, never
quietly loosened.

>>> grammar_for(Constraint("choice", {"choices": ["yes", "no"]})).startswith("start:")
True
>>> grammar_for(Constraint("json_schema", {"schema": {"not": {"type": "string"}}}))
Traceback (most recent call last):
...
psionic.models.constraints.UnsupportedConstraint: unsupported_constraint: ...
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from psionic.core.errors import InvalidInput, PsionicError

# JSON is generated compact except for one space after ':' and ',', with no
# other whitespace: a model cannot pad its output with endless blank lines.
JSON_OPTIONS: dict[str, Any] = {
    "item_separator": ", ",
    "key_separator": ": ",
    "whitespace_flexible": False,
    "lenient": False,  # an unimplemented keyword is an error, not ignored
    "coerce_one_of": False,
}
MAX_CHOICES = 4096


class UnsupportedConstraint(InvalidInput):
    """A schema or grammar that cannot be enforced token by token."""

    code = "unsupported_constraint"


class ConstraintDeadEnd(PsionicError):
    """The grammar allows no next token (the sequence cannot go on inside it)."""

    code = "constraint_dead_end"
    http_status = 500


@dataclass(frozen=True, slots=True)
class Constraint:
    """An output constraint; ``reasoning`` lets a thinking block come first, unconstrained.

    With ``reasoning=("<think>", "</think>")`` the output may open with that
    block (the opener must be one token); the constraint holds from the
    closer on, or from the first token if the output does not open with it.
    """

    kind: str
    spec: dict[str, Any] = field(default_factory=dict)
    reasoning: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _COMPILERS:
            raise UnsupportedConstraint(
                f"constraint kind {self.kind!r} is not supported (known: {', '.join(sorted(_COMPILERS))})",
                param="response_format",
            )

    def to_dict(self) -> dict[str, Any]:
        # The spec travels as JSON text: canonical JSON sorts object keys, and the order of a
        # schema's properties is the order the output writes them in.
        out: dict[str, Any] = {"kind": self.kind, "spec": json.dumps(self.spec, ensure_ascii=False)}
        if self.reasoning is not None:
            out["reasoning"] = list(self.reasoning)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraint:
        reasoning = data.get("reasoning")
        spec = data.get("spec", {})
        spec = json.loads(spec) if isinstance(spec, str) else dict(spec)
        return cls(data["kind"], spec, tuple(reasoning) if reasoning else None)

    def with_reasoning(self, reasoning: tuple[str, str] | None) -> Constraint:
        return Constraint(self.kind, self.spec, reasoning)


Compiler = Callable[[dict[str, Any]], str]
_COMPILERS: dict[str, Compiler] = {}


def register_constraint(kind: str) -> Callable[[Compiler], Compiler]:
    def add(fn: Compiler) -> Compiler:
        if kind in _COMPILERS:
            raise ValueError(f"constraint kind {kind!r} is already registered")
        _COMPILERS[kind] = fn
        return fn

    return add


def constraint_kinds() -> list[str]:
    return sorted(_COMPILERS)


def _llg() -> Any:
    import llguidance

    return llguidance


def _refuse(message: str) -> UnsupportedConstraint:
    # The grammar engine's messages span lines; errors here are one line.
    return UnsupportedConstraint(" ".join(message.split()), param="response_format")


def check_json_schema(schema: Any) -> None:
    """Refuse a schema that is not a valid JSON Schema (draft 2020-12)."""
    if not isinstance(schema, (dict, bool)):
        raise _refuse("a JSON schema must be an object")
    if isinstance(schema, dict) and "x-guidance" in schema:
        raise _refuse("the 'x-guidance' schema keyword is reserved: compile options are fixed by the server")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise _refuse(f"invalid JSON schema at {'/'.join(map(str, e.path)) or 'the root'}: {e.message}") from None


def schema_grammar(schema: Any) -> str:
    check_json_schema(schema)
    try:
        return str(_llg().LLMatcher.grammar_from_json_schema(schema, overrides=JSON_OPTIONS))
    except ValueError as e:
        raise _refuse(f"cannot compile the JSON schema: {e}") from None


@register_constraint("json_object")
def _json_object(spec: dict[str, Any]) -> str:
    return schema_grammar({"type": "object"})


@register_constraint("json_schema")
def _json_schema(spec: dict[str, Any]) -> str:
    if "schema" not in spec:
        raise _refuse("json_schema needs a 'schema'")
    return schema_grammar(spec["schema"])


@register_constraint("regex")
def _regex(spec: dict[str, Any]) -> str:
    pattern = spec.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise _refuse("regex needs a non-empty 'pattern' string")
    return str(_llg().LLMatcher.grammar_from_regex(pattern))


@register_constraint("choice")
def _choice(spec: dict[str, Any]) -> str:
    choices = spec.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        raise _refuse("choice needs a non-empty list of non-empty strings")
    if len(choices) > MAX_CHOICES:
        raise _refuse(f"choice allows at most {MAX_CHOICES} strings")
    # Lark string literals take JSON escapes, so json.dumps quotes any text safely.
    return "start: " + " | ".join(json.dumps(c) for c in dict.fromkeys(choices)) + "\n"


@register_constraint("lark")
def _lark(spec: dict[str, Any]) -> str:
    grammar = spec.get("grammar")
    if not isinstance(grammar, str) or not grammar.strip():
        raise _refuse("a Lark grammar must be a non-empty string")
    return str(_llg().LLMatcher.grammar_from_lark(grammar))


@register_constraint("gbnf")
def _gbnf(spec: dict[str, Any]) -> str:
    from llguidance.gbnf_to_lark import GbnfToLarkError, gbnf_to_lark

    grammar = spec.get("grammar")
    if not isinstance(grammar, str) or not grammar.strip():
        raise _refuse("a GBNF grammar must be a non-empty string")
    try:
        lark = gbnf_to_lark(grammar)
    except (GbnfToLarkError, ValueError, KeyError, AssertionError) as e:
        raise _refuse(f"cannot read the GBNF grammar: {e}") from None
    return str(_llg().LLMatcher.grammar_from_lark(lark))


@register_constraint("structural_tag")
def _structural_tag(spec: dict[str, Any]) -> str:
    """Free text in which each ``begin`` ... ``end`` segment must match its JSON schema."""
    from llguidance import StructTag

    structures, triggers = spec.get("structures"), spec.get("triggers")
    if not isinstance(structures, list) or not structures or not isinstance(triggers, list) or not triggers:
        raise _refuse("structural_tag needs non-empty 'structures' and 'triggers' lists")
    tags = []
    for i, s in enumerate(structures):
        begin, end, schema = s.get("begin"), s.get("end"), s.get("schema")
        if not isinstance(begin, str) or not isinstance(end, str):
            raise _refuse(f"structure {i} needs 'begin' and 'end' strings")
        trigger = next((t for t in triggers if isinstance(t, str) and t and begin.startswith(t)), None)
        if trigger is None:
            raise _refuse(f"structure {i}: no trigger is a prefix of its begin {begin!r}")
        check_json_schema(schema)
        tags.append(StructTag(trigger=trigger, begin=begin, grammar=schema, end=end))
    return str(StructTag.to_grammar(tags, assume_special=False))


def grammar_for(constraint: Constraint) -> str:
    """The llguidance grammar for ``constraint``; refuses what cannot be enforced."""
    return _compiled(constraint.kind, json.dumps(constraint.spec))  # key order matters: not sorted


@lru_cache(maxsize=256)
def _compiled(kind: str, spec_json: str) -> str:
    grammar = _COMPILERS[kind](json.loads(spec_json))
    failed, messages = _llg().LLMatcher.validate_grammar_with_warnings(grammar)
    if failed or messages:
        # A warning means part of the request would be ignored: refuse it too.
        raise _refuse(f"{kind} cannot be enforced: {'; '.join(messages)}")
    return grammar
