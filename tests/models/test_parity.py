"""Scoring against llama.cpp's recorded outputs: agreement, top-5 gaps, near-ties, greedy runs,
and the errors a broken fixture gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.core.errors import MalformedFile
from psionic.models.parity import (
    LLAMACPP_PATHS,
    ParityCase,
    greedy_matches,
    load_fixture,
    score_top1,
)

CASE = ParityCase(
    "p", [7], [1, 2],
    [((1, 4), (3.0, 2.5)), ((2, 5), (1.0, 0.9)), ((3, 6), (4.0, 0.0))],
)


def test_score_counts_agreement_gaps_of_misses_and_the_largest_top5_difference() -> None:
    predictions = [(1, [3.0, 2.5]), (5, [0.95, 1.0]), (3, [4.5, 0.0])]
    score = score_top1([CASE], lambda case: predictions)
    assert (score.agree, score.total) == (2, 3)
    assert score.agreement == pytest.approx(2 / 3)
    assert score.miss_gaps == [pytest.approx(0.1)]  # the reference's own first-second gap
    assert score.max_top5_diff == pytest.approx(0.5)
    assert score.to_dict()["miss_reference_gaps"] == [0.1]


def test_score_refuses_predictions_of_the_wrong_length() -> None:
    with pytest.raises(ValueError):
        score_top1([CASE], lambda case: [(1, [3.0, 2.5])])


def test_greedy_matches_compares_the_first_16_tokens_or_fewer_at_eos() -> None:
    long = ParityCase("a", [1], list(range(20)), [])
    short = ParityCase("b", [2], [5, 6], [])  # the reference stopped at EOS after two tokens
    asked: list[int] = []

    def greedy(prompt: list[int], n: int) -> list[int]:
        asked.append(n)
        return list(range(n)) if prompt == [1] else [5, 6]

    assert greedy_matches([long, short], greedy) == 2
    assert asked == [16, 2]
    assert greedy_matches([long], lambda p, n: [*range(15), 99]) == 0


def test_the_fixtures_own_path_comes_first() -> None:
    first = next(iter(LLAMACPP_PATHS.values()))
    assert (first.flash_attn, first.batch) == (False, True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        json.dumps({"model": "m"}),
        json.dumps({"cases": [{"prompt": "p"}]}),
        json.dumps({"cases": [{"prompt": "p", "prompt_tokens": [1], "greedy_tokens": [2],
                               "top5_per_position": [{"ids": [1]}]}]}),
        json.dumps({"cases": 3}),
    ],
)
def test_broken_fixtures_get_a_typed_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fixture.json"
    path.write_text(text)
    with pytest.raises(MalformedFile, match="parity fixture"):
        load_fixture(path)


def test_a_missing_fixture_gets_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(MalformedFile):
        load_fixture(tmp_path / "absent.json")
