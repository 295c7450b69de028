"""Parity with llama.cpp's own outputs on both shipped GGUF models (shared/fixtures/llamacpp)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from psionic.models.decoder import Segment
from psionic.models.generate import generate
from psionic.models.kv_cache import KVCache
from psionic.models.loader import LoadedModel, load_model
from psionic.models.sampling import SamplingParams

FIXTURES = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)
MODELS = {
    "smollm2-135m-instruct": "public_smollm2-135m-instruct-q4_1.json",
    "gemma3-270m": "public_gemma3-270m-q4_k_m.json",
}
# Teacher-forced top-1 agreement measured with f32 activations (llama.cpp rounds its
# activations to 8 bits, so near-ties can flip): smollm2 436/448, gemma3 448/455.
MIN_AGREEMENT = {"smollm2-135m-instruct": 0.97, "gemma3-270m": 0.98}
# Prompts whose first 16 greedy tokens equal llama.cpp's (measured: 5/8 and 6/8; each miss
# starts at a teacher-forced near-tie, below 0.2 logits apart in llama.cpp's own output).
MIN_GREEDY_MATCHES = {"smollm2-135m-instruct": 5, "gemma3-270m": 6}
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
    loaded, data = case_set
    cfg = loaded.config
    agree = total = 0
    worst = 0.0
    for case in data["cases"]:
        tokens = case["prompt_tokens"] + case["greedy_tokens"]
        kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(tokens))
        logits = loaded.model(np.asarray(tokens), [Segment(kv, 0, len(tokens))], logit_rows=np.arange(len(tokens)))
        for row, top in zip(logits, case["top5_per_position"], strict=False):
            total += 1
            agree += int(np.argmax(row) == top["ids"][0])
            worst = max(worst, float(np.max(np.abs(row[top["ids"]] - np.asarray(top["logits"])))))
    assert total >= 400
    assert agree / total >= MIN_AGREEMENT[loaded.name], f"{agree}/{total}"
    assert worst < 2.0, f"largest top-5 logit difference {worst:.3f}"


def test_greedy_continuations(case_set: tuple[LoadedModel, dict]) -> None:
    loaded, data = case_set
    same = 0
    for case in data["cases"]:
        result = generate(loaded, case["prompt_tokens"], SamplingParams(temperature=0.0, max_tokens=16))
        same += int(result.tokens[:16] == case["greedy_tokens"][:16])
    assert same >= MIN_GREEDY_MATCHES[loaded.name], f"{same}/8 prompts continue identically for 16 tokens"
