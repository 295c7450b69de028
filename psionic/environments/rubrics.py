"""Rubrics: how an answer is scored against a task's expected artifacts.

A rubric is registered under a name with a check of the ``expected`` field
(run when the package loads, so a bad task fails before anything runs) and a
scorer returning a ``Score``: ``value`` in [0, 1], ``passed`` (the binary
outcome paired tests use) and a ``detail`` a reader can check by eye.

>>> RUBRICS["exact_number"].score(Answer(text="The answer is 12."), 12)
Score(value=1.0, passed=True, detail='answered 12, expected 12')
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.environments.errors import MalformedPackage
from psionic.environments.instructions import check_instruction, validate_instruction


@dataclass(frozen=True, slots=True)
class Answer:
    """What the model (or executor) produced: the final text, every tool call, or a program's result."""

    text: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()  # {"name", "arguments"} in the order they were made
    result: tuple[int, ...] | None = None
    trap: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "tool_calls": [dict(c) for c in self.tool_calls]}
        if self.result is not None or self.trap is not None:
            out.update(result=[str(v) for v in self.result or ()], trap=self.trap)
        return out


@dataclass(frozen=True, slots=True)
class Score:
    value: float
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Rubric:
    name: str
    check_expected: Callable[[Any, str], None]
    score: Callable[[Answer, Any], Score]
    description: str = field(default="")


RUBRICS: dict[str, Rubric] = {}


def register_rubric(rubric: Rubric) -> Rubric:
    if rubric.name in RUBRICS:
        raise ValueError(f"rubric {rubric.name!r} is already registered")
    RUBRICS[rubric.name] = rubric
    return rubric


def _bad(where: str, message: str) -> MalformedPackage:
    return MalformedPackage(f"{where}: {message}", where=where)


# --- exact_number -------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands separators allowed), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def _check_number(expected: Any, where: str) -> None:
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        raise _bad(where, "exact_number expects a number")


def _score_number(answer: Answer, expected: Any) -> Score:
    got = last_number(answer.text)
    shown = "no number" if got is None else (str(int(got)) if got.is_integer() else str(got))
    ok = got is not None and abs(got - float(expected)) < 1e-9
    return Score(1.0 if ok else 0.0, ok, f"answered {shown}, expected {expected}")


register_rubric(Rubric("exact_number", _check_number, _score_number,
                       "the last number in the answer equals the expected number"))


# --- json_schema --------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def json_in(text: str) -> tuple[bool, Any]:
    """(parsed, value): the answer as JSON, or the body of its first fenced code block."""
    for candidate in (text.strip(), *(m.strip() for m in _FENCE.findall(text))):
        try:
            return True, json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return False, None


def _check_schema(expected: Any, where: str) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(expected, dict) or not isinstance(expected.get("schema"), dict):
        raise _bad(where, "json_schema expects {'schema': {...}, 'value': optional}")
    try:
        Draft202012Validator.check_schema(expected["schema"])
    except SchemaError as e:
        raise _bad(where, f"the schema is not a JSON schema: {e.message}") from None


def _same(want: Any, got: Any) -> bool:
    """``got`` holds ``want``: strings compare without case or edge spaces, objects by ``want``'s keys."""
    if isinstance(want, str) and isinstance(got, str):
        return want.strip().lower() == got.strip().lower()
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _same(v, got[k]) for k, v in want.items())
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(_same(w, g) for w, g in zip(want, got, strict=True))
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, int | float) and isinstance(got, int | float):
        return float(want) == float(got)
    return bool(want == got)


def _score_schema(answer: Answer, expected: Any) -> Score:
    from jsonschema import Draft202012Validator

    parsed, value = json_in(answer.text)
    if not parsed:
        return Score(0.0, False, "not JSON")
    errors = list(Draft202012Validator(expected["schema"]).iter_errors(value))
    if errors:
        return Score(0.0, False, f"JSON that breaks the schema: {errors[0].message[:120]}")
    if "value" not in expected:
        return Score(1.0, True, "valid")
    if _same(expected["value"], value):
        return Score(1.0, True, "valid, values as expected")
    return Score(0.5, True, "valid, values differ from the expected ones")


register_rubric(Rubric("json_schema", _check_schema, _score_schema,
                       "passed: the answer is JSON that validates; value 1 when its fields also match"))


# --- tool_call ----------------------------------------------------------------------


def _check_call(expected: Any, where: str) -> None:
    if not isinstance(expected, dict) or not isinstance(expected.get("name"), str) \
            or not isinstance(expected.get("arguments", {}), dict):
        raise _bad(where, "tool_call expects {'name': str, 'arguments': {...}}")


def _score_call(answer: Answer, expected: Any) -> Score:
    if not answer.tool_calls:
        return Score(0.0, False, "no tool call")
    call = answer.tool_calls[0]
    args = call.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            args = None
    if call.get("name") != expected["name"]:
        return Score(0.0, False, f"called {call.get('name')!r}, expected {expected['name']!r}")
    want = expected.get("arguments", {})
    if isinstance(args, dict) and _same(want, args):
        return Score(1.0, True, f"called {expected['name']} with the expected arguments")
    return Score(0.5, False, f"called {expected['name']} with {json.dumps(args)[:80]}, expected {json.dumps(want)}")


register_rubric(Rubric("tool_call", _check_call, _score_call,
                       "the first call names the expected tool (0.5) with the expected arguments (1)"))


# --- instructions -------------------------------------------------------------------


def _check_instructions(expected: Any, where: str) -> None:
    if not isinstance(expected, list) or not expected:
        raise _bad(where, "instructions expects a non-empty list of checks")
    for spec in expected:
        validate_instruction(spec, where)


def _score_instructions(answer: Answer, expected: Any) -> Score:
    results = [(spec["check"], check_instruction(spec, answer.text)) for spec in expected]
    kept = sum(ok for _, ok in results)
    failed = [name for name, ok in results if not ok]
    detail = f"{kept}/{len(results)} kept" + (f"; broke {', '.join(failed)}" if failed else "")
    return Score(kept / len(results), kept == len(results), detail)


register_rubric(Rubric("instructions", _check_instructions, _score_instructions,
                       "value: the share of checkable instructions kept; passed: all of them"))


# --- exact_result (programs) --------------------------------------------------------


def _check_result(expected: Any, where: str) -> None:
    if not isinstance(expected, dict) or set(expected) != {"result", "trap"}:
        raise _bad(where, "exact_result expects {'result': [decimal strings], 'trap': str or null}")
    result = expected["result"]
    if not isinstance(result, list) or not all(isinstance(v, str) and re.fullmatch(r"-?\d+", v) for v in result):
        raise _bad(where, "exact_result 'result' must be a list of decimal strings")
    if expected["trap"] is not None and not isinstance(expected["trap"], str):
        raise _bad(where, "exact_result 'trap' must be a string or null")


def _score_result(answer: Answer, expected: Any) -> Score:
    got = [str(v) for v in answer.result or ()]
    ran = answer.result is not None or answer.trap is not None
    ok = ran and got == expected["result"] and answer.trap == expected["trap"]
    if not ran:
        shown = answer.text or "no result"  # the executor refused the program
    else:
        shown = f"trap {answer.trap}" if answer.trap else f"result {got}"
    want = f"trap {expected['trap']}" if expected["trap"] else f"result {expected['result']}"
    return Score(1.0 if ok else 0.0, ok, f"{shown}, expected {want}")


register_rubric(Rubric("exact_result", _check_result, _score_result,
                       "the program's result (or trap) is exactly the expected one"))
