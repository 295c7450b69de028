"""Learning-rate schedules: a multiplier of the base rate by step, registered by name.

>>> s = make_schedule("cosine", warmup=2, total=10)
>>> [round(s(i), 3) for i in (0, 1, 2, 10)]
[0.5, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from psionic.core.errors import InvalidInput

Schedule = Callable[[int], float]
_SCHEDULES: dict[str, Callable[..., Schedule]] = {}


def register_schedule(name: str) -> Callable[[Callable[..., Schedule]], Callable[..., Schedule]]:
    def add(factory: Callable[..., Schedule]) -> Callable[..., Schedule]:
        if name in _SCHEDULES:
            raise ValueError(f"schedule {name!r} is already registered")
        _SCHEDULES[name] = factory
        return factory

    return add


def make_schedule(name: str, **kwargs: Any) -> Schedule:
    try:
        return _SCHEDULES[name](**kwargs)
    except KeyError:
        raise InvalidInput(f"unknown schedule {name!r}; known: {sorted(_SCHEDULES)}") from None


def _warm(step: int, warmup: int) -> float:
    return (step + 1) / warmup if step < warmup else 1.0


@register_schedule("constant")
def constant(warmup: int = 0) -> Schedule:
    return lambda step: _warm(step, warmup)


@register_schedule("linear")
def linear(total: int, warmup: int = 0, final: float = 0.0) -> Schedule:
    def rate(step: int) -> float:
        if step < warmup:
            return _warm(step, warmup)
        frac = min(1.0, (step - warmup) / max(1, total - warmup))
        return 1.0 + (final - 1.0) * frac

    return rate


@register_schedule("cosine")
def cosine(total: int, warmup: int = 0, final: float = 0.0) -> Schedule:
    def rate(step: int) -> float:
        if step < warmup:
            return _warm(step, warmup)
        frac = min(1.0, (step - warmup) / max(1, total - warmup))
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * frac))

    return rate


@register_schedule("step")
def step_decay(every: int, gamma: float = 0.1) -> Schedule:
    return lambda step: gamma ** (step // every)
