from __future__ import annotations

import pytest

from psionic.models.sampling import Sampler, SamplingParams
from psionic.serve.block_pool import BlockPool
from psionic.serve.request import EngineRequest, Status
from psionic.serve.scheduler import Scheduler, SchedulerConfig


def request(rid: str, prompt: int, max_tokens: int = 4, first: int = 1) -> EngineRequest:
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    return EngineRequest(
        request_id=rid,
        prompt_tokens=list(range(first, first + prompt)),
        params=params,
        sampler=Sampler(params, 1000),
        budget=max_tokens,
        namespace=b"m",
        on_output=lambda out: None,
    )


def run_step(sched: Scheduler) -> list[tuple[str, int, int]]:
    """Schedule, then pretend the model ran: complete chunks, append a token where one is sampled."""
    plan = sched.schedule()
    for chunk in plan:
        sched.complete(chunk)
        if chunk.samples:
            chunk.request.output_tokens.append(7)
    return [(c.request.request_id, c.start, c.length) for c in plan]


def test_chunked_prefill_mixes_with_decode_under_the_budget() -> None:
    sched = Scheduler(BlockPool(64, 4), SchedulerConfig(max_num_seqs=4, max_num_batched_tokens=8))
    sched.add(request("a", 3))
    assert run_step(sched) == [("a", 0, 3)]
    sched.add(request("b", 20))
    # a decodes one token; b prefills the 7 that fit in the budget
    assert run_step(sched) == [("a", 3, 1), ("b", 0, 7)]
    assert run_step(sched) == [("a", 4, 1), ("b", 7, 7)]
    assert run_step(sched) == [("a", 5, 1), ("b", 14, 6)]  # b's last chunk samples its first token
    assert run_step(sched) == [("a", 6, 1), ("b", 20, 1)]


def test_running_limit_and_fifo_admission() -> None:
    sched = Scheduler(BlockPool(64, 4), SchedulerConfig(max_num_seqs=2, max_num_batched_tokens=100))
    for rid in "abc":
        sched.add(request(rid, 2))
    assert [r for r, _, _ in run_step(sched)] == ["a", "b"]
    sched.finish(sched.running[0])
    assert [r for r, _, _ in run_step(sched)] == ["b", "c"]


def test_finish_releases_blocks_at_once() -> None:
    pool = BlockPool(16, 4)
    sched = Scheduler(pool, SchedulerConfig())
    req = request("a", 10)
    sched.add(req)
    run_step(sched)
    assert pool.num_used == 3
    sched.finish(req)
    assert pool.num_used == 0 and req.status is Status.FINISHED and not sched.has_work


def test_prefix_cache_skips_cached_blocks_but_never_the_last_token() -> None:
    pool = BlockPool(16, 4)
    sched = Scheduler(pool, SchedulerConfig())
    first = request("a", 9)
    sched.add(first)
    run_step(sched)
    sched.finish(first)
    again = request("b", 9)  # same 9 prompt tokens: blocks [1-4] and [5-8] are cached
    sched.add(again)
    assert run_step(sched) == [("b", 8, 1)]
    assert again.cached_tokens == 8
    exact = request("c", 8)  # a prompt of exactly two blocks: the last block is recomputed
    sched.add(exact)
    assert run_step(sched)[-1] == ("c", 4, 4)


def test_preemption_when_blocks_run_out_then_recompute() -> None:
    pool = BlockPool(4, 4)  # 16 positions in all
    sched = Scheduler(pool, SchedulerConfig(max_num_batched_tokens=64))
    a, b = request("a", 8, max_tokens=8), request("b", 8, max_tokens=8, first=100)
    sched.add(a)
    sched.add(b)
    run_step(sched)  # both prefilled: 2 blocks each, pool full
    assert pool.num_free == 0
    plan = run_step(sched)  # a needs a third block: b is preempted and goes back to wait
    assert plan == [("a", 8, 1)]
    assert sched.preemptions == 1 and b.status is Status.WAITING and b.num_computed_tokens == 0
    assert [r.request_id for r in sched.running] == ["a"]
    sched.finish(a)
    plan = run_step(sched)
    assert plan[0][0] == "b"


def test_a_request_larger_than_the_pool_is_refused() -> None:
    sched = Scheduler(BlockPool(2, 4), SchedulerConfig())
    sched.add(request("a", 20))
    with pytest.raises(MemoryError):
        sched.schedule()
