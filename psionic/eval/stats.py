"""Aggregates with confidence intervals, and paired tests, in plain numpy and exact binomials.

>>> round(binomial_two_sided(9, 10), 4)
0.0215
>>> wilson(8, 10)[0] < 0.8 < wilson(8, 10)[1]
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054
# Student's t, two-sided 95%, by degrees of freedom (beyond the table the normal's 1.96 is within 2%).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    if df in _T95:
        return _T95[df]
    below = [k for k in _T95 if k < df]
    return _T95[max(below)] if df < 120 else Z95


def mean_ci_t(values: Sequence[float]) -> tuple[float, float, float] | None:
    """(mean, low, high): a t interval over independent values (the repeats' means); None under two values."""
    if len(values) < 2:
        return None
    a = np.asarray(values, dtype=np.float64)
    mean, sd = float(a.mean()), float(a.std(ddof=1))
    half = t95(len(a) - 1) * sd / math.sqrt(len(a))
    return mean, mean - half, mean + half


def bootstrap_ci(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float] | None:
    """A 95% percentile bootstrap interval of the mean (seeded: the same values give the same interval)."""
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, len(a), size=(resamples, len(a)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score 95% interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of ``k`` successes in ``n`` fair coin flips (the sign test, exact McNemar)."""
    if n == 0:
        return 1.0
    low = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)
