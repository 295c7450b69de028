from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.models.sampling import Sampler, SamplingParams, logprobs

LOGITS = np.array([1.0, 3.0, 2.0, 0.5, -1.0, 2.9], dtype=np.float32)


def draws(params: SamplingParams, n: int = 200) -> list[int]:
    sampler = Sampler(params, vocab_size=len(LOGITS))
    return [sampler.sample(LOGITS) for _ in range(n)]


def test_greedy_takes_the_argmax() -> None:
    assert draws(SamplingParams(temperature=0.0), 5) == [1] * 5


def test_same_seed_same_tokens_different_seed_differs() -> None:
    a = draws(SamplingParams(temperature=1.0, seed=11))
    assert a == draws(SamplingParams(temperature=1.0, seed=11))
    assert a != draws(SamplingParams(temperature=1.0, seed=12))


def test_unseeded_requests_get_a_recorded_seed() -> None:
    sampler = Sampler(SamplingParams(temperature=1.0), vocab_size=6)
    assert sampler.params.seed is not None
    replay = Sampler(sampler.params, vocab_size=6)
    assert [sampler.sample(LOGITS) for _ in range(50)] == [replay.sample(LOGITS) for _ in range(50)]


def test_top_k_top_p_min_p_restrict_the_support() -> None:
    assert set(draws(SamplingParams(temperature=1.0, top_k=2, seed=1))) <= {1, 5}
    probs = Sampler(SamplingParams(temperature=1.0, top_p=0.5), 6).distribution(LOGITS)
    assert set(np.flatnonzero(probs)) == {1, 5}  # 3.0 and 2.9 hold just over half the mass
    probs = Sampler(SamplingParams(temperature=1.0, min_p=0.3), 6).distribution(LOGITS)
    assert set(np.flatnonzero(probs)) == {1, 2, 5}
    assert np.isclose(probs.sum(), 1.0)


def test_distribution_matches_softmax_at_temperature() -> None:
    probs = Sampler(SamplingParams(temperature=0.5), 6).distribution(LOGITS)
    z = LOGITS.astype(np.float64) / 0.5
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert np.allclose(probs, expected)


def test_penalties_and_bias() -> None:
    sampler = Sampler(
        SamplingParams(temperature=0.0, presence_penalty=0.5, frequency_penalty=0.5), 6
    )
    assert sampler.sample(LOGITS) == 1  # 3.0
    assert sampler.sample(LOGITS) == 5  # token 1 now 3.0 - 1.0 = 2.0 < 2.9
    rep = Sampler(SamplingParams(temperature=0.0, repetition_penalty=2.0), 6, prompt=[1])
    assert rep.sample(LOGITS) == 5  # 3.0 / 2 = 1.5
    biased = Sampler(SamplingParams(temperature=0.0, logit_bias={4: 10.0}), 6)
    assert biased.sample(LOGITS) == 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": -5}, "seed"),
        ({"stop": ("",)}, "stop"),
        ({"logit_bias": {1: 500.0}}, "logit_bias"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict, name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        SamplingParams(**kwargs)
    assert err.value.details["param"] == name


def test_bias_outside_vocab_is_refused() -> None:
    with pytest.raises(InvalidInput, match="outside the vocabulary"):
        Sampler(SamplingParams(logit_bias={99: 1.0}), vocab_size=6)


def test_logprobs() -> None:
    lp, top = logprobs(LOGITS, top=2)
    assert np.isclose(np.exp(lp).sum(), 1.0)
    assert [t for t, _ in top] == [1, 5]
