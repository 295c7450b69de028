"""Token sampling: penalties, bias, temperature, top-k, top-p, min-p, seeded draws.

Every draw comes from a per-sequence ``numpy.random.Generator`` (PCG64)
seeded from the request, so the same seed, prompt and parameters always give
the same tokens. A request without a seed gets one drawn for it, recorded in
its receipt, so even "random" output can be replayed.

>>> params = SamplingParams(temperature=0.0)
>>> sampler = Sampler(params, vocab_size=4)
>>> sampler.sample(np.array([0.1, 2.0, 0.3, -1.0], np.float32))
1
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from psionic.core.errors import InvalidInput
from psionic.models.constraints import Constraint

if TYPE_CHECKING:
    from psionic.models.guide import Guide

# Receipts are canonical JSON (RFC 8785), whose integers are exact only below 2^53.
MAX_SEED = 2**53 - 1


@dataclass(frozen=True, slots=True)
class SamplingParams:
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    seed: int | None = None
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    constraint: Constraint | None = None  # output grammar, enforced by a Guide

    def __post_init__(self) -> None:
        checks = (
            ("temperature", 0.0 <= self.temperature <= 100.0, "between 0 and 100"),
            ("top_k", self.top_k >= 0, ">= 0"),
            ("top_p", 0.0 < self.top_p <= 1.0, "in (0, 1]"),
            ("min_p", 0.0 <= self.min_p <= 1.0, "in [0, 1]"),
            ("repetition_penalty", 0.0 < self.repetition_penalty <= 10.0, "in (0, 10]"),
            ("presence_penalty", -2.0 <= self.presence_penalty <= 2.0, "in [-2, 2]"),
            ("frequency_penalty", -2.0 <= self.frequency_penalty <= 2.0, "in [-2, 2]"),
            ("max_tokens", self.max_tokens >= 1, ">= 1"),
            ("seed", self.seed is None or 0 <= self.seed <= MAX_SEED, f"in [0, {MAX_SEED}]"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise InvalidInput(f"{name} must be {rule}, got {getattr(self, name)!r}", param=name)
        for token, bias in self.logit_bias.items():
            if not -100.0 <= bias <= 100.0:
                raise InvalidInput(f"logit_bias for token {token} must be in [-100, 100]", param="logit_bias")
        if any(not s for s in self.stop):
            raise InvalidInput("stop strings must be non-empty", param="stop")
        if self.constraint is not None and self.ignore_eos:
            raise InvalidInput("ignore_eos cannot be combined with an output constraint", param="ignore_eos")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_seed(self) -> SamplingParams:
        """A copy with a concrete seed (drawn now if none was given)."""
        if self.seed is not None:
            return self
        fields = {f: getattr(self, f) for f in self.__dataclass_fields__}
        fields["seed"] = secrets.randbelow(MAX_SEED)
        return SamplingParams(**fields)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["logit_bias"] = {str(k): v for k, v in self.logit_bias.items()}
        out["stop"] = list(self.stop)
        if self.constraint is None:
            del out["constraint"]  # unconstrained receipts keep their earlier form
        else:
            out["constraint"] = self.constraint.to_dict()
        return out


class Sampler:
    """Samples one sequence's tokens; holds its RNG and token counts."""

    def __init__(
        self, params: SamplingParams, vocab_size: int, prompt: Iterable[int] = (), guide: Guide | None = None
    ) -> None:
        self.params = params.with_seed()
        self.guide = guide  # masks each draw to the output constraint
        self.vocab_size = vocab_size
        self.rng = np.random.Generator(np.random.PCG64(self.params.seed))
        self.seen = set(int(t) for t in prompt)  # for the repetition penalty
        self.generated: Counter[int] = Counter()  # for presence/frequency penalties
        bias_ids = [t for t in params.logit_bias if not 0 <= t < vocab_size]
        if bias_ids:
            raise InvalidInput(f"logit_bias names tokens outside the vocabulary: {bias_ids[:5]}", param="logit_bias")

    def adjust(self, logits: np.ndarray) -> np.ndarray:
        """Logits after penalties and bias, in f64 (before temperature)."""
        p = self.params
        out = logits.astype(np.float64, copy=True)
        if p.repetition_penalty != 1.0 and self.seen:
            ids = np.fromiter(self.seen, dtype=np.int64)
            vals = out[ids]
            out[ids] = np.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if self.generated and (p.presence_penalty or p.frequency_penalty):
            ids = np.fromiter(self.generated.keys(), dtype=np.int64)
            counts = np.fromiter(self.generated.values(), dtype=np.float64)
            out[ids] -= p.presence_penalty + p.frequency_penalty * counts
        for token, bias in p.logit_bias.items():
            out[token] += bias
        return out

    def distribution(self, logits: np.ndarray) -> np.ndarray:
        """The probabilities the draw uses, after every filter (f64, sums to 1)."""
        p = self.params
        z = self.adjust(logits) / max(p.temperature, 1e-6)
        if p.top_k and p.top_k < len(z):
            kth = np.partition(z, -p.top_k)[-p.top_k]
            z = np.where(z < kth, -np.inf, z)
        z -= z.max()
        probs = np.exp(z)
        probs /= probs.sum()
        if p.min_p > 0.0:
            probs = np.where(probs < p.min_p * probs.max(), 0.0, probs)
        if p.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            cumulative = np.cumsum(probs[order])
            # keep the smallest prefix whose mass reaches top_p (always at least one token)
            keep = order[: int(np.searchsorted(cumulative, p.top_p * cumulative[-1])) + 1]
            mask = np.zeros_like(probs)
            mask[keep] = 1.0
            probs = probs * mask
        return probs / probs.sum()

    def sample(self, logits: np.ndarray) -> int:
        if self.guide is not None:
            logits = self.guide.mask(logits)
        if self.params.greedy:
            token = int(np.argmax(self.adjust(logits)))
        else:
            probs = self.distribution(logits)
            cumulative = np.cumsum(probs)
            token = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
            token = min(token, len(probs) - 1)
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        if self.guide is not None:
            self.guide.accept(token)
        self.seen.add(token)
        self.generated[token] += 1


def logprobs(logits: np.ndarray, top: int = 0) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Log-softmax of raw logits and the ``top`` most likely (token, logprob) pairs."""
    z = logits.astype(np.float64)
    z = z - z.max()
    lp = z - np.log(np.exp(z).sum())
    if top <= 0:
        return lp, []
    ids = np.argsort(-lp, kind="stable")[:top]
    return lp, [(int(i), float(lp[i])) for i in ids]
