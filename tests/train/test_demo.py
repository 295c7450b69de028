"""The demonstration (slow): LoRA on SmolLM2 lifts the held-out JSON-shape metric from its base
value to a clearly better one; the task's data and scoring are checked quickly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.data.records import parse_record
from psionic.train.demo_task import make_records, score_answer


def test_generated_records_are_valid_chat_records_and_deterministic() -> None:
    records = make_records(50, seed=0)
    assert records == make_records(50, seed=0) and records != make_records(50, seed=1)
    for i, r in enumerate(records):
        example = parse_record(json.dumps(r), "people.jsonl", i + 1)
        answer = json.loads(example.messages[-1].content)
        assert set(answer) == {"name", "age", "city", "job"}
        assert answer["name"] in example.messages[0].content


def test_scoring() -> None:
    expected = {"name": "Ada Berg", "age": 41, "city": "Brno", "job": "baker"}
    assert score_answer(json.dumps(expected), expected) == (True, 1.0)
    assert score_answer('{"name": "Ada Berg", "age": 41, "city": "Brno", "job": "Baker"}', expected) == (False, 0.75)
    assert score_answer("```json\n{}\n```", expected) == (False, 0.0)
    assert score_answer("[1]", expected) == (False, 0.0)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about 7 minutes on 2 shared cores, within the demonstration's 10
def test_lora_demo_improves_the_held_out_metric(tmp_path: Path) -> None:
    from psionic.train.demo import run_demo

    report = run_demo(tmp_path, progress=False)
    before, after = report["before"], report["after"]
    assert before["samples"] == after["samples"] >= 10
    assert after["exact"] >= before["exact"] + 0.5
    assert after["fields"] > before["fields"]
    assert report["train"]["eval_losses"][-1][1] < report["train"]["eval_losses"][0][1]
