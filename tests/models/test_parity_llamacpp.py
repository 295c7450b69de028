"""Parity with llama.cpp's own outputs on both shipped GGUF models (shared/fixtures/llamacpp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.models.generate import generate
from psionic.models.loader import LoadedModel, load_model
from psionic.models.parity import greedy_matches, load_fixture, psionic_predictions, score_top1
from psionic.models.sampling import SamplingParams

FIXTURES = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)
MODELS = {
    "smollm2-135m-instruct": "public_smollm2-135m-instruct-q4_1.json",
    "gemma3-270m": "public_gemma3-270m-q4_k_m.json",
}
# Measured with `psionic bench parity` (f32 activations throughout): smollm2 436/448 and 5/8
# greedy runs, gemma3 448/455 and 6/8. llama.cpp rounds every matmul's activations to 8 bits
# and Q, K, V and attention weights to f16; where its top two logits are near-tied, that
# rounding decides, and llama.cpp's own results move as much when only its evaluation path
# changes (flash attention: 441/448 and 5/8 on smollm2; one token at a time: 443/448, 7/8).
MIN_AGREEMENT = {"smollm2-135m-instruct": 0.97, "gemma3-270m": 0.98}
MIN_GREEDY_MATCHES = {"smollm2-135m-instruct": 5, "gemma3-270m": 6}
# Every disagreement falls where llama.cpp's own first two logits are this close (measured
# largest: 0.193 smollm2, 0.197 gemma3).
MAX_MISS_GAP = 0.2
pytestmark = pytest.mark.skipif(FIXTURES is None, reason="shared/fixtures/llamacpp is not beside this checkout")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / MODELS[name]).read_text())  # type: ignore[operator]


@pytest.fixture(scope="module", params=list(MODELS))
def case_set(request: pytest.FixtureRequest) -> tuple[LoadedModel, dict]:
    loaded = load_model(request.param)
    data = fixture(request.param)
    assert data["gguf_sha256"] == loaded.model_digest.removeprefix("sha256:")
    return loaded, data


def test_prompt_tokens_identical(case_set: tuple[LoadedModel, dict]) -> None:
    loaded, data = case_set
    for case in data["cases"]:
        assert loaded.tokenizer.encode(case["prompt"]) == case["prompt_tokens"]


def test_teacher_forced_top1_agreement(case_set: tuple[LoadedModel, dict]) -> None:
    loaded, _ = case_set
    _, cases = load_fixture(FIXTURES / MODELS[loaded.name])  # type: ignore[operator]
    score = score_top1(cases, psionic_predictions(loaded))
    assert score.total >= 400
    assert score.agreement >= MIN_AGREEMENT[loaded.name], f"{score.agree}/{score.total}"
    assert score.max_top5_diff < 2.0, f"largest top-5 logit difference {score.max_top5_diff:.3f}"
    # every disagreement is a near-tie in llama.cpp's own logits
    assert max(score.miss_gaps, default=0.0) < MAX_MISS_GAP, sorted(score.miss_gaps)


def test_greedy_continuations(case_set: tuple[LoadedModel, dict]) -> None:
    loaded, _ = case_set
    _, cases = load_fixture(FIXTURES / MODELS[loaded.name])  # type: ignore[operator]

    def greedy(prompt: list[int], n: int) -> list[int]:
        return generate(loaded, prompt, SamplingParams(temperature=0.0, max_tokens=n)).tokens

    same = greedy_matches(cases, greedy)
    assert same >= MIN_GREEDY_MATCHES[loaded.name], f"{same}/8 prompts continue identically for 16 tokens"
