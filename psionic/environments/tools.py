"""Tools a model may call during a session, in the OpenAI function-tool shape the server speaks.

Each tool is a name, a description, a JSON schema for its arguments and a
pure function from arguments to text. ``spec()`` is what goes into a chat
request's ``tools``; ``call`` checks the arguments against the schema before
running the function, and a call that fails answers the model with the
problem (the session goes on; the transcript keeps the problem).

>>> TOOLS["calculator"].call({"expression": "(2 + 3) * 4"})
'20'
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psionic.environments.errors import ToolFailed

ToolFunction = Callable[[dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class EnvironmentTool:
    name: str
    description: str
    parameters: dict[str, Any]
    function: ToolFunction

    def spec(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}

    def call(self, arguments: Any) -> str:
        """The tool's answer; raises ``ToolFailed`` naming what is wrong with the arguments."""
        from jsonschema import Draft202012Validator

        if not isinstance(arguments, dict):
            raise ToolFailed(f"{self.name}: arguments must be a JSON object", tool=self.name)
        errors = sorted(Draft202012Validator(self.parameters).iter_errors(arguments), key=lambda e: list(e.path))
        if errors:
            raise ToolFailed(f"{self.name}: {errors[0].message}", tool=self.name)
        return self.function(arguments)


TOOLS: dict[str, EnvironmentTool] = {}


def register_tool(tool: EnvironmentTool) -> EnvironmentTool:
    if tool.name in TOOLS:
        raise ValueError(f"tool {tool.name!r} is already registered")
    TOOLS[tool.name] = tool
    return tool


# --- calculator ---------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_EXPRESSION = 200
MAX_MAGNITUDE = 10**15


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        value = _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _UNARY[type(node.op)](_evaluate(node.operand))
    else:
        raise ToolFailed("calculator: only numbers, + - * / // % and parentheses are allowed", tool="calculator")
    if abs(value) > MAX_MAGNITUDE:
        raise ToolFailed("calculator: a value is out of range", tool="calculator")
    return value


def calculate(arguments: dict[str, Any]) -> str:
    text = arguments["expression"]
    if len(text) > MAX_EXPRESSION:
        raise ToolFailed("calculator: the expression is too long", tool="calculator")
    try:
        value = _evaluate(ast.parse(text, mode="eval").body)
    except SyntaxError:
        raise ToolFailed(f"calculator: {text!r} is not an arithmetic expression", tool="calculator") from None
    except ZeroDivisionError:
        raise ToolFailed("calculator: division by zero", tool="calculator") from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(round(value, 6) if isinstance(value, float) else value)


register_tool(EnvironmentTool(
    "calculator", "Evaluate an arithmetic expression and return its value",
    {"type": "object", "properties": {"expression": {"type": "string", "maxLength": MAX_EXPRESSION}},
     "required": ["expression"], "additionalProperties": False},
    calculate,
))

# --- fixed tables: answers that do not depend on the world's state -------------------

WEATHER = {
    "paris": (18, "sunny"), "london": (12, "rainy"), "tokyo": (22, "cloudy"), "berlin": (9, "windy"),
    "madrid": (27, "sunny"), "rome": (24, "clear"), "oslo": (3, "snowy"), "cairo": (33, "hot and dry"),
}
CAPITALS = {
    "france": "Paris", "japan": "Tokyo", "germany": "Berlin", "spain": "Madrid", "italy": "Rome",
    "norway": "Oslo", "egypt": "Cairo", "canada": "Ottawa", "kenya": "Nairobi", "peru": "Lima",
}


def weather(arguments: dict[str, Any]) -> str:
    city = arguments["city"].strip().lower()
    if city not in WEATHER:
        return f"no weather report for {arguments['city']!r}"
    celsius, sky = WEATHER[city]
    if arguments.get("unit") == "fahrenheit":
        return f"{round(celsius * 9 / 5 + 32)} degrees fahrenheit and {sky}"
    return f"{celsius} degrees celsius and {sky}"


def capital(arguments: dict[str, Any]) -> str:
    return CAPITALS.get(arguments["country"].strip().lower(), f"unknown country {arguments['country']!r}")


register_tool(EnvironmentTool(
    "get_weather", "The current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                      "unit": {"enum": ["celsius", "fahrenheit"]}},
     "required": ["city"], "additionalProperties": False},
    weather,
))
register_tool(EnvironmentTool(
    "get_capital", "The capital city of a country",
    {"type": "object", "properties": {"country": {"type": "string", "maxLength": 40}},
     "required": ["country"], "additionalProperties": False},
    capital,
))
