"""Checkable instructions: each constraint is a name and parameters, and a pure check of the text.

>>> check_instruction({"check": "lowercase"}, "all quiet here")
True
>>> check_instruction({"check": "max_words", "n": 3}, "one two three four")
False
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from psionic.environments.errors import MalformedPackage

Check = Callable[[str, dict[str, Any]], bool]
# check name -> (parameters it needs with their types, the check)
CHECKS: dict[str, tuple[dict[str, type], Check]] = {}


def register_check(name: str, params: dict[str, type]) -> Callable[[Check], Check]:
    def add(fn: Check) -> Check:
        if name in CHECKS:
            raise ValueError(f"instruction check {name!r} is already registered")
        CHECKS[name] = (params, fn)
        return fn

    return add


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def _bullets(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"^\s*([-*•]|\d+[.)])\s+\S", line)]


@register_check("lowercase", {})
def _lowercase(text: str, p: dict[str, Any]) -> bool:
    return bool(text.strip()) and text == text.lower()


@register_check("uppercase", {})
def _uppercase(text: str, p: dict[str, Any]) -> bool:
    return any(c.isalpha() for c in text) and text == text.upper()


@register_check("max_words", {"n": int})
def _max_words(text: str, p: dict[str, Any]) -> bool:
    return 0 < len(_words(text)) <= p["n"]


@register_check("min_words", {"n": int})
def _min_words(text: str, p: dict[str, Any]) -> bool:
    return len(_words(text)) >= p["n"]


@register_check("include_word", {"word": str})
def _include_word(text: str, p: dict[str, Any]) -> bool:
    return p["word"].lower() in (w.lower() for w in _words(text))


@register_check("exclude_word", {"word": str})
def _exclude_word(text: str, p: dict[str, Any]) -> bool:
    return p["word"].lower() not in (w.lower() for w in _words(text))


@register_check("bullets", {"n": int})
def _bullet_count(text: str, p: dict[str, Any]) -> bool:
    return len(_bullets(text)) == p["n"]


@register_check("starts_with", {"prefix": str})
def _starts_with(text: str, p: dict[str, Any]) -> bool:
    return text.strip().lower().startswith(p["prefix"].lower())


@register_check("ends_with", {"suffix": str})
def _ends_with(text: str, p: dict[str, Any]) -> bool:
    return text.strip().lower().endswith(p["suffix"].lower())


@register_check("no_commas", {})
def _no_commas(text: str, p: dict[str, Any]) -> bool:
    return bool(text.strip()) and "," not in text


@register_check("one_line", {})
def _one_line(text: str, p: dict[str, Any]) -> bool:
    return bool(text.strip()) and "\n" not in text.strip()


def validate_instruction(spec: Any, where: str) -> None:
    """Raise ``MalformedPackage`` unless ``spec`` names a known check with the parameters it needs."""
    if not isinstance(spec, dict) or not isinstance(spec.get("check"), str):
        raise MalformedPackage(f"{where}: each instruction must be an object with a 'check' name", where=where)
    if spec["check"] not in CHECKS:
        raise MalformedPackage(f"{where}: unknown instruction check {spec['check']!r}; known: {sorted(CHECKS)}",
                               where=where)
    params, _ = CHECKS[spec["check"]]
    extra = set(spec) - {"check"} - set(params)
    if extra:
        raise MalformedPackage(f"{where}: check {spec['check']!r} takes no {sorted(extra)}", where=where)
    for name, kind in params.items():
        if not isinstance(spec.get(name), kind) or isinstance(spec.get(name), bool):
            raise MalformedPackage(f"{where}: check {spec['check']!r} needs {name!r} of type {kind.__name__}",
                                   where=where)


def check_instruction(spec: dict[str, Any], text: str) -> bool:
    return CHECKS[spec["check"]][1](text, spec)
