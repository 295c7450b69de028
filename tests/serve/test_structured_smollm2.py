"""Every constraint kind on the real SmolLM2, 20 schemas at once through the batched engine."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest

from tests.serve.conftest import RunningServer

S = {"type": "string", "maxLength": 16}
SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"city": S, "temp_c": {"type": "integer", "minimum": -40, "maximum": 50}},
     "required": ["city", "temp_c"], "additionalProperties": False},
    {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False},
    {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 2, "maxItems": 4},
    {"enum": ["red", "green", "blue"]},
    {"const": {"version": 1}},
    {"type": "string", "format": "date"},
    {"type": "string", "pattern": "^[A-Z][a-z]{2,6}$"},
    {"$defs": {"pt": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
                      "required": ["x", "y"], "additionalProperties": False}},
     "type": "object", "properties": {"a": {"$ref": "#/$defs/pt"}, "b": {"$ref": "#/$defs/pt"}},
     "required": ["a", "b"], "additionalProperties": False},
    {"anyOf": [{"type": "integer", "minimum": 100, "maximum": 999}, {"type": "string", "enum": ["none"]}]},
    # deep nesting
    {"type": "object", "properties": {"l1": {"type": "object", "properties": {"l2": {"type": "object", "properties": {
        "l3": {"type": "object", "properties": {"l4": {"type": "object", "properties": {"v": {"type": "boolean"}},
                                                       "required": ["v"], "additionalProperties": False}},
               "required": ["l4"], "additionalProperties": False}}, "required": ["l3"], "additionalProperties": False}},
        "required": ["l2"], "additionalProperties": False}}, "required": ["l1"], "additionalProperties": False},
    # a long enum
    {"enum": [f"item-{i:03d}" for i in range(300)]},
    # unicode keys and values
    {"type": "object", "properties": {"città": {"enum": ["Zürich", "東京", "São Paulo"]}, "温度": {"type": "integer",
     "minimum": -5, "maximum": 5}}, "required": ["città", "温度"], "additionalProperties": False},
    {"type": "object", "properties": {"tags": {"type": "array", "items": S, "minItems": 1, "maxItems": 3}},
     "required": ["tags"], "additionalProperties": False},
    {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 5}},
                                "required": ["id"], "additionalProperties": False}, "minItems": 1, "maxItems": 2},
    {"type": "object", "properties": {"kind": {"const": "event"}, "at": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}},
     "required": ["kind", "at"], "additionalProperties": False},
    {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
    {"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}},
     "required": ["n"], "additionalProperties": False},
    {"oneOf": [{"type": "object", "properties": {"cat": {"const": "meow"}}, "required": ["cat"],
                "additionalProperties": False},
               {"type": "object", "properties": {"dog": {"const": "woof"}}, "required": ["dog"],
                "additionalProperties": False}]},
    {"type": "object", "properties": {"q": {"type": "string", "minLength": 2, "maxLength": 5}},
     "required": ["q"], "additionalProperties": {"type": "integer"}, "maxProperties": 2},
    {"type": "array", "prefixItems": [{"type": "string", "enum": ["lat"]}, {"type": "number", "minimum": -90,
     "maximum": 90}], "items": False},
]
MAX_TOKENS = 96


def chat(server: RunningServer, fmt: dict[str, Any], prompt: str, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    r = httpx.post(server.base_url + "/v1/chat/completions", timeout=300, json={
        "model": server.model, "messages": [{"role": "user", "content": prompt}],
        "response_format": fmt, "max_tokens": max_tokens, "temperature": 0})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_twenty_schemas_parse_and_validate(smol_server: RunningServer) -> None:
    def one(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        return schema, chat(smol_server, fmt, "Answer in JSON about the weather today.")

    with ThreadPoolExecutor(len(SCHEMAS)) as pool:
        results = list(pool.map(one, SCHEMAS))
    unfinished = [(s, b["choices"][0]["message"]["content"]) for s, b in results
                  if b["choices"][0]["finish_reason"] != "stop"]
    assert not unfinished
    for schema, body in results:
        value = json.loads(body["choices"][0]["message"]["content"])
        jsonschema.validate(value, schema)
        assert body["psionic"]["structured_value"] == value
    assert max(max(b["psionic"]["batch_sizes"][0]) for _, b in results) > 1  # they really shared steps


@pytest.mark.parametrize("fmt, check", [
    ({"type": "json_object"}, lambda t: isinstance(json.loads(t), dict)),
    ({"type": "regex", "regex": r"(Mon|Tue|Wed)day, [0-9]{1,2} (May|June)"},
     lambda t: re.fullmatch(r"(Mon|Tue|Wed)day, [0-9]{1,2} (May|June)", t)),
    ({"type": "choice", "choice": ["Paris", "London", "Rome"]}, lambda t: t in ("Paris", "London", "Rome")),
    ({"type": "grammar", "syntax": "lark", "grammar": 'start: "The answer is " ANSWER "."\nANSWER: /[a-zA-Z]{1,12}/'},
     lambda t: re.fullmatch(r"The answer is [a-zA-Z]{1,12}\.", t)),
    ({"type": "grammar", "syntax": "gbnf", "grammar": 'root ::= "yes" | "no"'}, lambda t: t in ("yes", "no")),
    ({"type": "structural_tag", "triggers": ["<city>"],
      "structures": [{"begin": "<city>", "schema": {"enum": ["Paris", "Lyon"]}, "end": "</city>"}]},
     lambda t: all(s in ('"Paris"', '"Lyon"') for s in re.findall(r"<city>(.*?)</city>", t))),
])
def test_every_constraint_kind(smol_server: RunningServer, fmt: dict[str, Any], check: Any) -> None:
    body = chat(smol_server, fmt, "What is the capital of France? Answer briefly.", max_tokens=48)
    text = body["choices"][0]["message"]["content"]
    assert check(text), text
