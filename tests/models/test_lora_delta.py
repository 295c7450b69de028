"""The inference LoRA delta: equal to the float64 reference within f32 rounding, and each row
bit-identical whether computed alone or inside any batch (the zero padding of the rank changes no bit)."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import TensorShapeMismatch
from psionic.models.lora_delta import LoRAWeights, reference_delta


@pytest.mark.parametrize("rank", [1, 8, 16, 20])
def test_delta_matches_reference_and_is_batch_invariant(rank: int) -> None:
    rng = np.random.default_rng(rank)
    a = rng.normal(size=(rank, 64)).astype(np.float32)
    b = rng.normal(size=(48, rank)).astype(np.float32)
    w = LoRAWeights.create(a, b, 0.75)
    x = rng.normal(size=(37, 64)).astype(np.float32)
    batched = w.delta(x)
    np.testing.assert_allclose(batched, reference_delta(x, a, b, 0.75), rtol=1e-4, atol=1e-4)
    for row in (0, 5, 36):
        assert np.array_equal(w.delta(x[row : row + 1])[0], batched[row])
    assert np.array_equal(w.delta(x[3:9]), batched[3:9])
    np.testing.assert_allclose(w.dense(), 0.75 * b.astype(np.float64) @ a.astype(np.float64))


def test_shapes_are_checked() -> None:
    with pytest.raises(TensorShapeMismatch, match="rank"):
        LoRAWeights.create(np.zeros((2, 16), np.float32), np.zeros((4, 3), np.float32), 1.0)
    with pytest.raises(TensorShapeMismatch, match="multiple of 16"):
        LoRAWeights.create(np.zeros((2, 10), np.float32), np.zeros((4, 2), np.float32), 1.0)
