"""Constraints inside the batched engine: each row masked alone, neighbours untouched, dead ends end one request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from psionic.models.constraints import Constraint, ConstraintDeadEnd
from psionic.models.generate import generate
from psionic.models.loader import LoadedModel, load_model
from psionic.models.sampling import SamplingParams
from psionic.serve.engine import Engine, EngineConfig
from psionic.serve.request import TokenOutput
from psionic.serve.scheduler import SchedulerConfig

REGEX = Constraint("regex", {"pattern": "[a-f]{3}-[0-9]{2}"})


@pytest.fixture(scope="module")
def tiny(tiny_model_path: Path) -> LoadedModel:
    return load_model(str(tiny_model_path))


def run(loaded: LoadedModel, jobs: list[tuple[str, SamplingParams]], poison: set[int] = frozenset()) -> dict[int, list[TokenOutput]]:  # type: ignore[assignment]
    engine = Engine(loaded, EngineConfig(kv_tokens=4096, scheduler=SchedulerConfig(max_num_seqs=8, max_num_batched_tokens=64)))
    outputs: dict[int, list[TokenOutput]] = {}
    for i, (prompt, params) in enumerate(jobs):
        request = engine.add_request(f"r{i}", loaded.tokenizer.encode(prompt), params,
                                     lambda out, i=i: outputs.setdefault(i, []).append(out))
        if i in poison:  # drive the grammar into its error state: no token is allowed any more
            assert request.sampler.guide is not None
            request.sampler.guide.matcher.consume_token(loaded.tokenizer.encode("z", add_special=False)[0])
    while engine.has_work:
        engine.step()
    assert engine.pool.num_used == 0
    return outputs


def tokens(outs: list[TokenOutput]) -> list[int]:
    return [o.token for o in outs if o.token is not None]


def test_constrained_rows_leave_their_neighbours_bit_identical(tiny: LoadedModel) -> None:
    plain = [("once upon", SamplingParams(temperature=0.9, seed=s, max_tokens=12, ignore_eos=True)) for s in (1, 2)]
    alone = run(tiny, plain)
    mixed = run(tiny, [plain[0], ("code:", SamplingParams(temperature=1.0, seed=7, max_tokens=12, constraint=REGEX)),
                       plain[1], ("id:", SamplingParams(temperature=0.0, max_tokens=12, constraint=REGEX))])
    assert tokens(mixed[0]) == tokens(alone[0]) and tokens(mixed[2]) == tokens(alone[1])
    for i in (1, 3):
        text = "".join(o.text for o in mixed[i])
        assert re.fullmatch("[a-f]{3}-[0-9]{2}", text) and mixed[i][-1].finish_reason == "stop"
    # The engine and single-stream generation (the replay path) agree on a constrained request.
    single = generate(tiny, tiny.tokenizer.encode("code:"), SamplingParams(temperature=1.0, seed=7, max_tokens=12,
                                                                            constraint=REGEX))
    assert single.tokens == tokens(mixed[1])


def test_a_dead_end_ends_only_that_request(tiny: LoadedModel) -> None:
    jobs = [("a", SamplingParams(temperature=0.0, max_tokens=6, constraint=REGEX)),
            ("b", SamplingParams(temperature=0.0, max_tokens=6, ignore_eos=True))]
    outs = run(tiny, jobs, poison={0})
    last = outs[0][-1]
    assert last.finish_reason == "error" and isinstance(last.error, ConstraintDeadEnd)
    assert tokens(outs[0]) == []  # nothing was sampled from a mask that allowed nothing
    assert len(tokens(outs[1])) == 6 and outs[1][-1].finish_reason == "length"
