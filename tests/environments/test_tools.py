from __future__ import annotations

import pytest

from psionic.core.errors import PsionicError
from psionic.environments.session import run_tool
from psionic.environments.tools import TOOLS


@pytest.mark.parametrize(("expression", "value"), [("1 + 2 * 3", "7"), ("(10 - 4) / 4", "1.5"), ("-3 * -3", "9"),
                                                   ("17 // 5", "3"), ("17 % 5", "2"), ("8 / 2", "4")])
def test_calculator(expression: str, value: str) -> None:
    assert TOOLS["calculator"].call({"expression": expression}) == value


@pytest.mark.parametrize(("arguments", "words"), [
    ({"expression": "__import__('os')"}, "only numbers"), ({"expression": "2 **"}, "not an arithmetic"),
    ({"expression": "1/0"}, "division by zero"), ({"expression": "99999999 * 99999999"}, "out of range"),
    ({"expr": "1"}, "'expression' is a required property"), ([1], "must be a JSON object"),
])
def test_calculator_refuses(arguments: object, words: str) -> None:
    with pytest.raises(PsionicError, match=words) as err:
        TOOLS["calculator"].call(arguments)
    assert err.value.code == "tool_failed"


def test_tables() -> None:
    assert TOOLS["get_weather"].call({"city": "Paris"}) == "18 degrees celsius and sunny"
    assert TOOLS["get_weather"].call({"city": "paris", "unit": "fahrenheit"}) == "64 degrees fahrenheit and sunny"
    assert TOOLS["get_capital"].call({"country": "Kenya"}) == "Nairobi"
    assert "no weather report" in TOOLS["get_weather"].call({"city": "Atlantis"})


def test_a_failed_call_answers_the_model() -> None:
    assert run_tool("teleport", "{}") == ("error: there is no tool 'teleport'", "unknown tool 'teleport'")
    text, problem = run_tool("calculator", '{"expression": "1/0"}')
    assert text.startswith("error: calculator: division by zero") and problem
    assert run_tool("calculator", '{"expression": "6*7"}') == ("42", None)
