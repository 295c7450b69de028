from __future__ import annotations

import math

import pytest

from psionic.eval.stats import binomial_two_sided, bootstrap_ci, mean_ci_t, t95, wilson


def test_binomial_against_direct_sums() -> None:
    assert binomial_two_sided(0, 0) == 1.0
    assert binomial_two_sided(5, 10) == 1.0
    assert binomial_two_sided(0, 5) == pytest.approx(2 / 32)
    assert binomial_two_sided(10, 10) == pytest.approx(2 / 1024)
    # 2 of 12 discordant pairs: p = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12
    assert binomial_two_sided(2, 12) == pytest.approx(2 * (1 + 12 + 66) / 4096)


def test_wilson_known_interval() -> None:
    low, high = wilson(8, 10)  # a textbook value: [0.490, 0.943]
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0


def test_t_interval() -> None:
    mean, low, high = mean_ci_t([1.0, 2.0, 3.0])  # type: ignore[misc]
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / math.sqrt(3))
    assert mean_ci_t([0.5]) is None
    assert t95(1) == 12.706 and t95(35) == 2.042 and t95(1000) == pytest.approx(1.96, abs=1e-3)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.25, 1.0]
    a, b = bootstrap_ci(values), bootstrap_ci(values)
    assert a == b and a is not None
    assert a[0] < sum(values) / len(values) < a[1]
    assert bootstrap_ci([0.7, 0.7]) == (pytest.approx(0.7), pytest.approx(0.7))
    assert bootstrap_ci([]) is None
