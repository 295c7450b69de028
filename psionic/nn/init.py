"""Initializers: fill a Parameter's float data in place from a seeded numpy Generator.

>>> import numpy as np
>>> from psionic.nn.module import Parameter
>>> p = Parameter(np.empty((4, 8), np.float32))
>>> bool(np.abs(xavier_uniform_(p, np.random.default_rng(0)).data).max() <= np.sqrt(6 / 12))
True
"""

from __future__ import annotations

import math

import numpy as np

from psionic.nn.module import Parameter


def _fans(p: Parameter) -> tuple[int, int]:
    shape = p.shape
    if len(shape) < 2:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive  # (fan_in, fan_out) for (out, in, ...)


def _fill(p: Parameter, values: np.ndarray) -> Parameter:
    p.data[...] = values.astype(p.data.dtype)
    return p


def zeros_(p: Parameter) -> Parameter:
    return _fill(p, np.zeros(p.shape))


def ones_(p: Parameter) -> Parameter:
    return _fill(p, np.ones(p.shape))


def normal_(p: Parameter, rng: np.random.Generator, std: float = 1.0, mean: float = 0.0) -> Parameter:
    return _fill(p, rng.normal(mean, std, p.shape))


def uniform_(p: Parameter, rng: np.random.Generator, low: float, high: float) -> Parameter:
    return _fill(p, rng.uniform(low, high, p.shape))


def xavier_uniform_(p: Parameter, rng: np.random.Generator, gain: float = 1.0) -> Parameter:
    fan_in, fan_out = _fans(p)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(p, rng, -bound, bound)


def kaiming_uniform_(p: Parameter, rng: np.random.Generator, a: float = math.sqrt(5)) -> Parameter:
    """PyTorch's default for Linear weights: U(-b, b), b = sqrt(6 / ((1 + a^2) fan_in))."""
    fan_in, _ = _fans(p)
    bound = math.sqrt(6.0 / ((1 + a * a) * fan_in))
    return uniform_(p, rng, -bound, bound)
