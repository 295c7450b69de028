from __future__ import annotations

import pytest

from psionic.core.errors import PsionicError
from psionic.environments.instructions import check_instruction, validate_instruction
from psionic.environments.rubrics import RUBRICS, Answer, last_number

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize(("text", "want"), [("12", 12.0), ("It is 1,234.", 1234.0), ("-7 then 3.5", 3.5),
                                            ("none", None), ("x = -40", -40.0)])
def test_last_number(text: str, want: float | None) -> None:
    assert last_number(text) == want


def test_exact_number() -> None:
    rubric = RUBRICS["exact_number"]
    assert rubric.score(Answer("So 3 + 4 = 7"), 7).passed
    miss = rubric.score(Answer("8"), 7)
    assert (miss.value, miss.passed, miss.detail) == (0.0, False, "answered 8, expected 7")
    assert rubric.score(Answer("no idea"), 7).detail == "answered no number, expected 7"


def test_json_schema_levels() -> None:
    rubric = RUBRICS["json_schema"]
    expected = {"schema": SCHEMA, "value": {"name": "Alice", "age": 30}}
    assert rubric.score(Answer('{"name": "alice", "age": 30}'), expected).value == 1.0
    assert rubric.score(Answer('```json\n{"name": "Bob", "age": 3}\n```'), expected).value == 0.5
    broken = rubric.score(Answer('{"name": "Alice"}'), expected)
    assert not broken.passed and "breaks the schema" in broken.detail
    assert rubric.score(Answer("Alice, 30"), expected).detail == "not JSON"
    assert rubric.score(Answer('{"name": "A", "age": 1}'), {"schema": SCHEMA}).passed


def test_tool_call_levels() -> None:
    rubric = RUBRICS["tool_call"]
    expected = {"name": "get_weather", "arguments": {"city": "Paris"}}
    right = Answer(tool_calls=({"name": "get_weather", "arguments": {"city": "paris", "unit": "celsius"}},))
    assert rubric.score(right, expected).value == 1.0
    half = rubric.score(Answer(tool_calls=({"name": "get_weather", "arguments": {"city": "Rome"}},)), expected)
    assert (half.value, half.passed) == (0.5, False)
    assert rubric.score(Answer(tool_calls=({"name": "get_capital", "arguments": {}},)), expected).value == 0.0
    assert rubric.score(Answer("It is sunny"), expected).detail == "no tool call"


def test_instructions_share_kept() -> None:
    rubric = RUBRICS["instructions"]
    checks = [{"check": "lowercase"}, {"check": "max_words", "n": 5}, {"check": "include_word", "word": "tea"}]
    assert rubric.score(Answer("i like tea"), checks).passed
    partial = rubric.score(Answer("I like coffee very much today"), checks)
    assert partial.value == 0.0 and partial.detail == "0/3 kept; broke lowercase, max_words, include_word"
    assert rubric.score(Answer("i like coffee"), checks).value == pytest.approx(2 / 3)


@pytest.mark.parametrize(("spec", "text", "ok"), [
    ({"check": "bullets", "n": 2}, "- a\n- b", True), ({"check": "bullets", "n": 2}, "- a\n1. b\n* c", False),
    ({"check": "ends_with", "suffix": "Done."}, "ok. done.", True), ({"check": "no_commas"}, "a, b", False),
    ({"check": "one_line"}, "one\ntwo", False), ({"check": "uppercase"}, "YES!", True),
    ({"check": "starts_with", "prefix": "Yes"}, " yes indeed", True), ({"check": "min_words", "n": 3}, "a b", False),
    ({"check": "exclude_word", "word": "no"}, "Nothing", True),
])
def test_instruction_checks(spec: dict, text: str, ok: bool) -> None:
    assert check_instruction(spec, text) is ok


@pytest.mark.parametrize(("spec", "words"), [
    ({"check": "sparkle"}, "unknown instruction check"), ({"check": "max_words"}, "needs 'n'"),
    ({"check": "max_words", "n": True}, "needs 'n'"), ({"check": "lowercase", "n": 3}, "takes no"),
    ("lowercase", "'check' name"),
])
def test_bad_instructions(spec: object, words: str) -> None:
    with pytest.raises(PsionicError, match=words):
        validate_instruction(spec, "here")


def test_exact_result() -> None:
    rubric = RUBRICS["exact_result"]
    assert rubric.score(Answer(result=(6,)), {"result": ["6"], "trap": None}).passed
    assert not rubric.score(Answer(result=(7,)), {"result": ["6"], "trap": None}).passed
    trapped = rubric.score(Answer(trap="integer_divide_by_zero"), {"result": [], "trap": "integer_divide_by_zero"})
    assert trapped.passed
    with pytest.raises(PsionicError, match="decimal strings"):
        rubric.check_expected({"result": [6], "trap": None}, "here")
