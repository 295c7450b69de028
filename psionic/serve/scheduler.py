"""The scheduler: which requests advance by how many tokens in the next step.

State is counters, not phases: each request has ``num_computed_tokens``
against ``num_tokens`` (prompt plus output so far). Prefill and decode are the
same step at different sizes. Running requests go first (a decoding request
needs one token, a request mid-prefill continues its chunk), then waiting
requests are admitted in arrival order while the token budget, the
running-sequence limit and the free blocks allow. When blocks run out, the
most recently admitted running request is preempted: its blocks are released
(full ones stay in the prefix cache) and it waits to be recomputed.

Pure logic: no model, no threads. The engine runs the plan and reports back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from psionic.serve.block_pool import BlockPool, chain_hashes
from psionic.serve.request import EngineRequest, Status


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    max_num_seqs: int = 16
    max_num_batched_tokens: int = 512
    max_queued: int = 64


@dataclass(frozen=True, slots=True)
class ScheduledChunk:
    request: EngineRequest
    start: int
    length: int

    @property
    def samples(self) -> bool:
        """Whether this chunk reaches the request's last known token (so a token is sampled)."""
        return self.start + self.length == self.request.num_tokens


class Scheduler:
    def __init__(self, pool: BlockPool, config: SchedulerConfig) -> None:
        self.pool = pool
        self.config = config
        self.waiting: deque[EngineRequest] = deque()
        self.running: list[EngineRequest] = []
        self.preemptions = 0

    @property
    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, request: EngineRequest) -> None:
        self.waiting.append(request)

    def finish(self, request: EngineRequest) -> None:
        """Remove a request wherever it is and release its blocks at once."""
        if request in self.running:
            self.running.remove(request)
        elif request in self.waiting:
            self.waiting.remove(request)
        self._release(request)
        request.status = Status.FINISHED

    def _release(self, request: EngineRequest) -> None:
        if request.block_ids:
            self.pool.release(request.block_ids)
        request.block_ids = []
        request.hashed_blocks = 0

    def _blocks_for(self, request: EngineRequest, tokens: int) -> bool:
        """Grow ``request``'s block table to hold ``tokens`` positions; False if the pool is short."""
        needed = -(-tokens // self.pool.block_size) - len(request.block_ids)
        if needed <= 0:
            return True
        if needed > self.pool.num_free:
            return False
        request.block_ids += [self.pool.allocate() for _ in range(needed)]
        return True

    def _preempt_last(self) -> EngineRequest:
        victim = self.running.pop()
        self._release(victim)
        victim.num_computed_tokens = 0
        victim.status = Status.WAITING
        self.waiting.appendleft(victim)
        self.preemptions += 1
        return victim

    def _admit_prefix(self, request: EngineRequest) -> None:
        """Take cached blocks for the longest cached prefix (never the last prompt token)."""
        bs = self.pool.block_size
        cacheable = request.prompt_tokens[: len(request.prompt_tokens) - 1]
        blocks = self.pool.take_cached(chain_hashes(request.namespace, cacheable, bs))
        request.block_ids = blocks
        request.hashed_blocks = len(blocks)
        request.num_computed_tokens = len(blocks) * bs
        request.cached_tokens = max(request.cached_tokens, len(blocks) * bs)

    def schedule(self) -> list[ScheduledChunk]:
        budget = self.config.max_num_batched_tokens
        plan: list[ScheduledChunk] = []
        for request in list(self.running):
            if budget == 0:
                break
            if request not in self.running:  # preempted below, by a request ahead of it
                continue
            want = min(request.num_tokens - request.num_computed_tokens, budget)
            while not self._blocks_for(request, request.num_computed_tokens + want):
                if self._preempt_last() is request:
                    break
            if request.status is not Status.RUNNING:
                continue
            plan.append(ScheduledChunk(request, request.num_computed_tokens, want))
            budget -= want
        while self.waiting and budget > 0 and len(self.running) < self.config.max_num_seqs:
            request = self.waiting[0]
            if not request.block_ids:
                self._admit_prefix(request)
            want = min(request.num_tokens - request.num_computed_tokens, budget)
            if not self._blocks_for(request, request.num_computed_tokens + want):
                # A waiting request holds no blocks: give back the prefix it just took.
                self._release(request)
                request.num_computed_tokens = 0
                if not self.running and not plan:
                    # Nothing else holds blocks: this request can never fit.
                    raise MemoryError("the KV pool is too small for this request")
                break
            self.waiting.popleft()
            request.status = Status.RUNNING
            self.running.append(request)
            plan.append(ScheduledChunk(request, request.num_computed_tokens, want))
            budget -= want
        return plan

    def complete(self, chunk: ScheduledChunk) -> None:
        """Account a computed chunk and index the blocks it filled in the prefix cache."""
        request = chunk.request
        request.num_computed_tokens = chunk.start + chunk.length
        bs = self.pool.block_size
        full = request.num_computed_tokens // bs
        if full > request.hashed_blocks:
            tokens = request.token_at(0, full * bs)
            hashes = chain_hashes(request.namespace, tokens, bs)
            for i in range(request.hashed_blocks, full):
                self.pool.register(request.block_ids[i], hashes[i])
            request.hashed_blocks = full
