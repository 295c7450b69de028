from __future__ import annotations

import numpy as np
import pytest

from psionic.backends.cpu.norm import rms_norm
from psionic.core.errors import TensorShapeMismatch


def slow_rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    out = np.empty(x.shape, np.float64)
    for m, row in enumerate(x.astype(np.float64)):
        out[m] = row / np.sqrt(np.mean(row * row) + eps) * w
    return out


@pytest.mark.parametrize("dim", [576, 64, 19])  # 19: a tail past the last 16 lanes
def test_matches_the_slow_reference(dim: int, rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, dim)).astype(np.float32) * 3
    w = rng.standard_normal(dim).astype(np.float32)
    np.testing.assert_allclose(rms_norm(x, w, 1e-5), slow_rms_norm(x, w, 1e-5), rtol=2e-6, atol=1e-6)


def test_rows_do_not_depend_on_the_batch(rng: np.random.Generator) -> None:
    x = rng.standard_normal((33, 576)).astype(np.float32)
    w = rng.standard_normal(576).astype(np.float32)
    full = rms_norm(x, w, 1e-6)
    perm = rng.permutation(33)
    np.testing.assert_array_equal(rms_norm(x[perm], w, 1e-6), full[perm])
    np.testing.assert_array_equal(rms_norm(x[7:8], w, 1e-6), full[7:8])


def test_shapes_are_checked() -> None:
    with pytest.raises(TensorShapeMismatch):
        rms_norm(np.ones((2, 8), np.float32), np.ones(7, np.float32), 1e-6)
    assert rms_norm(np.ones((0, 8), np.float32), np.ones(8, np.float32), 1e-6).shape == (0, 8)
