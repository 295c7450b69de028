"""The engine's record of one request as it moves through the scheduler."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.models.sampling import Sampler, SamplingParams


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class TokenOutput:
    """One event for a request: a new token and the text it releases, or the end."""

    request_id: str
    token: int | None
    text: str
    logprob: float | None = None
    top_logprobs: tuple[tuple[int, float], ...] = ()
    finish_reason: str | None = None  # set on the last event: stop | length | abort | error
    error: BaseException | None = None
    facts: dict[str, Any] | None = None  # on the last event: what the engine observed


@dataclass(eq=False)
class EngineRequest:
    """Mutable: the scheduler advances ``num_computed_tokens`` and the runner appends outputs."""

    request_id: str
    prompt_tokens: list[int]
    params: SamplingParams
    sampler: Sampler
    budget: int  # tokens this request may still generate at most
    namespace: bytes  # prefix-cache namespace: model digest and adapter
    on_output: Callable[[TokenOutput], None]
    top_logprobs: int | None = None
    adapter: str | None = None  # key (digest) of the LoRA adapter it runs with
    output_tokens: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    block_ids: list[int] = field(default_factory=list)
    hashed_blocks: int = 0  # full blocks already registered in the prefix cache
    cached_tokens: int = 0  # prompt tokens served from the prefix cache
    status: Status = Status.WAITING
    batch_sizes: list[int] = field(default_factory=list)
    arrival: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    last_token_at: float | None = None
    token_gaps: list[float] = field(default_factory=list)
    finish_reason: str | None = None
    text: str = ""
    aborted: bool = False
    detok: Any = None  # incremental detokenizer
    stops: Any = None  # stop-string matcher

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_tokens) + len(self.output_tokens)

    def token_at(self, start: int, count: int) -> list[int]:
        tokens = self.prompt_tokens + self.output_tokens
        return tokens[start : start + count]

    def all_tokens(self) -> list[int]:
        return self.prompt_tokens + self.output_tokens
