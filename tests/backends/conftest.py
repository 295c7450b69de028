from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from backend_samples import random_matrix

from psionic.backends.quant_matrix import QuantMatrix


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def make_matrix(rng: np.random.Generator) -> Callable[[str, int, int], QuantMatrix]:
    return lambda name, rows, cols: random_matrix(name, rows, cols, rng)
