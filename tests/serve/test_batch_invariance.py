"""Batching never changes a request's output: the basis of receipt replay."""

from __future__ import annotations

import pytest

from psionic.models.generate import generate
from psionic.models.loader import load_model
from psionic.models.sampling import SamplingParams
from psionic.serve.engine import Engine, EngineConfig
from psionic.serve.request import TokenOutput
from psionic.serve.scheduler import SchedulerConfig

PROMPTS = [
    "The capital of France is", "def fibonacci(n):", "Once upon a time", "1, 2, 3, 4,",
    "Water boils at", "The three primary colors are", "import numpy as np", "Translate: Good morning",
    "My favourite food is", "In 1969, astronauts", "The quick brown fox", "SELECT * FROM",
    "Dear Sir or Madam,", "The mitochondria is", "for i in range(10):", "Roses are red,",
]
MAX_TOKENS = 10


@pytest.fixture(scope="module")
def smollm():  # type: ignore[no-untyped-def]
    return load_model("smollm2-135m-instruct")


def run_engine(loaded, prompts: list[str], params: list[SamplingParams]) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    engine = Engine(loaded, EngineConfig(kv_tokens=4096, scheduler=SchedulerConfig(max_num_seqs=16, max_num_batched_tokens=64)))
    tokens: dict[str, list[int]] = {}

    def collect(rid: str):  # type: ignore[no-untyped-def]
        def on(out: TokenOutput) -> None:
            if out.token is not None:
                tokens.setdefault(rid, []).append(out.token)
        return on

    for i, (prompt, p) in enumerate(zip(prompts, params, strict=True)):
        engine.add_request(f"r{i}", loaded.tokenizer.encode(prompt), p, collect(f"r{i}"))
    while engine.has_work:
        engine.step()
    assert engine.pool.num_used == 0
    return tokens


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_alone_and_batched_with_15_others_give_the_same_tokens(smollm, temperature: float) -> None:  # type: ignore[no-untyped-def]
    params = [SamplingParams(temperature=temperature, seed=100 + i, max_tokens=MAX_TOKENS, ignore_eos=True) for i in range(16)]
    alone = run_engine(smollm, PROMPTS[:1], params[:1])["r0"]
    # Chunked prefill (64 tokens a step) makes the first request share steps with prefill chunks too.
    batched = run_engine(smollm, PROMPTS, params)
    assert batched["r0"] == alone
    # And single-stream generation (contiguous KV, the replay path) agrees with the engine.
    single = generate(smollm, smollm.tokenizer.encode(PROMPTS[0]), params[0])
    assert single.tokens == alone
    for i in (5, 15):
        assert generate(smollm, smollm.tokenizer.encode(PROMPTS[i]), params[i]).tokens == batched[f"r{i}"]
