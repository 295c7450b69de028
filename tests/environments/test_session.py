from __future__ import annotations

import asyncio
from typing import Any

from psionic.environments.package import build_package
from psionic.environments.session import plan_session, run_chat
from psionic.environments.task import Task


def _pkg(n: int = 10, **kw: Any) -> Any:
    tasks = [Task(f"t{i}", i, ({"role": "user", "content": f"q{i}"},)) for i in range(n)]
    return build_package("demo", "1.0.0", "chat", "exact_number", tasks, **kw)


def test_same_seed_same_samples() -> None:
    pkg = _pkg()
    a, b = plan_session(pkg, 7, samples=4, repeats=3), plan_session(pkg, 7, samples=4, repeats=3)
    assert [(s.key, s.seed) for s in a] == [(s.key, s.seed) for s in b]
    assert len(a) == 12 and len({s.seed for s in a}) == 12
    assert [s.task.id for s in a[:4]] == [s.task.id for s in a[4:8]]  # repeat-major, same tasks each repeat
    other = plan_session(pkg, 8, samples=4)
    assert [s.task.id for s in other] != [s.task.id for s in a[:4]] or [s.seed for s in other] != [s.seed for s in a[:4]]
    assert len(plan_session(pkg, 7)) == 10


def test_a_smaller_session_is_a_prefix() -> None:
    pkg = _pkg()
    assert [s.key for s in plan_session(pkg, 1, samples=3)] == [s.key for s in plan_session(pkg, 1, samples=5)][:3]


def test_tool_loop_runs_tools_and_returns_results() -> None:
    pkg = _pkg(1, tools=["calculator"], max_turns=3)
    task = Task("t", 42, ({"role": "user", "content": "6*7?"},), tool_choice="required")
    sent: list[dict[str, Any]] = []

    async def send(request: dict[str, Any]) -> dict[str, Any]:
        sent.append(request)
        if len(sent) == 1:
            call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'}}
            return {"message": {"role": "assistant", "content": None, "tool_calls": [call]}}
        return {"message": {"role": "assistant", "content": "It is 42."}}

    transcript = asyncio.run(run_chat(pkg, task, send))
    assert [r["tool_choice"] for r in sent] == ["required", "none"]  # a forced call is not forced again
    assert sent[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "content": "42"}
    answer = transcript.answer()
    assert answer.text == "It is 42." and answer.tool_calls == ({"name": "calculator", "arguments": {"expression": "6*7"}},)
    assert sent[0]["tools"][0]["function"]["name"] == "calculator"


def test_turn_limit_stops_the_loop() -> None:
    pkg = _pkg(1, tools=["calculator"], max_turns=2)
    calls = 0

    async def send(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        call = {"id": f"c{calls}", "function": {"name": "calculator", "arguments": '{"expression": "1"}'}}
        return {"message": {"role": "assistant", "content": None, "tool_calls": [call]}}

    transcript = asyncio.run(run_chat(pkg, pkg.tasks[0], send))
    assert calls == 2 and len(transcript.turns) == 2 and len(transcript.tool_results) == 1
